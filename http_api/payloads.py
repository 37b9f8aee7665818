"""What the pack's HTTP routes answer, as plain dicts (host-free, tested without a server).

The head-grid widget draws its grids from these: the architecture table of
``core.architectures`` is the only place that knows how many layers and heads a model has.
"""
from __future__ import annotations

from ..core.architectures import ARCHITECTURES, architecture, family_architecture
from ..core.model_layout import ModelLayout, variant_layout
from ..core.head_aliases import expand
from ..core.grid_payload import layout_payload
from ..core.heads import HeadSet


class BadRequest(ValueError):
    """A request the routes answer with 4xx JSON {"error": message}; ``status`` says which."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def architectures_payload() -> dict:
    return {
        "architectures": [
            {
                "id": arch.id,
                "display_name": arch.display_name,
                "variants": [layout_payload(variant_layout(arch.id, family), family) for family in arch.variants],
            }
            for arch in ARCHITECTURES
        ]
    }


def pick_layout(arch_id: str | None, family: str | None) -> tuple[ModelLayout, str]:
    """The layout named by a request: a family, an architecture (its first family), or both."""
    if family:
        arch = family_architecture(family)
        if arch is None:
            known = ", ".join(f for a in ARCHITECTURES for f in a.variants)
            raise BadRequest(f"unknown family '{family}' (known: {known})")
        if arch_id and arch_id != arch.id:
            raise BadRequest(f"family '{family}' is {arch.id}, not '{arch_id}'")
        return variant_layout(arch.id, family), family
    if not arch_id:
        raise BadRequest("give arch (e.g. arch=sd3) or family (e.g. family=flux.1-dev)")
    try:
        arch = architecture(arch_id)
    except ValueError as e:
        raise BadRequest(str(e)) from None
    first = next(iter(arch.variants))
    return variant_layout(arch.id, first), first


def parse_payload(text: str | None, arch_id: str | None, family: str | None) -> dict:
    """Validate head text against a layout, exactly as the nodes will read it.

    Raises BadRequest (422 for text that does not read or does not fit the layout).
    """
    if text is None:
        raise BadRequest("missing 'text' (the head text to check, e.g. text=L14H13)")
    layout, family = pick_layout(arch_id, family)
    try:
        head_set = HeadSet.parse(expand(text, layout))
        resolved = head_set.resolve(layout, default_u=None)
    except ValueError as e:
        raise BadRequest(str(e), status=422) from None
    return {
        "valid": True,
        "layout": layout_payload(layout, family),
        "count": len(resolved),
        "heads": [[layer, head, u] for layer, head, u in resolved],
        "text": head_set.to_text(),
    }


def preset_payload(preset) -> dict:
    """A ``core.preset_format.Preset`` as the widget needs it (see the preset contract)."""
    head_set = preset.head_set()
    return {
        "id": preset.id,
        "name": preset.name,
        "description": preset.description,
        "family": preset.family,
        "architecture": preset.arch,
        "heads": head_set.to_text(),
        "labels": dict(head_set.notes.labels),
        "recommended": dict(preset.recommended or {}),
        "tags": list(preset.tags or []),
        "shipped": bool(preset.shipped),
    }


def presets_payload(presets, errors) -> dict:
    return {"presets": [preset_payload(p) for p in presets], "errors": list(errors)}
