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
        result = cls(**provenance)
        for token in _SEPARATORS.split(text.strip()):
            if not token:
                continue
            m = _TOKEN.match(token)
            if m is None:
                raise HeadSyntaxError(f"'{token}' is not a head: {SYNTAX_HELP}.")
            l0 = int(m["l0"])
            l1 = int(m["l1"]) if m["l1"] is not None else l0
            if l1 < l0:
                raise HeadSyntaxError(f"'{token}': layer range {l0}-{l1} runs backwards; write L{l1}-{l0}.")
            if m["h0"] is not None:
                h0 = int(m["h0"])
                h1 = int(m["h1"]) if m["h1"] is not None else h0
                if h1 < h0:
                    raise HeadSyntaxError(f"'{token}': head range {h0}-{h1} runs backwards; write H{h1}-{h0}.")
                heads: list[int | None] = list(range(h0, h1 + 1))
            else:
                heads = [None]
            u = None
            if m["u"] is not None:
                if m["neg"]:
                    raise HeadSyntaxError(f"'{token}': a removed head takes no @u.")
                u = float(m["u"])
                if not 0.0 <= u <= 1.0:
                    raise HeadSyntaxError(f"'{token}': u={u:g} is outside [0, 1].")
            piece = cls(tuple((layer, h, u) for layer in range(l0, l1 + 1) for h in heads))
            result = result.difference(piece) if m["neg"] else result.union(piece)
        return result

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

    def _layer_entries(self) -> dict[int, dict[int | None, float | None]]:
        by_layer: dict[int, dict[int | None, float | None]] = {}
        for layer, head, u in self.entries:
            by_layer.setdefault(layer, {})[head] = u
        return by_layer

    def contains(self, layer: int, head: int) -> bool:
        heads = self._layer_entries().get(layer, {})
        return head in heads or (None in heads and (layer, head) not in self.excluded)

    def u_of(self, layer: int, head: int) -> float | None:
        heads = self._layer_entries().get(layer, {})
        if head in heads:
            return heads[head]
        return heads.get(None)

    @property
    def layers(self) -> list[int]:
        return sorted({layer for layer, _, _ in self.entries})

    # ---- algebra (the paper's compositional styles: Sec. 4.1, "combining heads") ----------
    def _with_entries(self, entries, excluded) -> "HeadSet":
        return replace(self, entries=tuple(entries), excluded=frozenset(excluded))

    def union(self, other: "HeadSet") -> "HeadSet":
        entries = list(self.entries)
        excluded = set(self.excluded)
        mine = self._layer_entries()
        for layer, head, u in other.entries:
            heads = mine.get(layer, {})
            if head is None:
                if None in heads:
                    # Both whole: a head stays out only if both removed it.
                    excluded = {e for e in excluded if e[0] != layer or e in other.excluded}
                    continue
                # Whole layer joins: specific heads already listed stay (they may carry a u).
                excluded = {e for e in excluded if e[0] != layer} | {
                    e for e in other.excluded if e[0] == layer and e[1] not in heads}
                entries.append((layer, None, u))
                mine.setdefault(layer, {})[None] = u
            elif head in heads:
                continue
            elif None in heads and (layer, head) not in excluded:
                continue
            else:
                entries.append((layer, head, u))
                excluded.discard((layer, head))
                mine.setdefault(layer, {})[head] = u
        return self._with_entries(entries, excluded)

    def intersection(self, other: "HeadSet") -> "HeadSet":
        entries = []
        excluded = set()
        theirs = other._layer_entries()
        for layer, head, u in self.entries:
            if head is not None:
                if other.contains(layer, head):
                    entries.append((layer, head, u if u is not None else other.u_of(layer, head)))
                continue
            other_heads = theirs.get(layer, {})
            if None in other_heads:
                entries.append((layer, None, u if u is not None else other_heads[None]))
                excluded |= {e for e in self.excluded | other.excluded if e[0] == layer}
            else:
                entries += [(layer, h, u if u is not None else v) for h, v in other_heads.items()
                            if (layer, h) not in self.excluded]
        return self._with_entries(_dedupe(entries), excluded)

    def difference(self, other: "HeadSet") -> "HeadSet":
        entries = []
        excluded = set(self.excluded)
        theirs = other._layer_entries()
        for layer, head, u in self.entries:
            other_heads = theirs.get(layer, {})
            if head is not None:
                if not other.contains(layer, head):
                    entries.append((layer, head, u))
                continue
            if None in other_heads:
                # Whole minus whole: only what the other excluded survives, as single heads.
                entries.extend((l, h, u) for (l, h) in sorted(other.excluded) if l == layer and (l, h) not in self.excluded)
                excluded = {e for e in excluded if e[0] != layer}
                continue
            entries.append((layer, None, u))
            excluded |= {(layer, h) for h in other_heads if h is not None}
        return self._with_entries(_dedupe(entries), excluded)

    # ---- against a model ----------------------------------------------------------------
    def resolve(self, layout: ModelLayout, default_u: float = 1.0) -> list[tuple[int, int, float]]:
        """Concrete, ordered (layer, head, u) triples for a model; raises HeadRangeError."""
        last = layout.layers - 1
        out: list[tuple[int, int, float]] = []
        seen = set()
        for layer, head, u in self.entries:
            token = f"L{layer}" + (f"H{head}" if head is not None else "")
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


def _dedupe(entries):
    seen = set()
    out = []
    for layer, head, u in entries:
        if (layer, head) not in seen:
            seen.add((layer, head))
            out.append((layer, head, u))
    return out
