"""Head-set presets: the JSON format, a Preset and its head set (host-free). Files on disk are
core/preset_files.py, the field checks core/preset_checks.py, the algebra core/head_set_algebra.py.

A preset is one human-readable JSON file (format "headhunter-preset", version 1)::

    {"format": "headhunter-preset", "version": 1,
     "name": "SD3 golden hour", "description": "...",
     "family": "sd3-medium", "architecture": "sd3",
     "heads": [{"head": "L18H11", "u": null, "label": "golden hour", "confidence": "high"},
               {"head": "L14H7", "u": 0.5, "target": "uniform"}],
     "recommended": {"scale": 3.0, "softpag_u": 1.0, "steps": 20, "cfg": 3.0, "notes": "..."},
     "tags": ["style"], "provenance": {"source": "paper", "reference": "Fig. 8"}}

Required: format, version, name, family, architecture, heads. Everything else may be missing.
``heads`` entries are folded in order with the head-text grammar (``core.heads``): a head, a whole
layer ("L13"), a range ("L7-9"), or a removal ("-L5H3"); ``u`` is the per-head SoftPAG strength
(null = the guidance node's softpag_u); ``target`` the head's perturbation target (``core.target_spec``:
"uniform", "seg(4)", ...; missing = the node's target, so files written before targets existed read
as before); ``label``, ``confidence`` (high / medium / low: how sure the
label is) and ``note`` (why) describe it; ``score`` is a search's per-head score. Unknown keys are
kept. Reading never executes anything: ``json`` only.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from .architectures import ARCHITECTURES, architecture, family_architecture
from .model_layout import variant_layout
from .heads import HeadNotes, HeadRangeError, HeadSet, head_key
from .preset_checks import (SETTINGS, PresetError, check_heads, check_provenance, check_recommended, check_tags,
                            is_int, json_type, show, text_field)
from .target_spec import parse_target

FORMAT = "headhunter-preset"
FORMAT_VERSION = 1
# Used for a setting a hand-written preset leaves out: the engine nodes' defaults, and CFG off
# as in the paper's search (Appendix D.1).
FALLBACK_SETTINGS = {"scale": 3.0, "softpag_u": 1.0, "steps": 20, "cfg": 1.0}

FAMILIES = tuple(f for a in ARCHITECTURES for f in a.variants)
_TOP_KEYS = ("format", "version", "name", "description", "family", "architecture", "heads", "recommended",
             "tags", "provenance")


@dataclass
class Preset:
    id: str
    name: str
    family: str
    arch: str
    heads: list[dict]
    description: str = ""
    recommended: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    shipped: bool = False
    path: Path | None = None
    # Keys this version does not know, kept so that saving a newer minor addition loses nothing.
    extra: dict = field(default_factory=dict)

    def head_set(self) -> HeadSet:
        """The heads as a ``HeadSet`` carrying the preset's name, architecture, family and labels."""
        result = _fold_heads(self.heads)
        labels, confidence, scores = {}, {}, {}
        for entry in self.heads:
            if entry["head"].startswith("-"):
                continue
            for key in _keys_of(HeadSet.parse(entry["head"])):
                if entry.get("label"):
                    labels[key] = entry["label"]
                if entry.get("confidence"):
                    confidence[key] = entry["confidence"]
                if entry.get("score") is not None:
                    scores[key] = entry["score"]
        notes = HeadNotes(preset=self.id, labels=labels, confidence=confidence, scores=scores)
        return replace(result, name=self.name, arch=self.arch, family=self.family, notes=notes)

    def setting(self, key: str):
        """A recommended setting, or the fallback when the preset does not give it."""
        value = self.recommended.get(key)
        return FALLBACK_SETTINGS[key] if value is None else value

    def summary(self) -> str:
        """Description, heads and settings as a few lines of text for the node's UI."""
        given = ", ".join(
            f"{k} {self.setting(k):g}" + ("" if self.recommended.get(k) is not None else " (not given; default)")
            for k in SETTINGS
        )
        lines = [self.name, self.description, f"Heads ({self.family}): {self.head_set().to_text()}",
                 f"Recommended: {given}"]
        if self.recommended.get("notes"):
            lines.append(f"Notes: {self.recommended['notes']}")
        return "\n".join(line for line in lines if line)


