"""The pack's one custom socket type: a head set (``core.heads.HeadSet``)."""
from comfy_api.latest import io

HeadSetType = io.Custom("HEADHUNTER_HEAD_SET")

# A search objective (core.objectives.Objective): scores images against their prompts.
ObjectiveType = io.Custom("HEADHUNTER_OBJECTIVE")
