"""The search algorithm alone (host-free): greedy selection, ties, checkpoint/resume, score map."""
import itertools
import json
import math

import pytest


POOL = [(layer, head) for layer in range(4) for head in range(3)]


def additive(weights, bonus=None):
    """A synthetic objective with a known optimum: the sum of per-head weights of the set, plus
    an optional pair bonus (so later rounds depend on what earlier rounds chose)."""
    calls = []

    def evaluate(candidates):
        calls.append([list(c) for c in candidates])
        out = []
        for heads in candidates:
            s = sum(weights.get(h, 0.0) for h in heads)
            if bonus:
                s += sum(v for pair, v in bonus.items() if set(pair) <= set(heads))
            out.append(s)
        return out

    evaluate.calls = calls
    return evaluate


def brute_force_greedy(pool, k, rounds, evaluate):
    """An independent statement of Algorithm 1: one candidate per call, plain loops."""
    chosen = []
    for _ in range(rounds):
        best = []
        for h in pool:
            if h in chosen:
                continue
            (score,) = evaluate([chosen + [h]])
            best.append((-score, pool.index(h), h))
        chosen += [h for _, _, h in sorted(best)[:k]]
    return chosen


def test_greedy_finds_known_best_heads(pack):
    search = pack("core.greedy_search")
    weights = {(2, 1): 5.0, (0, 2): 4.0, (3, 0): 3.0, (1, 1): 2.5}
    state = search.greedy_search(POOL, k=2, rounds=2, evaluate=additive(weights))
    assert state.selected == [[(2, 1), (0, 2)], [(3, 0), (1, 1)]]
    assert state.final == [(2, 1), (0, 2), (3, 0), (1, 1)]
    # Round 2 scores S_final + {h}: the two heads of round 1 (9.0) plus h.
    assert state.rounds[1]["L3H0"] == pytest.approx(12.0)
    assert "L2H1" not in state.rounds[1] and len(state.rounds[1]) == len(POOL) - 2
    assert state.selected_scores() == {"L2H1": 5.0, "L0H2": 4.0, "L3H0": 12.0, "L1H1": 11.5}


def test_interaction_changes_later_rounds_like_brute_force(pack):
    search = pack("core.greedy_search")
    weights = {h: 0.1 * i for i, h in enumerate(POOL)}
    bonus = {((0, 0), (3, 2)): 10.0, ((0, 0), (3, 2), (1, 0)): 20.0}
    ev = additive(weights, bonus)
    for k, rounds, batch in itertools.product((1, 2), (1, 2, 3), (1, 3, 5)):
        state = search.greedy_search(POOL, k=k, rounds=rounds, evaluate=ev, batch_size=batch)
        assert state.final == brute_force_greedy(POOL, k, rounds, ev), (k, rounds, batch)


def test_ties_break_by_pool_order_and_nan_ranks_last(pack):
    search = pack("core.greedy_search")
    flat = lambda cands: [float("nan") if c[-1] == (0, 0) else 1.0 for c in cands]
    state = search.greedy_search(POOL, k=3, rounds=1, evaluate=flat)
    assert state.final == [(0, 1), (0, 2), (1, 0)]
    reordered = list(reversed(POOL))
    assert search.greedy_search(reordered, k=1, rounds=1, evaluate=flat).final == [(3, 2)]


def test_batches_cut_from_the_ordered_remaining_heads(pack):
    search = pack("core.greedy_search")
    ev = additive({(1, 1): 1.0})
    search.greedy_search(POOL, k=1, rounds=2, evaluate=ev, batch_size=5)
    sizes = [len(c) for c in ev.calls]
    assert sizes == [5, 5, 2, 5, 5, 1]  # 12 heads, then 11; no batch straddles two rounds
    assert ev.calls[3][0] == [(1, 1), (0, 0)]  # round 2 candidates carry S_final first


def test_steps_of_several_batches_evaluate_the_single_process_batches(pack):
    """A distributed run hands the loop's batches over several at a time (one per process): the
    batches themselves, their order and the result are those of one process."""
    search = pack("core.greedy_search")
    weights = {h: math.cos(2 * i) for i, h in enumerate(POOL)}
    one = additive(weights)
    reference = search.greedy_search(POOL, k=2, rounds=2, evaluate=one, batch_size=2)
    steps = []

    def step(batches):
        steps.append(len(batches))
        return [one(b) for b in batches]

    ev = additive(weights)
    state = search.greedy_search(POOL, k=2, rounds=2, evaluate=ev, batch_size=2, evaluate_step=lambda b: step(b),
                                 batches_per_step=4)
    assert steps == [4, 2, 4, 1]  # 12 heads = 6 batches of 2, then 10 = 5; no step straddles two rounds
    assert state.rounds == reference.rounds and state.final == reference.final
    # The same batches as one process (the calls after the reference run are the stepped run's).
    half = len(one.calls) // 2
    assert one.calls[half:] == one.calls[:half]
    assert list(state.rounds[0]) == [search.head_name(h) for h in POOL]  # scores kept in pool order


