"""The search over (head, target) candidates, host-free: a head joins S_final at most once, with the
target of its best pair; checkpoint names, resume, score maps, the preset, the target list."""
import json
import math

import pytest

HEADS = [(layer, head) for layer in range(3) for head in range(3)]
TARGETS = ["identity", "uniform", "seg(4)"]
POOL = [(l, h, t) for l, h in HEADS for t in TARGETS]


def objective(weights, bonus=None):
    """Sum of per-(head, target) weights of the set, plus pair bonuses; records every call."""
    calls = []

    def evaluate(candidates):
        calls.append([list(c) for c in candidates])
        out = []
        for chosen in candidates:
            assert len({c[:2] for c in chosen}) == len(chosen), f"a head twice in one set: {chosen}"
            s = sum(weights.get(c, 0.0) for c in chosen)
            s += sum(v for pair, v in (bonus or {}).items() if set(pair) <= set(chosen))
            out.append(s)
        return out

    evaluate.calls = calls
    return evaluate


def brute_force(pool, k, rounds, evaluate):
    """Algorithm 1 over (head, target) pairs, written out independently: every pair whose head is
    not yet chosen is scored on top of S_final, one at a time; the best k pairs with distinct heads
    join (ties by pool order)."""
    chosen = []
    for _ in range(rounds):
        taken = {c[:2] for c in chosen}
        scored = []
        for i, c in enumerate(pool):
            if c[:2] in taken:
                continue
            (score,) = evaluate([chosen + [c]])
            scored.append((-score, i, c))
        picked = []
        for _, _, c in sorted(scored):
            if c[:2] not in {p[:2] for p in picked}:
                picked.append(c)
            if len(picked) == k:
                break
        chosen += picked
    return chosen


def test_a_head_is_chosen_once_with_its_best_target(pack):
    search = pack("core.greedy_search")
    # L1H1 is the best head under two targets: the round takes it once (uniform), then the next head.
    weights = {(1, 1, "uniform"): 9.0, (1, 1, "seg(4)"): 8.0, (0, 2, "identity"): 7.0, (2, 0, "seg(4)"): 1.0}
    state = search.greedy_search(POOL, k=2, rounds=1, evaluate=objective(weights))
    assert state.selected == [[(1, 1, "uniform"), (0, 2, "identity")]]
    assert state.selected_scores() == {"L1H1:uniform": 9.0, "L0H2:identity": 7.0}
    assert len(state.rounds[0]) == len(POOL)
    # Round 2 tries none of the chosen heads' pairs.
    state = search.greedy_search(POOL, k=2, rounds=2, evaluate=objective(weights))
    assert not any(name.startswith(("L1H1:", "L0H2:")) for name in state.rounds[1])
    assert len(state.rounds[1]) == len(POOL) - 2 * len(TARGETS)
    assert state.latest_scores()["L1H1"] == 9.0 and state.latest_scores()["L2H0"] == pytest.approx(17.0)


@pytest.mark.parametrize("k, rounds", [(1, 3), (2, 2), (3, 1)])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_like_the_independent_statement_with_interactions(pack, k, rounds, batch_size):
    search = pack("core.greedy_search")
    weights = {c: 0.1 * ((7 * i) % 11) for i, c in enumerate(POOL)}
    bonus = {((0, 0, "seg(4)"), (2, 2, "uniform")): 5.0, ((0, 0, "identity"), (1, 2, "identity")): 3.0}
    state = search.greedy_search(POOL, k=k, rounds=rounds, evaluate=objective(weights, bonus), batch_size=batch_size)
    assert state.final == brute_force(POOL, k, rounds, objective(weights, bonus))
    assert len({c[:2] for c in state.final}) == k * rounds


def test_ties_go_to_the_earlier_target_of_the_pool(pack):
    search = pack("core.greedy_search")
    state = search.greedy_search(POOL, k=1, rounds=1, evaluate=objective({}))
    assert state.selected == [[(0, 0, "identity")]]


def test_size_counts_heads_not_pairs(pack):
    search = pack("core.greedy_search")
    with pytest.raises(ValueError, match=r"k x rounds = 5 x 2 = 10 heads, but there are only 9 candidate heads"):
        search.greedy_search(POOL, k=5, rounds=2, evaluate=objective({}))
    progress = []
    search.greedy_search(POOL, k=2, rounds=2, evaluate=objective({}), on_progress=lambda d, t, n: progress.append((d, t)))
    assert progress[-1] == (len(POOL) + len(POOL) - 2 * len(TARGETS),) * 2


