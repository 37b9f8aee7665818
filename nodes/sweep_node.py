from __future__ import annotations

from comfy_api.latest import io

from ..core.scoring import SearchPrompt
from ..search.prompts import negative_conditioning, prompt_conditionings
from ..search.sweep_job import AXES, NO_AXIS, PER_HEAD, run_sweep
from .perturbation_inputs import validate_target_text
from .search_inputs import check_head_text, conditioning_inputs, sampling_inputs, settings_from
from .types import CATEGORY


class HeadHunterSweep(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterSweep",
            display_name="HeadHunter Sweep (XY grid: heads, targets, u, scale)",
            category=CATEGORY,
            description=(
                "Explores what single heads do, like the paper's per-head figures: the same prompt and seed, one "
                "image per head (or per layer) of a range, each with only that head perturbed, labelled L<layer>H"
                "<head>. Heads that steer lighting, colour, texture or style stand out side by side. Also an XY "
                "plot: columns and rows over heads, layers, targets (identity, uniform, seg(4)...), SoftPAG u, "
                "guidance scale, or whole head sets, batched like the search."
            ),
            inputs=[
                *conditioning_inputs(sweep=True),
                io.String.Input("prompt", multiline=True, default="a cat sitting on a windowsill",
                                tooltip="The prompt of every image (encoded with the CLIP; without a CLIP the "
                                "positive conditioning is used)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, tooltip="The seed of every image."),
                io.String.Input("heads", default="L0",
                                tooltip="The range to sweep, in head text: 'L0' (every head of layer 0), "
                                "'L0-3H0-7', 'L14H13, L1H10'. Per layer: the heads named in each layer together."),
                io.Combo.Input("mode", options=list(AXES), default=PER_HEAD,
                               tooltip="The columns. per head: one image per head of 'heads'. per layer: one image per "
                               "layer with all its named heads perturbed (layer-level PAG). per target / per u / "
                               "per scale: 'heads' perturbed together, one image per value in 'values'. per head "
                               "set: one image per head text in 'values', separated by |."),
                *sampling_inputs(batch_default=8, sweep=True),
                io.Boolean.Input("include_baseline", default=True,
                                 tooltip="Put the image with no head perturbed first, to compare against."),
                io.Int.Input("columns", default=8, min=1, max=64,
                             tooltip="Images per row of the grid (with rows: one column per value of mode)."),
                io.String.Input("values", default="",
                                tooltip="Values of the columns when mode is not per head / per layer: targets "
                                "'identity, uniform, mean_query, seg(4), temperature(2), max'; u '0.25, 0.5, 1'; "
                                "scale '1, 3, 5'; head sets 'L1H10 | L14H13, L0H2 | L5'."),
                io.Combo.Input("rows", options=[NO_AXIS, *AXES], default=NO_AXIS,
                               tooltip="An optional second axis, one row per value: targets, u, scale, or heads / "
                               "head sets when the columns are not heads."),
                io.String.Input("row_values", default="", tooltip="Values of the rows, written as 'values'."),
                io.String.Input("target", default="identity",
                                tooltip="Target of heads whose text names none (core targets: identity, uniform, "
                                "mean_query, seg(<sigma>), temperature(<t>), max)."),
            ],
            outputs=[
                io.Image.Output("grid", display_name="grid", tooltip="All images in one labelled grid."),
                io.Image.Output("images", display_name="images",
                                tooltip="The labelled images as a batch, in sweep order."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, heads="L0", target="identity", **kwargs) -> bool | str:
        checked = check_head_text(heads, "heads")
        return validate_target_text(target) if checked is True else checked

    @classmethod
    def execute(cls, model, vae, prompt, seed, heads, mode, steps, sampler, scheduler, scale, softpag_u, cfg, width,
                height, batch_candidates, include_baseline, columns, clip=None, positive=None,
                negative=None, values="", rows=NO_AXIS, row_values="", target="identity") -> io.NodeOutput:
        (conditioning,) = prompt_conditionings([SearchPrompt(prompt, seed=seed)], clip, positive, size=(width, height))
        grid, images = run_sweep(
            model, vae, conditioning, seed, heads, mode,
            settings_from(steps, sampler, scheduler, scale, cfg, width, height), softpag_u, batch_candidates,
            include_baseline, columns, negative=negative_conditioning(cfg, clip, negative, size=(width, height)),
            node_id=cls.hidden.unique_id if cls.hidden else None, values=values, y_axis=rows,
            y_values=row_values, target=target)
        return io.NodeOutput(grid, images)