def test_batches_sit_on_a_fixed_grid_whatever_was_evaluated(pack):
    search = pack("core.greedy_search")
    ev = additive({(1, 1): 1.0})
    # A checkpoint holding batches 0 and 2 of round 1 (batch size 3): batches 1 and 3 remain, unchanged.
    done = {search.head_name(h): 0.0 for h in POOL[0:3] + POOL[6:9]}
    state = search.SearchState(params={}, pool=POOL, rounds=[done])
    search.greedy_search(POOL, k=1, rounds=1, evaluate=ev, batch_size=3, state=state)
    assert ev.calls == [[[h] for h in POOL[3:6]], [[h] for h in POOL[9:12]]]
    # Another batch size on resume: the grid's partly evaluated batch runs with its missing heads only.
    ev = additive({(1, 1): 1.0})
    state = search.SearchState(params={}, pool=POOL, rounds=[{search.head_name(h): 0.0 for h in POOL[:3]}])
    search.greedy_search(POOL, k=1, rounds=1, evaluate=ev, batch_size=4, state=state)
    assert ev.calls == [[[POOL[3]]], [[h] for h in POOL[4:8]], [[h] for h in POOL[8:12]]]


def test_bad_sizes_fail_clearly(pack):
    search = pack("core.greedy_search")
    with pytest.raises(ValueError, match="only 12 candidate heads"):
        search.greedy_search(POOL, k=5, rounds=3, evaluate=additive({}))
    with pytest.raises(ValueError, match="at least 1"):
        search.greedy_search(POOL, k=0, rounds=3, evaluate=additive({}))


class Stop(Exception):
    pass


def test_resume_after_interruption_gives_the_uninterrupted_result(pack, tmp_path):
    search = pack("core.greedy_search")
    weights = {h: math.sin(3 * i) for i, h in enumerate(POOL)}
    bonus = {((0, 0), (2, 2)): 3.0}
    params = {"k": 2, "rounds": 3, "objective": "synthetic"}
    path = tmp_path / "run" / "checkpoint.json"
    summaries = lambda heads: sum(weights.get(h, 0) for h in heads)

    reference = search.greedy_search(POOL, 2, 3, additive(weights, bonus), batch_size=3, summarize=summaries)

    ev = additive(weights, bonus)
    budget = {"calls": 0}

    def flaky(candidates):
        budget["calls"] += 1
        if budget["calls"] in (3, 7):  # mid-round interruptions, twice
            raise Stop()
        return ev(candidates)

    state = None
    for attempt in range(5):
        loaded = search.load_checkpoint(path, params)
        try:
            state = search.greedy_search(
                POOL, 2, 3, flaky, batch_size=3, summarize=summaries,
                state=loaded or search.SearchState(params=params, pool=POOL),
                on_update=lambda s: search.save_checkpoint(path, s))
            break
        except Stop:
            continue
    assert attempt == 2
    assert state.final == reference.final
    assert state.rounds == reference.rounds and state.summaries == reference.summaries
    # Every candidate was evaluated once: resuming never repeats a finished batch.
    evaluated = [tuple(map(tuple, c)) for call in ev.calls for c in call]
    assert len(evaluated) == len(set(evaluated)) == search.total_evaluations(12, 2, 3, False)
    # The finished checkpoint loads back whole and reruns nothing.
    calls = budget["calls"]
    assert calls == 4 + 4 + 3 + 2  # batches of 3 over 12, 10, 8 heads, plus the two interrupted ones
    again = search.greedy_search(POOL, 2, 3, flaky, state=search.load_checkpoint(path, params), summarize=summaries)
    assert again.final == reference.final and budget["calls"] == calls


def test_checkpoint_refuses_other_parameters(pack, tmp_path):
    search = pack("core.greedy_search")
    path = tmp_path / "checkpoint.json"
    state = search.SearchState(params={"k": 2, "prompts": ["a cat"]}, pool=POOL)
    search.save_checkpoint(path, state)
    assert search.load_checkpoint(path, {"k": 2, "prompts": ["a cat"]}).pool == POOL
    with pytest.raises(search.CheckpointMismatch, match=r"k: checkpoint 2 vs now 3.*another run name"):
        search.load_checkpoint(path, {"k": 3, "prompts": ["a cat"]})
    path.write_text("{not json")
    with pytest.raises(search.CheckpointMismatch, match="not a readable"):
        search.load_checkpoint(path, {})
    assert search.load_checkpoint(tmp_path / "missing.json", {}) is None