def test_resume_after_a_stop_is_exact(pack, tmp_path):
    """Stopped mid-round 2 and resumed from the checkpoint file: the same batches are evaluated, none
    twice, and the result is the uninterrupted run's."""
    search = pack("core.greedy_search")
    weights = {c: math.sin(i) for i, c in enumerate(POOL)}
    full = objective(weights)
    want = search.greedy_search(POOL, k=2, rounds=2, evaluate=full, batch_size=4)

    path = tmp_path / "checkpoint.json"
    first = objective(weights)

    def stopping(batch):
        if len(first.calls) == 9:
            raise KeyboardInterrupt
        return first(batch)

    with pytest.raises(KeyboardInterrupt):
        search.greedy_search(POOL, k=2, rounds=2, evaluate=stopping, batch_size=4,
                             on_update=lambda s: search.save_checkpoint(path, s))
    saved = json.loads(path.read_text())
    assert "L0H0:uniform" in saved["pool"] and saved["selected"][0][0].count(":") == 1
    state = search.load_checkpoint(path, {})
    assert state.pool == POOL
    second = objective(weights)
    got = search.greedy_search(POOL, k=2, rounds=2, evaluate=second, batch_size=4, state=state)
    assert got.final == want.final and got.rounds == want.rounds
    assert first.calls + second.calls == full.calls


def test_head_names_round_trip(pack):
    search = pack("core.greedy_search")
    for candidate in ((3, 2), (3, 2, "uniform"), (0, 11, "temperature(0.5)"), (1, 0, "mask(II)")):
        assert search.parse_head_name(search.head_name(candidate)) == candidate
    for bad in ("L3", "L3H2:", "uniform"):
        with pytest.raises(ValueError):
            search.parse_head_name(bad)


def test_score_maps_show_each_heads_best_and_each_target(pack):
    search = pack("core.greedy_search")
    weights = {(0, 1, "uniform"): 3.0, (0, 1, "identity"): 1.0, (2, 2, "seg(4)"): 2.0}
    state = search.greedy_search(POOL, k=1, rounds=2, evaluate=objective(weights))
    scores = search.score_map(state, 2, 3, 3)
    assert scores[0, 0, 1] == 3.0 and scores[0, 2, 2] == 2.0 and scores[0, 1, 1] == 0.0
    assert math.isnan(scores[1, 0, 1])  # chosen in round 1: not tried again
    per_target = search.target_score_maps(state, 2, 3, 3)
    assert sorted(per_target) == sorted(TARGETS)
    assert per_target["identity"][0, 0, 1] == 1.0 and per_target["seg(4)"][1, 2, 2] == 5.0
    chosen = search.selection_map(state, 3, 3)
    assert chosen[0, 1] == 0 and chosen[2, 2] == 1 and int((chosen >= 0).sum()) == 2


def test_the_preset_records_each_heads_target(pack):
    search = pack("core.greedy_search")
    presets = pack("core.search_preset")
    weights = {(0, 1, "uniform"): 3.0, (2, 2, "identity"): 2.0}
    state = search.greedy_search(POOL, k=2, rounds=1, evaluate=objective(weights))
    preset = presets.search_preset("run", "d", "sd3", "sd3-medium", state, "label", {}, [], {})
    assert [(h["head"], h.get("target")) for h in preset["heads"]] == [("L0H1", "uniform"), ("L2H2", None)]
    assert preset["provenance"]["rounds"][0]["chosen"] == ["L0H1:uniform", "L2H2:identity"]
    loaded = pack("core.preset_format").preset_from_dict(preset, "search/run")
    assert loaded.heads[0]["target"] == "uniform"


@pytest.mark.parametrize("text, want", [
    ("", []), ("identity, uniform", ["identity", "uniform"]), ("seg(4);Uniform\nmax", ["seg(4)", "uniform", "max"]),
    ("temperature(2) mask(ii)", ["temperature(2)", "mask(II)"]),
])
def test_target_lists(pack, text, want):
    spec = pack("core.target_spec")
    assert [t.text for t in spec.parse_target_list(text)] == want


@pytest.mark.parametrize("text, says", [
    ("identity, blur", r"search_targets: 'blur' is not a target; targets: identity, uniform"),
    ("uniform, Uniform", r"search_targets: 'Uniform' is listed twice \(as uniform\)"),
    ("seg", r"search_targets: 'seg': seg needs its sigma"),
    (", ".join(["uniform"] * 17), r"17 targets \(at most 16\)"),
    ("x" * 600, r"600 characters \(at most 512\)"),
])
def test_bad_target_lists_name_the_value_and_what_is_valid(pack, text, says):
    spec = pack("core.target_spec")
    with pytest.raises(spec.TargetError, match=says):
        spec.parse_target_list(text)
