"""A search result as a preset (the shared preset format, "headhunter-preset" v1): heads in the
order they were chosen, each with the score that chose it, and the whole run in "provenance".
core.preset_format checks it and core.preset_files writes it."""
from __future__ import annotations

from .model_layout import ModelLayout, same_structure
from .preset_format import FORMAT, FORMAT_VERSION
from .greedy_search import SearchState, head_name, head_of
from .heads import head_key


def guess_family(layout: ModelLayout, used: list[tuple[int, int]], wanted: str = "auto") -> str:
    """The published family a search result is saved for: the one asked for, the model's own
    (``core.architectures``: same structure), else the first family of the architecture that holds
    every chosen head (a preset names a family its heads fit)."""
    arch = layout.arch
    if wanted and wanted != "auto":
        if wanted not in arch.variants:
            raise ValueError(f"family '{wanted}' is not a {arch.display_name} family (valid: {', '.join(arch.variants)})")
        return wanted
    exact = [f for f in arch.variants if same_structure(layout, f)]
    if layout.family is not None or exact:
        return layout.family or exact[0]
    fitting = [f for f, layers in arch.variants.items()
               if all(layer < len(layers) and head < layers[layer].heads for layer, head in used)]
    if not fitting:
        raise ValueError(f"no {arch.display_name} family holds the heads found; set the family by hand")
    return fitting[0]


def search_preset(name: str, description: str, arch_id: str, family: str, state: SearchState, label: str,
                  recommended: dict, tags: list[str], provenance: dict, targets: dict | None = None) -> dict:
    """``targets``: head name -> target text, for heads searched with a target other than the identity.
    A (head, target) candidate (a search over targets) records the target it was chosen with."""
    scores = state.selected_scores()
    targets = dict(targets or {})
    for chosen in state.selected:
        for h in chosen:
            if len(h) > 2:
                targets[head_key(*head_of(h))] = h[2]
    heads = [
        {"head": head_key(*head_of(h)), "u": None,
         **({"target": targets[head_key(*head_of(h))]} if targets.get(head_key(*head_of(h)), "identity") != "identity"
            else {}),
         "label": f"{label} (round {r + 1})", "confidence": "high", "score": scores[head_name(h)]}
        for r, chosen in enumerate(state.selected) for h in chosen
    ]
    rounds = [
        {"round": r + 1, "chosen": [head_name(h) for h in chosen],
         "scores": {head_name(h): scores[head_name(h)] for h in chosen},
         "score_after": state.summaries[r] if r < len(state.summaries) else None,
         "candidates_evaluated": len(state.rounds[r])}
        for r, chosen in enumerate(state.selected)
    ]
    return _finite({
        "format": FORMAT, "version": FORMAT_VERSION, "name": name, "description": description,
        "family": family, "architecture": arch_id, "heads": heads, "recommended": recommended, "tags": tags,
        "provenance": {"source": "search", **provenance, "baseline_score": state.baseline, "rounds": rounds},
    })


def _finite(value):
    """NaN scores (a degenerate objective; they never rank first) become null, as JSON allows."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