def test_checkpoint_round_trips_nan_and_exact_floats(pack, tmp_path):
    search = pack("core.greedy_search")
    state = search.SearchState(params={}, pool=POOL[:3], rounds=[{"L0H0": 0.1 + 0.2, "L0H1": float("nan")}],
                               selected=[[(0, 0)]], summaries=[1 / 3], baseline=2 / 7)
    search.save_checkpoint(tmp_path / "c.json", state)
    json.loads((tmp_path / "c.json").read_text())  # strict JSON: NaN is written as null
    back = search.load_checkpoint(tmp_path / "c.json", {})
    assert back.rounds[0]["L0H0"] == 0.1 + 0.2 and math.isnan(back.rounds[0]["L0H1"])
    assert back.summaries == [1 / 3] and back.baseline == 2 / 7 and back.selected == [[(0, 0)]]


def test_score_map_file(pack, tmp_path):
    search = pack("core.greedy_search")
    from safetensors.torch import load_file
    import torch

    state = search.greedy_search(POOL, k=1, rounds=2, evaluate=additive({(3, 1): 2.0, (0, 0): 1.0}))
    search.save_score_map(tmp_path / "scores.safetensors", state, rounds=3, layers=4, heads=3, metadata={"run": "x"})
    loaded = load_file(str(tmp_path / "scores.safetensors"))
    scores, chosen = loaded["scores"], loaded["selected_round"]
    assert scores.shape == (3, 4, 3) and chosen.shape == (4, 3)
    assert scores[0, 3, 1] == 2.0 and scores[1, 0, 0] == 3.0
    assert torch.isnan(scores[1, 3, 1]) and torch.isnan(scores[2]).all()  # chosen earlier / never run
    assert chosen[3, 1] == 0 and chosen[0, 0] == 1 and (chosen >= 0).sum() == 2


def test_candidate_plan_splits_perturbed_rows_per_candidate(pack):
    cp = pack("core.candidate_plan")
    plan = cp.candidate_plan(2, [[(1, 0, 1.0)], [], [(1, 2, 0.5), (3, 1, 1.0)]])
    # calc_cond_batch stacked cond (entry 0) and perturbed (entry 2) rows: 3 candidates x 2 images each.
    targets = plan.targets(1, [0, 2], 12)
    assert [(t[0], t[1], t[2].heads, t[2].u) for t in targets] == [(6, 8, (0,), (1.0,)), (10, 12, (2,), (0.5,))]
    # Reversed entry order (calc_cond_batch may reverse) and the perturbed entry alone.
    assert [(t[0], t[1]) for t in plan.targets(1, [2, 0], 12)] == [(0, 2), (4, 6)]
    assert [(t[0], t[1], t[2].heads) for t in plan.targets(3, [2], 6)] == [(4, 6, (1,))]
    assert plan.layers == [1, 3]


def test_prompt_grid_follows_the_paper(pack):
    obj = pack("core.scoring")
    grid = obj.prompt_grid(["a cat", "a dog"], ["golden hour"])
    assert [(p.text, p.seed) for p in grid] == [("golden hour, a cat", 0), ("golden hour, a dog", 1)]
    assert grid[1].fill("A photo depicts {prompt}") == "A photo depicts golden hour, a dog"
    assert [(p.text, p.seed) for p in obj.prompt_grid(["x"], [], obj.parse_seeds("3, 5"))] == [("x", 3), ("x", 5)]
    with pytest.raises(ValueError, match="seed 'a'"):
        obj.parse_seeds("1, a")


def test_heatmap_and_grid_pictures(pack):
    import torch

    images = pack("core.search_images")
    scores = torch.full((2, 3, 4), float("nan"))
    scores[0, 1, 2], scores[0, 0, 0], scores[1, 2, 3] = 1.0, -1.0, 0.0
    chosen = torch.full((3, 4), -1)
    chosen[1, 2] = 0
    pages = images.heatmap(scores, chosen, title="run")
    assert pages.ndim == 4 and pages.shape[0] == 2 and pages.shape[-1] == 3
    assert 0.0 <= pages.min() and pages.max() <= 1.0
    colours = images.colormap(torch.tensor([float("nan"), -1.0, 1.0]), -1.0, 1.0)
    torch.testing.assert_close(colours[0], torch.tensor([0.35, 0.35, 0.35]))  # not evaluated: grey
    assert colours[2].sum() > colours[1].sum()  # viridis: high scores bright
    grid = images.image_grid(torch.zeros(5, 8, 10, 3), columns=3, labels=None, gap=2)
    assert grid.shape == (1, 2 * 8 + 2, 3 * 10 + 4, 3)
    labelled = images.label_image(torch.zeros(40, 60, 3), "L1H2")
    assert labelled.shape == (40, 60, 3) and labelled[:10, :20].max() > 0.5 and labelled[30:].max() == 0
