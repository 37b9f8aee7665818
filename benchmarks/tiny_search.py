"""The search benchmarks' common setup: a real ComfyUI, a tiny random SD3 and a cheap objective.

The model is ComfyUI's own MMDiT loaded by UNETLoader and the VAE a TAESD-type one, both from the
test helpers (tests/support). The objective is a stand-in (mean brightness): the benchmarks measure
generation, which dominates a search's time.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

SUPPORT = Path(__file__).resolve().parents[1] / "tests" / "support"


def load_pack(comfyui, cpu: bool = True) -> str:
    """ComfyUI from ``comfyui`` with the pack loaded, as the tests load it; the pack's module name."""
    sys.path.insert(0, str(SUPPORT))
    import hh_pack

    return hh_pack.load_host(Path(comfyui), cpu=cpu)


def tiny_search(package: str, depth: int, size: int, steps: int, prompts: int):
    """(the greedy search module, the head pool, evaluate(candidates) -> scores) on a tiny SD3 with
    ``depth`` layers of ``depth`` heads, ``prompts`` prompt-seed images per candidate."""
    import hh_host
    import hh_pack
    import hh_search

    pack = lambda name: hh_pack.pack_module(name, package)
    gen, scoring = pack("search.generation"), pack("core.scoring")
    model = hh_host.load_with_unet_loader(hh_host.tiny_sd3_file(Path(tempfile.mkdtemp()), depth=depth))
    grid = scoring.prompt_grid([f"prompt {i}" for i in range(prompts)], [])
    settings = gen.SamplingSettings(steps=steps, sampler="euler", scheduler="simple", scale=3.0, cfg=1.0,
                                    width=size, height=size)
    renderer = gen.CandidateRenderer(model, hh_search.tiny_vae(), hh_search.prompt_conditionings(len(grid)),
                                     [q.seed for q in grid], settings)
    pool = [(layer, head) for layer in range(depth) for head in range(depth)]

    def evaluate(candidates):
        images = renderer.images([[(l, h, 1.0) for l, h in c] for c in candidates])
        return images.mean(dim=(1, 2, 3, 4)).tolist()

    return pack("core.greedy_search"), pool, evaluate
