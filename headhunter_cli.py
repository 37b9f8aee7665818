#!/usr/bin/env python3
"""HeadHunter search and sweep without the UI, for multi-hour GPU jobs.

    python headhunter_cli.py --comfyui ~/ComfyUI search --checkpoint sd3_medium_incl_clips.safetensors \\
        --objective PickScore --prompts-file prompts.txt --style "golden hour" --k 3 --rounds 5 --run-name golden

Loads ComfyUI from --comfyui (its model folders, extra_model_paths.yaml if given, this pack the way
ComfyUI loads it) and runs the same code as the HeadHunter Search / Sweep nodes. Model files are
named as in ComfyUI's loaders. Ctrl-C stops a search; the same command resumes it from its
checkpoint. Under torchrun the search spreads over the processes (search/distributed.py).
Run with --help, or see docs/search.md.
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import importlib.util
import logging
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent


def _global_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """Options about ComfyUI itself; accepted before or after the subcommand."""
    default = {"default": argparse.SUPPRESS} if suppress else {}
    p.add_argument("--comfyui", type=Path, help="ComfyUI folder (the one holding main.py); required.", **default)
    p.add_argument("--cpu", action="store_true", help="Run on the CPU.", **default)
    p.add_argument("--extra-model-paths", type=Path, help="An extra_model_paths.yaml, as ComfyUI's option.", **default)
    p.add_argument("--output-dir", type=Path, help="Where run folders go (default: ComfyUI's output folder).",
                   **default)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="HeadHunter head search and sweeps, headless.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _global_options(p, suppress=False)
    # The same options on each subcommand, without defaults there, so that a value given after the
    # subcommand counts and one given before is not reset.
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (("search", "find heads for an objective (Algorithm 1)"),
                            ("sweep", "one image per head of a range")):
        s = sub.add_parser(name, help=help_text, parents=[common],
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        models = s.add_argument_group("models (file names inside ComfyUI's model folders, or paths)")
        models.add_argument("--checkpoint", help="A checkpoint with model, text encoders and VAE (models/checkpoints).")
        models.add_argument("--unet", help="A diffusion model (models/diffusion_models) instead of --checkpoint.")
        models.add_argument("--weight-dtype", default="default", choices=["default", "fp8_e4m3fn", "fp8_e5m2"],
                            help="Weight dtype of --unet, as UNETLoader.")
        models.add_argument("--clip", action="append", default=[],
                            help="Text encoder file (models/text_encoders); repeat for SD3 (clip_l, clip_g, t5xxl) "
                            "or FLUX (clip_l, t5xxl).")
        models.add_argument("--clip-type", default="sd3", help="Text encoder type for --clip: sd3 or flux.")
        models.add_argument("--vae", help="VAE file (models/vae); default: the checkpoint's.")
        gen = s.add_argument_group("generation")
        gen.add_argument("--steps", type=int, default=20, help="Sampling steps (1-10000).")
        gen.add_argument("--sampler", default="euler", help="One of ComfyUI's samplers, as in KSampler.")
        gen.add_argument("--scheduler", default="simple", help="One of ComfyUI's schedulers, as in KSampler.")
        gen.add_argument("--scale", type=float, default=3.0, help="Perturbation scale w (paper: 3 SD3, 8 FLUX).")
        gen.add_argument("--softpag-u", type=float, default=1.0, help="SoftPAG u of perturbed heads.")
        gen.add_argument("--cfg", type=float, default=1.0, help="CFG scale; 1 = off (the paper's search).")
        gen.add_argument("--guidance", type=float, help="FLUX guidance embedding (FluxGuidance).")
        gen.add_argument("--width", type=int, default=1024, help="Image width (16-16384).")
        gen.add_argument("--height", type=int, default=1024, help="Image height (16-16384).")
        gen.add_argument("--batch-candidates", type=int, default=4 if name == "search" else 8,
                         help="Candidate head sets per batched forward.")
        s.add_argument("--target", default="identity",
                       help="Perturbation target of heads whose text names none: identity, uniform, mean_query, "
                       "seg(<sigma>), temperature(<t>), max (docs/targets.md).")
        if name == "search":
            s.add_argument("--objective", default="PickScore", choices=["PickScore", "CLIPScore"],
                           help="What the search maximises.")
            s.add_argument("--objective-model", default="",
                           help="Folder under models/headhunter_objectives, or a path (default per objective).")
            s.add_argument("--template", default="", help="Scoring text template ({prompt}, {style}, {content}).")
            s.add_argument("--prompt", action="append", default=[], help="A content prompt (repeatable).")
            s.add_argument("--prompts-file", type=Path, help="Content prompts, one per line.")
            s.add_argument("--style", action="append", default=[], help="A style (repeatable).")
            s.add_argument("--seeds", default="", help="'0,1,2': every prompt with each seed (default: seed = index).")
            s.add_argument("--k", type=int, default=3, help="Heads added per round.")
            s.add_argument("--rounds", type=int, default=5, help="Rounds R.")
            s.add_argument("--candidates", default="", help="Head text of the pool (default: every head).")
            s.add_argument("--run-name", default="headhunter_search",
                           help="Names the run folder and the preset search/<run name>; the same name resumes.")
            s.add_argument("--family", default="auto", help="Model family written into the preset (auto: from the "
                           "model's size).")
            s.add_argument("--overwrite", action="store_true",
                           help="Replace a preset search/<run name> that this search did not write.")
            s.add_argument("--search-targets", default="",
                           help="Also search over targets, e.g. 'identity, uniform, seg(4)': every candidate head "
                           "with every listed target, a head chosen at most once with its best target (recorded in "
                           "the preset). Empty: heads only.")
        else:
            s.add_argument("--prompt", required=True, help="The prompt of every image.")
            s.add_argument("--seed", type=int, default=0, help="The seed of every image (0 to 2^64 - 1).")
            s.add_argument("--heads", default="L0", help="Head text of the range to sweep.")
            s.add_argument("--mode", default="per head", choices=["per head", "per layer", "per target", "per u",
                                                                   "per scale", "per head set"],
                           help="The columns; per target / u / scale / head set take --values.")
            s.add_argument("--values", default="", help="Column values, e.g. 'identity, uniform, seg(4)' or '0.5, 1'.")
            s.add_argument("--rows", default="none", choices=["none", "per head", "per layer", "per target", "per u",
                                                              "per scale", "per head set"], help="An optional second axis.")
            s.add_argument("--row-values", default="", help="Row values, written as --values.")
            s.add_argument("--no-baseline", action="store_true", help="Leave out the image with no heads.")
            s.add_argument("--columns", type=int, default=8, help="Images per row of the grid.")
            s.add_argument("--out", type=Path, required=True, help="PNG file for the grid.")
            s.add_argument("--overwrite", action="store_true", help="Replace --out if it exists.")
    return p


def load_comfyui(args) -> str:
    """ComfyUI from --comfyui, and this pack in it (comfy_host/loading.py); the pack's module name."""
    if args.extra_model_paths and not args.extra_model_paths.expanduser().is_file():
        raise SystemExit(f"error: --extra-model-paths: {args.extra_model_paths} is not a file")
    loading = _standalone("comfy_host/loading.py")
    folders = {"output": args.output_dir} if args.output_dir else None
    try:
        return loading.load_comfyui(args.comfyui, cpu=args.cpu, extra_model_paths=args.extra_model_paths,
                                    folders=folders)
    except loading.ComfyUILoadError as e:
        raise SystemExit(f"error: {e}") from None


