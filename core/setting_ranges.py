"""One range for each numeric setting: the nodes' inputs, preset files, the search's input checks
and the command line all read these, so they cannot disagree. Where ComfyUI has a range it is
ComfyUI's (KSampler: steps 1-10000, cfg 0-100; image sides 16 to its MAX_RESOLUTION, 16384)."""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    lo: float
    hi: float
    whole: bool = False
    step: float = 0.01  # the widget's step

    def check(self, what: str, value) -> None:
        """``value`` in [lo, hi] (and whole if asked), else a ValueError naming it and the range."""
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not ok or (self.whole and value != int(value)) or not self.lo <= value <= self.hi:
            kind = "a whole number" if self.whole else "a number"
            raise ValueError(f"{what} must be {kind} from {self.lo:g} to {self.hi:g}, got {value!r}")


SCALE = Range(0.0, 30.0, step=0.1)  # perturbation guidance scale w
SOFTPAG_U = Range(0.0, 1.0, step=0.05)  # SoftPAG strength u
STEPS = Range(1, 10000, whole=True, step=1)
CFG = Range(0.0, 100.0, step=0.1)
IMAGE_SIDE = Range(16, 16384, whole=True, step=16)
BATCH = Range(1, 256, whole=True, step=1)  # candidates or images per batched forward

# A preset's recommended settings, in the order HeadHunter Preset outputs them.
RECOMMENDED = {"scale": SCALE, "softpag_u": SOFTPAG_U, "steps": STEPS, "cfg": CFG}


def check_number(what: str, value, lo, hi, whole: bool = False) -> None:
    """A range used once (k, rounds, columns...): the same check as a named Range's."""
    Range(lo, hi, whole).check(what, value)
