"""Head-set algebra on a model: union, intersection, difference, default u, and the check of a head
set against a loaded model (host-free).

The guidance path (nodes/perturbation_inputs.py) depends on this and not on the preset file format
(core/preset_format.py); a head set knows its name, architecture and family from wherever it came.
"""
from __future__ import annotations

from dataclasses import replace

from .architectures import family_architecture
from .model_layout import ModelLayout, same_structure, variant_layout
from .heads import HeadNotes, HeadRangeError, HeadSet, parse_head_key


class HeadSetError(ValueError):
    """A head set that does not fit: made for another architecture, or heads outside the model."""


# ---- composition and the model ----------------------------------------------------------------
OPERATIONS = {"union": ("+", HeadSet.union), "intersection": ("&", HeadSet.intersection),
              "difference": ("-", HeadSet.difference)}


def combine(a: HeadSet, b: HeadSet, operation: str) -> HeadSet:
    """Union, intersection or difference of two head sets (the paper's compositional styles,
    Sec. 3.1 and Figs. 3, 34-36). Sets made for different architectures cannot be combined:
    the same L/H numbers name unrelated heads there."""
    if operation not in OPERATIONS:
        raise ValueError(f"unknown operation '{operation}' (valid: {', '.join(OPERATIONS)})")
    if a.arch and b.arch and a.arch != b.arch:
        raise HeadSetError(
            f"cannot combine {_label(a, 'head set A')} (made for {_origin(a)}) with {_label(b, 'head set B')} "
            f"(made for {_origin(b)}): head numbers mean different heads in different architectures"
        )
    symbol, op = OPERATIONS[operation]
    result = op(a, b)
    # What is known of a head survives where the head does; A's word wins over B's.
    kept = {key: {k: v for k, v in {**getattr(b.notes, key), **getattr(a.notes, key)}.items() if _key_in(result, k)}
            for key in ("labels", "confidence", "scores")}
    families = {f for f in (a.family, b.family) if f}
    name = f"{a.name or 'heads'} {symbol} {b.name or 'heads'}" if (a.name or b.name) else ""
    return replace(result, name=name, arch=a.arch or b.arch, family=families.pop() if len(families) == 1 else None,
                   notes=HeadNotes(**kept))


def with_default_u(head_set: HeadSet, u: float) -> HeadSet:
    """Give every head without its own u the strength ``u`` (in [0, 1])."""
    if not 0.0 <= u <= 1.0:
        raise ValueError(f"u={u:g} is outside [0, 1]")
    return replace(head_set, entries=tuple((l, h, u if v is None else v) for l, h, v in head_set.entries))


def check_against_layout(selection: HeadSet, layout: ModelLayout) -> list[str]:
    """Check a head set against a loaded model before sampling.

    Another architecture, or heads outside the model, raise HeadSetError naming the head set, the
    architecture and family it was made for, and the model. A family whose size differs from the
    model's (e.g. SD3-medium heads on a 3-layer test model) returns a warning to log: same
    architecture, so the heads apply, but they were found on another model.
    """
    return resolve_checked(selection, layout)[1]


def resolve_checked(selection: HeadSet, layout: ModelLayout, default_u: float = 1.0,
                    default_target=None) -> tuple[list[tuple], list[str]]:
    """``check_against_layout`` and the heads' (layer, head, u, target) on the model, in one resolve."""
    label = _label(selection, "the head set")
    if selection.arch and selection.arch != layout.arch.id:
        raise HeadSetError(f"{label} was made for {_origin(selection)} but the model is {layout.describe()}.")
    try:
        resolved = replace(selection, name="").resolve_targets(layout, default_u, default_target)
    except HeadRangeError as e:
        if not (selection.name or selection.arch):
            raise  # typed heads: the message already names the head and the valid range
        origin = f", made for {_origin(selection)}," if selection.arch else ""
        raise HeadSetError(f"{label}{origin} has heads outside this model: {e}") from None
    return resolved, _family_warnings(selection, layout, label)


def _family_warnings(selection: HeadSet, layout: ModelLayout, label: str) -> list[str]:
    family_arch = family_architecture(selection.family) if selection.family else None
    if family_arch is None or family_arch.id != layout.arch.id:
        return []
    if layout.family is not None:
        if layout.family == selection.family:
            return []
        return [f"{label} was found on {selection.family}; this model is {layout.family} ({layout.describe()}). "
                "Applying it anyway: the same numbers may steer different concepts here."]
    if same_structure(layout, selection.family):
        return []
    expected = variant_layout(family_arch.id, selection.family).describe()
    return [f"{label} was found on {selection.family} ({expected}); this model is "
            f"{layout.describe()}. Applying it anyway: the same numbers may steer different concepts here."]


def _key_in(head_set: HeadSet, key: str) -> bool:
    try:
        layer, head = parse_head_key(key)
    except ValueError:
        return False
    if head is None:
        return any(entry[0] == layer and entry[1] is None for entry in head_set.entries)
    return head_set.contains(layer, head)


def _label(head_set: HeadSet, default: str) -> str:
    if not head_set.name:
        return default
    kind = "preset" if head_set.notes.preset else "head set"
    return f"{kind} '{head_set.name}'"


def _origin(head_set: HeadSet) -> str:
    arch = head_set.arch.upper() if head_set.arch else "an unknown architecture"
    return f"{arch} ({head_set.family})" if head_set.family else arch