def _standalone(path: str):
    """A pack module that imports nothing of the pack, loaded by its path before ComfyUI exists."""
    spec = importlib.util.spec_from_file_location("headhunter_" + Path(path).stem, PACK_DIR / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def start_distributed(args):
    """This process's place in a torchrun launch (alone without one). search/distributed.py needs
    only torch: it is loaded before ComfyUI, so each process has chosen its GPU before ComfyUI looks."""
    return _standalone("search/distributed.py").start(args.command, cpu=args.cpu)


def model_path(folder: str, name: str) -> str:
    import folder_paths

    if Path(name).expanduser().is_file():
        return str(Path(name).expanduser())
    path = folder_paths.get_full_path(folder, name)
    if path is None:
        looked = ", ".join(folder_paths.get_folder_paths(folder))
        raise SystemExit(f"'{name}' is not in ComfyUI's {folder} folders ({looked}) and is not a file path")
    return path


def load_models(args):
    """The model, text encoders and VAE; a file that is not one gives an error naming it."""
    what = None

    def loading(kind: str, name: str):
        nonlocal what
        what = f"{kind} '{name}'"

    try:
        return _load_models(args, loading)
    except SystemExit:
        raise
    except Exception as e:  # not a model file, a truncated download, another model type
        raise SystemExit(f"error: could not load {what or 'the models'}: {type(e).__name__}: {e}") from None


def _load_models(args, loading):
    import comfy.sd
    import folder_paths
    import torch

    model = clip = vae = None
    files = {}
    if args.checkpoint:
        loading("--checkpoint", args.checkpoint)
        path = model_path("checkpoints", args.checkpoint)
        model, clip, vae = comfy.sd.load_checkpoint_guess_config(
            path, output_vae=True, output_clip=True,
            embedding_directory=folder_paths.get_folder_paths("embeddings"))[:3]
        files["checkpoint"] = args.checkpoint
    if args.unet:
        loading("--unet", args.unet)
        options = {} if args.weight_dtype == "default" else {"dtype": getattr(torch, args.weight_dtype.replace("fp8", "float8"))}
        model = comfy.sd.load_diffusion_model(model_path("diffusion_models", args.unet), model_options=options)
        files["diffusion_model"] = args.unet
    if args.clip:
        loading("--clip", ", ".join(args.clip))
        clip_type = getattr(comfy.sd.CLIPType, args.clip_type.upper(), None)
        if clip_type is None:
            raise SystemExit(f"unknown --clip-type '{args.clip_type}' (e.g. sd3, flux)")
        clip = comfy.sd.load_clip([model_path("text_encoders", c) for c in args.clip],
                                  embedding_directory=folder_paths.get_folder_paths("embeddings"), clip_type=clip_type)
        files["text_encoders"] = list(args.clip)
    if args.vae:
        import comfy.utils

        loading("--vae", args.vae)
        vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(model_path("vae", args.vae)))
        files["vae"] = args.vae
    missing = [what for what, obj in (("a diffusion model (--checkpoint or --unet)", model),
                                      ("text encoders (--checkpoint or --clip)", clip),
                                      ("a VAE (--checkpoint or --vae)", vae)) if obj is None]
    if missing:
        raise SystemExit("error: missing " + ", ".join(missing))
    return model, clip, vae, files


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "comfyui", None) is None:
        parser.error("--comfyui is required (the ComfyUI folder; before or after the subcommand)")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    workers = start_distributed(args)
    package = load_comfyui(args)
    try:
        return run(args, package, workers)
    except KeyboardInterrupt as e:  # Ctrl-C; under torchrun also a lost process (distributed.RunStopped)
        print(f"\n{e or 'Interrupted.'} Run the same command again to resume from the last checkpoint.",
              file=sys.stderr)
        return 130
    except (OSError, ValueError, KeyError) as e:  # bad input, missing files, a checkpoint of another run
        message = e.strerror + (f": {e.filename}" if e.filename else "") if isinstance(e, OSError) and e.strerror \
            else str(e)
        print(f"error: {message}", file=sys.stderr)
        return 2
    finally:
        workers.close()


