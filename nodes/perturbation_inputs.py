"""Inputs shared by every node that perturbs heads, and turning them into a PerturbedGuidance.

All validation that needs the model happens here, at node execution, i.e. before sampling.
"""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..core.head_aliases import check_syntax, expand
from ..core.model_layout import numbering_help
from ..core.heads import HeadNotes, HeadSet
from ..core.head_set_algebra import resolve_checked
from ..core.grid_payload import layout_payload
from ..core.setting_ranges import SCALE, SOFTPAG_U
from ..core.target_spec import TargetError, parse_target
from ..patches.guidance_hooks import PerturbedGuidance, heads_plan
from ..patches.model_patch import model_layout
from .ranged_inputs import ranged_input
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
        ranged_input(
            "scale", SCALE, 3.0,
            tooltip="Perturbation guidance scale w: denoised = CFG result + w (cond - perturbed). The paper uses "
            "3 on SD3 and 8 on FLUX during the search. 0 turns the node off (no extra pass).",
        ),
        ranged_input(
            "softpag_u", SOFTPAG_U, 1.0,
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
            tooltip="all tokens: the target over the whole joint text+image sequence, as the paper's code. "
            "image tokens only: text tokens keep their attention; for the identity, image tokens keep attending "
            "to text and only image-image attention becomes the identity (diffusers' SD3 PAG); other targets "
            "change the image queries' attention only (the official code's smoothed_energy@img). U-Nets have no "
            "joint text sequence (text enters through cross-attention, never perturbed): both options are the "
            "same there.",
        ),
        HeadSetType.Input(
            "head_set", optional=True,
            tooltip="Optional head set from a preset, search or combine node; joined with the heads typed above.",
        ),
    ]


def target_input():
    """Appended after every other input, so that saved workflows keep their widget order."""
    return io.String.Input(
        "target", default="identity",
        tooltip="What the perturbed heads' attention becomes, for heads whose text names no target of its own "
        "(L14H7:uniform@0.5). identity: PAG, best PickScore in the paper. uniform: every token attends to all "
        "equally. mean_query: every query is the mean query (SEG's infinite blur); uniform and mean_query gave "
        "the paper's lowest FID. seg(<sigma>): image queries blurred over the image (SEG), e.g. seg(4). "
        "temperature(<t>): softmax temperature, >1 flattens, <1 sharpens. max: one-hot on the strongest key. "
        "mask(II|IT|TI|TT): image (I) or text (T) queries no longer see image or text keys. identity(II|TT): "
        "image (or text) queries attend to themselves among their own part and still see the other part "
        "(identity(II) is image tokens only with the identity). fisher_rao, slerp: the identity along the "
        "official code's curved paths.",
    )


def validate_target_text(target: str) -> bool | str:
    try:
        parse_target(target)
    except TargetError as e:
        return f"target: {e}"
    return True


def validate_heads_text(heads: str) -> bool | str:
    try:
        check_syntax(heads or "")
    except ValueError as e:
        return str(e)
    return True


def build_guidance(model, heads, scale, softpag_u, start_percent, end_percent, rescale, perturb_tokens,
                   head_set=None, target="identity") -> PerturbedGuidance:
    if end_percent < start_percent:
        raise ValueError(f"end_percent ({end_percent}) is before start_percent ({start_percent}).")
    try:
        default_target = parse_target(target)
    except TargetError as e:
        raise ValueError(f"target: {e}") from None
    layout = model_layout(model)
    typed = HeadSet.parse(expand(heads or "", layout))
    # The connected head set, then the typed heads (as HeadSet.union orders them): each resolved
    # once and checked apart, so that an error names the preset only when the preset is at fault.
    resolved, seen = [], set()
    for part in ([head_set] if head_set is not None else []) + [typed]:
        part_resolved, warnings = resolve_checked(part, layout, softpag_u, default_target)
        for warning in warnings:
            log.warning("HeadHunter: %s", warning)
        for entry in part_resolved:
            if entry[:2] not in seen:
                seen.add(entry[:2])
                resolved.append(entry)
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
    a search result's per-head scores (``HeadSet.notes.scores``, higher = better), drawn as a
    heatmap. ``headhunter_labels``: what the heads of an incoming preset do, shown on hover.
    ComfyUI wants every UI value to be a list.
    """
    notes = head_set.notes if head_set is not None else HeadNotes()
    return {
        "headhunter_layout": [layout_payload(layout)],
        "headhunter_scores": [{"head": h, "score": float(s)} for h, s in notes.scores.items()],
        "headhunter_labels": [{"head": h, "label": str(label)} for h, label in notes.labels.items()],
    }
