"""Inputs shared by the search and sweep nodes: what to generate and how."""
from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..core.architectures import MODELS
from ..core.head_aliases import check_syntax
from ..core.setting_ranges import BATCH, CFG, IMAGE_SIDE, SCALE, SOFTPAG_U, STEPS
from ..search.generation import SamplingSettings
from .ranged_inputs import ranged_input


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
        ranged_input("steps", STEPS, 20,
                     tooltip="Sampling steps per image. The paper: 20 Euler steps on SD3, 15 on FLUX."),
        io.Combo.Input("sampler", options=comfy.samplers.KSampler.SAMPLERS, default="euler",
                       tooltip="Sampler, as in KSampler. Deterministic samplers (euler) make batched and "
                       "one-at-a-time runs agree; ancestral/SDE ones draw noise per batch."),
        io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                       tooltip="Noise schedule, as in KSampler."),
        ranged_input("scale", SCALE, scale,
                       tooltip="Perturbation guidance scale w. The paper's search: 3 on SD3, 8 on FLUX."),
        ranged_input("softpag_u", SOFTPAG_U, 1.0,
                       tooltip="SoftPAG strength u of the perturbed heads (1 = PAG, identity). The paper's "
                       "general-quality search uses 0.25; style searches 1."),
        ranged_input("cfg", CFG, 1.0,
                       tooltip="Classifier-free guidance. 1 = off, as in the paper's search: the guidance comes from "
                       "the perturbation alone, denoised = cond + w (cond - perturbed)."),
        ranged_input("width", IMAGE_SIDE, 1024,
                     tooltip="Image width. The paper: 1024 on SD3, 512 on FLUX."),
        ranged_input("height", IMAGE_SIDE, 1024, tooltip="Image height."),
        ranged_input("batch_candidates", BATCH, batch_default, tooltip=batch),
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
