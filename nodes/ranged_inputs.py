"""Node inputs for the numeric settings of core/setting_ranges.py: the range comes from there."""
from __future__ import annotations

from comfy_api.latest import io

from ..core.setting_ranges import Range


def ranged_input(name: str, setting: Range, default, tooltip: str, **options):
    if setting.whole:
        return io.Int.Input(name, default=int(default), min=int(setting.lo), max=int(setting.hi), step=int(setting.step),
                            tooltip=tooltip, **options)
    return io.Float.Input(name, default=float(default), min=setting.lo, max=setting.hi, step=setting.step, round=0.01,
                          tooltip=tooltip, **options)
