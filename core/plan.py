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
from .target_spec import TargetSpec, parse_target


def layer_perturbations(resolved) -> dict[int, LayerPerturbation]:
    """(layer, head, u) or (layer, head, u, target) tuples -> one LayerPerturbation per layer (heads
    with u = 0 drop out). A target is a TargetSpec or its text; none means the identity."""
    by_layer: dict[int, list[tuple[int, float, TargetSpec]]] = {}
    for entry in resolved:
        layer, head, u = entry[:3]
        target = entry[3] if len(entry) > 3 else None
        if not isinstance(target, TargetSpec):
            target = parse_target(target)
        if u > 0.0:
            by_layer.setdefault(layer, []).append((head, float(u), target))
    perts = {}
    for layer, hs in sorted(by_layer.items()):
        specs = tuple(t for _, _, t in hs)
        perts[layer] = LayerPerturbation(tuple(h for h, _, _ in hs), tuple(u for _, u, _ in hs),
                                         () if all(t.is_identity for t in specs) else specs)
    return perts


@dataclass(frozen=True)
class PerturbationPlan:
    """``chunks[i]`` perturbs the rows that came from entry ``i`` of calc_cond_batch's conds.

    Immutable: newer ComfyUI releases share everything in model options between clones, so a
    plan is never written to during a forward (per-forward facts go in that forward's options)."""

    chunks: dict[int, dict[int, LayerPerturbation]]
    image_only: bool = False

    @property
    def needs_text_tokens(self) -> bool:
        """Whether perturbed attention must know where text ends and image begins: image-only
        targets, SEG (it blurs the image tokens only) and blocks of the joint map (mask, identity(XX))."""
        return self.image_only or any(
            spec.kind == "seg" or spec.needs_text
            for per_layer in self.chunks.values() for pert in per_layer.values() for spec in pert.targets)

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
