"""The guidance combination, in ComfyUI's denoised space.

PAG (Ahn et al. 2024, Eq. 9) and HeadHunter (Ahn et al. 2025, Sec. 2.3) guide away from the
perturbed prediction: eps = eps_cfg + w (eps_cond - eps_perturbed). The same linear combination
holds for denoised predictions, so with ComfyUI's CFG result:

    denoised = cfg_result + w * (cond_denoised - perturbed_denoised)
"""
from __future__ import annotations

import torch


def perturbed_guidance(
    cfg_result: torch.Tensor,
    cond_denoised: torch.Tensor,
    perturbed_denoised: torch.Tensor,
    scale: float,
    rescale: float = 0.0,
) -> torch.Tensor:
    result = cfg_result + (cond_denoised - perturbed_denoised) * scale
    if rescale != 0.0:
        # Match the guided result's std to the conditional prediction's, blended by `rescale`,
        # as ComfyUI core's SkipLayerGuidanceDiT does against oversaturation.
        factor = cond_denoised.std() / result.std()
        result = result * (rescale * factor + (1.0 - rescale))
    return result


def in_schedule(sigma: float, sigma_start: float, sigma_end: float) -> bool:
    """Is this step inside [start_percent, end_percent] (sigmas decrease over sampling)?"""
    return sigma_end <= sigma <= sigma_start
