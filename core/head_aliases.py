"""Block aliases in head text, as U-Net users name blocks: ``mid``, ``in4``, ``out1.2``.

``mid`` is every layer of the middle block, ``in<N>`` / ``out<N>`` ComfyUI's input / output block
ids, an optional ``.<t>`` the transformer index inside the block; each may be followed by
``H<range>``, ``:target`` and ``@u`` as flat tokens are (``midH0-4``, ``out1.2H5@0.5``, ``-in4``). An alias
means exactly the flat heads it names: once the model's layout is known, ``expand`` rewrites each
alias token into flat ``L`` tokens and ``core.heads`` reads the result. The aliases come from the
architecture table (``BlockGroup.alias``); other architectures have none.
"""
from __future__ import annotations

import re

from .architectures import ARCHITECTURES
from .model_layout import ModelLayout
from .heads import MAX_TOKEN, HeadRangeError, HeadSet, HeadSyntaxError

_NAMES = sorted({g.alias for a in ARCHITECTURES for g in a.groups if g.alias}, key=lambda n: (-len(n), n))
ALIAS_WORDS = tuple(_NAMES)
_ALIAS = re.compile(
    rf"^(?P<neg>-)?(?P<alias>{'|'.join(_NAMES)})(?P<block>\d+)?(?:\.(?P<index>\d+))?"
    r"(?P<rest>(?:H(?:\*|\d+(?:-\d+)?))?(?::[a-z_]+(?:\([^()]*\))?)?(?:@[^@]*)?)$",
    re.IGNORECASE,
)
_HEADS = re.compile(r"^H(\d+)(?:-(\d+))?", re.IGNORECASE)
_SEPARATORS = re.compile(r"([\s,;]+)")


def has_aliases(text: str) -> bool:
    return any(_ALIAS.match(t) for t in _SEPARATORS.split(text or "") if t)


def placeholder(text: str) -> str:
    """The text with each alias read as layer 0, to check the rest of its syntax without a model."""
    return _rewrite(text or "", lambda m, token: f"{m['neg'] or ''}L0{m['rest']}")


def check_syntax(text: str) -> None:
    """Raise HeadSyntaxError for text no model could read; aliases pass (they need the layout)."""
    HeadSet.parse(placeholder(text))


def expand(text: str, layout: ModelLayout) -> str:
    """The text with every alias token replaced by the flat tokens of ``layout`` it names."""
    return _rewrite(text or "", lambda m, token: _flat(m, token, layout))


def _rewrite(text: str, replace) -> str:
    parts = _SEPARATORS.split(text)
    for i, token in enumerate(parts):
        # An over-long token is left to core.heads, which refuses it by its length (and no block
        # number of thousands of digits is converted).
        m = _ALIAS.match(token) if token and len(token) <= MAX_TOKEN and not _SEPARATORS.fullmatch(token) else None
        if m is not None:
            parts[i] = replace(m, token)
    return "".join(parts)


def _flat(m: re.Match, token: str, layout: ModelLayout) -> str:
    alias = m["alias"].lower()
    if not layout.arch.aliases:
        raise HeadSyntaxError(
            f"'{token}': block aliases (mid, in<N>, out<N>) name U-Net blocks; {layout.name} has none: "
            f"write L<layer> (layers 0-{layout.layers - 1})."
        )
    group = next(g for g in layout.arch.groups if g.alias == alias)
    block = None if m["block"] is None else int(m["block"])
    index = None if m["index"] is None else int(m["index"])
    layers = layout.layers_named(alias, block, index)
    if not layers:
        raise HeadRangeError(f"'{token}': {layout.describe()} has no such layer; {_valid(layout, group)}.")
    heads = _HEADS.match(m["rest"])
    if heads is not None:
        top = int(heads[2] if heads[2] is not None else heads[1])
        for layer in layers:
            if top >= layout.heads_of(layer):
                raise HeadRangeError(
                    f"'{token}': head {top} is out of range for L{layer} ({layout.label_of(layer)}, heads "
                    f"0-{layout.heads_of(layer) - 1}) of {layout.describe()}."
                )
    # A block's layers are consecutive in the flat numbering.
    span = f"L{layers[0]}" if len(layers) == 1 else f"L{layers[0]}-{layers[-1]}"
    return f"{m['neg'] or ''}{span}{m['rest']}"


def _valid(layout: ModelLayout, group) -> str:
    blocks: dict[int, list[int]] = {}
    for layer in layout.layer_list:
        if layout.arch.groups[layer.group] is group:
            blocks.setdefault(layer.block, []).append(layer.index)
    if group.one_block:
        return f"'{group.alias}' has transformer indices 0-{len(blocks.get(0, [])) - 1}" if blocks else f"it has no {group.label}"
    names = ", ".join(f"{group.alias}{b}" + (f".0-{len(ts) - 1}" if len(ts) > 1 else "") for b, ts in blocks.items())
    return f"its {group.label} with attention are {names}" if names else f"it has no {group.label} with attention"
