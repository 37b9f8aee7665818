"""A model's layout as the head-grid widget reads it: one plain dict, sent both by the HTTP routes
(``http_api``) and by the nodes' UI messages after a run (``nodes``), so it lives below both.

Host-free: everything comes from the architecture table (``core.architectures``).
"""
from __future__ import annotations

from .architecture_rows import NO_JOINT_TEXT
from .model_layout import ModelLayout
from .head_aliases import ALIAS_WORDS


def layout_payload(layout: ModelLayout, family: str | None = None) -> dict:
    """One grid: layers, heads per layer and the block groups (FLUX: double then single; U-Nets:
    input, middle, output) with their first layer. ``heads`` is the most any layer has."""
    groups, start = [], 0
    for group, size in zip(layout.arch.groups, layout.group_sizes):
        groups.append({"name": group.label, "key": group.patch_key, "start": start, "layers": size,
                       "alias": group.alias, "one_block": group.one_block})
        start += size
    return {
        "arch": layout.arch.id,
        "arch_name": layout.arch.display_name,
        "family": family,
        "layers": layout.layers,
        "heads": layout.heads,
        "heads_per_layer": [layout.heads_of(i) for i in range(layout.layers)],
        "layer_labels": [layout.label_of(i) for i in range(layout.layers)],
        # ComfyUI's patch key of each layer ([kind, block] / [block name, id, transformer index]),
        # from which a client can read U-Net block aliases (mid, in4, out1.2) as the server does.
        "layer_keys": [list(layout.block_of(i)) for i in range(layout.layers)],
        "groups": groups,
        # Every alias word head text knows (any architecture's): a client names them in its error
        # for a model without aliases, as core/head_aliases.py does.
        "alias_words": list(ALIAS_WORDS),
        "description": layout.describe(),
        # Whether the text is part of the attended sequence: mask(...) targets are refused where it
        # is not (core.heads.check_target_fits), by the widget's text check as by the nodes.
        "joint_text": layout.arch.token_order != NO_JOINT_TEXT,
    }