def run(args, package: str, workers=None) -> int:
    pack = lambda name: importlib.import_module(f"{package}.{name}")
    objectives_core = pack("core.scoring")
    prompts_glue = pack("search.prompts")
    generation = pack("search.generation")
    settings = generation.SamplingSettings(
        steps=args.steps, sampler=args.sampler, scheduler=args.scheduler, scale=args.scale, cfg=args.cfg,
        width=args.width, height=args.height)
    extras = {"guidance": args.guidance} if args.guidance is not None else None

    # Every input is checked here, before models are loaded and long before the first image.
    if args.command == "search":
        contents = list(args.prompt)
        if args.prompts_file:
            contents += objectives_core.text_lines(read_text(args.prompts_file, "--prompts-file"))
        prompts = objectives_core.prompt_grid(contents, args.style, objectives_core.parse_seeds(args.seeds))
        search = pack("search.search_job")
        job = search.SearchJob(
            model=None, vae=None, objective=None, prompts=prompts, conditionings=[], settings=settings,
            softpag_u=args.softpag_u, k=args.k, rounds=args.rounds, candidates=args.candidates,
            batch_candidates=args.batch_candidates, run_name=args.run_name, family=args.family,
            presets_folder=pack("comfy_host.preset_store").save_folder(), overwrite=args.overwrite, target=args.target,
            search_targets=args.search_targets)
        search.check_inputs(job)
        objective = pack("search.clip_objectives").load_objective(args.objective, args.objective_model, args.template)
    else:
        prompts = [objectives_core.SearchPrompt(args.prompt, seed=args.seed)]
        pack("search.sweep_job").check_sweep_inputs(args.seed, args.heads, args.mode, settings, args.softpag_u,
                                                args.batch_candidates, args.columns, args.rows, args.target)
        if args.out.exists() and not args.overwrite:
            raise ValueError(f"--out {args.out} already exists: add --overwrite to replace it, or name another file")
    model, clip, vae, files = load_models(args)
    conditionings = prompts_glue.prompt_conditionings(prompts, clip, extras=extras)
    negative = prompts_glue.negative_conditioning(args.cfg, clip)
    if args.command == "search":
        result = search.run_search(dataclasses.replace(
            job, model=model, vae=vae, objective=objective, conditionings=conditionings, negative=negative,
            provenance={"files": files}, workers=workers))
        if result is not None:  # rank 0 of a distributed run prints (and wrote) the result
            print(f"heads: {result.head_set.to_text()}")
            print(f"run folder: {result.run_dir}\npreset: {result.preset_path}")
    else:
        grid, _ = pack("search.sweep_job").run_sweep(
            model, vae, conditionings[0], args.seed, args.heads, args.mode, settings, args.softpag_u,
            args.batch_candidates, not args.no_baseline, args.columns, negative=negative, values=args.values,
            y_axis=args.rows, y_values=args.row_values, target=args.target)
        pack("search.search_job").save_png(args.out, grid[0])
        print(f"grid: {args.out}")
    return 0


def read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(f"{option} {path} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ValueError(f"{option} {path}: {e.strerror or e}") from None


if __name__ == "__main__":
    sys.exit(main())
