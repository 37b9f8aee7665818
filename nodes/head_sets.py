"""Head-set nodes: typed heads into a head set, and combining two head sets."""
from __future__ import annotations

from comfy_api.latest import io

from ..core.head_aliases import has_aliases
from ..core.architectures import numbering_help
from ..core.heads import HeadSet
from ..core.presets import combine, with_default_u
from .perturbation_inputs import validate_heads_text
from .types import CATEGORY, HeadSetType

OPERATION_LABELS = {"union (a + b)": "union", "intersection (a & b)": "intersection", "difference (a - b)": "difference"}


class HeadHunterHeads(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterHeads",
            display_name="HeadHunter Heads",
            category=CATEGORY,
            description="Typed heads as a head set, to combine with presets or save as your own preset.",
            inputs=[
                io.String.Input(
                    "heads", multiline=True, default="", placeholder="L14H13, L0H2@0.5   |   L5   |   L3-5H0-7, -L4H2",
                    tooltip="0-based, as in the paper's figures: L<layer>H<head>; L5 or L5H* for a whole layer; "
                    "ranges L3-5H0-7; L14H13@0.5 sets u for one head; -L5H3 removes a head. Layers: " + numbering_help()
                    + " Block aliases (mid, in<N>, out<N>) need the model: type them in a guidance node.",
                ),
                io.Float.Input(
                    "default_u", optional=True, force_input=True, min=0.0, max=1.0,
                    tooltip="Optional SoftPAG u for heads without their own @u. Not connected: the guidance node's "
                    "softpag_u applies to them.",
                ),
            ],
            outputs=[HeadSetType.Output("head_set", display_name="head_set")],
        )

    @classmethod
    def validate_inputs(cls, heads="") -> bool | str:
        return validate_heads_text(heads)

    @classmethod
    def execute(cls, heads, default_u=None) -> io.NodeOutput:
        if has_aliases(heads):
            raise ValueError(f"'{heads}': block aliases (mid, in<N>, out<N>) need the model to be read; type "
                             "them in the heads box of a node that takes the model, or write L<layer> here.")
        head_set = HeadSet.parse(heads or "")
        if default_u is not None:
            head_set = with_default_u(head_set, default_u)
        return io.NodeOutput(head_set)


class HeadHunterCombine(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterCombine",
            display_name="HeadHunter Combine Head Sets",
            category=CATEGORY,
            description=(
                "Union, intersection or difference of two head sets. Head effects compose (the paper's Figs. 3, "
                "34-36: 'dark' + 'shearing' gives a dark, sheared image), so a union mixes two styles; a difference "
                "removes unwanted heads, e.g. a whole layer minus one head. Both sets must be for the same "
                "architecture."
            ),
            inputs=[
                HeadSetType.Input("a", tooltip="First head set; its per-head u wins where both give one."),
                HeadSetType.Input("b", tooltip="Second head set."),
                io.Combo.Input("operation", options=list(OPERATION_LABELS), default="union (a + b)",
                               tooltip="union: heads in a or b. intersection: heads in both. difference: heads of a "
                               "that are not in b."),
            ],
            outputs=[HeadSetType.Output("head_set", display_name="head_set")],
        )

    @classmethod
    def execute(cls, a, b, operation) -> io.NodeOutput:
        return io.NodeOutput(combine(a, b, OPERATION_LABELS[operation]))
