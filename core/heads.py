"""Head sets: which (layer, head) pairs to perturb, the text that names them, and their algebra.

Numbering follows the paper: 0-based ``L{layer}H{head}``, layers counted through the model's
block groups in the order of ``core.architectures`` (FLUX: double blocks first, then single).

Text grammar (case-insensitive; tokens separated by commas, semicolons or whitespace)::

    L14H13        one head
    L5  or  L5H*  every head of layer 5 (layer-level PAG)
    L3-5H0-7      ranges, inclusive
    L14H13@0.5    a per-head SoftPAG strength u in [0, 1]
    L14H7:uniform@0.5, L3-5:seg(4), L2H1:temperature(2)
                  a per-head target (core/targets.py; none = the node's target)
    -L5H3         remove heads named earlier (works on whole layers too)

A head set is host-free: it can be parsed, combined and printed without a model. It is checked
against a model's ``ModelLayout`` by ``resolve``, which is where out-of-range heads fail.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

from .architecture_rows import NO_JOINT_TEXT
from .model_layout import ModelLayout
from .target_spec import TargetError, TargetSpec, parse_target

SYNTAX_HELP = (
    "write heads as L<layer>H<head> (0-based, e.g. L14H13), L5 or L5H* for a whole layer, "
    "ranges like L3-5H0-7, an optional target (L14H13:uniform, L3:seg(4), L2H1:temperature(2)), "
    "an optional @u in [0, 1] (L14H13@0.5), and -L5H3 to remove heads"
)

_TOKEN = re.compile(
    r"^(?P<neg>-)?L(?P<l0>\d+)(?:-(?P<l1>\d+))?"
    r"(?:H(?:(?P<star>\*)|(?P<h0>\d+)(?:-(?P<h1>\d+))?))?"
    r"(?::(?P<target>[a-z_]+(?:\([^()]*\))?))?"
    r"(?:@(?P<u>\d*\.?\d+(?:e-?\d+)?))?$",
    re.IGNORECASE,
)
_SEPARATORS = re.compile(r"[\s,;]+")

# Bounds that make parsing cost depend on the text's length only, never on the numbers in it
# (checked before anything is expanded). Published models have at most a few dozen layers and
# heads (FLUX.1: 57 x 24, SD3.5-large: 38 x 38); a model's exact range is checked by ``resolve``.
MAX_LAYERS = 1024  # layer numbers 0-1023
MAX_HEADS = 512  # head numbers 0-511
MAX_NAMED = 1 << 17  # (layer, head) entries one text may name in all, repeats counted
MAX_TOKEN = 64  # characters in one token; also keeps the regular expression linear


_KEY = re.compile(r"^L(\d+)(?:H(\d+))?$")


def head_key(layer: int, head: int | None = None) -> str:
    """The paper's name of one head, ``L14H13``, or of a whole layer, ``L5`` (head None): the key
    of scores, labels, checkpoints and presets. The widget's headKey (web/js/head_text.js) is its twin."""
    return f"L{layer}" if head is None else f"L{layer}H{head}"


def parse_head_key(key: str) -> tuple[int, int | None]:
    """``head_key``'s inverse: (layer, head or None); ValueError for anything else."""
    m = _KEY.match(key)
    if m is None:
        raise ValueError(f"'{key}' is not a head key (expected L<layer>H<head> or L<layer>)")
    return int(m[1]), None if m[2] is None else int(m[2])


class HeadSyntaxError(ValueError):
    """Head text that cannot be read; the message names the token."""


class HeadRangeError(ValueError):
    """A head that does not exist in the model; the message names it and the valid range."""


@dataclass(frozen=True)
class HeadNotes:
    """What is known about a set's heads beyond which they are, keyed by ``head_key``: shown on
    the head grid (labels on hover, scores as a heatmap) and written into saved presets."""

    preset: str = ""  # the id of the preset the set came from
    labels: Mapping[str, str] = field(default_factory=dict)  # what a head steers ("golden hour")
    confidence: Mapping[str, str] = field(default_factory=dict)  # how sure that label is
    scores: Mapping[str, float] = field(default_factory=dict)  # a search's score per head, higher = better
    # Where the set came from, for Save Preset's provenance (an imported official search result).
    provenance: Mapping[str, str] = field(default_factory=dict)


