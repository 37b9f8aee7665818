"""Inputs shared by the search and sweep nodes: what to generate and how."""
from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..core.architectures import MODELS
from ..core.head_aliases import check_syntax
from ..search.generation import SamplingSettings


def conditioning_inputs(sweep: bool = False) -> list:
    """sweep: the tooltips of HeadHunter Sweep, which has no objective and no candidates."""
    vae = "Decodes the images of the grid." if sweep else "Decodes the latents for the objective and the pictures."
    return [
        io.Model.Input("model", tooltip=MODELS + " model whose heads are explored."),
        io.Vae.Input("vae", tooltip=vae),
        io.Clip.Input("clip", optional=True,
                      tooltip="Encodes each prompt. Without it, the positive conditioning is used for every image."),
        io.Conditioning.Input("positive", optional=True,
                              tooltip="Used for every image when no CLIP is connected; with a CLIP, only its extra "
                              "settings are kept (e.g. FLUX guidance from FluxGuidance)."),
        io.Conditioning.Input("negative", optional=True,
                              tooltip="Uncond for cfg > 1. Without it, an empty prompt is encoded with the CLIP."),
    ]


def sampling_inputs(scale: float = 3.0, batch_default: int = 4, sweep: bool = False) -> list:
    batch = (
        "Images sampled together in one batched forward. Higher is faster until memory runs out; lower it "
        "after an out-of-memory error." if sweep else
        "Candidate head sets sampled together in one batched forward (each with all its images). Higher is "
        "faster until memory runs out; lower it after an out-of-memory error (a resumed search may use "
        "another value)."
    )
    return [
        io.Int.Input("steps", default=20, min=1, max=200,
                     tooltip="Sampling steps per image. The paper: 20 Euler steps on SD3, 15 on FLUX."),
        io.Combo.Input("sampler", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                       tooltip="Sampler, as in KSampler. Deterministic samplers (euler) make batched and "
                       "one-at-a-time runs agree; ancestral/SDE ones draw noise per batch."),
        io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                       tooltip="Noise schedule, as in KSampler."),
        io.Float.Input("scale", default=scale, min=0.0, max=30.0, step=0.1, round=0.01,
                       tooltip="Perturbation guidance scale w. The paper's search: 3 on SD3, 8 on FLUX."),
        io.Float.Input("softpag_u", default=1.0, min=0.0, max=1.0, step=0.05, round=0.01,
                       tooltip="SoftPAG strength u of the perturbed heads (1 = PAG, identity). The paper's "
                       "general-quality search uses 0.25; style searches 1."),
        io.Float.Input("cfg", default=1.0, min=1.0, max=100.0, step=0.1, round=0.01,
                       tooltip="Classifier-free guidance. 1 = off, as in the paper's search: the guidance comes from "
                       "the perturbation alone, denoised = cond + w (cond - perturbed)."),
        io.Int.Input("width", default=1024, min=16, max=8192, step=16,
                     tooltip="Image width. The paper: 1024 on SD3, 512 on FLUX."),
        io.Int.Input("height", default=1024, min=16, max=8192, step=16, tooltip="Image height."),
        io.Int.Input("batch_candidates", default=batch_default, min=1, max=256,
                     tooltip=batch),
    ]


def settings_from(steps, sampler, scheduler, scale, cfg, width, height) -> SamplingSettings:
    return SamplingSettings(steps=steps, sampler=sampler, scheduler=scheduler, scale=scale, cfg=cfg,
                            width=width, height=height)


def check_head_text(text: str, what: str) -> bool | str:
    try:
        check_syntax(text or "")
    except ValueError as e:
        return f"{what}: {e}"
    return True
