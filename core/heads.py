"""Head sets: which (layer, head) pairs to perturb, the text that names them, and their algebra.

Numbering follows the paper: 0-based ``L{layer}H{head}``, layers counted through the model's
block groups in the order of ``core.architectures`` (FLUX: double blocks first, then single).

Text grammar (case-insensitive; tokens separated by commas, semicolons or whitespace)::

    L14H13        one head
    L5  or  L5H*  every head of layer 5 (layer-level PAG)
    L3-5H0-7      ranges, inclusive
    L14H13@0.5    a per-head SoftPAG strength u in [0, 1]
    -L5H3         remove heads named earlier (works on whole layers too)

A head set is host-free: it can be parsed, combined and printed without a model. It is checked
against a model's ``ModelLayout`` by ``resolve``, which is where out-of-range heads fail.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property

from .architectures import ModelLayout

SYNTAX_HELP = (
    "write heads as L<layer>H<head> (0-based, e.g. L14H13), L5 or L5H* for a whole layer, "
    "ranges like L3-5H0-7, an optional @u in [0, 1] (L14H13@0.5), and -L5H3 to remove heads"
)

_TOKEN = re.compile(
    r"^(?P<neg>-)?L(?P<l0>\d+)(?:-(?P<l1>\d+))?"
    r"(?:H(?:(?P<star>\*)|(?P<h0>\d+)(?:-(?P<h1>\d+))?))?"
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


# An entry is (layer, head, u): head None means the whole layer, u None means "use the node's u".
Entry = tuple[int, "int | None", "float | None"]


@dataclass(frozen=True)
class HeadSet:
    """An ordered set of heads, with optional per-head SoftPAG strengths and provenance.

    ``excluded`` holds heads removed from whole-layer entries, so that union, intersection and
    difference stay exact without knowing how many heads a layer has.
    """

    entries: tuple[Entry, ...] = ()
    excluded: frozenset[tuple[int, int]] = frozenset()
    # Provenance, used in error messages and preset checks; empty for hand-typed text.
    name: str = ""
    arch: str | None = None
    family: str | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

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
                        build.add(layer, h, u)
        return cls(*build.done(), **provenance)

    @classmethod
    def from_pairs(cls, pairs, **provenance) -> "HeadSet":
        """From (layer, head) or (layer, head, u) tuples, keeping their order."""
        entries = []
        seen = set()
        for p in pairs:
            layer, head = int(p[0]), (None if p[1] is None else int(p[1]))
            u = float(p[2]) if len(p) > 2 and p[2] is not None else None
            if (layer, head) not in seen:
                seen.add((layer, head))
                entries.append((layer, head, u))
        return cls(tuple(entries), **provenance)

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
    def _with_entries(self, entries, excluded) -> "HeadSet":
        return replace(self, entries=tuple(entries), excluded=frozenset(excluded))

    def union(self, other: "HeadSet") -> "HeadSet":
        build = _Builder(self.entries, self.excluded)
        theirs = other._excluded_by_layer
        for layer, head, u in other.entries:
            build.add(layer, head, u, theirs.get(layer, ()))
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
        return self._with_entries(_dedupe(entries), _ungroup(excluded))

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
        return self._with_entries(_dedupe(entries), _ungroup(excluded))

    # ---- against a model ----------------------------------------------------------------
    def resolve(self, layout: ModelLayout, default_u: float = 1.0) -> list[tuple[int, int, float]]:
        """Concrete, ordered (layer, head, u) triples for a model; raises HeadRangeError."""
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
            for h in heads:
                if (layer, h) in seen or (head is None and (layer, h) in self.excluded):
                    continue
                seen.add((layer, h))
                out.append((layer, h, default_u if u is None else u))
        return out

    def _provenance(self) -> str:
        return f" (from preset '{self.name}')" if self.name else ""

    # ---- text ---------------------------------------------------------------------------
    def to_text(self) -> str:
        """Canonical text; ``HeadSet.parse(s.to_text())`` gives back the same heads."""
        tokens: list[str] = []
        i = 0
        entries = self.entries
        while i < len(entries):
            layer, head, u = entries[i]
            suffix = "" if u is None else f"@{u:g}"
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
            ):
                j += 1
            span = f"H{head}" if j == i else f"H{head}-{entries[j][1]}"
            tokens.append(f"L{layer}{span}{suffix}")
            i = j + 1
        tokens += [f"-L{layer}H{head}" for layer, head in sorted(self.excluded)]
        return ", ".join(tokens)

    def __str__(self) -> str:
        return self.to_text()


class _Builder:
    """A head set being folded token by token (parse) or set by set (union), in place: what
    ``union`` with one entry and ``difference`` with one head mean, each in O(1)."""

    def __init__(self, entries=(), excluded=()):
        self.entries: dict[tuple[int, int | None], float | None] = {}
        self.heads: dict[int, set[int]] = {}  # the single heads listed per layer
        for layer, head, u in entries:
            self._put(layer, head, u)
        self.excluded = _group(excluded)

    def _put(self, layer: int, head: int | None, u: float | None) -> None:
        if (layer, head) not in self.entries:
            self.entries[(layer, head)] = u
            if head is not None:
                self.heads.setdefault(layer, set()).add(head)

    def add(self, layer: int, head: int | None, u: float | None, their_excluded=()) -> None:
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
            self._put(layer, None, u)
        elif (layer, head) in entries:
            return
        elif (layer, None) in entries and head not in self.excluded.get(layer, ()):
            return
        else:
            self._put(layer, head, u)
            self.excluded.get(layer, set()).discard(head)

    def remove(self, layer: int, head: int | None) -> None:
        """Difference with one entry (a plain head or a whole layer, nothing excluded)."""
        entries = self.entries
        if head is None:
            entries.pop((layer, None), None)
            for h in self.heads.pop(layer, ()):  # each head is removed at most once per add: linear
                del entries[(layer, h)]
            self.excluded.pop(layer, None)
            return
        entries.pop((layer, head), None)
        self.heads.get(layer, set()).discard(head)
        if (layer, None) in entries:
            self.excluded.setdefault(layer, set()).add(head)

    def done(self) -> tuple[tuple[Entry, ...], frozenset[tuple[int, int]]]:
        entries = tuple((layer, head, u) for (layer, head), u in self.entries.items())
        return entries, _ungroup(self.excluded)


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
