"""The HeadHunter search (Ahn et al. 2025, Algorithm 1), host-free.

Greedy forward selection over attention heads. Each round, every head h still in the pool is
scored by the mean objective of the M prompt-seed images generated with perturbation on
S_final + {h}; the k best join S_final. R rounds, no early stop. Everything that touches a model
hides behind ``evaluate(list of candidate head lists) -> list of scores`` (higher = better), so
this module is plain Python; it also defines the checkpoint (JSON, written after every finished
step: one batch of candidates, or one per process) and the per-head score map (safetensors,
[rounds, layers, heads]).

Candidates are heads ``(layer, head)``, or, when a search is asked to choose targets too,
``(layer, head, target)`` pairs (issue 13: "the search can search over (head, target) candidates"):
the round scores every remaining pair, and a head joins S_final at most once, with the target of
its best pair; the other pairs of a chosen head leave the pool. Named ``L3H2`` / ``L3H2:uniform``.

Determinism: the pool is scanned in its given order, ties are broken by that order, and the
candidates of a round are cut into evaluation batches on a fixed grid of that ordered list (batch
i = remaining heads i*B .. i*B+B-1), whatever was already evaluated. So a resumed run, and a run
that hands several batches at once to several processes (``evaluate_step``), evaluates exactly
the batches an uninterrupted single-process run would: on hardware where the batch's make-up
changes a candidate's score in the last bits, the scores are still bit for bit the same.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .heads import head_key, parse_head_key

Head = tuple  # (layer, head), or (layer, head, target text) for a (head, target) candidate
Evaluate = Callable[[list[list[Head]]], Sequence[float]]  # one batch of candidates -> their scores
EvaluateStep = Callable[[list[list[list[Head]]]], Sequence[Sequence[float]]]  # several batches -> scores per batch

CHECKPOINT_FORMAT = "headhunter-search-checkpoint"
CHECKPOINT_VERSION = 1  # (head, target) names ("L3H2:uniform") read back as such; head names as before


def head_name(head: Head) -> str:
    """``L3H2`` for a head, ``L3H2:uniform`` for a (head, target) candidate."""
    name = head_key(head[0], head[1])
    return name if len(head) < 3 else f"{name}:{head[2]}"


def parse_head_name(name: str) -> Head:
    key, colon, target = name.partition(":")
    layer, head = parse_head_key(key)
    if head is None or (colon and not target):
        raise ValueError(f"'{name}' is not a single head (expected L<layer>H<head>, or L<layer>H<head>:<target>)")
    return (layer, head, target) if colon else (layer, head)


def head_of(candidate: Head) -> tuple[int, int]:
    """The (layer, head) a candidate perturbs."""
    return candidate[0], candidate[1]


class CheckpointMismatch(ValueError):
    """A checkpoint exists for this run but was made with other parameters."""


@dataclass
class SearchState:
    """Everything a search has decided so far; the checkpoint is this, as JSON."""

    params: dict
    pool: list[Head]
    rounds: list[dict[str, float]] = field(default_factory=list)  # per round: head -> mean objective
    selected: list[list[Head]] = field(default_factory=list)  # heads chosen in each finished round
    summaries: list[float] = field(default_factory=list)  # objective of S_final after each round
    baseline: float | None = None  # objective with no head perturbed

    @property
    def final(self) -> list[Head]:
        return [h for chosen in self.selected for h in chosen]

    def selected_scores(self) -> dict[str, float]:
        """Each chosen candidate's score in the round that chose it, by candidate name."""
        return {head_name(h): self.rounds[r][head_name(h)] for r, chosen in enumerate(self.selected) for h in chosen}

    def latest_scores(self) -> dict[str, float]:
        """Every evaluated head's score in the last round that evaluated it, by head name (L3H2): the
        chosen heads' scores where they were chosen, and the rest from the final round; a head tried
        with several targets shows its best. The head grid's heatmap (HeadSet.notes.scores)."""
        latest: dict[str, float] = {}
        for scores in self.rounds:
            latest.update(best_per_head(scores))
        latest.update({head_key(*head_of(h)): self.rounds[r][head_name(h)]
                       for r, chosen in enumerate(self.selected) for h in chosen})
        return latest

    def to_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "params": self.params,
            "pool": [head_name(h) for h in self.pool],
            "baseline": _to_json_float(self.baseline),
            "rounds": [{name: _to_json_float(s) for name, s in scores.items()} for scores in self.rounds],
            "selected": [[head_name(h) for h in chosen] for chosen in self.selected],
            "summaries": [_to_json_float(s) for s in self.summaries],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SearchState":
        if d.get("format") != CHECKPOINT_FORMAT or d.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"not a version-{CHECKPOINT_VERSION} HeadHunter search checkpoint")
        return cls(
            params=d["params"],
            pool=[parse_head_name(n) for n in d["pool"]],
            rounds=[{name: _from_json_float(s) for name, s in scores.items()} for scores in d["rounds"]],
            selected=[[parse_head_name(n) for n in chosen] for chosen in d["selected"]],
            summaries=[_from_json_float(s) for s in d["summaries"]],
            baseline=_from_json_float(d.get("baseline")),
        )


