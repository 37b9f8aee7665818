"""Reusing the conditional pass below the first perturbed layer.

The perturbed pass sees the same input, timestep and conditioning as the conditional pass, and
blocks below the first perturbed layer L are untouched by the perturbation, so what block L-1
returns is exactly the conditional pass's. On the sequential (KSampler) path the cond pass runs
first, in the same sampling step: ``CaptureBlock`` keeps the cond rows' output of block L-1, and
in the perturbed pass ``SkipBlock`` entries stand in for blocks 0..L-1, the last one handing back
that output. The perturbed pass then costs only the blocks from L on: FLUX heads published by the
paper all sit in single blocks (L >= 34 of 57), so most of the pass is saved.

The output of block L-1, not the input of block L: whatever the model's own loop does between the
blocks then runs in the perturbed pass as it ran in the cond pass (FLUX joins text and image before
its single blocks, Wan S2V injects audio after some blocks, VACE adds its hints), on the same
hidden state.

Used only where it is exact: one forward holding the cond rows per pass, no ControlNet, no patches
inside the blocks (``transformer_options["patches"]``, e.g. core's NAG, whose effect depends on the
batch), and not for "image tokens only" targets inside joined (single-stream) blocks, which need
the text length from an earlier block.
"""
from __future__ import annotations

import torch

from ..core.architecture_rows import REACH_BLOCK
from ..core.model_layout import ModelLayout
from .attention import PLAN_KEY

COND_ENTRY = 0  # the positive conditioning in calc_cond_batch's conds list, in both passes


def prefix_reuse_exact(layout: ModelLayout) -> bool:
    """Only DiTs, whose blocks form one chain: a block's input is all the later blocks depend
    on. A U-Net's output blocks also read the skip connections of every input block, and its
    attention is reached through ``attn1`` patches, not whole blocks; reusing a prefix there would
    mean caching every input block's hidden states, which block patches cannot hand back."""
    return layout.arch.reach == REACH_BLOCK


class PrefixCache:
    """The cond rows' output of the last block below the first perturbed one, for the current
    model evaluation.

    Keyed by the timestep tensor itself: ComfyUI hands the same object to the cond pass
    (``transformer_options["sigmas"]``) and to the post-CFG function of the same evaluation, so
    a state is never used for another evaluation, even one at an equal sigma.
    """

    def __init__(self):
        self.sigmas = None
        self.state = None  # the block's output dict, cond rows only, or None
        self.forwards = 0

    def __deepcopy__(self, memo):  # per-evaluation state: a copy starts empty
        return PrefixCache()

    def store(self, sigmas, state: dict) -> None:
        if sigmas is not self.sigmas:
            self.sigmas, self.forwards = sigmas, 0
        self.forwards += 1
        self.state = state if self.forwards == 1 else None  # several cond forwards: not exact

    def take(self, sigmas):
        state = self.state if sigmas is self.sigmas else None
        self.sigmas, self.state, self.forwards = None, None, 0
        return state


class CaptureBlock:
    """On the normal pass (no plan), keep the cond rows' block output; chains a previous patch."""

    def __init__(self, cache: PrefixCache, previous=None):
        self.cache = cache
        self.previous = previous

    def __call__(self, args, extra):
        out = self.previous(args, extra) if self.previous is not None else extra["original_block"](args)
        options = args.get("transformer_options") or {}
        entries = options.get("cond_or_uncond") or []
        sigmas = options.get("sigmas")
        if PLAN_KEY not in options and sigmas is not None and entries.count(COND_ENTRY) == 1:
            size = args["img"].shape[0] // len(entries)
            row = entries.index(COND_ENTRY) * size
            # A copy: the model's loop may change the output in place after the block (Wan S2V's
            # audio injection adds to it).
            self.cache.store(sigmas, {key: value[row:row + size].clone() if torch.is_tensor(value) else value
                                      for key, value in out.items()})
        return out


class SkipBlock:
    """Stands in for a block below L in the perturbed pass: the identity, and the last one
    returns the cond pass's output of that block."""

    def __init__(self, state: dict | None):
        self.state = state  # set on the last skipped block only

    def __call__(self, args, extra):
        if self.state is None:
            return {key: args[key] for key in ("img", "txt") if key in args}
        return dict(self.state)


def capture_patch(layout: ModelLayout, first_layer: int, cache: PrefixCache, dit: dict) -> None:
    """Register the capture on the block below ``first_layer`` in a patches_replace['dit'] dict."""
    key = layout.block_of(first_layer - 1)
    dit[key] = CaptureBlock(cache, previous=dit.get(key))


def skip_patches(layout: ModelLayout, first_layer: int, state: dict, dit: dict) -> None:
    """Replace blocks 0..first_layer-1 in a patches_replace['dit'] dict by SkipBlocks."""
    for layer in range(first_layer):
        dit[layout.block_of(layer)] = SkipBlock(state if layer == first_layer - 1 else None)
