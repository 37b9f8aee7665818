"""Fingerprints of what a search ran on, so a checkpoint is never resumed with another model,
VAE or conditioning. Cheap: a hash of a few sampled weights, not of the whole model."""
from __future__ import annotations

import hashlib

import torch


def tensor_digest(tensors) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().float().cpu().contiguous()
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def weights_digest(module: torch.nn.Module, samples: int = 8, values: int = 4096) -> str:
    """Hash of the names, shapes and first values of ``samples`` evenly spaced tensors."""
    state = module.state_dict()
    keys = sorted(state)
    if not keys:
        return "empty"
    picked = [keys[round(i * (len(keys) - 1) / max(1, samples - 1))] for i in range(min(samples, len(keys)))]
    h = hashlib.sha256("|".join(f"{k}{tuple(state[k].shape)}" for k in keys).encode())
    h.update(tensor_digest(state[k].flatten()[:values] for k in picked).encode())
    return h.hexdigest()[:16]


def model_identity(model_patcher) -> dict:
    """Weights of the diffusion model plus the LoRA-style patches the ModelPatcher would apply."""
    patches = sorted((key, [float(p[0]) for p in entries]) for key, entries in model_patcher.patches.items())
    return {
        "weights": weights_digest(model_patcher.get_model_object("diffusion_model")),
        "patches": hashlib.sha256(repr(patches).encode()).hexdigest()[:16] if patches else None,
    }


def vae_identity(vae) -> str:
    return weights_digest(vae.first_stage_model)


def conditioning_digest(conditioning) -> str | None:
    if conditioning is None:
        return None
    tensors = []
    for cond, extra in conditioning:
        tensors.append(cond)
        tensors += [v for _, v in sorted(extra.items()) if torch.is_tensor(v)]
        tensors += [torch.tensor([float(v)]) for _, v in sorted(extra.items()) if isinstance(v, (int, float))]
    return tensor_digest(tensors)
