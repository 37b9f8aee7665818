"""The pack's one custom socket type: a head set (``core.heads.HeadSet``)."""
from comfy_api.latest import io

HeadSetType = io.Custom("HEADHUNTER_HEAD_SET")

# Where every node of the pack sits in the node library.
CATEGORY = "advanced/guidance/HeadHunter"

# A search objective (core.scoring.Objective): scores images against their prompts.
ObjectiveType = io.Custom("HEADHUNTER_OBJECTIVE")
