from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..core.architectures import MODELS

from .perturbation_inputs import build_guidance, head_grid_ui, perturbation_inputs, validate_heads_text
from .types import CATEGORY

MODE_AUTO = "auto (fastest)"
MODE_BATCHED = "batched (one forward)"
MODE_SEQUENTIAL = "sequential (like KSampler)"


class HeadHunterGuider(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterGuider",
            display_name="HeadHunter Guider (CFG + PAG / SoftPAG)",
            category=CATEGORY,
            description=(
                "CFG plus head-level perturbed-attention guidance, as a GUIDER for SamplerCustomAdvanced. "
                "Same result as HeadHunter Perturbed Attention + KSampler with the same settings; the batched "
                "mode runs cond, uncond and the perturbed pass in one forward, which is faster when memory allows."
            ),
            inputs=[
                io.Model.Input("model", tooltip=MODELS + " model."),
                io.Conditioning.Input("positive", tooltip="Also the conditioning of the perturbed pass."),
                io.Conditioning.Input("negative", tooltip="The uncond of CFG; not used when cfg is 1."),
                io.Float.Input("cfg", default=4.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="Classifier-free guidance scale. 1 = no CFG (the uncond pass is skipped), as "
                               "the paper's search and FLUX dev."),
                *perturbation_inputs(),
                io.Combo.Input("mode", options=[MODE_AUTO, MODE_BATCHED, MODE_SEQUENTIAL], default=MODE_AUTO,
                               tooltip="batched: cond, uncond and perturbed in ONE forward (only the perturbed "
                               "rows are perturbed). sequential: a separate perturbed forward, exactly the "
                               "KSampler path; on DiTs it starts at the first perturbed layer, reusing the cond "
                               "pass below it (not on U-Nets: their skip connections carry every input block onward). auto: sequential when that skips a third of the model or more (e.g. "
                               "the paper's FLUX heads, all in late single blocks) or on the CPU, else batched."),
            ],
            outputs=[io.Guider.Output()],
        )

    @classmethod
    def validate_inputs(cls, heads="") -> bool | str:
        # Naming only `heads` keeps ComfyUI's own range and option checks on every other input.
        return validate_heads_text(heads)

    @classmethod
    def execute(cls, model, positive, negative, cfg, heads, scale, softpag_u, start_percent, end_percent, rescale,
                perturb_tokens, mode, head_set=None) -> io.NodeOutput:
        guidance = build_guidance(model, heads, scale, softpag_u, start_percent, end_percent, rescale,
                                  perturb_tokens, head_set)
        batched = guidance.batching_pays(model.load_device) if mode == MODE_AUTO else mode == MODE_BATCHED
        guider = comfy.samplers.CFGGuider(guidance.patch(model, batched=batched))
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return io.NodeOutput(guider, ui=head_grid_ui(guidance.layout, head_set))