# ---- reading ----------------------------------------------------------------------------------
def preset_from_dict(d, id: str) -> Preset:
    """Check a parsed JSON object and build a Preset; raises PresetError naming what is wrong."""
    if not isinstance(d, dict):
        raise PresetError(f"a preset is a JSON object, not {json_type(d)}")
    if d.get("format") != FORMAT:
        raise PresetError(f"not a HeadHunter preset: \"format\" must be \"{FORMAT}\" (got {show(d.get('format'))})")
    version = d.get("version")
    if not is_int(version) or version < 1:
        raise PresetError(f"\"version\" must be a whole number >= 1 (got {show(version)})")
    if version > FORMAT_VERSION:
        raise PresetError(
            f"written for preset format version {version}, but this HeadHunter reads versions up to "
            f"{FORMAT_VERSION}: update the HeadHunter node pack to use it"
        )
    name = text_field(d, "name", required=True)
    arch_id = text_field(d, "architecture", required=True)
    try:
        arch = architecture(arch_id)
    except ValueError as e:
        raise PresetError(f"\"architecture\": {e}") from None
    family = text_field(d, "family", required=True)
    family_arch = family_architecture(family)
    if family_arch is None:
        raise PresetError(f"\"family\": unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    if family_arch.id != arch.id:
        raise PresetError(f"\"family\" '{family}' is a {family_arch.id} model, but \"architecture\" is '{arch.id}'")
    heads = check_heads(d.get("heads"))
    preset = Preset(
        id=id, name=name, family=family, arch=arch.id, heads=heads,
        description=text_field(d, "description"),
        recommended=check_recommended(d.get("recommended")),
        tags=check_tags(d.get("tags")),
        provenance=check_provenance(d.get("provenance")),
        extra={k: v for k, v in d.items() if k not in _TOP_KEYS},
    )
    # Heads must exist in the family they were found on: catches typos such as L40 on SD3-medium.
    layout = variant_layout(arch.id, family)
    try:
        _fold_heads(heads).resolve(layout)
    except HeadRangeError as e:
        raise PresetError(f"\"heads\" do not fit {family}, the family the preset names: {e}") from None
    return preset


# ---- writing ----------------------------------------------------------------------------------
def preset_to_dict(p: Preset) -> dict:
    d = {
        "format": FORMAT, "version": FORMAT_VERSION, "name": p.name, "description": p.description,
        "family": p.family, "architecture": p.arch, "heads": [dict(h) for h in p.heads],
        "recommended": dict(p.recommended), "tags": list(p.tags), "provenance": dict(p.provenance),
    }
    d.update(p.extra)
    return d


def dumps_preset(p: Preset) -> str:
    """Stable, readable JSON: one line per head, two-space indents."""
    d = preset_to_dict(p)
    lines = []
    for key, value in d.items():
        if key == "heads":
            body = ",\n    ".join(json.dumps(h, ensure_ascii=False) for h in value)
            text = f"[\n    {body}\n  ]" if value else "[]"
        else:
            text = json.dumps(value, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        lines.append(f"  {json.dumps(key)}: {text}")
    return "{\n" + ",\n".join(lines) + "\n}\n"


def preset_from_head_set(head_set: HeadSet, id: str, name: str, family: str | None = None, description: str = "",
                         recommended: dict | None = None, tags=(), provenance: dict | None = None) -> Preset:
    """A checked Preset from a head set (labels, confidence and scores kept from its notes)."""
    family = family or head_set.family
    if not family:
        raise PresetError("the head set does not say which model family it was found on: choose a family")
    family_arch = family_architecture(family)
    if family_arch is None:
        raise PresetError(f"unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    if head_set.arch and head_set.arch != family_arch.id:
        raise PresetError(
            f"the head set was made for {head_set.arch.upper()} but family '{family}' is {family_arch.id.upper()}"
        )
    if not head_set:
        raise PresetError("the head set is empty: there is nothing to save")
    notes = head_set.notes
    own_targets = dict(head_set.targets)  # the targets the entries name themselves
    heads = []
    for layer, head, u in head_set.entries:
        key = head_key(layer, head)
        entry = {"head": key, "u": u}
        target = own_targets.get((layer, head))
        if target is not None:
            entry["target"] = target.text
        for field_name, known in (("label", notes.labels), ("confidence", notes.confidence), ("score", notes.scores)):
            if key in known:
                entry[field_name] = known[key]
        heads.append(entry)
    heads += [{"head": "-" + head_key(layer, head)} for layer, head in sorted(head_set.excluded)]
    d = {"format": FORMAT, "version": FORMAT_VERSION, "name": name, "description": description, "family": family,
         "architecture": family_arch.id, "heads": heads, "recommended": recommended or {}, "tags": list(tags),
         "provenance": provenance or {}}
    return preset_from_dict(json.loads(json.dumps(d)), id)


# ---- helpers ----------------------------------------------------------------------------------
def _fold_heads(heads: list[dict]) -> HeadSet:
    result = HeadSet()
    for entry in heads:
        token = entry["head"]
        removed = token.startswith("-")
        piece = HeadSet.parse(token[1:] if removed else token)
        if removed:
            result = result.difference(piece)
            continue
        if entry.get("u") is not None:
            piece = replace(piece, entries=tuple((layer, h, float(entry["u"])) for layer, h, _ in piece.entries))
        if entry.get("target") is not None:
            target = parse_target(entry["target"])
            piece = replace(piece, targets=tuple(((layer, h), target) for layer, h, _ in piece.entries))
        result = result.union(piece)
    return result


def _keys_of(head_set: HeadSet) -> list[str]:
    return [head_key(layer, h) for layer, h, _ in head_set.entries]
