"""The head sweep: one image per head (or per layer), each with only that head perturbed.

The paper's per-head figures: with the same prompt and seed, perturbing a single head shows the
concept it steers (lighting, colour, texture...). Candidates are rendered in batches through the
same CandidateRenderer as the search.
"""
from __future__ import annotations

import torch

from ..core.head_aliases import check_syntax, expand
from ..core.heads import HeadSet, head_key
from ..core.search_images import image_grid, label_image
from .generation import CandidateRenderer, SamplingSettings, check_number, check_seed
from .progress import JobProgress

PER_HEAD = "per head"
PER_LAYER = "per layer"


def sweep_candidates(text: str, layout, mode: str, softpag_u: float) -> list[tuple[str, list]]:
    """(label, resolved heads) for every head, or every layer, that ``text`` names."""
    resolved = sorted(HeadSet.parse(expand(text, layout)).resolve(layout, default_u=softpag_u))
    if not resolved:
        raise ValueError(f"the heads '{text}' name no head of {layout.describe()}")
    if mode == PER_HEAD:
        return [(head_key(l, h), [(l, h, u)]) for l, h, u in resolved]
    if mode != PER_LAYER:
        raise ValueError(f"unknown sweep mode '{mode}' (valid: {PER_HEAD}, {PER_LAYER})")
    layers: dict[int, list] = {}
    for l, h, u in resolved:
        layers.setdefault(l, []).append((l, h, u))
    return [(head_key(l), heads) for l, heads in layers.items()]


def check_sweep_inputs(seed: int, text: str, mode: str, settings: SamplingSettings, softpag_u: float,
                       batch_candidates: int, columns: int) -> None:
    """Everything a sweep takes that can be checked without the model, before the first image."""
    settings.check()
    check_seed(seed)
    check_number("softpag_u", softpag_u, 0.0, 1.0)
    check_number("batch_candidates", batch_candidates, 1, 256, whole=True)
    check_number("columns", columns, 1, 64, whole=True)
    if mode not in (PER_HEAD, PER_LAYER):
        raise ValueError(f"unknown sweep mode '{mode}' (valid: {PER_HEAD}, {PER_LAYER})")
    check_syntax(text)


def run_sweep(model, vae, conditioning, seed: int, text: str, mode: str, settings: SamplingSettings,
              softpag_u: float, batch_candidates: int, include_baseline: bool, columns: int,
              negative=None, node_id=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (grid [1, H', W', 3], labelled images [N, H, W, 3])."""
    check_sweep_inputs(seed, text, mode, settings, softpag_u, batch_candidates, columns)
    renderer = CandidateRenderer(model, vae, [conditioning], [seed], settings, negative=negative)
    candidates = sweep_candidates(text, renderer.layout, mode, softpag_u)
    if include_baseline:
        candidates.insert(0, ("no heads", []))
    if batch_candidates < 1:
        raise ValueError(f"batch_candidates must be at least 1, got {batch_candidates}")
    progress = JobProgress("HeadHunter sweep", node_id)
    images = []
    try:
        for start in range(0, len(candidates), batch_candidates):
            chunk = candidates[start:start + batch_candidates]
            rendered = renderer.images([heads for _, heads in chunk])[:, 0]
            images += [label_image(im, label) for im, (label, _) in zip(rendered, chunk)]
            progress.update(start + len(chunk), len(candidates), chunk[-1][0])
    finally:
        progress.close()
    stacked = torch.stack(images)
    return image_grid(stacked, columns), stacked
