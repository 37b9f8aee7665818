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


def conditioning(kind: str, tokens: int = 6, seed: int = 1, guidance: float = 3.5):
    """Random text conditioning of the right shapes (T5 context + pooled CLIP)."""
    g = torch.Generator().manual_seed(seed)
    context = torch.randn(1, tokens, 4096, generator=g)
    pooled = torch.randn(1, 2048 if kind == "sd3" else 768, generator=g)
    extra = {"pooled_output": pooled}
    if kind == "flux":
        extra["guidance"] = guidance
    return [[context, extra]]


def latent(size: int = 16, batch: int = 1):
    return {"samples": torch.zeros(batch, 16, size, size)}


def ksampler(model, positive, negative, steps=3, cfg=2.0, seed=0, sampler="euler", scheduler="simple"):
    import nodes

    (out,) = nodes.common_ksampler(model, seed, steps, cfg, sampler, scheduler, positive, negative, latent())
    return out["samples"]


def custom_advanced(guider, steps=3, seed=0, sampler="euler", scheduler="simple"):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    sigmas = comfy.samplers.calculate_sigmas(guider.model_patcher.get_model_object("model_sampling"), scheduler, steps)
    out, _ = SamplerCustomAdvanced().sample(Noise_RandomNoise(seed), guider, comfy.samplers.sampler_object(sampler), sigmas, latent())
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
