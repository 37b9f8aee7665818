"""Reading the official implementation's search result, ``final_perturb_heads.txt`` (host-free).

The paper's code (cvlab-kaist/HeadHunter, ``pipeline_distributed.py``) writes the heads its search
selected, in the order it selected them, one ``layer,head`` per line (0-based, the numbering of
``core.architectures``: FLUX double blocks first, then single). This reads that text into a head
set that says where it came from, so that Save Preset records the provenance. Cost is bounded by
the text's size, checked first; every bad line is reported with its number and what is valid.
"""
from __future__ import annotations

import re

from .architectures import family_architecture
from .heads import MAX_HEADS, MAX_LAYERS, HeadNotes, HeadRangeError, HeadSet, HeadSyntaxError

MAX_BYTES = 64 * 1024  # the official file holds at most a few hundred short lines
_LINE = re.compile(r"^\s*(\d{1,6})\s*,\s*(\d{1,6})\s*$")
REFERENCE = "final_perturb_heads.txt of the official HeadHunter implementation (cvlab-kaist/HeadHunter)"


def read_official_heads(text: str, source: str = "final_perturb_heads.txt", family: str | None = None) -> HeadSet:
    """The heads of a ``final_perturb_heads.txt`` (its text), in the file's order, with provenance.

    ``family``: the model family the search ran on (e.g. 'sd3-medium'), recorded with the heads so
    that they are checked against the model they are applied to."""
    text = text or ""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BYTES:
        raise HeadSyntaxError(f"{source}: {size} bytes is too large for a final_perturb_heads.txt "
                              f"(at most {MAX_BYTES}; the official file has one 'layer,head' per line)")
    arch = None
    if family:
        found = family_architecture(family)
        if found is None:
            raise ValueError(f"unknown model family '{family}'")
        arch = found.id
    pairs = []
    for number, line in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _LINE.match(line)
        if m is None:
            shown = line if len(line) <= 40 else line[:37] + "..."
            raise HeadSyntaxError(f"{source}, line {number}: '{shown}' is not 'layer,head' (two whole numbers, "
                                  "e.g. '14,13', as the official search writes them)")
        layer, head = int(m[1]), int(m[2])
        if layer >= MAX_LAYERS or head >= MAX_HEADS:
            raise HeadRangeError(f"{source}, line {number}: L{layer}H{head} is out of range (layers 0-{MAX_LAYERS - 1}, "
                                 f"heads 0-{MAX_HEADS - 1})")
        pairs.append((layer, head))
    if not pairs:
        raise HeadSyntaxError(f"{source}: no heads (expected one 'layer,head' per line)")
    provenance = {"source": "search", "reference": REFERENCE, "file": source}
    return HeadSet.from_pairs(pairs, name=source, arch=arch, family=family,
                              notes=HeadNotes(provenance=provenance))
