"""Tiny real models and sampling helpers for the host tier. Everything here calls ComfyUI's own
classes and nodes; import it only inside host tests (after the ``host`` fixture loaded ComfyUI).
"""
from __future__ import annotations

import inspect
import os
from pathlib import Path

import torch

import hh_releases


def randomize(module: torch.nn.Module, seed: int, std: float = 0.08) -> None:
    """Random weights: ComfyUI's ops leave parameters uninitialised. Norm scales stay near 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32) * std
            is_norm = any(s in name for s in ("norm", "ln_q", "ln_k", "scale")) and p.ndim == 1
            p.copy_((1.0 + noise) if is_norm else noise)
        for name, b in module.named_buffers():  # e.g. MMDiT's pos_embed, also left uninitialised
            if b.is_floating_point():
                b.copy_(torch.randn(b.shape, generator=g) * std)


def tiny_sd3_file(folder: Path, depth: int = 3, self_attn_layers=(1,), seed: int = 0, max_size: int = 16) -> Path:
    """A random SD3/SD3.5-style MMDiT state dict saved with safetensors, as a checkpoint would be.

    ComfyUI detects it from its keys: width 64*depth, depth heads; ``self_attn_layers`` gives those
    joint blocks SD3.5's extra image self-attention (attn2), which must never be perturbed.
    ``max_size`` is the largest latent side in patches (positional-embedding table size).
    """
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.mmdit import MMDiT
    from safetensors.torch import save_file

    model = MMDiT(
        input_size=None, patch_size=2, in_channels=16, out_channels=16, depth=depth, adm_in_channels=2048,
        context_embedder_config={"target": "torch.nn.Linear", "params": {"in_features": 4096, "out_features": 64 * depth}},
        pos_embed_max_size=max_size, num_patches=max_size**2, qk_norm="rms", x_block_self_attn_layers=list(self_attn_layers),
        dtype=torch.float32, device="cpu", operations=comfy.ops.disable_weight_init,
    )
    randomize(model, seed)
    path = Path(folder) / f"tiny_sd3_d{depth}_s{seed}_m{max_size}.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def load_with_unet_loader(path: Path):
    """Load a diffusion model file through ComfyUI's UNETLoader node."""
    import folder_paths
    import nodes

    folder_paths.add_model_folder_path("diffusion_models", str(Path(path).parent))
    (model,) = nodes.UNETLoader().load_unet(os.path.basename(path), "default")
    return model


def tiny_flux(depth: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random FLUX built from ComfyUI's Flux model config, wrapped in a ModelPatcher."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    config = {
        "image_model": "flux", "in_channels": 16, "patch_size": 2, "out_channels": 16, "vec_in_dim": 768,
        "context_in_dim": 4096, "hidden_size": heads * head_dim, "mlp_ratio": 2.0, "num_heads": heads,
        "depth": depth, "depth_single_blocks": single, "axes_dim": [4, 6, 6] if head_dim == 16 else [head_dim // 2, head_dim // 4, head_dim // 4],
        "theta": 10000, "qkv_bias": True, "guidance_embed": True, **hh_releases.flux_params_extras(),
    }
    model_config = comfy.supported_models.Flux(config)
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({})
    randomize(model.diffusion_model, seed)
    device = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=torch.device("cpu"))


def tiny_model(model_config, seed: int = 0):
    """A ComfyUI model config's model with random weights, in fp32, wrapped in a ModelPatcher."""
    import comfy.model_management
    import comfy.model_patcher

    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({})
    randomize(model.diffusion_model, seed)
    device = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=torch.device("cpu"))


