"""HeadHunter: head-level perturbed-attention guidance (PAG, SoftPAG, HeadHunter) for ComfyUI.

ComfyUI imports this file under a mangled module name, so everything below uses relative
imports, and the pack's own ``nodes/`` folder is never put on sys.path.
"""
import sys

from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .http_api.routes import register_with_comfyui
from .nodes.guider import HeadHunterGuider
from .nodes.head_sets import HeadHunterCombine, HeadHunterHeads, HeadHunterImportOfficialHeads
from .nodes.objective_nodes import HeadHunterObjectiveCombine, HeadHunterObjectiveLoader
from .nodes.perturbed_attention import HeadHunterPerturbedAttention
from .nodes.preset_nodes import HeadHunterPreset, HeadHunterSavePreset
from .nodes.search_node import HeadHunterSearch
from .nodes.sweep_node import HeadHunterSweep

WEB_DIRECTORY = "./web"

# The head-grid widget's routes (/headhunter/...), when ComfyUI runs its server: main.py imports
# ComfyUI's ``server`` module and creates the PromptServer before it loads custom nodes.
register_with_comfyui(sys.modules.get("server"))


class HeadHunterExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [
            HeadHunterPerturbedAttention,
            HeadHunterGuider,
            HeadHunterPreset,
            HeadHunterHeads,
            HeadHunterCombine,
            HeadHunterImportOfficialHeads,
            HeadHunterSavePreset,
            HeadHunterSearch,
            HeadHunterSweep,
            HeadHunterObjectiveLoader,
            HeadHunterObjectiveCombine,
        ]


async def comfy_entrypoint() -> HeadHunterExtension:
    return HeadHunterExtension()
