"""headhunter_cli.py's `search`, as the distributed tests launch it (under torchrun, or alone).

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/support/hh_dist_search.py \\
        --comfyui ... --cpu --output-dir ... search --unet tiny.safetensors --vae tiny_vae.safetensors ...

Runs the command line's own main(): distributed start, ComfyUI and the pack loaded as the command
does, the diffusion model (--unet) and VAE (--vae) read by ComfyUI's loaders, the objective
(--objective-model) by transformers. Only the text encoders are stood in for: a real SD3 text
encoder is far too big for the test machine, so each prompt gets a seeded random conditioning
(hh_search.prompt_conditionings, as the in-process search tests).

HH_DIST_TEST_HOOK="rank,call,action" acts on that rank's call-th scoring call: `interrupt` raises
KeyboardInterrupt (a deterministic stop); `pause` writes the process id to HH_DIST_TEST_PIDFILE and
sleeps, for the test to kill or to be left hanging. The preset goes to HH_DIST_TEST_PRESETS,
ComfyUI's temp, input and user folders into HH_DIST_TEST_SCRATCH. Each process prints how many candidates' images
it scored ("[hh-dist] rank R scored N images").
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the pack folder: headhunter_cli
import headhunter_cli as cli  # noqa: E402


def _hook():
    text = os.environ.get("HH_DIST_TEST_HOOK", "")
    if not text:
        return None
    rank, call, action = text.split(",")
    return int(rank), int(call), action


class HookedObjective:
    """The loaded objective, counting its calls; the hook above acts on one of them."""

    def __init__(self, objective):
        self.objective = objective
        self.rank = int(os.environ.get("RANK", "0"))
        self.calls = 0
        self.images = 0
        self.name = objective.name

    def score(self, images, prompts):
        self.calls += 1
        hook = _hook()
        if hook and hook[0] == self.rank and hook[1] == self.calls:
            if hook[2] == "interrupt":
                raise KeyboardInterrupt()
            Path(os.environ["HH_DIST_TEST_PIDFILE"]).write_text(str(os.getpid()))
            while True:
                time.sleep(1)
        self.images += len(images)
        return self.objective.score(images, prompts)

    def describe(self):
        return self.objective.describe()

    def release(self):
        print(f"[hh-dist] rank {self.rank} scored {self.images} images", flush=True)
        self.objective.release()


def scratch_folders(comfyui: str, scratch: Path) -> None:
    """ComfyUI's temp, input and user folders in the test's folder (the command line's
    --output-dir moves the output folder), set before any node is imported."""
    sys.path.insert(0, comfyui)
    import folder_paths

    for name in ("temp", "input", "user"):
        (scratch / name).mkdir(parents=True, exist_ok=True)
        getattr(folder_paths, f"set_{name}_directory")(str(scratch / name))


def main() -> int:
    scratch_folders(sys.argv[sys.argv.index("--comfyui") + 1], Path(os.environ["HH_DIST_TEST_SCRATCH"]))
    load_comfyui = cli.load_comfyui

    def load_comfyui_and_stand_in(args):
        package = load_comfyui(args)
        import importlib

        import comfy.sd
        import comfy.utils

        import hh_search

        objectives = importlib.import_module(f"{package}.search.clip_objectives")
        prompts = importlib.import_module(f"{package}.search.prompts")
        load_objective = objectives.load_objective
        objectives.load_objective = lambda *a, **kw: HookedObjective(load_objective(*a, **kw))
        prompts.prompt_conditionings = lambda ps, clip=None, positive=None, extras=None: \
            hh_search.prompt_conditionings(len(ps))

        def load_models(args):  # as the command's, less the text encoders
            model = comfy.sd.load_diffusion_model(cli.model_path("diffusion_models", args.unet))
            vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(cli.model_path("vae", args.vae)))
            return model, None, vae, {"diffusion_model": Path(args.unet).name, "vae": Path(args.vae).name}

        cli.load_models = load_models
        import folder_paths  # the preset goes to the test's folder, never into the ComfyUI tree

        folder_paths.folder_names_and_paths["headhunter_presets"] = ([os.environ["HH_DIST_TEST_PRESETS"]], {".json"})
        return package

    cli.load_comfyui = load_comfyui_and_stand_in
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
