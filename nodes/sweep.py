from __future__ import annotations

from comfy_api.latest import io

from ..core.objectives import SearchPrompt
from ..search.prompts import negative_conditioning, prompt_conditionings
from ..search.sweep import PER_HEAD, PER_LAYER, run_sweep
from .search_inputs import check_head_text, conditioning_inputs, sampling_inputs, settings_from
from .types import CATEGORY


class HeadHunterSweep(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterSweep",
            display_name="HeadHunter Sweep (one image per head)",
            category=CATEGORY,
            description=(
                "Explores what single heads do, like the paper's per-head figures: the same prompt and seed, one "
                "image per head (or per layer) of a range, each with only that head perturbed, labelled L<layer>H"
                "<head>. Heads that steer lighting, colour, texture or style stand out side by side."
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
                io.Combo.Input("mode", options=[PER_HEAD, PER_LAYER], default=PER_HEAD,
                               tooltip="per head: one image per head. per layer: one image per layer with all its "
                               "named heads perturbed (layer-level PAG)."),
                *sampling_inputs(batch_default=8, sweep=True),
                io.Boolean.Input("include_baseline", default=True,
                                 tooltip="Put the image with no head perturbed first, to compare against."),
                io.Int.Input("columns", default=8, min=1, max=64, tooltip="Images per row of the grid."),
            ],
            outputs=[
                io.Image.Output("grid", display_name="grid", tooltip="All images in one labelled grid."),
                io.Image.Output("images", display_name="images",
                                tooltip="The labelled images as a batch, in sweep order."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def validate_inputs(cls, heads="L0", **kwargs) -> bool | str:
        return check_head_text(heads, "heads")

    @classmethod
    def execute(cls, model, vae, prompt, seed, heads, mode, steps, sampler, scheduler, scale, softpag_u, cfg, width,
                height, batch_candidates, include_baseline, columns, clip=None, positive=None,
                negative=None) -> io.NodeOutput:
        (conditioning,) = prompt_conditionings([SearchPrompt(prompt, seed=seed)], clip, positive, size=(width, height))
        grid, images = run_sweep(
            model, vae, conditioning, seed, heads, mode,
            settings_from(steps, sampler, scheduler, scale, cfg, width, height), softpag_u, batch_candidates,
            include_baseline, columns, negative=negative_conditioning(cfg, clip, negative, size=(width, height)),
            node_id=cls.hidden.unique_id if cls.hidden else None)
        return io.NodeOutput(grid, images)
