"""Rendering the search's images: C candidate head sets x M prompt-seed pairs in one sampling run.

The latent batch is candidate-major (row c*M + m). The M prompts are stacked into one batched
conditioning, which ComfyUI tiles over the C candidates (``repeat_to_batch_size``), so row c*M + m
is prompt m. The guidance is the engine's own batched path (``PerturbedGuidance``: cond, uncond
and perturbed rows in ONE ``calc_cond_batch``) with a ``CandidatePlan``, so candidate c's heads
perturb only its own perturbed rows. Sampling goes through ``comfy.sample.sample`` like KSampler:
each image is the one KSampler + HeadHunter Perturbed Attention would give for that prompt, seed
and head set, up to float rounding.

With CFG off (cfg = 1, the paper's search setting) the guided prediction is
denoised = cond + w (cond - perturbed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

import comfy.model_management
import comfy.sample

from ..core.candidate_plan import candidate_plan
from ..core.scoring import SEED_MAX
from ..core.setting_ranges import CFG, IMAGE_SIDE, SCALE, STEPS
from ..patches.guidance_hooks import PerturbedGuidance
from ..patches.model_patch import model_layout

Resolved = list[tuple[int, int, float]]


def candidate_guidance(layout, candidates: list[Resolved], scale: float, image_only: bool = False):
    """PerturbedGuidance over the whole schedule whose perturbed rows hold several candidates."""
    return PerturbedGuidance(layout, lambda entry, only: candidate_plan(entry, candidates, only), scale,
                             sigma_start=math.inf, sigma_end=0.0, image_only=image_only)


@dataclass(frozen=True)
class SamplingSettings:
    steps: int = 20
    sampler: str = "euler"
    scheduler: str = "simple"
    scale: float = 3.0
    cfg: float = 1.0
    width: int = 1024
    height: int = 1024

    def describe(self) -> dict:
        return dict(self.__dict__)

    def check(self) -> "SamplingSettings":
        """Refuse what sampling would fail on, or silently replace, before any image is made
        (the command line has no widgets to keep values in range). Ranges are the nodes' inputs'."""
        import comfy.samplers

        for what, value, valid in (("sampler", self.sampler, comfy.samplers.KSampler.SAMPLERS),
                                   ("scheduler", self.scheduler, comfy.samplers.KSampler.SCHEDULERS)):
            if value not in valid:
                raise ValueError(f"{what} '{value}' is not one of ComfyUI's {what}s: {', '.join(valid)}")
        STEPS.check("steps", self.steps)
        IMAGE_SIDE.check("width", self.width)
        IMAGE_SIDE.check("height", self.height)
        SCALE.check("scale", self.scale)
        CFG.check("cfg", self.cfg)
        return self


def check_seed(seed) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(f"seed {seed!r} is outside ComfyUI's seeds, 0 to {SEED_MAX} (2^64 - 1)")


def stack_conditionings(conditionings: list) -> list:
    """M single-entry conditionings of equal shapes -> one conditioning with batch M.

    An extra tensor that every prompt has alike stays one row, as a single prompt's is (ComfyUI
    repeats it to the batch): model code that reads it whole before batching then sees one
    prompt's (ComfyUI v0.3.64's Lumina 2 counts the caption tokens as ``sum(attention_mask)``)."""
    first_cond, first_extra = conditionings[0][0]
    context = torch.cat([c[0][0] for c in conditionings])
    extra = {}
    for key, value in first_extra.items():
        if torch.is_tensor(value) and value.shape[:1] == (1,):
            values = [c[0][1][key] for c in conditionings]
            same = all(torch.equal(v, value) for v in values[1:])
            extra[key] = value if same else torch.cat(values)
        else:
            extra[key] = value
    return [[context, extra]]


def _shape_key(conditioning) -> tuple:
    cond, extra = conditioning[0]
    return (tuple(cond.shape),) + tuple(
        (k, tuple(v.shape)) for k, v in sorted(extra.items()) if torch.is_tensor(v))


def check_conditioning(conditioning, what: str) -> None:
    if not conditioning or len(conditioning) != 1:
        raise ValueError(f"{what} must hold exactly one conditioning entry (got {len(conditioning or [])}); "
                         "combined or area conditionings cannot be batched per prompt.")


class CandidateRenderer:
    """Images of the same M prompt-seed pairs for any list of candidate head sets."""

    def __init__(self, model, vae, conditionings: list, seeds: list[int], settings: SamplingSettings,
                 negative=None, image_only: bool = False, interrupt=None):
        if len(conditionings) != len(seeds):
            raise ValueError(f"{len(conditionings)} conditionings for {len(seeds)} seeds")
        if settings.cfg != 1.0 and negative is None:
            raise ValueError(f"cfg = {settings.cfg} needs a negative conditioning (or set cfg to 1, the paper's search).")
        for i, c in enumerate(conditionings):
            check_conditioning(c, f"the conditioning of prompt {i + 1}")
        self.model, self.vae, self.settings = model, vae, settings
        self.layout = model_layout(model)
        self.seeds = list(seeds)
        self.negative = negative
        self.image_only = image_only
        self.interrupt = interrupt or comfy.model_management.throw_exception_if_processing_interrupted
        # Prompts whose conditionings have equal shapes share one batch (usually all of them).
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(conditionings):
            groups.setdefault(_shape_key(c), []).append(i)
        self.groups = [(idx, stack_conditionings([conditionings[i] for i in idx])) for idx in groups.values()]
        latent_format = model.get_model_object("latent_format")
        # The VAE's factor from the model's latent format (SD1.5 / SDXL / SD3 / FLUX: 8; FLUX.2: 16;
        # Chroma Radiance: 1, pixels). Releases before v0.4 do not name it there; the VAE's own
        # factor is the other source (Chroma Radiance's pixel-space "VAE": 1).
        factor = getattr(latent_format, "spacial_downscale_ratio", None) or vae.spacial_compression_encode()
        # Models on video latents (Qwen-Image: Wan 2.1's format) take one frame: [C, 1, h, w].
        frames = (1,) if getattr(latent_format, "latent_dimensions", 2) == 3 else ()
        self.latent_shape = (latent_format.latent_channels,) + frames + (settings.height // factor, settings.width // factor)
        latent = torch.zeros((1,) + self.latent_shape)
        self.noise = [comfy.sample.prepare_noise(latent, seed) for seed in self.seeds]

    @property
    def images_per_candidate(self) -> int:
        return len(self.seeds)

    @torch.no_grad()
    def latents(self, candidates: list[Resolved]) -> torch.Tensor:
        """[C, M, channels, h, w] sampled latents, one batched sampling run per prompt group."""
        count, m = len(candidates), len(self.seeds)
        out = torch.zeros((count, m) + self.latent_shape)
        guided = candidate_guidance(self.layout, candidates, self.settings.scale, self.image_only).patch(
            self.model, batched=True)
        s = self.settings
        for indices, positive in self.groups:
            noise = torch.cat([self.noise[i] for _ in range(count) for i in indices])
            negative = self.negative if s.cfg != 1.0 else positive  # never evaluated with cfg 1
            samples = comfy.sample.sample(
                guided, noise, s.steps, s.cfg, s.sampler, s.scheduler, positive, negative,
                torch.zeros_like(noise), callback=lambda *args: self.interrupt(), disable_pbar=True,
                seed=self.seeds[indices[0]])
            out[:, indices] = samples.float().view((count, len(indices)) + self.latent_shape)
        return out

    @torch.no_grad()
    def images(self, candidates: list[Resolved]) -> torch.Tensor:
        """[C, M, H, W, 3] decoded images."""
        latents = self.latents(candidates)
        decoded = self.vae.decode(latents.flatten(0, 1))
        return decoded.reshape((len(candidates), len(self.seeds)) + tuple(decoded.shape[-3:])).float().cpu()
