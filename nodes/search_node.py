from __future__ import annotations

from comfy_api.latest import io

from ..core.architectures import ARCHITECTURES
from ..core.scoring import parse_seeds, prompt_grid, text_lines
from ..core.target_spec import parse_target_list
from ..search.prompts import negative_conditioning, prompt_conditionings
from ..search.search_job import SearchJob, check_preset_is_ours, check_run_name, run_search
from ..comfy_host.preset_store import save_folder
from .perturbation_inputs import validate_target_text
from .search_inputs import check_head_text, conditioning_inputs, sampling_inputs, settings_from
from .types import CATEGORY, HeadSetType, ObjectiveType

FAMILIES = ["auto"] + [f for arch in ARCHITECTURES for f in arch.variants]
EXAMPLE_PROMPTS = "a cat sitting on a windowsill\na lighthouse on a rocky coast\na bowl of fruit on a table\n" \
                  "a portrait of an old fisherman\na city street at night"


class HeadHunterSearch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterSearch",
            display_name="HeadHunter Search (find heads for an objective)",
            category=CATEGORY,
            description=(
                "Finds the attention heads whose perturbation best serves an objective (the paper's Algorithm 1): "
                "each round, every remaining head is tried on top of the heads already chosen by generating the "
                "prompt-seed images with perturbation guidance, and the k best by mean objective join the set. "
                "Long: rounds x heads x images generations (SD3: 576 heads). Shows progress and ETA, stops on "
                "Cancel, and resumes from its checkpoint when run again with the same run name and settings. "
                "Writes the preset (models/headhunter_presets/search/<run name>.json), a score map and pictures to "
                "output/headhunter_search/<run name>/."
            ),
            inputs=[
                *conditioning_inputs(),
                ObjectiveType.Input("objective", tooltip="What to maximise (HeadHunter Objective Loader)."),
                io.String.Input("prompts", multiline=True, default=EXAMPLE_PROMPTS,
                                tooltip="Content prompts, one per line. Image i uses seed i (the paper) unless "
                                "seeds are given."),
                io.String.Input("style", multiline=True, default="",
                                tooltip="Style text, e.g. 'golden hour, warm glow'. Prompts become '{style}, "
                                "{content}' (one line per style: every style x every content prompt). Empty: the "
                                "content prompts alone (general-quality search)."),
                io.String.Input("seeds", default="",
                                tooltip="Seeds like '0, 1, 2': every prompt with each seed. Empty: seed = index of "
                                "the content prompt, as in the paper."),
                io.Int.Input("k", default=3, min=1, max=4096,
                             tooltip="Heads added per round. The paper: 3 (style, 5 rounds), 24 (general, 1 round)."),
                io.Int.Input("rounds", default=5, min=1, max=1000,
                             tooltip="Rounds R; the result has k x R heads. No early stop."),
                *sampling_inputs(),
                io.String.Input("candidates", multiline=False, default="",
                                tooltip="Heads to consider, in head text (e.g. 'L0-11' or 'L5, L14H0-7'). Empty: "
                                "every head of the model."),
                io.String.Input("run_name", default="headhunter_search",
                                tooltip="Names the checkpoint folder and the preset. Running again with the same "
                                "name resumes (same settings only)."),
                io.Combo.Input("family", options=FAMILIES, default="auto",
                               tooltip="Model family written into the preset. auto: from the model (its size, "
                               "and for a 24x24 SD3 whether its joint blocks carry SD3.5-medium's extra image "
                               "attention)."),
                io.Boolean.Input("overwrite", default=False,
                                 tooltip="Replace a preset search/<run name> that this search did not write (e.g. "
                                 "one you saved under that name). Off: such a name is refused before the search."),
                io.String.Input("target", default="identity",
                                tooltip="Perturbation target of candidates whose text names none: identity (PAG, the "
                                "paper's search), uniform, mean_query, seg(<sigma>), temperature(<t>), max. A "
                                "candidate can name its own: 'L0-11:uniform'. The preset records the targets."),
                io.String.Input("search_targets", default="",
                                tooltip="Also search over targets: a list like 'identity, uniform, seg(4)'. Every "
                                "candidate head is then tried with every listed target; a head joins the set at "
                                "most once, with its best target, which the preset records. Costs one evaluation "
                                "per (head, target) pair. Empty: heads only, each with its own or the target "
                                "above. Candidates may not name targets when this is set."),
            ],
            outputs=[
                HeadSetType.Output("head_set", display_name="head_set",
                                   tooltip="The chosen heads in order, with their scores; plug into "
                                   "HeadHunter Perturbed Attention or the Guider."),
                io.String.Output("heads", display_name="heads", tooltip="The chosen heads as head text."),
                io.Image.Output("heatmap", display_name="heatmap",
                                tooltip="Per-head scores, one picture per round: rows are layers, "
                                "columns heads; the chosen heads are framed."),
                io.Image.Output("round_images", display_name="round_images",
                                tooltip="The prompt-seed images with no heads, then with the "
                                "heads chosen after each round, labelled with their scores."),
                io.String.Output("preset_path", display_name="preset_path", tooltip="Where the preset was written."),
            ],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, candidates="", run_name="headhunter_search", seeds="", overwrite=False,
                        target="identity", search_targets="", **kwargs) -> bool | str:
        checked = validate_target_text(target)
        if checked is not True:
            return checked
        try:
            parse_target_list(search_targets)
        except ValueError as e:
            return str(e)
        try:
            check_run_name(run_name)
            parse_seeds(seeds)
            check_preset_is_ours(save_folder(), run_name, bool(overwrite))
        except ValueError as e:
            return str(e)
        return check_head_text(candidates, "candidates")

    @classmethod
    def execute(cls, model, vae, objective, prompts, style, seeds, k, rounds, steps, sampler, scheduler, scale,
                softpag_u, cfg, width, height, batch_candidates, candidates, run_name, family, overwrite=False,
                clip=None, positive=None, negative=None, target="identity", search_targets="") -> io.NodeOutput:
        search_prompts = prompt_grid(text_lines(prompts), text_lines(style), parse_seeds(seeds))
        job = SearchJob(
            model=model, vae=vae, objective=objective, prompts=search_prompts,
            conditionings=prompt_conditionings(search_prompts, clip, positive, size=(width, height)),
            negative=negative_conditioning(cfg, clip, negative, size=(width, height)),
            settings=settings_from(steps, sampler, scheduler, scale, cfg, width, height),
            softpag_u=softpag_u, k=k, rounds=rounds, candidates=candidates, batch_candidates=batch_candidates,
            run_name=run_name, family=family, presets_folder=save_folder(), overwrite=overwrite,
            node_id=cls.hidden.unique_id if cls.hidden else None, target=target, search_targets=search_targets,
        )
        result = run_search(job)
        return io.NodeOutput(result.head_set, result.head_set.to_text(), result.heatmaps, result.round_grids,
                             str(result.preset_path))
