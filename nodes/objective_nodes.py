from __future__ import annotations

from pathlib import Path

from comfy_api.latest import io

from ..core.scoring import COMBINE_HARMONIC, COMBINE_SUM, CombinedObjective
from ..search.clip_objectives import DEFAULT_FOLDERS, FOLDER_KEY, KINDS, PICKSCORE, available_folders, load_objective
from .types import CATEGORY, ObjectiveType


class HeadHunterObjectiveLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        folders = sorted(set(available_folders()) | set(DEFAULT_FOLDERS.values()))
        return io.Schema(
            node_id="HeadHunterObjectiveLoader",
            display_name="HeadHunter Objective Loader (PickScore / CLIPScore)",
            category=CATEGORY,
            description=(
                "Loads what a HeadHunter search maximises, from a local folder only (never downloads): "
                f"models/{FOLDER_KEY}/<name>/ made with save_pretrained (a CLIP model and its processor). "
                "PickScore (the paper's default, a CLIP-H human-preference score, ~20) rewards images people "
                "prefer for the prompt; CLIPScore (0-100) rewards images that match a text such as "
                "'A photo depicts {style}, {content}', which steers a search toward a style."
            ),
            inputs=[
                io.Combo.Input("kind", options=list(KINDS), default=PICKSCORE,
                               tooltip="PickScore: yuvalkirstain/PickScore_v1 with the processor of "
                               "laion/CLIP-ViT-H-14-laion2B-s32B-b79K. CLIPScore: openai/clip-vit-large-patch14."),
                io.Combo.Input("model_folder", options=folders, default=DEFAULT_FOLDERS[PICKSCORE],
                               tooltip=f"A folder under models/{FOLDER_KEY}/ holding config.json, the weights, "
                               "preprocessor_config.json and the tokenizer files (docs/search.md says how to make it)."),
                io.String.Input("path", default="", optional=True,
                                tooltip="Absolute path of such a folder; overrides model_folder when set."),
                io.String.Input("template", default="", optional=True,
                                tooltip="Text each image is scored against: {prompt} = '{style}, {content}', also "
                                "{style} and {content}. Empty: '{prompt}' for PickScore, 'A photo depicts {prompt}' "
                                "for CLIPScore (the paper's)."),
            ],
            outputs=[ObjectiveType.Output("objective", display_name="objective", tooltip="For HeadHunter Search.")],
        )

    @classmethod
    def validate_inputs(cls, path="", **kwargs) -> bool | str:
        path = (path or "").strip()
        if path and not Path(path).expanduser().is_absolute():
            return f"path '{path}' is not absolute; give a full path, or pick a folder in model_folder"
        return True

    @classmethod
    def execute(cls, kind, model_folder, path="", template="") -> io.NodeOutput:
        return io.NodeOutput(load_objective(kind, (path or "").strip() or model_folder, template))


class HeadHunterObjectiveCombine(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterObjectiveCombine",
            display_name="HeadHunter Objective Combine",
            category=CATEGORY,
            description=(
                "Two objectives as one, like the paper's combined objectives: a weighted sum, or a weighted "
                "harmonic mean that only rewards images good on both (e.g. PickScore for quality and CLIPScore "
                "for the style)."
            ),
            inputs=[
                ObjectiveType.Input("objective_a", tooltip="First objective."),
                ObjectiveType.Input("objective_b", tooltip="Second objective."),
                io.Float.Input("weight_a", default=1.0, min=0.0, max=100.0, step=0.05, tooltip="Weight of A."),
                io.Float.Input("weight_b", default=1.0, min=0.0, max=100.0, step=0.05, tooltip="Weight of B."),
                io.Combo.Input("mode", options=[COMBINE_SUM, COMBINE_HARMONIC], default=COMBINE_SUM,
                               tooltip="weighted sum: w_a A + w_b B (mind the scales: PickScore ~20, CLIPScore "
                               "0-100). harmonic mean: (w_a + w_b) / (w_a/A + w_b/B), for positive scores."),
            ],
            outputs=[ObjectiveType.Output("objective", display_name="objective", tooltip="For HeadHunter Search.")],
        )

    @classmethod
    def validate_inputs(cls, weight_a=1.0, weight_b=1.0, **kwargs) -> bool | str:
        if weight_a + weight_b <= 0:
            return "weight_a and weight_b are both 0: give at least one objective a positive weight"
        return True

    @classmethod
    def execute(cls, objective_a, objective_b, weight_a, weight_b, mode) -> io.NodeOutput:
        return io.NodeOutput(CombinedObjective([(objective_a, weight_a), (objective_b, weight_b)], mode))
