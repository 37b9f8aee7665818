"""Pictures that explain a search: labelled image grids and the per-head score heatmap.

Images follow ComfyUI's IMAGE layout, float [B, H, W, 3] in [0, 1]. Drawing uses PIL (shipped with
ComfyUI); nothing here needs a model or the host.
"""
from __future__ import annotations

import math

import torch

# Viridis at five stops (perceptually ordered, readable in greyscale), interpolated linearly.
_VIRIDIS = torch.tensor([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]],
                        dtype=torch.float32) / 255.0
_NAN = (0.35, 0.35, 0.35)
_BACKGROUND = (24, 24, 24)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def _to_pil(image: torch.Tensor):
    from PIL import Image

    array = (image.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    return Image.fromarray(array)


def _from_pil(img) -> torch.Tensor:
    import numpy as np

    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0)


def label_image(image: torch.Tensor, text: str) -> torch.Tensor:
    """``image`` [H, W, 3] with ``text`` in a dark box at the top left."""
    from PIL import ImageDraw

    img = _to_pil(image)
    size = max(10, min(img.width, img.height) // 12)
    draw = ImageDraw.Draw(img)
    font = _font(size)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad = max(2, size // 4)
    draw.rectangle((0, 0, right - left + 2 * pad, bottom - top + 2 * pad), fill=(0, 0, 0))
    draw.text((pad - left, pad - top), text, fill=(255, 255, 255), font=font)
    return _from_pil(img)


def image_grid(images: torch.Tensor, columns: int, labels: list[str] | None = None, gap: int = 4) -> torch.Tensor:
    """One [1, H', W', 3] image of ``images`` [N, H, W, 3] in rows of ``columns``, optionally labelled."""
    if labels is not None:
        images = torch.stack([label_image(im, text) for im, text in zip(images, labels)])
    n, h, w, _ = images.shape
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    out = torch.full((rows * h + (rows - 1) * gap, columns * w + (columns - 1) * gap, 3), _BACKGROUND[0] / 255.0)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = images[i].float().cpu()
    return out.unsqueeze(0)


def colormap(values: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Viridis colours [..., 3] for ``values`` scaled from [low, high]; NaN becomes grey."""
    span = high - low if high > low else 1.0
    v = values.float()
    t = ((v.nan_to_num(low) - low) / span).clamp(0, 1) * (len(_VIRIDIS) - 1)
    i = t.floor().long().clamp(max=len(_VIRIDIS) - 2)
    frac = (t - i).unsqueeze(-1)
    rgb = _VIRIDIS[i] * (1 - frac) + _VIRIDIS[i + 1] * frac
    return torch.where(v.isnan().unsqueeze(-1), torch.tensor(_NAN), rgb)


def heatmap(scores: torch.Tensor, selected_round: torch.Tensor | None = None, title: str = "",
            cell: int = 18) -> torch.Tensor:
    """One heatmap per round of ``scores`` [R, layers, heads]: rows are layers, columns heads,
    one colour scale for all rounds (scores are comparable across rounds), grey = not evaluated,
    a white frame marks the heads chosen in that round. Returns IMAGE [R, H, W, 3]."""
    from PIL import Image, ImageDraw

    rounds, layers, heads = scores.shape
    finite = scores[~scores.isnan()]
    low, high = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 1.0)
    font = _font(max(9, cell * 2 // 3))
    margin_left, margin_top, bar = 4 * cell, 3 * cell, 2 * cell
    width = margin_left + heads * cell + cell + bar + 5 * cell
    legend = "rows: layer L, columns: head H"
    headings = [(f"{title}  " if title else "") + f"round {r + 1}/{rounds}" for r in range(rounds)]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(width, 8 + int(max(probe.textlength(f"{h}   {legend}", font=font) for h in headings)))
    height = margin_top + layers * cell + cell
    pages = []
    for r in range(rounds):
        img = Image.new("RGB", (width, height), _BACKGROUND)
        draw = ImageDraw.Draw(img)
        colours = (colormap(scores[r], low, high) * 255).round().to(torch.uint8).tolist()
        for layer in range(layers):
            y = margin_top + layer * cell
            if layers <= 40 or layer % 2 == 0:
                draw.text((4, y + 2), f"L{layer}", fill=(220, 220, 220), font=font)
            for head in range(heads):
                x = margin_left + head * cell
                draw.rectangle((x, y, x + cell - 2, y + cell - 2), fill=tuple(colours[layer][head]))
                if selected_round is not None and int(selected_round[layer, head]) == r:
                    draw.rectangle((x - 1, y - 1, x + cell - 1, y + cell - 1), outline=(255, 255, 255), width=2)
        for head in range(0, heads, 1 if heads <= 24 else 2):
            draw.text((margin_left + head * cell + 2, margin_top - cell), f"{head}", fill=(220, 220, 220), font=font)
        draw.text((4, 4), f"{headings[r]}   {legend}", fill=(255, 255, 255), font=font)
        # Colour bar: high at the top.
        x0 = margin_left + heads * cell + cell
        steps = max(2, layers * cell)
        ramp = colormap(torch.linspace(high, low, steps), low, high)
        for i, c in enumerate((ramp * 255).round().to(torch.uint8).tolist()):
            draw.line((x0, margin_top + i, x0 + bar // 2, margin_top + i), fill=tuple(c))
        draw.text((x0 + bar // 2 + 4, margin_top), f"{high:.4g}", fill=(220, 220, 220), font=font)
        draw.text((x0 + bar // 2 + 4, margin_top + steps - cell), f"{low:.4g}", fill=(220, 220, 220), font=font)
        pages.append(_from_pil(img))
    return torch.stack(pages)
