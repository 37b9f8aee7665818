"""Conditionings for the search's prompt-seed pairs, each prompt text encoded once."""
from __future__ import annotations

import torch

from ..core.scoring import SearchPrompt


def encode_text(clip, text: str):
    """What CLIPTextEncode gives for ``text``."""
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


def size_conditioning(width: int, height: int) -> dict:
    """What CLIPTextEncodeSDXL adds for an uncropped image of this size. SDXL's ``encode_adm``
    (comfy/model_base.py) reads it beside the pooled output, defaulting to 768 x 768; no other
    model ComfyUI loads reads these keys, so they are added to every prompt the search encodes."""
    return {"width": width, "height": height, "crop_w": 0, "crop_h": 0,
            "target_width": width, "target_height": height}


def prompt_conditionings(prompts: list[SearchPrompt], clip=None, positive=None, extras: dict | None = None,
                         size: tuple[int, int] | None = None) -> list:
    """One conditioning per prompt. With a CLIP, each "{style}, {content}" text is encoded (once per
    distinct text) with the size conditioning of the images (``size``: width, height); a connected
    ``positive`` then only lends its extra settings (e.g. FLUX guidance from FluxGuidance, SDXL
    sizes from CLIPTextEncodeSDXL), as does ``extras``. Without a CLIP, ``positive`` is used for
    every image."""
    if clip is None:
        if positive is None:
            raise ValueError("connect a CLIP (to encode the prompts) or a positive conditioning.")
        return [positive for _ in prompts]
    extras = {**(size_conditioning(*size) if size else {}),
              **({k: v for k, v in positive[0][1].items() if not torch.is_tensor(v)} if positive else {}),
              **(extras or {})}
    cache = {}
    out = []
    for p in prompts:
        if p.text not in cache:
            encoded = encode_text(clip, p.text)
            cache[p.text] = [[cond, {**extra, **extras}] for cond, extra in encoded]
        out.append(cache[p.text])
    return out


def negative_conditioning(cfg: float, clip=None, negative=None, size: tuple[int, int] | None = None):
    """The uncond of CFG; None with CFG off (cfg = 1, the paper's search setting)."""
    if cfg == 1.0:
        return None
    if negative is not None:
        return negative
    if clip is None:
        raise ValueError(f"cfg = {cfg} needs a negative conditioning or a CLIP to encode an empty one; "
                         "or set cfg to 1 (CFG off, as in the paper's search).")
    extras = size_conditioning(*size) if size else {}
    return [[cond, {**extra, **extras}] for cond, extra in encode_text(clip, "")]
