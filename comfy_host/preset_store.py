"""Where presets live in a ComfyUI install: the pack's presets/ folder and the user folder.

The user folder is registered with ComfyUI's ``folder_paths`` under "headhunter_presets"
(default ``models/headhunter_presets``), so ``extra_model_paths.yaml`` can add more folders.
It is created when the first preset is saved, not at import.
"""
from __future__ import annotations

import logging
from pathlib import Path

import folder_paths

from .folders import register_model_folder
from ..core.preset_files import SHIPPED_DIR, find_preset, load_presets
from ..core.preset_format import Preset

log = logging.getLogger("HeadHunter")

FOLDER_KEY = "headhunter_presets"


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


register_model_folder(FOLDER_KEY, {".json"})
