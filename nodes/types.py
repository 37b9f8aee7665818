"""The pack's one custom socket type: a head set (``core.heads.HeadSet``)."""
from comfy_api.latest import io

HeadSetType = io.Custom("HEADHUNTER_HEAD_SET")
