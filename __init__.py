"""HeadHunter: head-level perturbed-attention guidance (PAG, SoftPAG, HeadHunter) for ComfyUI.

ComfyUI imports this file under a mangled module name, so everything below uses relative
imports, and the pack's own ``nodes/`` folder is never put on sys.path.
"""
from typing_extensions import override

from comfy_api.latest import ComfyExtension, io

from .nodes.guider import HeadHunterGuider
from .nodes.head_sets import HeadHunterCombine, HeadHunterHeads
from .nodes.perturbed_attention import HeadHunterPerturbedAttention
from .nodes.presets import HeadHunterPreset, HeadHunterSavePreset

WEB_DIRECTORY = "./web"


class HeadHunterExtension(ComfyExtension):
    @override
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        return [
            HeadHunterPerturbedAttention,
            HeadHunterGuider,
            HeadHunterPreset,
            HeadHunterHeads,
            HeadHunterCombine,
            HeadHunterSavePreset,
        ]


async def comfy_entrypoint() -> HeadHunterExtension:
    return HeadHunterExtension()