# An entry is (layer, head, u): head None means the whole layer, u None means "use the node's u".
Entry = tuple[int, "int | None", "float | None"]
# An entry's target, where it names one: ((layer, head or None), target). Kept apart from the
# entries so that code reading (layer, head, u) stays as it was; it follows its entry through the
# algebra exactly as u does.
TargetEntry = tuple[tuple[int, "int | None"], TargetSpec]


@dataclass(frozen=True)
class HeadSet:
    """An ordered set of heads, with optional per-head SoftPAG strengths and provenance.

    ``excluded`` holds heads removed from whole-layer entries, so that union, intersection and
    difference stay exact without knowing how many heads a layer has.
    """

    entries: tuple[Entry, ...] = ()
    excluded: frozenset[tuple[int, int]] = frozenset()
    targets: tuple[TargetEntry, ...] = ()
    # Provenance, used in error messages and preset checks; empty for hand-typed text.
    name: str = ""
    arch: str | None = None
    family: str | None = None
    notes: HeadNotes = field(default_factory=HeadNotes, compare=False, hash=False)

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, **provenance) -> "HeadSet":
        """Read head text. Time and memory grow with the text's length only: every number is
        checked against MAX_LAYERS / MAX_HEADS, and the heads named against MAX_NAMED, before
        anything is expanded; the text is folded into one growing set (linear, not per token)."""
        build = _Builder()
        named = 0
        for token in _SEPARATORS.split((text or "").strip()):
            if not token:
                continue
            if len(token) > MAX_TOKEN:
                raise HeadSyntaxError(
                    f"'{_shorten(token)}' is not a head: {len(token)} characters, a head has at most {MAX_TOKEN}.")
            m = _TOKEN.match(token)
            if m is None:
                raise HeadSyntaxError(f"'{token}' is not a head: {SYNTAX_HELP}.")
            l0 = _bounded(token, "layer", m["l0"], MAX_LAYERS)
            l1 = _bounded(token, "layer", m["l1"], MAX_LAYERS) if m["l1"] is not None else l0
            if l1 < l0:
                raise HeadSyntaxError(f"'{token}': layer range {l0}-{l1} runs backwards; write L{l1}-{l0}.")
            if m["h0"] is not None:
                h0 = _bounded(token, "head", m["h0"], MAX_HEADS)
                h1 = _bounded(token, "head", m["h1"], MAX_HEADS) if m["h1"] is not None else h0
                if h1 < h0:
                    raise HeadSyntaxError(f"'{token}': head range {h0}-{h1} runs backwards; write H{h1}-{h0}.")
                heads: list[int | None] = list(range(h0, h1 + 1))
            else:
                heads = [None]
            named += (l1 - l0 + 1) * len(heads)
            if named > MAX_NAMED:
                raise HeadRangeError(
                    f"'{token}': the text names more than {MAX_NAMED} heads (repeats counted); no model has that "
                    f"many: name each head once, or a whole layer as L5.")
            target = None
            if m["target"] is not None:
                if m["neg"]:
                    raise HeadSyntaxError(f"'{token}': a removed head takes no target.")
                try:
                    target = parse_target(m["target"])
                except TargetError as e:
                    raise HeadSyntaxError(f"'{token}': {e}") from None
            u = None
            if m["u"] is not None:
                if m["neg"]:
                    raise HeadSyntaxError(f"'{token}': a removed head takes no @u.")
                u = float(m["u"])
                if not 0.0 <= u <= 1.0:
                    raise HeadSyntaxError(f"'{token}': u={u:g} is outside [0, 1].")
            for layer in range(l0, l1 + 1):
                for h in heads:
                    if m["neg"]:
                        build.remove(layer, h)
                    else:
                        build.add(layer, h, u, target=target)
        return cls(*build.done(), **provenance)

    @classmethod
    def from_pairs(cls, pairs, **provenance) -> "HeadSet":
        """From (layer, head), (layer, head, u) or (layer, head, u, target) tuples, keeping their order."""
        entries = []
        targets = []
        seen = set()
        for p in pairs:
            layer, head = int(p[0]), (None if p[1] is None else int(p[1]))
            u = float(p[2]) if len(p) > 2 and p[2] is not None else None
            if (layer, head) not in seen:
                seen.add((layer, head))
                entries.append((layer, head, u))
                if len(p) > 3 and p[3] is not None:
                    target = p[3] if isinstance(p[3], TargetSpec) else parse_target(p[3])
                    targets.append(((layer, head), target))
        return cls(tuple(entries), targets=tuple(targets), **provenance)

    # ---- queries ------------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self.entries)

    @cached_property
    def _index(self) -> dict[tuple[int, int | None], float | None]:
        """(layer, head or None) -> u, built once: lookups stay O(1) however large the set."""
        index: dict[tuple[int, int | None], float | None] = {}
        for layer, head, u in self.entries:
            index[(layer, head)] = u
        return index

    @cached_property
    def _target_index(self) -> dict[tuple[int, int | None], TargetSpec]:
        return dict(self.targets)

    def target_of(self, layer: int, head: int | None) -> TargetSpec | None:
        """The target this set names for a head (its own, else its whole layer's), or None."""
        index = self._target_index
        if (layer, head) in index:
            return index[(layer, head)]
        if head is not None and (layer, head) not in self._index and self.contains(layer, head):
            return index.get((layer, None))
        return None

    @cached_property
    def _excluded_by_layer(self) -> dict[int, set[int]]:
        return _group(self.excluded)

    def _layer_entries(self) -> dict[int, dict[int | None, float | None]]:
        by_layer: dict[int, dict[int | None, float | None]] = {}
        for (layer, head), u in self._index.items():
            by_layer.setdefault(layer, {})[head] = u
        return by_layer

    def contains(self, layer: int, head: int) -> bool:
        index = self._index
        return (layer, head) in index or ((layer, None) in index and (layer, head) not in self.excluded)

    def u_of(self, layer: int, head: int) -> float | None:
        index = self._index
        if (layer, head) in index:
            return index[(layer, head)]
        return index.get((layer, None))

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _, _ in self.entries})

    # ---- algebra (the paper's compositional styles: Sec. 4.1, "combining heads") ----------
    # Each operation is linear in the sizes of both sets: lookups go through the cached index and
    # the per-layer grouping of ``excluded``, never through a scan per entry.
    def _with_entries(self, entries, excluded, targets=None, other: "HeadSet | None" = None) -> "HeadSet":
        """The result of an operation; without ``targets`` each entry keeps the target of the set it
        came from, ours first (as u does)."""
        entries = tuple(entries)
        if targets is None:
            targets = []
            for layer, head, _ in entries:
                target = self.target_of(layer, head)
                if target is None and other is not None:
                    target = other.target_of(layer, head)
                if target is not None:
                    targets.append(((layer, head), target))
        return replace(self, entries=entries, excluded=frozenset(excluded), targets=tuple(targets))

    def union(self, other: "HeadSet") -> "HeadSet":
        build = _Builder(self.entries, self.excluded, self.targets)
        theirs = other._excluded_by_layer
        their_targets = other._target_index
        for layer, head, u in other.entries:
            build.add(layer, head, u, theirs.get(layer, ()), their_targets.get((layer, head)))
        return self._with_entries(*build.done())

    def intersection(self, other: "HeadSet") -> "HeadSet":
        entries = []
        excluded: dict[int, set[int]] = {}
        theirs = other._layer_entries()
        mine_out, theirs_out = self._excluded_by_layer, other._excluded_by_layer
        for layer, head, u in self.entries:
            if head is not None:
                if other.contains(layer, head):
                    entries.append((layer, head, u if u is not None else other.u_of(layer, head)))
                continue
            other_heads = theirs.get(layer, {})
            if None in other_heads:
                entries.append((layer, None, u if u is not None else other_heads[None]))
                excluded.setdefault(layer, set()).update(mine_out.get(layer, ()), theirs_out.get(layer, ()))
            else:
                out = mine_out.get(layer, ())
                entries += [(layer, h, u if u is not None else v) for h, v in other_heads.items() if h not in out]
        return self._with_entries(_dedupe(entries), _ungroup(excluded), other=other)

    def difference(self, other: "HeadSet") -> "HeadSet":
        entries = []
        excluded = _group(self.excluded)
        theirs = other._layer_entries()
        mine_out, theirs_out = self._excluded_by_layer, other._excluded_by_layer
        for layer, head, u in self.entries:
            other_heads = theirs.get(layer, {})
            if head is not None:
                if not other.contains(layer, head):
                    entries.append((layer, head, u))
                continue
            if None in other_heads:
                # Whole minus whole: only what the other excluded survives, as single heads.
                out = mine_out.get(layer, ())
                entries.extend((layer, h, u) for h in sorted(theirs_out.get(layer, ())) if h not in out)
                excluded.pop(layer, None)
                continue
            entries.append((layer, None, u))
            excluded.setdefault(layer, set()).update(h for h in other_heads if h is not None)
        return self._with_entries(_dedupe(entries), _ungroup(excluded), other=other)

    # ---- against a model ----------------------------------------------------------------
    def resolve(self, layout: ModelLayout, default_u: float = 1.0) -> list[tuple[int, int, float]]:
        """Concrete, ordered (layer, head, u) triples for a model; raises HeadRangeError."""
        return [entry[:3] for entry in self.resolve_targets(layout, default_u, None)]

    def resolve_targets(self, layout: ModelLayout, default_u: float = 1.0, default_target=None) -> list[tuple]:
        """Concrete, ordered (layer, head, u, target) for a model; a head without its own target
        gets ``default_target`` (a TargetSpec, its text, or None); raises HeadRangeError."""
        index = self._target_index
        last = layout.layers - 1
        out: list[tuple[int, int, float]] = []
        seen = set()
        for layer, head, u in self.entries:
            token = head_key(layer, head)
            if layer > last:
                raise HeadRangeError(
                    f"{token}: layer {layer} is out of range for {layout.describe()} (layers 0-{last})"
                    + self._provenance()
                )
            count = layout.heads_of(layer)
            if head is not None and head >= count:
                where = "" if layout.uniform_heads else f" in L{layer} ({layout.label_of(layer)})"
                raise HeadRangeError(
                    f"{token}: head {head} is out of range for {layout.describe()} (heads 0-{count - 1}{where})"
                    + self._provenance()
                )
            heads = range(count) if head is None else (head,)
            target = index.get((layer, head), default_target)
            check_target_fits(token, target, layout)
            for h in heads:
                if (layer, h) in seen or (head is None and (layer, h) in self.excluded):
                    continue
                seen.add((layer, h))
                out.append((layer, h, default_u if u is None else u, target))
        return out

    def _provenance(self) -> str:
        return f" (from preset '{self.name}')" if self.name else ""

    # ---- text ---------------------------------------------------------------------------
    def to_text(self) -> str:
        """Canonical text; ``HeadSet.parse(s.to_text())`` gives back the same heads."""
        tokens: list[str] = []
        i = 0
        entries = self.entries
        index = self._target_index
        while i < len(entries):
            layer, head, u = entries[i]
            target = index.get((layer, head))
            suffix = ("" if target is None else f":{target.text}") + ("" if u is None else f"@{u:g}")
            if head is None:
                tokens.append(f"L{layer}{suffix}")
                i += 1
                continue
            j = i
            while (
                j + 1 < len(entries)
                and entries[j + 1][0] == layer
                and entries[j + 1][1] is not None
                and entries[j + 1][1] == entries[j][1] + 1
                and entries[j + 1][2] == u
                and index.get((layer, entries[j + 1][1])) == target
            ):
                j += 1
            span = f"H{head}" if j == i else f"H{head}-{entries[j][1]}"
            tokens.append(f"L{layer}{span}{suffix}")
            i = j + 1
        tokens += [f"-L{layer}H{head}" for layer, head in sorted(self.excluded)]
        return ", ".join(tokens)

    def __str__(self) -> str:
        return self.to_text()


