"""What the search maximises: the objective interface, the prompt-seed grid, combinations.

An objective scores a batch of images against the prompts they were generated from:
``score(images [B, H, W, 3] in [0, 1], prompts: list[SearchPrompt]) -> tensor [B]``, higher is
better. A score must depend only on its image and prompt (no normalisation over the batch), so
scores stay comparable across candidates, batches and rounds. Host-free; the CLIP-based
objectives that need transformers live in search/clip_objectives.py.

Prompts follow the paper's search setting: content prompts x styles, the text "{style}, {content}",
and seed = index of the content prompt (unless seeds are given, then every content prompt is
generated with each seed).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SearchPrompt:
    content: str
    style: str = ""
    seed: int = 0

    @property
    def text(self) -> str:
        """The generation prompt, "{style}, {content}" as in the paper."""
        return f"{self.style}, {self.content}" if self.style else self.content

    def fill(self, template: str) -> str:
        """``template`` with {prompt}, {style} and {content} filled in (no other braces are read)."""
        return template.replace("{prompt}", self.text).replace("{style}", self.style).replace("{content}", self.content)


def text_lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


SEED_MAX = 0xFFFFFFFFFFFFFFFF  # ComfyUI's seeds: 0 to 2^64 - 1


def parse_seeds(text: str) -> list[int] | None:
    """"" -> None (the paper: seed = index of the content prompt); "0, 1, 2" -> [0, 1, 2]."""
    tokens = [t for t in (text or "").replace(",", " ").split() if t]
    seeds = []
    for token in tokens:
        if not token.isascii() or not token.isdigit():
            raise ValueError(f"seed '{token[:40]}' is not a non-negative whole number; write seeds like '0, 1, 2' "
                             "or leave them empty for seed = index of the content prompt.")
        if len(token.lstrip("0")) > 20 or int(token) > SEED_MAX:
            raise ValueError(f"seed '{token[:40]}' is outside ComfyUI's seeds, 0 to {SEED_MAX} (2^64 - 1).")
        seeds.append(int(token))
    return seeds or None


def prompt_grid(contents: list[str], styles: list[str], seeds: list[int] | None = None) -> list[SearchPrompt]:
    """The M prompt-seed pairs: every style x every content prompt (x every seed, if given)."""
    if not contents:
        raise ValueError("no content prompts: write one prompt per line.")
    return [
        SearchPrompt(content, style, seed)
        for style in (styles or [""])
        for i, content in enumerate(contents)
        for seed in (seeds if seeds is not None else [i])
    ]


class Objective:
    """Base class; subclasses set ``name`` and implement ``score`` and ``describe``."""

    name = "objective"

    def score(self, images: torch.Tensor, prompts: list[SearchPrompt]) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> dict:
        """What this objective is, for the checkpoint and the preset's provenance (JSON-able)."""
        return {"name": self.name}

    def release(self) -> None:
        """Free memory held for scoring (called when a search or sweep ends)."""


COMBINE_SUM = "weighted sum"
COMBINE_HARMONIC = "harmonic mean"


class CombinedObjective(Objective):
    """Several objectives in one score. The paper's code combines PickScore, CLIPScore and an
    aesthetic score; a harmonic mean rewards images good on every objective at once."""

    def __init__(self, parts: list[tuple[Objective, float]], mode: str = COMBINE_SUM):
        if mode not in (COMBINE_SUM, COMBINE_HARMONIC):
            raise ValueError(f"unknown combination '{mode}' (valid: {COMBINE_SUM}, {COMBINE_HARMONIC})")
        if not parts or any(w < 0 for _, w in parts) or sum(w for _, w in parts) <= 0:
            raise ValueError("a combination needs at least one objective with a positive weight (and none negative)")
        self.parts = parts
        self.mode = mode
        self.name = f"{mode}(" + ", ".join(f"{w:g}*{o.name}" for o, w in parts) + ")"

    def score(self, images, prompts):
        scores = torch.stack([o.score(images, prompts).float().cpu() for o, _ in self.parts])
        weights = torch.tensor([w for _, w in self.parts], dtype=torch.float32).view(-1, 1)
        if self.mode == COMBINE_SUM:
            return (weights * scores).sum(0)
        # Weighted harmonic mean; defined for positive scores (PickScore ~20, CLIPScore 0-100).
        return weights.sum() / (weights / scores.clamp_min(1e-6)).sum(0)

    def describe(self):
        return {"name": self.name, "mode": self.mode,
                "parts": [{"weight": w, **o.describe()} for o, w in self.parts]}

    def release(self):
        for o, _ in self.parts:
            o.release()
