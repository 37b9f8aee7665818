"""What differs between the ComfyUI releases, as the tests meet it: one place, read by the fixtures.

The pack's own code meets no such difference except through the architecture table (FLUX.2, which
only v0.28+ builds, is told apart from FLUX.1 there by its parameters). These are differences in
how a test builds things with ComfyUI's classes, which newer releases changed, and what a release's
model code does that a test checks (Qwen-Image's text mask).
"""
from __future__ import annotations

import dataclasses


def flux_params_extras() -> dict:
    """Keys newer releases require in a FLUX config: v0.28.1's FluxParams has ``txt_ids_dims``
    (FLUX.1: ``[]``, which is what its model detection writes)."""
    from comfy.ldm.flux.model import FluxParams

    fields = {f.name for f in dataclasses.fields(FluxParams)}
    return {"txt_ids_dims": []} if "txt_ids_dims" in fields else {}


def prompt_executor(server):
    """ComfyUI's PromptExecutor with no output cache. v0.28.1 reads RAM-pressure limits from
    ``cache_args`` when a prompt starts (``cache_args["ram"]``); v0.3.64 takes ``cache_size``."""
    import inspect

    import execution

    params = inspect.signature(execution.PromptExecutor).parameters
    if "cache_args" in params:
        return execution.PromptExecutor(server, cache_args={"lru": 0, "ram": 0, "ram_inactive": 0})
    return execution.PromptExecutor(server)


def flux2_model_config(hidden_size: int, heads: int, depth: int, single: int):
    """A tiny FLUX.2 config (ComfyUI's own ``supported_models.Flux2``), or None before v0.28,
    which cannot build FLUX.2. Parameters as ComfyUI's model detection writes them for FLUX.2."""
    import comfy.supported_models

    if not hasattr(comfy.supported_models, "Flux2"):
        return None
    head_dim = hidden_size // heads
    return comfy.supported_models.Flux2({
        "image_model": "flux2", "in_channels": 128, "out_channels": 128, "patch_size": 1, "vec_in_dim": None,
        "context_in_dim": 64, "hidden_size": hidden_size, "mlp_ratio": 3.0, "num_heads": heads, "depth": depth,
        "depth_single_blocks": single, "axes_dim": [head_dim // 4] * 4, "theta": 2000, "qkv_bias": False,
        "guidance_embed": True, "txt_ids_dims": [3], "global_modulation": True, "mlp_silu_act": True,
        "ops_bias": False, "default_ref_method": "index", "ref_index_scale": 10.0,
    })


def chroma_params_extras() -> dict:
    """Keys newer releases require in a Chroma config: v0.28.1's ChromaParams has ``txt_ids_dims``
    and ``vec_in_dim`` (Chroma: ``[]`` and None, as its model detection writes them)."""
    from comfy.ldm.chroma.model import ChromaParams

    fields = {f.name for f in dataclasses.fields(ChromaParams)}
    extras = {"txt_ids_dims": [], "vec_in_dim": None}
    return {k: v for k, v in extras.items() if k in fields}


def chroma_radiance_params_extras() -> dict:
    """Keys v0.28.1's ChromaRadianceParams adds (``use_x0``, ``use_sequential_txt_ids``; False for the
    first Radiance checkpoints, as its model detection writes them)."""
    from comfy.ldm.chroma_radiance.model import ChromaRadianceParams

    fields = {f.name for f in dataclasses.fields(ChromaRadianceParams)}
    extras = {"use_x0": False, "use_sequential_txt_ids": False}
    return {k: v for k, v in extras.items() if k in fields}


def hunyuan_video_params_extras() -> dict:
    """Keys v0.28.1's HunyuanVideoParams adds for HunyuanVideo 1.5 (off for 1.0, as its model
    detection writes them)."""
    from comfy.ldm.hunyuan_video.model import HunyuanVideoParams

    fields = {f.name for f in dataclasses.fields(HunyuanVideoParams)}
    extras = {"use_cond_type_embedding": False, "vision_in_dim": None, "meanflow_sum": False}
    return {k: v for k, v in extras.items() if k in fields}


def release() -> tuple[int, ...]:
    """The ComfyUI release under test, from its comfyui_version.py."""
    from comfyui_version import __version__

    return tuple(int(part) for part in __version__.split(".")[:3])


def qwen_image_masks_text() -> bool:
    """v0.28.1's Qwen-Image attention hands the text padding mask to the backend ([B, 1, N],
    fifth argument); v0.3.64's takes it but passes None (read in both trees)."""
    return release() >= (0, 28)


def zimage_model_config(layers: int, heads: int, dim: int):
    """A tiny Z-Image config (ComfyUI's own ``supported_models.ZImage``: Lumina 2's NextDiT with
    Z-Image's modulation, time scale and 32-token padding, as v0.28.1's model detection writes
    them), or None before v0.28, which has no Z-Image."""
    import comfy.supported_models

    if not hasattr(comfy.supported_models, "ZImage"):
        return None
    head_dim = dim // heads
    return comfy.supported_models.ZImage({
        "image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": dim, "cap_feat_dim": 64,
        "n_layers": layers, "qk_norm": True, "n_heads": heads, "n_kv_heads": heads,
        "axes_dims": [head_dim // 4, 3 * head_dim // 8, 3 * head_dim // 8], "axes_lens": [1536, 512, 512],
        "rope_theta": 256.0, "ffn_dim_multiplier": 8.0 / 3.0, "z_image_modulation": True, "time_scale": 1000.0,
        "pad_tokens_multiple": 32,
    })
