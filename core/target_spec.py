"""Target text: which map a perturbed head's attention becomes, as users write it (torch-free).

``uniform``, ``mean_query``, ``max``, ``identity``, ``seg(<sigma>)``, ``temperature(<t>)``,
``mask(<block>)``, ``identity(<block>)``; ``fisher_rao`` and ``slerp`` (the identity reached along
a curved path, ``core.paths``); what each means and costs is in ``core.targets``. Parsing costs at
most MAX_TARGET_TEXT characters, checked first; the head grammar (``core.heads``) reads a target
after a head: ``L14H7:uniform@0.5``.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

KINDS = ("identity", "uniform", "mean_query", "seg", "temperature", "max", "mask", "fisher_rao", "slerp")
# Blocks of the joint map ``mask`` removes: query part, then the key part it no longer sees (I image,
# T text), as the official code's [LOGIT_PERTURB]II_mask / IT_mask / TI_mask / TT_mask.
BLOCKS = ("II", "IT", "TI", "TT")
# Blocks of the joint map ``identity(<block>)`` turns into the identity, one part's queries against
# its own keys, while those queries still see the other part: the official [LOGIT_PERTURB]II_identity
# (diffusers' SD3 PAG) and TT_identity.
IDENTITY_BLOCKS = ("II", "TT")
# The parameter each kind takes, with its valid range (inclusive) and what it means.
PARAMS = {"seg": ("sigma", 0.0, math.inf, "the blur's standard deviation in image tokens; inf = mean_query"),
          "temperature": ("t", 0.01, 100.0, "the softmax temperature; >1 flattens toward uniform, <1 sharpens toward max")}
MAX_TARGET_TEXT = 32
SEG_INFINITE = 9999.0  # SEG (Hong 2024) treats sigma >= 9999 as the infinite blur
TARGET_HELP = ("targets: identity, uniform, mean_query, max, seg(<sigma>) e.g. seg(4) or seg(inf), "
               "temperature(<t>) with t in [0.01, 100] e.g. temperature(2), mask(<block>) with block II, IT, TI or TT, "
               "identity(<block>) with block II or TT, fisher_rao, slerp")
_TARGET = re.compile(r"^(?P<kind>[a-z_]+)(?:\((?P<param>inf|\d*\.?\d+(?:e-?\d+)?|[a-z]{2})\))?$", re.IGNORECASE)


class TargetError(ValueError):
    """Target text that names no target; the message says what is valid."""


@dataclass(frozen=True)
class TargetSpec:
    kind: str = "identity"
    param: float | str | None = None  # a number, or a block name for mask

    @property
    def text(self) -> str:
        if self.param is None:
            return self.kind
        if isinstance(self.param, str):
            return f"{self.kind}({self.param})"
        return f"{self.kind}({'inf' if math.isinf(self.param) else f'{self.param:g}'})"

    @property
    def is_identity(self) -> bool:
        """PAG's identity over the whole map (``identity(II)`` and ``identity(TT)`` are not: they keep
        the other part's keys)."""
        return self.kind == "identity" and self.param is None

    @property
    def needs_text(self) -> bool:
        """Whether the target tells the text part from the image part of a joint map."""
        return self.kind == "mask" or (self.kind == "identity" and self.param is not None)

    def __str__(self) -> str:
        return self.text


IDENTITY = TargetSpec()


def parse_target(text: str | None) -> TargetSpec:
    """'uniform', 'seg(4)', 'temperature(2)' ... -> TargetSpec; empty -> identity. Cost bounded by
    MAX_TARGET_TEXT characters (checked first)."""
    text = (text or "").strip()
    if not text:
        return IDENTITY
    if len(text) > MAX_TARGET_TEXT:
        raise TargetError(f"'{text[:29]}...' is not a target: {len(text)} characters (at most {MAX_TARGET_TEXT}); {TARGET_HELP}.")
    m = _TARGET.match(text)
    kind = m["kind"].lower() if m else None
    if kind not in KINDS:
        raise TargetError(f"'{text}' is not a target; {TARGET_HELP}.")
    if kind == "mask":
        block = (m["param"] or "").upper()
        if block not in BLOCKS:
            raise TargetError(f"'{text}': mask needs a block: II, IT, TI or TT (the query part, then the key part it "
                              "no longer sees; I image, T text), e.g. mask(II).")
        return TargetSpec(kind, block)
    if kind == "identity" and m["param"] is not None:
        block = m["param"].upper()
        if block not in IDENTITY_BLOCKS:
            raise TargetError(f"'{text}': identity takes no parameter, or a block: II or TT (that part's queries "
                              "attend to themselves among their own part and still see the other part), "
                              "e.g. identity(TT).")
        return TargetSpec(kind, block)
    if kind not in PARAMS:
        if m["param"] is not None:
            raise TargetError(f"'{text}': {kind} takes no parameter; {TARGET_HELP}.")
        return TargetSpec(kind)
    name, low, high, meaning = PARAMS[kind]
    if m["param"] is None:
        raise TargetError(f"'{text}': {kind} needs its {name} ({meaning}), e.g. {kind}(2).")
    if m["param"][0].isalpha() and m["param"].lower() != "inf":
        raise TargetError(f"'{text}': {kind} needs its {name} ({meaning}), e.g. {kind}(2).")
    value = float(m["param"])
    if kind == "seg" and value >= SEG_INFINITE:
        value = math.inf
    if not low <= value <= high or (kind == "seg" and value == 0.0):
        shown = "inf" if math.isinf(high) else f"{high:g}"
        raise TargetError(f"'{text}': {name}={value:g} is outside {'(' if kind == 'seg' else '['}{low:g}, {shown}]; {meaning}.")
    return TargetSpec(kind, value)


# A list of targets, as the search takes it ("identity, uniform, seg(4)"): read with a cost bounded by
# its length (checked first), each item as parse_target reads it.
MAX_TARGET_LIST_TEXT = 512
MAX_TARGET_LIST = 16
_LIST_SEPARATORS = re.compile(r"[,;\s]+")


def parse_target_list(text: str | None, what: str = "search_targets") -> list[TargetSpec]:
    """'identity, uniform, seg(4)' -> [TargetSpec, ...] in the given order; empty -> []. A bad item,
    a target listed twice (after normalising: 'Uniform' is 'uniform'), more than MAX_TARGET_LIST
    targets or a text over MAX_TARGET_LIST_TEXT characters fail naming the value and what is valid."""
    text = text or ""
    if len(text) > MAX_TARGET_LIST_TEXT:
        raise TargetError(f"{what}: {len(text)} characters (at most {MAX_TARGET_LIST_TEXT}); list at most "
                          f"{MAX_TARGET_LIST} targets, e.g. 'identity, uniform, seg(4)'.")
    items = [item for item in _LIST_SEPARATORS.split(text) if item]
    if len(items) > MAX_TARGET_LIST:
        raise TargetError(f"{what}: {len(items)} targets (at most {MAX_TARGET_LIST}).")
    specs: list[TargetSpec] = []
    for item in items:
        try:
            spec = parse_target(item)
        except TargetError as e:
            raise TargetError(f"{what}: {e}") from None
        if spec in specs:
            raise TargetError(f"{what}: '{item}' is listed twice (as {spec.text}); list each target once.")
        specs.append(spec)
    return specs
