"""Inputs shared by every node that perturbs heads, and turning them into a PerturbedGuidance.

All validation that needs the model happens here, at node execution, i.e. before sampling.
"""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..core.head_aliases import check_syntax, expand
from ..core.architectures import numbering_help
from ..core.heads import HeadSet
from ..core.presets import check_against_layout
from ..core.grid_payload import layout_payload
from ..patches.guidance import PerturbedGuidance, heads_plan
from ..patches.model_patch import model_layout
from .types import HeadSetType

log = logging.getLogger("HeadHunter")

TOKENS_ALL = "all tokens (paper)"
TOKENS_IMAGE = "image tokens only"


def perturbation_inputs() -> list:
    return [
        io.String.Input(
            "heads", multiline=True, default="", placeholder="L14H13, L0H2   |   L5 (whole layer)   |   L3-5H0-7",
            tooltip="Heads whose attention map is replaced by the identity in the perturbed pass. 0-based, as in "
            "the paper's figures: L<layer>H<head>; L5 or L5H* for a whole layer (layer-level PAG); ranges "
            "L3-5H0-7; L14H13@0.5 sets u for one head; -L5H3 removes a head. U-Nets also take block aliases: mid, "
            "in4, out1.2H5 (ComfyUI's block ids, .transformer index). Layers: " + numbering_help() + " Empty = no guidance.",
        ),
        io.Float.Input(
            "scale", default=3.0, min=0.0, max=30.0, step=0.1, round=0.01,
            tooltip="Perturbation guidance scale w: denoised = CFG result + w (cond - perturbed). The paper uses "
            "3 on SD3 and 8 on FLUX during the search. 0 turns the node off (no extra pass).",
        ),
        io.Float.Input(
            "softpag_u", default=1.0, min=0.0, max=1.0, step=0.05, round=0.01,
            tooltip="SoftPAG strength u: A' = (1-u) A + u I. 1 = plain PAG (identity). The paper finds 0.5-0.75 "
            "removes the oversaturation of strong heads (best FID near u=0.5 with 9 heads).",
        ),
        io.Float.Input(
            "start_percent", default=0.0, min=0.0, max=1.0, step=0.01,
            tooltip="Part of the schedule where the perturbed pass runs: from here...",
        ),
        io.Float.Input(
            "end_percent", default=1.0, min=0.0, max=1.0, step=0.01,
            tooltip="...to here. Outside it there is no extra forward pass.",
        ),
        io.Float.Input(
            "rescale", default=0.0, min=0.0, max=1.0, step=0.01,
            tooltip="Std-matching rescale of the guided result toward the conditional prediction (as "
            "SkipLayerGuidanceDiT); counters oversaturation at high scale. 0 = off.",
        ),
        io.Combo.Input(
            "perturb_tokens", options=[TOKENS_ALL, TOKENS_IMAGE], default=TOKENS_ALL,
            tooltip="all tokens: the identity over the whole joint text+image sequence, as the paper's code. "
            "image tokens only: image tokens keep attending to text, only image-image attention becomes the "
            "identity (diffusers' SD3 PAG). U-Nets have no joint text sequence (text enters through cross-attention, "
            "never perturbed): both options are the same there.",
        ),
        HeadSetType.Input(
            "head_set", optional=True,
            tooltip="Optional head set from a preset, search or combine node; joined with the heads typed above.",
        ),
    ]


def parse_heads(heads: str, head_set: HeadSet | None, layout) -> HeadSet:
    typed = HeadSet.parse(expand(heads or "", layout))
    return typed if head_set is None else head_set.union(typed)


def validate_heads_text(heads: str) -> bool | str:
    try:
        check_syntax(heads or "")
    except ValueError as e:
        return str(e)
    return True


def build_guidance(model, heads, scale, softpag_u, start_percent, end_percent, rescale, perturb_tokens,
                   head_set=None) -> PerturbedGuidance:
    if end_percent < start_percent:
        raise ValueError(f"end_percent ({end_percent}) is before start_percent ({start_percent}).")
    layout = model_layout(model)
    # Checked apart, so that an error names the preset only when the preset is at fault.
    check_architecture(HeadSet.parse(expand(heads or "", layout)), layout)
    if head_set is not None:
        check_architecture(head_set, layout)
    selection = parse_heads(heads, head_set, layout)
    resolved = selection.resolve(layout, default_u=softpag_u)
    if scale != 0.0 and not resolved:
        log.warning("HeadHunter: no heads selected; the model is returned unchanged.")
    sampling = model.get_model_object("model_sampling")
    return PerturbedGuidance(
        layout, heads_plan(resolved), scale,
        sigma_start=sampling.percent_to_sigma(start_percent),
        sigma_end=sampling.percent_to_sigma(end_percent),
        rescale=rescale,
        image_only=perturb_tokens == TOKENS_IMAGE,
    )


def head_grid_ui(layout, head_set: HeadSet | None) -> dict:
    """The node's UI message for the head-grid widget (web/js/headhunter.js, ``onExecuted``).

    ``headhunter_layout``: the grid of the model the heads were applied to. ``headhunter_scores``:
    a search result's per-head scores (``HeadSet.meta["scores"]``, higher = better), drawn as a
    heatmap. ``headhunter_labels``: what the heads of an incoming preset do, shown on hover.
    ComfyUI wants every UI value to be a list.
    """
    meta = head_set.meta if head_set is not None else {}
    return {
        "headhunter_layout": [layout_payload(layout)],
        "headhunter_scores": [{"head": h, "score": float(s)} for h, s in (meta.get("scores") or {}).items()],
        "headhunter_labels": [{"head": h, "label": str(label)} for h, label in (meta.get("labels") or {}).items()],
    }


def check_architecture(selection: HeadSet, layout) -> None:
    """A head set made for another architecture, or with heads outside the model, fails before sampling;
    one found on another family of the same architecture is applied with a warning in the log."""
    for warning in check_against_layout(selection, layout):
        log.warning("HeadHunter: %s", warning)
