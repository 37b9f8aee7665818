"""The preset file's fields, checked one by one (host-free): each check says what is wrong and
what is valid, naming the entry (``"heads"[3] ("L14H13"): ...``), and returns the clean value.
The file as a whole is core/preset_format.py."""
from __future__ import annotations

import json
import math
import re

from .head_set_algebra import HeadSetError
from .heads import HeadSet
from .setting_ranges import RECOMMENDED
from .target_spec import TargetError, parse_target

SOURCES = ("paper", "search", "user", "layer-level")
CONFIDENCE = ("high", "medium", "low")
# Recommended settings: name -> (type, min, max), the ranges of the pack's node inputs.
SETTINGS = {name: (int if r.whole else float, r.lo, r.hi) for name, r in RECOMMENDED.items()}
HEAD_KEYS = ("head", "u", "target", "label", "note", "confidence", "score")


class PresetError(HeadSetError):
    """A preset that cannot be read, written or applied; the message says what is wrong."""


def check_heads(heads) -> list[dict]:
    if not isinstance(heads, list) or not heads:
        raise PresetError(f"\"heads\" must be a non-empty list of {{\"head\": \"L14H13\", ...}} (got {show(heads)})")
    out = []
    for i, entry in enumerate(heads):
        where = f"\"heads\"[{i}]"
        if isinstance(entry, str):  # a bare "L14H13" is accepted as {"head": "L14H13"}
            entry = {"head": entry}
        if not isinstance(entry, dict):
            raise PresetError(f"{where} must be an object like {{\"head\": \"L14H13\"}} (got {show(entry)})")
        token = entry.get("head")
        if not isinstance(token, str) or not token.strip():
            raise PresetError(f"{where} needs \"head\": a head like \"L14H13\" (got {show(token)})")
        token = token.strip().upper()
        if "@" in token:
            raise PresetError(f"{where}: write the strength as \"u\": 0.5, not in the head text ('{token}')")
        if ":" in token:
            raise PresetError(f"{where}: write the target as \"target\": \"uniform\", not in the head text ('{token}')")
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
            if not is_number(u) or not 0.0 <= u <= 1.0:
                raise PresetError(f"{where} (\"{token}\"): \"u\" must be a number in [0, 1] or null (got {show(u)})")
            if token.startswith("-"):
                raise PresetError(f"{where} (\"{token}\"): a removed head takes no \"u\"")
        if not token.startswith("-"):
            clean["u"] = None if u is None else float(u)
        target = entry.get("target")
        if target is not None:
            if token.startswith("-"):
                raise PresetError(f"{where} (\"{token}\"): a removed head takes no \"target\"")
            if not isinstance(target, str):
                raise PresetError(f"{where} (\"{token}\"): \"target\" must be text like \"uniform\" (got {show(target)})")
            try:
                clean["target"] = parse_target(target).text
            except TargetError as e:
                raise PresetError(f"{where} (\"{token}\"): {e}") from None
        label = _optional_text(entry, "label", where, token)
        if label is not None:
            clean["label"] = label
        conf = entry.get("confidence")
        if conf is not None:
            if conf not in CONFIDENCE:
                raise PresetError(f"{where} (\"{token}\"): \"confidence\" must be one of {', '.join(CONFIDENCE)} "
                                  f"(got {show(conf)})")
            clean["confidence"] = conf
        note = _optional_text(entry, "note", where, token)
        if note is not None:
            clean["note"] = note
        score = entry.get("score")
        if score is not None:
            if not is_number(score):
                raise PresetError(f"{where} (\"{token}\"): \"score\" must be a number (got {show(score)})")
            clean["score"] = float(score)
        clean.update({k: v for k, v in entry.items() if k not in HEAD_KEYS})
        out.append(clean)
    return out


def _optional_text(entry: dict, key: str, where: str, token: str) -> str | None:
    value = entry.get(key)
    if value is not None and not isinstance(value, str):
        raise PresetError(f"{where} (\"{token}\"): \"{key}\" must be text (got {show(value)})")
    return value


def check_recommended(rec) -> dict:
    if rec is None:
        return {}
    if not isinstance(rec, dict):
        raise PresetError(f"\"recommended\" must be an object like {{\"scale\": 3.0}} (got {show(rec)})")
    out = dict(rec)
    for key, (kind, lo, hi) in SETTINGS.items():
        value = rec.get(key)
        if value is None:
            continue
        ok = is_number(value) and (kind is float or float(value).is_integer())
        if not ok or not lo <= value <= hi:
            what = "a whole number" if kind is int else "a number"
            raise PresetError(f"\"recommended\".\"{key}\" must be {what} in [{lo:g}, {hi:g}] or null (got {show(value)})")
        out[key] = kind(value)
    if rec.get("notes") is not None and not isinstance(rec["notes"], str):
        raise PresetError(f"\"recommended\".\"notes\" must be text (got {show(rec['notes'])})")
    return out


def check_tags(tags) -> list[str]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise PresetError(f"\"tags\" must be a list of text like [\"style\"] (got {show(tags)})")
    return list(tags)


def check_provenance(prov) -> dict:
    if prov is None:
        return {}
    if not isinstance(prov, dict):
        raise PresetError(f"\"provenance\" must be an object like {{\"source\": \"paper\"}} (got {show(prov)})")
    source = prov.get("source")
    if source is not None and source not in SOURCES:
        raise PresetError(f"\"provenance\".\"source\" must be one of {', '.join(SOURCES)} (got {show(source)})")
    return dict(prov)


def text_field(d: dict, key: str, required: bool = False) -> str:
    value = d.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        need = "non-empty text" if required else "text"
        raise PresetError(f"\"{key}\" must be {need} (got {show(value)})")
    return value.strip() if required else value


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in a preset")


def json_type(value) -> str:
    return {list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def show(value) -> str:
    if value is None:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."
