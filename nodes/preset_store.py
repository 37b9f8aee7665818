"""Where presets live in a ComfyUI install: the pack's presets/ folder and the user folder.

The user folder is registered with ComfyUI's ``folder_paths`` under "headhunter_presets"
(default ``models/headhunter_presets``), so ``extra_model_paths.yaml`` can add more folders.
It is created when the first preset is saved, not at import.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import folder_paths

from ..core.presets import SHIPPED_DIR, Preset, find_preset, load_presets

log = logging.getLogger("HeadHunter")

FOLDER_KEY = "headhunter_presets"


def register_preset_folder() -> None:
    """Make "headhunter_presets" a ComfyUI model folder (idempotent; keeps folders added by yaml)."""
    default = os.path.join(folder_paths.models_dir, FOLDER_KEY)
    if FOLDER_KEY in folder_paths.folder_names_and_paths:
        paths, extensions = folder_paths.folder_names_and_paths[FOLDER_KEY]
        if default not in paths:
            paths.append(default)
        if isinstance(extensions, set):
            extensions.add(".json")
    else:
        folder_paths.folder_names_and_paths[FOLDER_KEY] = ([default], {".json"})


def user_folders() -> list[Path]:
    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER_KEY)]


def save_folder() -> Path:
    """The first registered folder: where HeadHunterSavePreset writes."""
    return user_folders()[0]


def roots() -> list[tuple[Path, bool]]:
    return [(SHIPPED_DIR, True)] + [(folder, False) for folder in user_folders()]


_reported: set[str] = set()


def load_all() -> tuple[list[Preset], list[str]]:
    """Every readable preset; each broken file is logged once (the list is reloaded often)."""
    presets, errors = load_presets(roots())
    for error in errors:
        if error not in _reported:
            _reported.add(error)
            log.warning("HeadHunter: skipped preset file %s", error)
    return presets, errors


def get_preset(preset_id: str) -> Preset:
    presets, errors = load_all()
    where = "the shipped presets or the user preset folder(s) " + ", ".join(str(f) for f in user_folders())
    return find_preset(presets, errors, preset_id, where)


register_preset_folder()
