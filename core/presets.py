"""Head-set presets: the JSON format, reading, checking, composing and saving (host-free).

A preset is one human-readable JSON file (format "headhunter-preset", version 1)::

    {"format": "headhunter-preset", "version": 1,
     "name": "SD3 golden hour", "description": "...",
     "family": "sd3-medium", "architecture": "sd3",
     "heads": [{"head": "L18H11", "u": null, "label": "golden hour", "confidence": "high"}],
     "recommended": {"scale": 3.0, "softpag_u": 1.0, "steps": 20, "cfg": 3.0, "notes": "..."},
     "tags": ["style"], "provenance": {"source": "paper", "reference": "Fig. 8"}}

Required: format, version, name, family, architecture, heads. Everything else may be missing.
``heads`` entries are folded in order with the head-text grammar (``core.heads``): a head, a whole
layer ("L13"), a range ("L7-9"), or a removal ("-L5H3"); ``u`` is the per-head SoftPAG strength
(null = the guidance node's softpag_u); ``label``, ``confidence`` (high / medium / low: how sure the
label is) and ``note`` (why) describe it; ``score`` is a search's per-head score. Unknown keys are
kept. Reading never executes anything: ``json`` only.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from .architectures import (ARCHITECTURES, ModelLayout, architecture, family_architecture, same_structure,
                            variant_layout)
from .file_names import name_problem
from .heads import HeadRangeError, HeadSet, head_key, parse_head_key

FORMAT = "headhunter-preset"
FORMAT_VERSION = 1
SHIPPED_DIR = Path(__file__).resolve().parents[1] / "presets"

SOURCES = ("paper", "search", "user", "layer-level")
CONFIDENCE = ("high", "medium", "low")
# Recommended settings: name -> (type, min, max), the ranges of the pack's node inputs.
SETTINGS = {"scale": (float, 0.0, 30.0), "softpag_u": (float, 0.0, 1.0), "steps": (int, 1, 10000),
            "cfg": (float, 0.0, 100.0)}
# Used for a setting a hand-written preset leaves out: the engine nodes' defaults, and CFG off
# as in the paper's search (Appendix D.1).
FALLBACK_SETTINGS = {"scale": 3.0, "softpag_u": 1.0, "steps": 20, "cfg": 1.0}
MAX_FILE_BYTES = 1 << 20

FAMILIES = tuple(f for a in ARCHITECTURES for f in a.variants)
_TOP_KEYS = ("format", "version", "name", "description", "family", "architecture", "heads", "recommended",
             "tags", "provenance")
_HEAD_KEYS = ("head", "u", "label", "note", "confidence", "score")


class PresetError(ValueError):
    """A preset that cannot be read, written or applied; the message says what is wrong."""


class LoadError(str):
    """One skipped file, as the text "<path>: <what is wrong>", with ``path`` and ``id`` kept."""

    def __new__(cls, path: Path, id: str, message: str):
        self = super().__new__(cls, f"{path}: {message}")
        self.path, self.id = path, id
        return self


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
        meta = {"preset": self.id, "labels": labels, "confidence": confidence}
        if scores:
            meta["scores"] = scores
        return replace(result, name=self.name, arch=self.arch, family=self.family, meta=meta)

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
        raise PresetError(f"a preset is a JSON object, not {_json_type(d)}")
    if d.get("format") != FORMAT:
        raise PresetError(f"not a HeadHunter preset: \"format\" must be \"{FORMAT}\" (got {_show(d.get('format'))})")
    version = d.get("version")
    if not _is_int(version) or version < 1:
        raise PresetError(f"\"version\" must be a whole number >= 1 (got {_show(version)})")
    if version > FORMAT_VERSION:
        raise PresetError(
            f"written for preset format version {version}, but this HeadHunter reads versions up to "
            f"{FORMAT_VERSION}: update the HeadHunter node pack to use it"
        )
    name = _text(d, "name", required=True)
    arch_id = _text(d, "architecture", required=True)
    try:
        arch = architecture(arch_id)
    except ValueError as e:
        raise PresetError(f"\"architecture\": {e}") from None
    family = _text(d, "family", required=True)
    family_arch = family_architecture(family)
    if family_arch is None:
        raise PresetError(f"\"family\": unknown model family '{family}' (known: {', '.join(FAMILIES)})")
    if family_arch.id != arch.id:
        raise PresetError(f"\"family\" '{family}' is a {family_arch.id} model, but \"architecture\" is '{arch.id}'")
    heads = _check_heads(d.get("heads"))
    preset = Preset(
        id=id, name=name, family=family, arch=arch.id, heads=heads,
        description=_text(d, "description"),
        recommended=_check_recommended(d.get("recommended")),
        tags=_check_tags(d.get("tags")),
        provenance=_check_provenance(d.get("provenance")),
        extra={k: v for k, v in d.items() if k not in _TOP_KEYS},
    )
    # Heads must exist in the family they were found on: catches typos such as L40 on SD3-medium.
    layout = variant_layout(arch.id, family)
    try:
        _fold_heads(heads).resolve(layout)
    except HeadRangeError as e:
        raise PresetError(f"\"heads\" do not fit {family}, the family the preset names: {e}") from None
    return preset


def read_preset(path: Path, id: str, shipped: bool = False) -> Preset:
    """One preset file; raises PresetError saying what is wrong with it (never another error)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PresetError(f"file is {size} bytes; a preset is at most {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as e:
        raise PresetError(f"cannot be read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as some Windows editors write, is fine
    except UnicodeDecodeError as e:
        raise PresetError(f"not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
        preset = preset_from_dict(data, id)
    except json.JSONDecodeError as e:
        raise PresetError(f"invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except RecursionError:  # '[[[[...' a hundred thousand deep: Python's parser gives up
        raise PresetError("invalid preset: its JSON is nested too deeply") from None
    except PresetError:
        raise
    except ValueError as e:  # NaN / Infinity
        raise PresetError(f"invalid JSON: {e}") from None
    preset.shipped, preset.path = shipped, path
    return preset


# Presets read before, by file: (path, id, shipped) -> ((mtime_ns, size), Preset or PresetError). The
# list is read on every schema build, validation, fingerprint and run; a file is parsed again only
# when its stamp changes.
_CACHE: dict[tuple[Path, str, bool], tuple[tuple[int, int], object]] = {}
_CACHE_LIMIT = 4096


def read_preset_cached(path: Path, id: str, shipped: bool = False) -> Preset:
    """``read_preset``, parsed again only when the file's (mtime_ns, size) changes."""
    try:
        st = Path(path).stat()
    except OSError as e:
        raise PresetError(f"cannot be read: {e.strerror or e}") from None
    key, stamp = (Path(path), id, shipped), (st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is None or hit[0] != stamp:
        try:
            result: object = read_preset(path, id, shipped)
        except PresetError as e:
            result = e
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        _CACHE[key] = hit = (stamp, result)
    if isinstance(hit[1], PresetError):
        raise hit[1]
    return hit[1]


def load_presets(roots) -> tuple[list[Preset], list[str]]:
    """Every ``*.json`` under each (folder, shipped) root, in order; broken files are skipped.

    Returns the presets and one message per skipped file ("<path>: <what is wrong>"). A preset id
    is its path relative to its root without ".json"; the first root to hold an id wins, so a
    user file can never stand in for a shipped preset.
    """
    presets: list[Preset] = []
    errors: list[str] = []
    seen: dict[str, Preset] = {}
    for root, shipped in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*.json")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            pid = rel.with_suffix("").as_posix()
            try:
                preset = read_preset_cached(path, pid, shipped)
            except PresetError as e:
                errors.append(LoadError(path, pid, str(e)))
                continue
            if pid in seen:
                kind = "a shipped preset" if seen[pid].shipped else f"the preset at {seen[pid].path}"
                errors.append(LoadError(path, pid, f"has the same name '{pid}' as {kind} and is ignored; rename the file"))
                continue
            seen[pid] = preset
            presets.append(preset)
    return presets, errors


def find_preset(presets: list[Preset], errors: list[str], id: str, where: str) -> Preset:
    """The preset with this id, or a PresetError saying why it is not there."""
    for preset in presets:
        if preset.id == id:
            return preset
    broken = [e for e in errors if getattr(e, "id", None) == id]
    if broken:
        raise PresetError(f"HeadHunter preset '{id}' cannot be read: {broken[0]}")
    raise PresetError(
        f"HeadHunter preset '{id}' was not found in {where}. It may have been renamed or deleted since the "
        f"list was loaded: refresh the page (R) and pick another preset."
    )


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
    """A checked Preset from a head set (labels, confidence and scores kept from its meta)."""
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
    meta = head_set.meta or {}
    heads = []
    for layer, head, u in head_set.entries:
        key = head_key(layer, head)
        entry = {"head": key, "u": u}
        for field_name, meta_key in (("label", "labels"), ("confidence", "confidence"), ("score", "scores")):
            if key in meta.get(meta_key, {}):
                entry[field_name] = meta[meta_key][key]
        heads.append(entry)
    heads += [{"head": "-" + head_key(layer, head)} for layer, head in sorted(head_set.excluded)]
    d = {"format": FORMAT, "version": FORMAT_VERSION, "name": name, "description": description, "family": family,
         "architecture": family_arch.id, "heads": heads, "recommended": recommended or {}, "tags": list(tags),
         "provenance": provenance or {}}
    return preset_from_dict(json.loads(json.dumps(d)), id)


def sanitize_preset_id(name: str) -> str:
    """A user preset's file id from the name typed: folders with '/', no way out of the folder.

    Characters other than letters, digits, space and ``- _ . ( ) + ,`` become '_'. Absolute
    paths, '..' and hidden names are refused rather than rewritten, so nothing surprising is saved.
    """
    text = (name or "").strip().replace("\\", "/")
    if text.lower().endswith(".json"):
        text = text[:-5]
    if not text:
        raise PresetError("the preset name is empty")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        raise PresetError(f"'{name}' is an absolute path; give a name (sub-folders with '/' are allowed)")
    parts = []
    for part in text.split("/"):
        part = part.strip()
        if part in ("", ".", ".."):
            raise PresetError(
                f"'{name}' is not allowed: presets are saved inside the user preset folder, so '..', '.' and "
                f"empty folder names are refused"
            )
        if part.startswith("."):
            raise PresetError(f"'{name}': names starting with '.' are hidden and are not loaded")
        part = re.sub(r"[^\w \-.()+,]", "_", part).rstrip(". ")
        if not part or len(part) > 100:
            raise PresetError(f"'{name}': each part of a preset name needs 1 to 100 characters")
        problem = name_problem(part, ".json")
        if problem:
            raise PresetError(f"'{name[:60]}': {problem}")
        parts.append(part)
    return "/".join(parts)


def save_preset(folder, preset: Preset, overwrite: bool = False, reserved=()) -> Path:
    """Write ``preset`` as ``<folder>/<id>.json``; returns the path.

    ``reserved`` holds ids that must never be written (the shipped presets). Writing the same
    content again is a no-op; different content over an existing file needs ``overwrite``.
    """
    pid = sanitize_preset_id(preset.id)
    if pid in set(reserved):
        raise PresetError(f"'{pid}' is the name of a shipped preset, which is never overwritten: choose another name")
    folder = Path(folder).resolve()
    path = folder / f"{pid}.json"
    if not path.resolve().is_relative_to(folder):
        raise PresetError(f"'{pid}' would be written outside the preset folder {folder}")
    text = dumps_preset(replace(preset, id=pid))
    preset_from_dict(json.loads(text), pid)  # never write a file that would not load
    data = text.encode("utf-8")
    try:
        if path.exists() or path.is_symlink():
            if path.is_file() and path.read_bytes() == data:
                return path
            if not overwrite:
                raise PresetError(f"a preset named '{pid}' already exists ({path}); turn on overwrite or choose "
                                  "another name")
            if not path.is_file():
                raise PresetError(f"{path} exists and is not a file; choose another name")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:  # a file where a folder should be, no permission, disk full, ...
        raise PresetError(f"cannot write preset '{pid}' to {path}: {e.strerror or e}") from None
    return path


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
        raise PresetError(
            f"cannot combine {_label(a, 'head set A')} (made for {_origin(a)}) with {_label(b, 'head set B')} "
            f"(made for {_origin(b)}): head numbers mean different heads in different architectures"
        )
    symbol, op = OPERATIONS[operation]
    result = op(a, b)
    meta = {}
    for key in ("labels", "confidence", "scores"):
        merged = {**(b.meta or {}).get(key, {}), **(a.meta or {}).get(key, {})}
        kept = {k: v for k, v in merged.items() if _key_in(result, k)}
        if kept or key != "scores":
            meta[key] = kept
    families = {f for f in (a.family, b.family) if f}
    name = f"{a.name or 'heads'} {symbol} {b.name or 'heads'}" if (a.name or b.name) else ""
    return replace(result, name=name, arch=a.arch or b.arch, family=families.pop() if len(families) == 1 else None,
                   meta=meta)


def with_default_u(head_set: HeadSet, u: float) -> HeadSet:
    """Give every head without its own u the strength ``u`` (in [0, 1])."""
    if not 0.0 <= u <= 1.0:
        raise ValueError(f"u={u:g} is outside [0, 1]")
    return replace(head_set, entries=tuple((l, h, u if v is None else v) for l, h, v in head_set.entries))


def check_against_layout(selection: HeadSet, layout: ModelLayout) -> list[str]:
    """Check a head set against a loaded model before sampling.

    Another architecture, or heads outside the model, raise PresetError naming the head set, the
    architecture and family it was made for, and the model. A family whose size differs from the
    model's (e.g. SD3-medium heads on a 3-layer test model) returns a warning to log: same
    architecture, so the heads apply, but they were found on another model.
    """
    label = _label(selection, "the head set")
    if selection.arch and selection.arch != layout.arch.id:
        raise PresetError(f"{label} was made for {_origin(selection)} but the model is {layout.describe()}.")
    try:
        replace(selection, name="").resolve(layout)
    except HeadRangeError as e:
        if not (selection.name or selection.arch):
            raise  # typed heads: the message already names the head and the valid range
        origin = f", made for {_origin(selection)}," if selection.arch else ""
        raise PresetError(f"{label}{origin} has heads outside this model: {e}") from None
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
        result = result.union(piece)
    return result


def _keys_of(head_set: HeadSet) -> list[str]:
    return [head_key(layer, h) for layer, h, _ in head_set.entries]


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
    kind = "preset" if (head_set.meta or {}).get("preset") else "head set"
    return f"{kind} '{head_set.name}'"


def _origin(head_set: HeadSet) -> str:
    arch = head_set.arch.upper() if head_set.arch else "an unknown architecture"
    return f"{arch} ({head_set.family})" if head_set.family else arch


def _check_heads(heads) -> list[dict]:
    if not isinstance(heads, list) or not heads:
        raise PresetError(f"\"heads\" must be a non-empty list of {{\"head\": \"L14H13\", ...}} (got {_show(heads)})")
    out = []
    for i, entry in enumerate(heads):
        where = f"\"heads\"[{i}]"
        if isinstance(entry, str):  # a bare "L14H13" is accepted as {"head": "L14H13"}
            entry = {"head": entry}
        if not isinstance(entry, dict):
            raise PresetError(f"{where} must be an object like {{\"head\": \"L14H13\"}} (got {_show(entry)})")
        token = entry.get("head")
        if not isinstance(token, str) or not token.strip():
            raise PresetError(f"{where} needs \"head\": a head like \"L14H13\" (got {_show(token)})")
        token = token.strip().upper()
        if "@" in token:
            raise PresetError(f"{where}: write the strength as \"u\": 0.5, not in the head text ('{token}')")
        if re.search(r"[\s,;]", token):
            raise PresetError(f"{where}: one head per entry ('{token}')")
        try:
            if token.startswith("--"):
                raise ValueError(f"'{token}' is not a head: one '-' removes a head")
            HeadSet.parse(token[1:] if token.startswith("-") else token)
        except ValueError as e:
            raise PresetError(f"{where}: {e}") from None
        clean = {"head": token}
        u = entry.get("u")
        if u is not None:
            if not _is_number(u) or not 0.0 <= u <= 1.0:
                raise PresetError(f"{where} (\"{token}\"): \"u\" must be a number in [0, 1] or null (got {_show(u)})")
            if token.startswith("-"):
                raise PresetError(f"{where} (\"{token}\"): a removed head takes no \"u\"")
        if not token.startswith("-"):
            clean["u"] = None if u is None else float(u)
        label = _optional_text(entry, "label", where, token)
        if label is not None:
            clean["label"] = label
        conf = entry.get("confidence")
        if conf is not None:
            if conf not in CONFIDENCE:
                raise PresetError(f"{where} (\"{token}\"): \"confidence\" must be one of {', '.join(CONFIDENCE)} "
                                  f"(got {_show(conf)})")
            clean["confidence"] = conf
        note = _optional_text(entry, "note", where, token)
        if note is not None:
            clean["note"] = note
        score = entry.get("score")
        if score is not None:
            if not _is_number(score):
                raise PresetError(f"{where} (\"{token}\"): \"score\" must be a number (got {_show(score)})")
            clean["score"] = float(score)
        clean.update({k: v for k, v in entry.items() if k not in _HEAD_KEYS})
        out.append(clean)
    return out


def _optional_text(entry: dict, key: str, where: str, token: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise PresetError(f"{where} (\"{token}\"): \"{key}\" must be text (got {_show(value)})")
    return value


def _check_recommended(rec) -> dict:
    if rec is None:
        return {}
    if not isinstance(rec, dict):
        raise PresetError(f"\"recommended\" must be an object like {{\"scale\": 3.0}} (got {_show(rec)})")
    out = dict(rec)
    for key, (kind, lo, hi) in SETTINGS.items():
        value = rec.get(key)
        if value is None:
            continue
        ok = _is_number(value) and (kind is float or float(value).is_integer())
        if not ok or not lo <= value <= hi:
            what = "a whole number" if kind is int else "a number"
            raise PresetError(f"\"recommended\".\"{key}\" must be {what} in [{lo:g}, {hi:g}] or null (got {_show(value)})")
        out[key] = kind(value)
    if rec.get("notes") is not None and not isinstance(rec["notes"], str):
        raise PresetError(f"\"recommended\".\"notes\" must be text (got {_show(rec['notes'])})")
    return out


def _check_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PresetError(f"\"tags\" must be a list of text like [\"style\"] (got {_show(tags)})")
    return list(tags)


def _check_provenance(prov) -> dict:
    if prov is None:
        return {}
    if not isinstance(prov, dict):
        raise PresetError(f"\"provenance\" must be an object like {{\"source\": \"paper\"}} (got {_show(prov)})")
    source = prov.get("source")
    if source is not None and source not in SOURCES:
        raise PresetError(f"\"provenance\".\"source\" must be one of {', '.join(SOURCES)} (got {_show(source)})")
    return dict(prov)


def _text(d: dict, key: str, required: bool = False) -> str:
    value = d.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        need = "non-empty text" if required else "text"
        raise PresetError(f"\"{key}\" must be {need} (got {_show(value)})")
    return value.strip() if required else value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a preset")


def _json_type(value) -> str:
    return {list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _show(value) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