def check_target_fits(token: str, target, layout: ModelLayout) -> None:
    """``mask(XY)`` and ``identity(XX)`` act on a block of a joint text+image map: a model whose
    self-attention holds no text (U-Nets, Wan: the text enters through cross-attention) has no such
    block, and the target would leave every call unchanged or be plain identity. Refused before
    sampling instead."""
    if target is None:
        return
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    if spec.needs_text and layout.arch.token_order == NO_JOINT_TEXT:
        raise HeadRangeError(
            f"{token}:{spec.text}: {layout.arch.display_name} has no text in its self-attention (the text enters "
            "through cross-attention), so there is no text block to tell apart; use identity, uniform, mean_query, "
            "seg, temperature, max, fisher_rao or slerp")


class _Builder:
    """A head set being folded token by token (parse) or set by set (union), in place: what
    ``union`` with one entry and ``difference`` with one head mean, each in O(1)."""

    def __init__(self, entries=(), excluded=(), targets=()):
        self.entries: dict[tuple[int, int | None], float | None] = {}
        self.targets: dict[tuple[int, int | None], TargetSpec] = {}
        self.heads: dict[int, set[int]] = {}  # the single heads listed per layer
        known = dict(targets)
        for layer, head, u in entries:
            self._put(layer, head, u, known.get((layer, head)))
        self.excluded = _group(excluded)

    def _put(self, layer: int, head: int | None, u: float | None, target: TargetSpec | None = None) -> None:
        if (layer, head) not in self.entries:
            self.entries[(layer, head)] = u
            if target is not None:
                self.targets[(layer, head)] = target
            if head is not None:
                self.heads.setdefault(layer, set()).add(head)

    def add(self, layer: int, head: int | None, u: float | None, their_excluded=(), target=None) -> None:
        """Union with one entry; ``their_excluded``: heads the other set removed from that layer."""
        entries = self.entries
        if head is None:
            if (layer, None) in entries:
                # Both whole: a head stays out only if both removed it.
                kept = self.excluded.get(layer, set()) & set(their_excluded)
                self.excluded[layer] = kept
                return
            # Whole layer joins: specific heads already listed stay (they may carry a u).
            self.excluded[layer] = {h for h in their_excluded if (layer, h) not in entries}
            self._put(layer, None, u, target)
        elif (layer, head) in entries:
            return
        elif (layer, None) in entries and head not in self.excluded.get(layer, ()):
            return
        else:
            self._put(layer, head, u, target)
            self.excluded.get(layer, set()).discard(head)

    def remove(self, layer: int, head: int | None) -> None:
        """Difference with one entry (a plain head or a whole layer, nothing excluded)."""
        entries = self.entries
        if head is None:
            entries.pop((layer, None), None)
            self.targets.pop((layer, None), None)
            for h in self.heads.pop(layer, ()):  # each head is removed at most once per add: linear
                del entries[(layer, h)]
                self.targets.pop((layer, h), None)
            self.excluded.pop(layer, None)
            return
        entries.pop((layer, head), None)
        self.targets.pop((layer, head), None)
        self.heads.get(layer, set()).discard(head)
        if (layer, None) in entries:
            self.excluded.setdefault(layer, set()).add(head)

    def done(self) -> tuple[tuple[Entry, ...], frozenset[tuple[int, int]], tuple[TargetEntry, ...]]:
        entries = tuple((layer, head, u) for (layer, head), u in self.entries.items())
        targets = tuple((key, self.targets[key]) for key in self.entries if key in self.targets)
        return entries, _ungroup(self.excluded), targets


def _group(pairs) -> dict[int, set[int]]:
    by_layer: dict[int, set[int]] = {}
    for layer, head in pairs:
        by_layer.setdefault(layer, set()).add(head)
    return by_layer


def _ungroup(by_layer: dict[int, set[int]]) -> frozenset[tuple[int, int]]:
    return frozenset((layer, h) for layer, heads in by_layer.items() for h in heads)


def _bounded(token: str, what: str, digits: str, limit: int) -> int:
    """A layer or head number, refused before use when no model could have it."""
    shown = digits.lstrip("0") or "0"  # at most MAX_TOKEN digits: the token's length was checked first
    if len(shown) > len(str(limit)) or int(shown) >= limit:
        raise HeadRangeError(
            f"'{token}': {what} {shown} is out of range: HeadHunter reads {what}s 0-{limit - 1} "
            f"(no published model has more); a model's own range is checked when it is known.")
    return int(shown)


def _shorten(token: str) -> str:
    return token if len(token) <= 40 else token[:37] + "..."


def _dedupe(entries):
    seen = set()
    out = []
    for layer, head, u in entries:
        if (layer, head) not in seen:
            seen.add((layer, head))
            out.append((layer, head, u))
    return out
