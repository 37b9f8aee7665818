"""Tiny random HiDream, Lumina 2 and Z-Image models built with ComfyUI's own model configs, and
their conditioning: the DiTs whose blocks ComfyUI gives no block-replace hook (the pack reaches
them through ModelPatcher object patches, patches/block_proxy.py). Host tier only.
"""
from __future__ import annotations

import torch

import hh_releases
from hh_host import tiny_model

LLAMA_LAYERS = 5  # the tiny HiDream's blocks (2 double + 3 single): one Llama layer each


def tiny_hidream(double: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """HiDream-I1's structure (ComfyUI's HiDream config: MoE feed-forwards, Llama layers per block,
    double-stream then single-stream blocks, image first) at a tiny width."""
    import comfy.supported_models

    config = {"image_model": "hidream", "patch_size": 2, "in_channels": 16, "out_channels": 16,
              "num_layers": double, "num_single_layers": single, "attention_head_dim": head_dim,
              "num_attention_heads": heads, "caption_channels": [64, 64], "text_emb_dim": 64,
              "num_routed_experts": 4, "num_activated_experts": 2, "axes_dims_rope": [head_dim // 2, head_dim // 4,
                                                                                       head_dim // 4],
              "max_resolution": [32, 32], "llama_layers": list(range(double + single))}
    return tiny_model(comfy.supported_models.HiDream(config), seed)


def tiny_lumina2(layers: int = 5, heads: int = 4, kv_heads: int = 2, head_dim: int = 16, seed: int = 0):
    """Lumina 2's NextDiT (ComfyUI's Lumina2 config) at a tiny width, with its GQA (``kv_heads``
    key/value heads repeated to ``heads``) and its two caption and two noise refiner blocks."""
    import comfy.supported_models

    config = {"image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": heads * head_dim,
              "cap_feat_dim": 64, "n_layers": layers, "n_heads": heads, "n_kv_heads": kv_heads, "qk_norm": True,
              "axes_dims": [head_dim // 4, 3 * head_dim // 8, 3 * head_dim // 8], "axes_lens": [300, 512, 512]}
    return tiny_model(comfy.supported_models.Lumina2(config), seed)


def tiny_zimage(layers: int = 5, heads: int = 4, seed: int = 0):
    """Z-Image (ComfyUI v0.28+'s ZImage config: Lumina 2's code with Z-Image's modulation and its
    text and image tokens padded to multiples of 32), or None on releases without it. Width 256:
    Z-Image's modulation reads a 256-wide timestep embedding."""
    config = hh_releases.zimage_model_config(layers=layers, heads=heads, dim=256)
    return None if config is None else tiny_model(config, seed)


def conditioning(kind: str, tokens: int = 6, seed: int = 1):
    """HiDream: a T5 context, pooled CLIP output and the Llama hidden states of every layer
    ([B, layers, T, C]); Lumina 2 / Z-Image: the text encoder's hidden states and its attention mask
    (v0.3.64 reads the caption length from it)."""
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(1, tokens, 64, generator=g)
    if kind == "hidream":
        return [[context, {"pooled_output": torch.randn(1, 64, generator=g),
                           "conditioning_llama3": torch.randn(1, LLAMA_LAYERS, tokens, 64, generator=g)}]]
    return [[context, {"attention_mask": torch.ones(1, tokens, dtype=torch.long)}]]


KINDS = ("hidream", "lumina", "zimage")
