"""Preset files on disk (host-free): reading one (bounded size, UTF-8, JSON only, never executed),
the cached listing of the shipped and user folders, finding one by id, and saving a user preset
(sanitised name, inside its folder, never over another file without ``overwrite``)."""
from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

from .file_names import name_problem
from .preset_checks import PresetError, reject_constant
from .preset_format import Preset, dumps_preset, preset_from_dict

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "presets"
MAX_FILE_BYTES = 1 << 20


class LoadError(str):
    """One skipped file, as the text "<path>: <what is wrong>", with ``path`` and ``id`` kept."""

    def __new__(cls, path: Path, id: str, message: str):
        self = super().__new__(cls, f"{path}: {message}")
        self.path, self.id = path, id
        return self


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
        data = json.loads(text, parse_constant=reject_constant)
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
