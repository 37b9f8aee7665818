"""Reusing the conditional pass below the first perturbed layer.

The perturbed pass sees the same input, timestep and conditioning as the conditional pass, and
blocks below the first perturbed layer L are untouched by the perturbation, so its hidden states
at L's input are exactly the conditional pass's. On the sequential (KSampler) path the cond pass
runs first, in the same sampling step: ``CaptureBlock`` keeps the cond rows' input of block L, and
in the perturbed pass ``SkipBlock`` entries stand in for blocks 0..L-1, the last one handing back
that input. The perturbed pass then costs only the blocks from L on: FLUX heads published by the
paper all sit in single blocks (L >= 34 of 57), so most of the pass is saved.

Used only where it is exact: one forward holding the cond rows per pass, no ControlNet (its
residuals are added after each block, outside block patches), no patches inside the blocks
(``transformer_options["patches"]``, e.g. core's NAG, whose effect depends on the batch), and not
for "image tokens only"
targets inside joined (single-stream) blocks, which need the text length from an earlier block.
"""
from __future__ import annotations

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
    """The cond rows' input of the first perturbed block, for the current model evaluation.

    Keyed by the timestep tensor itself: ComfyUI hands the same object to the cond pass
    (``transformer_options["sigmas"]``) and to the post-CFG function of the same evaluation, so
    a state is never used for another evaluation, even one at an equal sigma.
    """

    def __init__(self):
        self.sigmas = None
        self.state = None  # {"img": ..., "txt": ...} of the cond rows, or None
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
    """On the normal pass (no plan), keep the cond rows' block input; chains a previous patch."""

    def __init__(self, cache: PrefixCache, previous=None):
        self.cache = cache
        self.previous = previous

    def __call__(self, args, extra):
        options = args.get("transformer_options") or {}
        entries = options.get("cond_or_uncond") or []
        sigmas = options.get("sigmas")
        if PLAN_KEY not in options and sigmas is not None and entries.count(COND_ENTRY) == 1:
            size = args["img"].shape[0] // len(entries)
            row = entries.index(COND_ENTRY) * size
            state = {key: args[key][row:row + size].clone() for key in ("img", "txt") if args.get(key) is not None}
            self.cache.store(sigmas, state)
        if self.previous is not None:
            return self.previous(args, extra)
        return extra["original_block"](args)


class SkipBlock:
    """Stands in for a block below L in the perturbed pass: the identity, and the last one
    returns the cached input of block L in the shape the model's loop expects next."""

    def __init__(self, state: dict | None, joined_next: bool, text_first: bool = True):
        self.state = state  # set on the last skipped block only
        self.joined_next = joined_next  # block L takes the joined (text, image) sequence
        self.text_first = text_first  # its order (HunyuanVideo on v0.3.64: image, then text)

    def __call__(self, args, extra):
        out = {key: args[key] for key in ("img", "txt") if key in args}
        if self.state is None:
            return out
        img = self.state["img"]
        if "txt" in args and self.joined_next:
            # Last double block before the single blocks: the loop joins txt and img next.
            n_txt = args["txt"].shape[1]
            if not self.text_first:
                n_img = img.shape[1] - n_txt
                return {"img": img[:, :n_img], "txt": img[:, n_img:]}
            return {"txt": img[:, :n_txt], "img": img[:, n_txt:]}
        return dict(self.state) if "txt" in args else {"img": img}


def capture_patch(layout: ModelLayout, first_layer: int, cache: PrefixCache, dit: dict) -> None:
    """Register the capture on block ``first_layer`` in a patches_replace['dit'] dict."""
    key = layout.block_of(first_layer)
    dit[key] = CaptureBlock(cache, previous=dit.get(key))


def skip_patches(layout: ModelLayout, first_layer: int, state: dict, dit: dict) -> None:
    """Replace blocks 0..first_layer-1 in a patches_replace['dit'] dict by SkipBlocks."""
    joined_next = not layout.group_of(first_layer).separate_text
    for layer in range(first_layer):
        last = layer == first_layer - 1
        dit[layout.block_of(layer)] = SkipBlock(state if last else None, joined_next, text_first=not layout.image_first)
