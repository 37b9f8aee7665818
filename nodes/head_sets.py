"""Head-set nodes: typed heads into a head set, the official search's result file into a head set,
and combining two head sets."""
from __future__ import annotations

from comfy_api.latest import io

from ..core.architectures import ARCHITECTURES
from ..core.model_layout import numbering_help
from ..core.head_aliases import has_aliases
from ..core.heads import HeadSet
from ..core.official_heads import read_official_heads
from ..core.head_set_algebra import combine, with_default_u
from ..core.setting_ranges import SOFTPAG_U
from .perturbation_inputs import validate_heads_text
from .ranged_inputs import ranged_input
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
                ranged_input(
                    "default_u", SOFTPAG_U, 1.0, optional=True, force_input=True,
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


FAMILY_UNKNOWN = "unknown"


class HeadHunterImportOfficialHeads(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterImportOfficialHeads",
            display_name="HeadHunter Import Official Heads",
            category=CATEGORY,
            description=(
                "The heads found by the paper's own search code (cvlab-kaist/HeadHunter): paste its "
                "final_perturb_heads.txt (one 'layer,head' per line) to get a head set, in the file's order. Save "
                "it with HeadHunter Save Preset to keep it as a preset; its provenance says where it came from."
            ),
            inputs=[
                io.String.Input("text", multiline=True, default="", placeholder="14,13\n0,2\n1,10",
                                tooltip="The contents of final_perturb_heads.txt: one 'layer,head' per line, 0-based "
                                "(FLUX: double blocks 0-18, then single blocks 19-56). Blank lines and lines "
                                "starting with # are skipped."),
                io.String.Input("source", default="final_perturb_heads.txt",
                                tooltip="Where the file came from (its path or run name), recorded as provenance."),
                io.Combo.Input("family", options=[FAMILY_UNKNOWN] + [f for a in ARCHITECTURES for f in a.variants],
                               default=FAMILY_UNKNOWN,
                               tooltip="The model the search ran on; its heads are then checked against the model "
                               "they are applied to (needed to save a preset)."),
                ranged_input("u", SOFTPAG_U, 1.0,
                             tooltip="SoftPAG strength given to every imported head (1 = PAG, as the search)."),
            ],
            outputs=[HeadSetType.Output("head_set", display_name="head_set", tooltip="The imported heads, in the file's order, with where they came from.")],
        )

    @classmethod
    def validate_inputs(cls, text="", source="final_perturb_heads.txt") -> bool | str:
        try:
            read_official_heads(text, source or "final_perturb_heads.txt")
        except ValueError as e:
            return str(e)
        return True

    @classmethod
    def execute(cls, text, source, family, u) -> io.NodeOutput:
        head_set = read_official_heads(text, source or "final_perturb_heads.txt",
                                       None if family == FAMILY_UNKNOWN else family)
        return io.NodeOutput(with_default_u(head_set, u))
