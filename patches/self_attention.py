"""SoftPAG on a U-Net's self-attention, through ComfyUI's ``attn1`` replace patches.

``BasicTransformerBlock`` looks up ``transformer_options["patches_replace"]["attn1"]`` by
(block name, block id, transformer index), then by (block name, block id), and calls the patch
with the projected q, k, v ([B, N, H*D]) and its ``extra_options``; ``attn1.to_out`` follows.
``PerturbedSelfAttention`` sits under the first, more precise key of each perturbed layer. It
computes the attention exactly as ``CrossAttention.forward`` would (ComfyUI's
``optimized_attention``, so the backend ComfyUI chose and any ``optimized_attention_override`` in
effect), or with the attn1 patch that was there before (chained), then blends the selected heads
toward their targets: O' = (1 - u) O + u O_target (``core.softpag``; paper Sec. 4.2), the identity's
O_target being V. u = 1 identity heads skip attention through ``PerturbedAttention``'s shortcut.
Cross-attention (``attn2``) is never touched.

Every token of a U-Net's self-attention is an image token, on the feature map of its own level:
``SpatialTransformer`` writes that map's shape, [B, C, h, w], into the options as
``activations_shape`` (both supported releases), which gives SEG its grid per level.
"""
from __future__ import annotations

import comfy.ldm.modules.attention as comfy_attention

from ..core.softpag import apply_softpag
from .attention import OVERRIDE_KEY, PLAN_KEY, PerturbedAttention


class PerturbedSelfAttention:
    """attn1 replace patch for one flat layer; chains the patch that answered that layer before."""

    def __init__(self, layer: int, previous=None):
        self.layer = layer
        self.previous = previous

    def __call__(self, q, k, v, extra_options):
        plan = extra_options.get(PLAN_KEY)
        heads = extra_options["n_heads"]
        targets = plan.targets(self.layer, extra_options.get("cond_or_uncond"), q.shape[0]) if plan else []
        grid = _feature_grid(extra_options.get("activations_shape"), q.shape[1])
        if self.previous is not None:
            out = self.previous(q, k, v, extra_options)
            return apply_softpag(out, q, k, v, heads, targets, grid=grid) if targets else out
        options = extra_options
        if targets:
            # No joint text sequence in a U-Net's self-attention: every token is an image token.
            override = PerturbedAttention(targets, q.shape[1], 0, False, extra_options.get(OVERRIDE_KEY), grid)
            options = {**extra_options, OVERRIDE_KEY: override}
        return comfy_attention.optimized_attention(
            q, k, v, heads, attn_precision=extra_options.get("attn_precision"), transformer_options=options)


def _feature_grid(shape, tokens: int):
    """(h, w) of the feature map this self-attention runs on, if its size matches the tokens."""
    if shape is None or len(shape) != 4 or shape[2] * shape[3] != tokens:
        return None
    return int(shape[2]), int(shape[3])


def register(attn1: dict, layout, layers) -> None:
    """Put a PerturbedSelfAttention on each of ``layers`` in a patches_replace['attn1'] dict."""
    for layer in layers:
        key = layout.block_of(layer)
        # ComfyUI falls back to the block-wide key (block, id): that patch answered this layer so far.
        attn1[key] = PerturbedSelfAttention(layer, previous=attn1.get(key, attn1.get(key[:2])))