def _to_json_float(x):
    return None if x is None or math.isnan(x) else float(x)


def _from_json_float(x):
    return float("nan") if x is None else float(x)


def best_per_head(scores: dict[str, float]) -> dict[str, float]:
    """Candidate name -> score, to head name -> its best score over the targets tried (NaN last)."""
    best: dict[str, float] = {}
    for name, value in scores.items():
        key = head_key(*head_of(parse_head_name(name)))
        if key not in best or _rank_key(value, 0) < _rank_key(best[key], 0):
            best[key] = value
    return best


def _rank_key(score: float, index: int):
    # Higher score first; NaN (a failed or degenerate objective) last; ties by pool order.
    return (-score if not math.isnan(score) else math.inf, index)


def check_search_size(pool_size: int, k: int, rounds: int) -> None:
    """``pool_size``: the distinct heads of the pool (a head is chosen at most once, whatever its targets)."""
    if k < 1 or rounds < 1:
        raise ValueError(f"k ({k}) and rounds ({rounds}) must both be at least 1.")
    if k * rounds > pool_size:
        raise ValueError(
            f"k x rounds = {k} x {rounds} = {k * rounds} heads, but there are only {pool_size} candidate heads; "
            "lower k or rounds, or widen the candidates."
        )


def total_evaluations(pool_size: int, k: int, rounds: int, summaries: bool, per_head: int = 1) -> int:
    """Candidate evaluations of a whole search: every remaining head per round, times the targets
    tried per head (``pool_size`` counts heads), plus the summaries."""
    return sum((pool_size - r * k) * per_head for r in range(rounds)) + ((rounds + 1) if summaries else 0)


