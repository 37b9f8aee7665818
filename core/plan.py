"""Which batch rows get which head perturbation, for one model forward.

ComfyUI's ``calc_cond_batch`` stacks several conditionings into one batch and records, in
``transformer_options["cond_or_uncond"]``, which entry of its ``conds`` list each equal-sized
chunk of the batch came from. A plan maps those entries to head perturbations, so one forward
can hold unperturbed cond/uncond rows next to perturbed rows (the batched guider), or several
candidate head sets side by side (the HeadHunter search).
"""
from __future__ import annotations

from dataclasses import dataclass

from .softpag import LayerPerturbation, Target


def layer_perturbations(resolved: list[tuple[int, int, float]]) -> dict[int, LayerPerturbation]:
    """(layer, head, u) triples -> one LayerPerturbation per layer (heads with u = 0 drop out)."""
    by_layer: dict[int, list[tuple[int, float]]] = {}
    for layer, head, u in resolved:
        if u > 0.0:
            by_layer.setdefault(layer, []).append((head, float(u)))
    return {
        layer: LayerPerturbation(tuple(h for h, _ in hs), tuple(u for _, u in hs))
        for layer, hs in sorted(by_layer.items())
    }


@dataclass(frozen=True)
class PerturbationPlan:
    """``chunks[i]`` perturbs the rows that came from entry ``i`` of calc_cond_batch's conds.

    Immutable: newer ComfyUI releases share everything in model options between clones, so a
    plan is never written to during a forward (per-forward facts go in that forward's options)."""

    chunks: dict[int, dict[int, LayerPerturbation]]
    image_only: bool = False

    @property
    def layers(self) -> list[int]:
        return sorted({layer for per_layer in self.chunks.values() for layer in per_layer})

    def targets(self, layer: int, cond_or_uncond, batch: int) -> list[Target]:
        if not cond_or_uncond:
            # Called outside calc_cond_batch: a single-chunk plan applies to every row.
            if len(self.chunks) != 1:
                return []
            cond_or_uncond = list(self.chunks)
        if batch % len(cond_or_uncond):
            return []
        size = batch // len(cond_or_uncond)
        targets: list[Target] = []
        for i, entry in enumerate(cond_or_uncond):
            pert = self.chunks.get(entry, {}).get(layer)
            if pert is None:
                continue
            if targets and targets[-1][2] is pert and targets[-1][1] == i * size:
                targets[-1] = (targets[-1][0], (i + 1) * size, pert)
            else:
                targets.append((i * size, (i + 1) * size, pert))
        return targets
