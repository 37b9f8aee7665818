from __future__ import annotations

from comfy_api.latest import io

from ..core.architectures import MODELS

from .perturbation_inputs import build_guidance, head_grid_ui, perturbation_inputs, validate_heads_text
from .types import CATEGORY


class HeadHunterPerturbedAttention(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterPerturbedAttention",
            display_name="HeadHunter Perturbed Attention (PAG / SoftPAG)",
            category=CATEGORY,
            description=(
                "Head-level perturbed-attention guidance (Ahn et al. 2025, 'Fine-Grained Perturbation Guidance "
                "via Attention Head Selection'). Each step runs one extra pass in which the chosen heads' "
                "attention maps become the identity (or move toward it, SoftPAG) and steers the image away from "
                "it. Single heads steer concepts: lighting, colour, texture, style; a whole layer is classic "
                "PAG. Works with KSampler and every sampler node. " + MODELS + "."
            ),
            inputs=[io.Model.Input("model", tooltip=MODELS + " model.")] + perturbation_inputs(),
            outputs=[io.Model.Output(tooltip="The model with the perturbed pass added (a clone).")],
        )

    @classmethod
    def validate_inputs(cls, heads="") -> bool | str:
        # Naming only `heads` keeps ComfyUI's own range and option checks on every other input.
        return validate_heads_text(heads)

    @classmethod
    def execute(cls, model, heads, scale, softpag_u, start_percent, end_percent, rescale, perturb_tokens,
                head_set=None) -> io.NodeOutput:
        guidance = build_guidance(model, heads, scale, softpag_u, start_percent, end_percent, rescale,
                                  perturb_tokens, head_set)
        return io.NodeOutput(guidance.patch(model, batched=False), ui=head_grid_ui(guidance.layout, head_set))
