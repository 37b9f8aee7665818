"""Several candidate head sets in ONE forward: a plan whose perturbed rows are split per candidate.

The search samples C candidates x M images as one latent batch, candidate-major (row c*M + m).
``calc_cond_batch`` stacks that batch once per cond entry (cond, uncond, perturbed), so each
entry's rows hold C consecutive sub-chunks of M rows, one per candidate. ``CandidatePlan``
splits every entry ``e`` into the sub-entries ``(e, c)``; only the perturbed entry's sub-entries
carry heads, so candidate c's heads touch exactly its own perturbed rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from .plan import PerturbationPlan, layer_perturbations


@dataclass(frozen=True)
class CandidatePlan(PerturbationPlan):
    count: int = 1

    def targets(self, layer: int, cond_or_uncond, batch: int):
        if not cond_or_uncond:
            entries = {entry for entry, _ in self.chunks}
            if len(entries) != 1:
                return []
            cond_or_uncond = list(entries)
        expanded = [(entry, c) for entry in cond_or_uncond for c in range(self.count)]
        return super().targets(layer, expanded, batch)


def candidate_plan(entry: int, candidates: list[list[tuple[int, int, float]]], image_only: bool = False) -> CandidatePlan:
    """Candidate c's resolved (layer, head, u) triples perturb sub-chunk c of cond entry ``entry``."""
    chunks = {(entry, c): layer_perturbations(resolved) for c, resolved in enumerate(candidates)}
    return CandidatePlan({key: per_layer for key, per_layer in chunks.items() if per_layer},
                         image_only=image_only, count=len(candidates))