def greedy_search(
    pool: Sequence[Head],
    k: int,
    rounds: int,
    evaluate: Evaluate,
    *,
    batch_size: int = 1,
    evaluate_step: EvaluateStep | None = None,
    batches_per_step: int = 1,
    state: SearchState | None = None,
    summarize: Callable[[list[Head]], float] | None = None,
    on_update: Callable[[SearchState], None] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> SearchState:
    """Algorithm 1. ``state`` resumes a checkpoint; ``on_update`` is called whenever the state
    gained something (write the checkpoint there); ``summarize(S)`` scores a set on its own
    (the baseline with S empty, then S_final after each round); ``on_progress(done, total, note)``
    counts candidate evaluations.

    ``evaluate_step(batches)`` scores up to ``batches_per_step`` batches in one call (a distributed
    run: one batch per process); by default ``evaluate`` scores them one after another. The state
    gains whole steps only, so a checkpoint always holds whole batches."""
    pool = [tuple(h) for h in pool]
    if len(set(pool)) != len(pool):
        raise ValueError("the candidate pool lists a head twice")
    heads = {head_of(h) for h in pool}
    check_search_size(len(heads), k, rounds)
    if batch_size < 1 or batches_per_step < 1:
        raise ValueError(f"batch_size ({batch_size}) and batches_per_step ({batches_per_step}) must be at least 1")
    if evaluate_step is None:
        evaluate_step = lambda batches: [evaluate(b) for b in batches]
    if state is None:
        state = SearchState(params={}, pool=list(pool))
    elif state.pool != pool:
        raise CheckpointMismatch("the checkpoint was made for another candidate pool")
    index = {h: i for i, h in enumerate(pool)}
    total = total_evaluations(len(heads), k, rounds, summarize is not None, per_head=-(-len(pool) // len(heads)))

    def step(note: str) -> None:
        _notify(on_update, state)
        if on_progress is not None:
            done = sum(len(s) for s in state.rounds)
            if summarize is not None:
                done += len(state.summaries) + (state.baseline is not None)
            on_progress(done, total, note)

    step("resuming" if state.rounds or state.baseline is not None else "starting")
    if summarize is not None and state.baseline is None:
        state.baseline = float(summarize([]))
        step(f"baseline (no heads) scores {state.baseline:.4g}")

    for r in range(rounds):
        if r == len(state.selected):
            if r == len(state.rounds):
                state.rounds.append({})
            scores = state.rounds[r]
            chosen = state.final
            taken = {head_of(h) for h in chosen}
            remaining = [h for h in pool if head_of(h) not in taken]
            grid = [remaining[i:i + batch_size] for i in range(0, len(remaining), batch_size)]
            todo = [b for b in ([h for h in batch if head_name(h) not in scores] for batch in grid) if b]
            for start in range(0, len(todo), batches_per_step):
                batches = todo[start:start + batches_per_step]
                results = list(evaluate_step([[chosen + [h] for h in batch] for batch in batches]))
                if len(results) != len(batches):
                    raise ValueError(f"evaluate_step returned {len(results)} batches of scores for {len(batches)}")
                for batch, values in zip(batches, results):
                    values = list(values)
                    if len(values) != len(batch):
                        raise ValueError(f"evaluate returned {len(values)} scores for {len(batch)} candidates")
                    for h, v in zip(batch, values):
                        scores[head_name(h)] = float(v)
                best = min(scores, key=lambda n: _rank_key(scores[n], index[parse_head_name(n)]))
                step(f"round {r + 1}/{rounds}: best so far {best} ({scores[best]:.4g})")
            ranked = sorted(remaining, key=lambda h: _rank_key(scores[head_name(h)], index[h]))
            state.selected.append(_best_distinct_heads(ranked, k))
            step(f"round {r + 1}/{rounds} chose {', '.join(head_name(h) for h in state.selected[-1])}")
        if summarize is not None and len(state.summaries) == r:
            state.summaries.append(float(summarize(state.final)))
            step(f"after round {r + 1}/{rounds}: S_final scores {state.summaries[r]:.4g}")
    return state


def _best_distinct_heads(ranked: list[Head], k: int) -> list[Head]:
    """The first k candidates of ``ranked`` whose heads differ: a head joins S_final once, with its
    best-ranked target."""
    picked, seen = [], set()
    for h in ranked:
        if head_of(h) not in seen:
            seen.add(head_of(h))
            picked.append(h)
            if len(picked) == k:
                break
    return picked


def _notify(callback, state):
    if callback is not None:
        callback(state)


# ---- checkpoint ---------------------------------------------------------------------------
def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: a crash never leaves half a file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a file where a folder should be, no permission, disk full: say which file
        raise OSError(e.errno, f"HeadHunter could not write {path}: {e.strerror or e}") from None


def save_checkpoint(path: Path, state: SearchState) -> None:
    atomic_write_bytes(path, json.dumps(state.to_dict(), indent=1).encode("utf-8"))


def load_checkpoint(path: Path, params: dict) -> SearchState | None:
    """The saved state of this run, or None if there is none; refuses other parameters."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = SearchState.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as e:
        reason = f"missing {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
        raise CheckpointMismatch(f"{path} is not a readable search checkpoint ({reason}); delete it to start "
                                 "over.") from None
    expected = json.loads(json.dumps(params))  # the same normalisation as the saved copy
    if state.params != expected:
        diffs = describe_differences(state.params, expected)
        raise CheckpointMismatch(
            f"{path} belongs to a run with other parameters ({diffs}). Resuming would mix two searches: "
            "use another run name, or delete that checkpoint folder to start this run over."
        )
    return state


def describe_differences(saved: dict, wanted: dict, limit: int = 4) -> str:
    keys = sorted(set(saved) | set(wanted))
    diffs = [f"{key}: checkpoint {_short(saved.get(key))} vs now {_short(wanted.get(key))}"
             for key in keys if saved.get(key) != wanted.get(key)]
    more = f"; and {len(diffs) - limit} more" if len(diffs) > limit else ""
    return "; ".join(diffs[:limit]) + more


def _short(value, width: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# ---- score map ----------------------------------------------------------------------------
def score_map(state: SearchState, rounds: int, layers: int, heads: int):
    """[rounds, layers, heads] float32: each head's mean objective per round (its best over the
    targets tried), NaN where not evaluated."""
    import torch

    out = torch.full((rounds, layers, heads), float("nan"), dtype=torch.float32)
    for r, scores in enumerate(state.rounds[:rounds]):
        for name, value in best_per_head(scores).items():
            layer, head = parse_head_key(name)
            out[r, layer, head] = value
    return out


def target_score_maps(state: SearchState, rounds: int, layers: int, heads: int) -> dict:
    """For a (head, target) search: target text -> [rounds, layers, heads] of that target's scores
    (NaN where not evaluated); empty for a search over heads alone."""
    import torch

    maps: dict = {}
    for r, scores in enumerate(state.rounds[:rounds]):
        for name, value in scores.items():
            candidate = parse_head_name(name)
            if len(candidate) < 3:
                continue
            if candidate[2] not in maps:
                maps[candidate[2]] = torch.full((rounds, layers, heads), float("nan"), dtype=torch.float32)
            maps[candidate[2]][r, candidate[0], candidate[1]] = value
    return maps


def selection_map(state: SearchState, layers: int, heads: int):
    """[layers, heads] int32: the round that chose each head, -1 for heads never chosen."""
    import torch

    out = torch.full((layers, heads), -1, dtype=torch.int32)
    for r, chosen in enumerate(state.selected):
        for candidate in chosen:
            out[head_of(candidate)] = r
    return out


def save_score_map(path: Path, state: SearchState, rounds: int, layers: int, heads: int, metadata: dict | None = None) -> None:
    """safetensors with "scores" [rounds, layers, heads] (NaN = not evaluated) and "selected_round";
    a (head, target) search adds "scores:<target>" per target tried."""
    from safetensors.torch import save

    tensors = {"scores": score_map(state, rounds, layers, heads), "selected_round": selection_map(state, layers, heads)}
    tensors.update({f"scores:{target}": m for target, m in target_score_maps(state, rounds, layers, heads).items()})
    meta = {key: str(value) for key, value in (metadata or {}).items()}
    atomic_write_bytes(path, save(tensors, metadata=meta))