def tiny_flux2(depth: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random FLUX.2 (ComfyUI's Flux2 config: global modulation, 128-channel latents,
    patch size 1), or None on releases that cannot build FLUX.2."""
    config = hh_releases.flux2_model_config(hidden_size=heads * head_dim, heads=heads, depth=depth, single=single)
    return None if config is None else tiny_model(config, seed)


def tiny_chroma(depth: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random Chroma from ComfyUI's Chroma config (FLUX blocks, modulations from the
    distilled guidance layer; in_dim 64 = 16 timestep + 16 guidance + 32 index channels)."""
    import comfy.supported_models

    config = {
        "image_model": "chroma", "in_channels": 64, "out_channels": 64, "patch_size": 2, "context_in_dim": 4096,
        "hidden_size": heads * head_dim, "mlp_ratio": 2.0, "num_heads": heads, "depth": depth,
        "depth_single_blocks": single, "axes_dim": [4, 6, 6], "theta": 10000, "qkv_bias": True, "in_dim": 64,
        "out_dim": heads * head_dim, "hidden_dim": 32, "n_layers": 2, **hh_releases.chroma_params_extras(),
    }
    return tiny_model(comfy.supported_models.Chroma(config), seed)


def tiny_chroma_radiance(depth: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0,
                         patch: int = 4):
    """A tiny random Chroma Radiance (ComfyUI's config: Chroma's blocks on pixel patches, a NeRF
    head decoding them; RGB "latents"). ``patch`` pixels a side per token (the real model: 16)."""
    import comfy.supported_models

    config = {
        "image_model": "chroma_radiance", "in_channels": 3, "out_channels": 3, "patch_size": patch,
        "context_in_dim": 4096, "hidden_size": heads * head_dim, "mlp_ratio": 2.0, "num_heads": heads, "depth": depth,
        "depth_single_blocks": single, "axes_dim": [4, 6, 6], "theta": 10000, "qkv_bias": True, "in_dim": 64,
        "out_dim": heads * head_dim, "hidden_dim": 32, "n_layers": 2, "nerf_hidden_size": 16, "nerf_mlp_ratio": 2,
        "nerf_depth": 2, "nerf_max_freqs": 4, "nerf_tile_size": 0, "nerf_final_head_type": "conv",
        "nerf_embedder_dtype": torch.float32, **hh_releases.chroma_params_extras(),
        **hh_releases.chroma_radiance_params_extras(),
    }
    return tiny_model(comfy.supported_models.ChromaRadiance(config), seed)


def tiny_qwen_image(layers: int = 5, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random Qwen-Image from ComfyUI's QwenImage config (16-channel latents in Wan 2.1's
    video format, patch size 2, text first in every block's joint attention)."""
    import comfy.supported_models

    config = {"image_model": "qwen_image", "patch_size": 2, "in_channels": 64, "out_channels": 16,
              "num_layers": layers, "attention_head_dim": head_dim, "num_attention_heads": heads,
              "joint_attention_dim": 64, "axes_dims_rope": (4, 6, 6)}
    return tiny_model(comfy.supported_models.QwenImage(config), seed)


def tiny_auraflow(double: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random AuraFlow from ComfyUI's AuraFlow config (MMDiT double blocks, then DiT single
    blocks; 8 register tokens before the text; SDXL's 4-channel latents)."""
    import comfy.supported_models

    config = {"dim": heads * head_dim, "n_layers": double + single, "n_double_layers": double, "n_heads": heads,
              "global_conddim": 64, "cond_seq_dim": 64, "max_seq": 64}
    return tiny_model(comfy.supported_models.AuraFlow(config), seed)


def tiny_hunyuan_video(depth: int = 2, single: int = 3, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random HunyuanVideo from ComfyUI's config (FLUX-like double then single blocks over
    space-time tokens and the text; 16-channel video latents)."""
    import comfy.supported_models

    config = {"image_model": "hunyuan_video", "in_channels": 16, "out_channels": 16, "vec_in_dim": 768,
              "context_in_dim": 4096, "hidden_size": heads * head_dim, "mlp_ratio": 2.0, "num_heads": heads,
              "depth": depth, "depth_single_blocks": single, "axes_dim": [4, 6, 6], "theta": 256,
              "patch_size": [1, 2, 2], "qkv_bias": True, "guidance_embed": True, "byt5": False, "meanflow": False,
              **hh_releases.hunyuan_video_params_extras()}
    return tiny_model(comfy.supported_models.HunyuanVideo(config), seed)


def tiny_wan(layers: int = 5, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random Wan 2.1 text-to-video model from ComfyUI's WAN21_T2V config (self-attention
    over space-time tokens, cross-attention to the text; 16-channel video latents)."""
    import comfy.supported_models

    config = {"image_model": "wan2.1", "model_type": "t2v", "patch_size": (1, 2, 2), "in_dim": 16,
              "dim": heads * head_dim, "ffn_dim": 128, "freq_dim": 256, "text_dim": 64, "out_dim": 16,
              "num_heads": heads, "num_layers": layers, "window_size": (-1, -1), "qk_norm": True,
              "cross_attn_norm": True, "eps": 1e-6}
    return tiny_model(comfy.supported_models.WAN21_T2V(config), seed)


def tiny_wan_vace(layers: int = 5, heads: int = 4, head_dim: int = 16, seed: int = 0):
    """A tiny random Wan 2.1 VACE from ComfyUI's WAN21_Vace config: Wan's blocks, each followed by
    a VACE block whose hint is added to the hidden state between blocks (outside the block patch).
    Without vace_frames in the conditioning ComfyUI feeds zero frames and a full mask."""
    import comfy.supported_models

    config = {"image_model": "wan2.1", "model_type": "vace", "patch_size": (1, 2, 2), "in_dim": 16,
              "dim": heads * head_dim, "ffn_dim": 128, "freq_dim": 256, "text_dim": 64, "out_dim": 16,
              "num_heads": heads, "num_layers": layers, "window_size": (-1, -1), "qk_norm": True,
              "cross_attn_norm": True, "eps": 1e-6, "vace_layers": layers, "vace_in_dim": 96}
    return tiny_model(comfy.supported_models.WAN21_Vace(config), seed)


def tiny_wan_s2v(layers: int = 5, heads: int = 4, head_dim: int = 16, seed: int = 0, audio_dim: int = 32):
    """A tiny random Wan 2.2 S2V from ComfyUI's WAN22_S2V config: Wan's blocks, with audio
    cross-attention injected after blocks 0 and 3 (outside the blocks) and a motion frame packer.
    None before ComfyUI v0.28: v0.3.64 builds it but calls its blocks without transformer_options,
    so the pack refuses it there (tests/host/test_host_dit_families.py)."""
    import comfy.supported_models

    if hh_releases.release() < (0, 28):
        return None
    config = {"image_model": "wan2.1", "model_type": "s2v", "patch_size": (1, 2, 2), "in_dim": 16,
              "dim": heads * head_dim, "ffn_dim": 128, "freq_dim": 256, "text_dim": 64, "out_dim": 16,
              "num_heads": heads, "num_layers": layers, "window_size": (-1, -1), "qk_norm": True,
              "cross_attn_norm": True, "eps": 1e-6, "audio_dim": audio_dim, "audio_inject_layers": [0, 3]}
    return tiny_model(comfy.supported_models.WAN22_S2V(config), seed)


def conditioning(kind: str, tokens: int = 6, seed: int = 1, guidance: float = 3.5):
    """Random text conditioning of the right shapes: T5 context + pooled CLIP (SD3, FLUX, Chroma);
    FLUX.2, Qwen-Image, AuraFlow: a 64-channel context (the tiny models' text width), no pooled output;
    Qwen-Image with the text encoder's attention mask, its last token padding. HiDream, Lumina 2,
    Z-Image: hh_proxied."""
    if kind in ("hidream", "lumina", "zimage"):
        import hh_proxied

        return hh_proxied.conditioning(kind, tokens, seed)
    g = torch.Generator().manual_seed(seed)
    no_pooled = ("flux2", "qwen", "aura", "wan", "vace", "s2v")  # a 64-channel context alone
    context = torch.randn(1, tokens, 64 if kind in no_pooled else 4096, generator=g)
    extra = {} if kind in no_pooled else {"pooled_output": torch.randn(1, 2048 if kind == "sd3" else 768, generator=g)}
    if kind == "qwen":
        extra["attention_mask"] = torch.ones(1, tokens, dtype=torch.long)
        extra["attention_mask"][:, -1] = 0
    elif kind == "s2v":
        # Wan S2V: audio features as WanSoundImageToVideo gives them (25 encoder layers x channels x
        # 4 per latent frame; one latent frame here), so its audio injection runs between blocks.
        extra["audio_embed"] = torch.randn(1, 25, 32, 4, generator=g)
    elif kind not in ("sd3", "aura", "wan", "vace"):
        extra["guidance"] = guidance
    return [[context, extra]]


def latent(size: int = 16, batch: int = 1, model=None, frames: int | None = None):
    """An empty latent; its channels from the model's latent format (FLUX.2: 128), 16 without one;
    ``frames``: a video latent [B, C, frames, h, w] (ComfyUI adds the frame axis itself otherwise)."""
    channels = 16 if model is None else model.get_model_object("latent_format").latent_channels
    shape = (batch, channels) + ((frames,) if frames else ()) + (size, size)
    return {"samples": torch.zeros(shape)}


def ksampler(model, positive, negative, steps=3, cfg=2.0, seed=0, sampler="euler", scheduler="simple", size=16,
             frames=None):
    import nodes

    (out,) = nodes.common_ksampler(model, seed, steps, cfg, sampler, scheduler, positive, negative,
                                   latent(size, model=model, frames=frames))
    return out["samples"]


def custom_advanced(guider, steps=3, seed=0, sampler="euler", scheduler="simple", size=16):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    sigmas = comfy.samplers.calculate_sigmas(guider.model_patcher.get_model_object("model_sampling"), scheduler, steps)
    out, _ = SamplerCustomAdvanced().sample(Noise_RandomNoise(seed), guider, comfy.samplers.sampler_object(sampler), sigmas,
                                            latent(size, model=guider.model_patcher))
    return out["samples"]


def run_node(node_cls, **inputs):
    """Run a V3 node the way ComfyUI's executor does: validate_inputs, then a class clone's execute."""
    from comfy_api.internal import first_real_override

    # As ComfyUI's executor: only a validate_inputs the node defines runs (the base one raises), and
    # it receives the inputs it names (all of them if it takes **kwargs).
    validate = first_real_override(node_cls, "validate_inputs")
    check = True
    if validate is not None:
        spec = inspect.getfullargspec(validate)
        check = validate(**{k: v for k, v in inputs.items() if spec.varkw or k in spec.args})
    if check is not True:
        raise ValueError(check)
    return node_cls.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(**inputs).result


class AttentionRecorder:
    """A block-replace patch that records every attention call of its block, after every
    override in effect (the pack's included), so tests can check head outputs one by one."""

    def __init__(self, layer, calls):
        self.layer, self.calls = layer, calls

    def __deepcopy__(self, memo):  # ModelPatcher.clone deep-copies model_options; keep one log
        return self

    def __call__(self, args, extra):
        options = dict(args.get("transformer_options") or {})
        inner = options.get("optimized_attention_override")
        layer, calls = self.layer, self.calls

        def record(func, *a, **kw):
            out = inner(func, *a, **kw) if inner is not None else func(*a, **kw)
            calls.append({"layer": layer, "args": a, "kwargs": dict(kw), "out": out.clone(),
                          "perturbed": inner is not None, "cond_or_uncond": options.get("cond_or_uncond")})
            return out

        options["optimized_attention_override"] = record
        return extra["original_block"]({**args, "transformer_options": options})


def with_recorders(model, layout, calls):
    m = model.clone()
    for layer in range(layout.layers):
        kind, index = layout.block_of(layer)
        m.set_model_patch_replace(AttentionRecorder(layer, calls), "dit", kind, index)
    return m


# ---- U-Nets --------------------------------------------------------------------------------------
UNET_CONFIGS = {
    # SD1.5-like: 4 heads of every width (num_heads), one transformer layer per attention block:
    # input blocks 1, 3 -> L0-1, middle -> L2, output blocks 0-3 -> L3-6.
    "sd15": {"adm_in_channels": None, "num_res_blocks": [1, 1], "transformer_depth": [1, 1],
             "channel_mult": [1, 2], "transformer_depth_middle": 1, "use_linear_in_transformer": False,
             "context_dim": 64, "num_heads": 4, "transformer_depth_output": [1, 1, 1, 1]},
    # SD1.5's own block structure (ComfyUI's model_detection SD15 config) at a small width: 16
    # layers x 8 heads, detected as the sd1.5 family whatever the width.
    "sd15-structure": {"adm_in_channels": None, "num_res_blocks": [2, 2, 2, 2],
                       "transformer_depth": [1, 1, 1, 1, 1, 1, 0, 0], "channel_mult": [1, 2, 4, 4],
                       "transformer_depth_middle": 1, "use_linear_in_transformer": False, "context_dim": 64,
                       "num_heads": 8, "transformer_depth_output": [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0]},
    # SDXL-like: 8-channel heads (num_head_channels), so 4 heads at 32 channels and 8 at 64; no
    # attention at the first level (as SDXL), 2 layers at the second and 3 in the middle block.
    "sdxl": {"adm_in_channels": 2816, "num_classes": "sequential", "num_res_blocks": [1, 1, 1],
             "transformer_depth": [0, 1, 2], "channel_mult": [1, 1, 2], "transformer_depth_middle": 3,
             "use_linear_in_transformer": True, "context_dim": 64, "num_head_channels": 8,
             "transformer_depth_output": [0, 0, 1, 1, 2, 2]},
}


def tiny_unet(kind: str = "sd15", seed: int = 0, channels: int = 32):
    """A tiny random SD1.5- or SDXL-like U-Net built from ComfyUI's own model configs."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    config = {"use_checkpoint": False, "image_size": 32, "in_channels": 4, "out_channels": 4,
              "model_channels": channels, "use_spatial_transformer": True, "legacy": False,
              "use_temporal_attention": False, "use_temporal_resblock": False, **UNET_CONFIGS[kind]}
    model_config = (comfy.supported_models.SD15 if kind.startswith("sd15") else comfy.supported_models.SDXL)(config)
    # The classes' unet_extra_config sets SD1.5's 8 heads / SDXL's 64-channel heads; a tiny width
    # keeps the tiny model's own head settings.
    model_config.unet_config.update({k: config.get(k, -1) for k in ("num_heads", "num_head_channels")})
    model_config.set_inference_dtype(torch.float32, None)
    model = model_config.get_model({})
    randomize(model.diffusion_model, seed)
    device = comfy.model_management.get_torch_device()
    return comfy.model_patcher.ModelPatcher(model, load_device=device, offload_device=torch.device("cpu"))


def unet_conditioning(kind: str, tokens: int = 5, seed: int = 1, size: int = 64):
    """Random text conditioning for a tiny U-Net; SDXL's with the pooled output and the size
    conditioning CLIPTextEncodeSDXL adds (comfy/model_base.py SDXL.encode_adm reads them)."""
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(1, tokens, 64, generator=g)
    if kind.startswith("sd15"):
        return [[context, {}]]
    extra = {"pooled_output": torch.randn(1, 1280, generator=g), "width": size, "height": size,
             "crop_w": 0, "crop_h": 0, "target_width": size, "target_height": size}
    return [[context, extra]]


def unet_ksampler(model, positive, negative, steps=3, cfg=2.0, seed=0, size=8, sampler="euler", scheduler="normal"):
    import nodes

    samples = {"samples": torch.zeros(1, 4, size, size)}
    (out,) = nodes.common_ksampler(model, seed, steps, cfg, sampler, scheduler, positive, negative, samples)
    return out["samples"]
