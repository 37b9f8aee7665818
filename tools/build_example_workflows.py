"""Writes example_workflows/*.json (the editor's format) from the node definitions of a real ComfyUI.

    python tools/build_example_workflows.py --comfyui /path/to/ComfyUI [name ...]

Widget order, defaults, sockets and types come from the host's /object_info data, so a workflow
cannot name an input a node does not have. tests/host/test_example_workflows.py checks the files and
runs them; tests/browser/test_browser.py loads them in the editor. Run this again after changing a node's
inputs. Settings follow the paper (arXiv 2506.10978) where it gives them.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))

SD3_CHECKPOINT = "sd3_medium_incl_clips_t5xxlfp8.safetensors"
PROMPT = "a cozy wooden cabin at the edge of a pine forest, photograph"


def flux_loaders(w, top: int):
    """FLUX.1-dev's three files, stacked in the left column from `top`."""
    unet = w.add("UNETLoader", pos=(40, top), size=(380, 90), unet_name="flux1-dev.safetensors", weight_dtype="default")
    clip = w.add("DualCLIPLoader", pos=(40, top + 130), size=(380, 130), clip_name1="t5xxl_fp16.safetensors",
                 clip_name2="clip_l.safetensors", type="flux")
    vae = w.add("VAELoader", pos=(40, top + 300), size=(380, 60), vae_name="ae.safetensors")
    return unet, clip, vae


def decode_and_save(w, samples, vae, left: int, top: int, prefix: str) -> None:
    decoded = w.add("VAEDecode", pos=(left, top), size=(220, 50), samples=samples, vae=vae["VAE"])
    w.add("SaveImage", pos=(left, top + 100), size=(360, 370), images=decoded["IMAGE"], filename_prefix=prefix)


def sd3_ksampler(w, model, positive, negative, latent, pos, seed: int):
    """KSampler with the SD3 settings of the examples: 28 Euler steps, sgm_uniform, CFG 3 (Table 1)."""
    return w.add(
        "KSampler", pos=pos, size=(320, 270), model=model, positive=positive["CONDITIONING"],
        negative=negative["CONDITIONING"], latent_image=latent["LATENT"], seed=seed, steps=28, cfg=3.0,
        sampler_name="euler", scheduler="sgm_uniform", denoise=1.0,
    )


def sd3_perturbed_attention_ksampler(hw):
    w = hw.Workflow()
    w.note(
        "## HeadHunter on SD3 with KSampler\n"
        f"Needs **{SD3_CHECKPOINT}** (SD3-medium with its text encoders) in `models/checkpoints`.\n\n"
        "**HeadHunter Perturbed Attention** adds one extra pass per step in which the chosen heads' "
        "attention maps become the identity, and steers away from it. L14H7 is a head the paper shows "
        "amplifying *high resolution, fine detail* on SD3-medium (Fig. 32; label confidence medium).\n\n"
        "Click heads in the grid to try others (hover a cell for its name): L1H10 darker lighting, L0H23 blue, "
        "L14H17 rainbow neon, or the style presets. The paper pairs CFG 3 with HeadHunter scale 3 (Table 1); "
        "its single-head figures use scale 5. Lower **softpag_u** to 0.75 or 0.5 when colours oversaturate.",
        pos=(40, 40), size=(360, 300),
    )
    ckpt = w.add("CheckpointLoaderSimple", pos=(40, 380), size=(360, 100), ckpt_name=SD3_CHECKPOINT)
    positive = w.add("CLIPTextEncode", pos=(440, 40), size=(400, 160), title="Positive", text=PROMPT, clip=ckpt["CLIP"])
    negative = w.add("CLIPTextEncode", pos=(440, 240), size=(400, 120), title="Negative", text="", clip=ckpt["CLIP"])
    latent = w.add("EmptySD3LatentImage", pos=(440, 400), size=(320, 110), width=1024, height=1024, batch_size=1)
    guided = w.add(
        "HeadHunterPerturbedAttention", pos=(880, 40), size=(440, 780), title="HeadHunter: high-res detail head",
        model=ckpt["MODEL"], heads="L14H7", scale=3.0, softpag_u=1.0,
    )
    sampled = sd3_ksampler(w, guided["MODEL"], positive, negative, latent, (1360, 40), seed=42)
    decode_and_save(w, sampled["LATENT"], ckpt, 1360, 350, "headhunter_sd3")
    return w


def flux_guider_sampler_custom_advanced(hw):
    w = hw.Workflow()
    w.note(
        "## HeadHunter on FLUX.1-dev with SamplerCustomAdvanced\n"
        "Needs **flux1-dev.safetensors** (`models/diffusion_models`), **t5xxl_fp16.safetensors** and "
        "**clip_l.safetensors** (`models/text_encoders`), **ae.safetensors** (`models/vae`).\n\n"
        "**HeadHunter Guider** is CFG plus head-level perturbed-attention guidance as one GUIDER. FLUX-dev is "
        "guidance-distilled: keep cfg at 1 (the negative prompt is then unused) and set the look with FluxGuidance. "
        "FLUX layers 0-18 are double blocks, 19-56 single blocks (the line in the grid); every FLUX head the "
        "paper names sits in a single block (L34 and up). L35H8 is its *natural light, photorealistic* head "
        "(Figs. 33/35; label confidence medium).\n\n"
        "Scale 8 is the paper's FLUX head-level setting; lower **softpag_u** to 0.75-0.5 if it oversaturates.",
        pos=(40, 40), size=(380, 320),
    )
    unet, clip, vae = flux_loaders(w, 400)
    positive = w.add("CLIPTextEncode", pos=(460, 40), size=(380, 150), title="Positive", text=PROMPT, clip=clip["CLIP"])
    flux_guidance = w.add("FluxGuidance", pos=(460, 230), size=(380, 60), conditioning=positive["CONDITIONING"], guidance=3.5)
    negative = w.add("CLIPTextEncode", pos=(460, 330), size=(380, 100), title="Negative (unused at cfg 1)", text="",
                     clip=clip["CLIP"])
    guider = w.add(
        "HeadHunterGuider", pos=(880, 40), size=(580, 700), title="HeadHunter Guider: natural-light head",
        model=unet["MODEL"], positive=flux_guidance["CONDITIONING"], negative=negative["CONDITIONING"], cfg=1.0,
        heads="L35H8", scale=8.0, softpag_u=1.0,
    )
    sampler = w.add("KSamplerSelect", pos=(460, 480), size=(380, 60), sampler_name="euler")
    sigmas = w.add("BasicScheduler", pos=(460, 580), size=(380, 110), model=unet["MODEL"], scheduler="simple",
                   steps=20, denoise=1.0)
    noise = w.add("RandomNoise", pos=(460, 730), size=(380, 90), noise_seed=42)
    latent = w.add("EmptySD3LatentImage", pos=(460, 860), size=(380, 110), width=1024, height=1024, batch_size=1)
    sampled = w.add("SamplerCustomAdvanced", pos=(1500, 40), size=(300, 110), noise=noise["NOISE"],
                    guider=guider["GUIDER"], sampler=sampler["SAMPLER"], sigmas=sigmas["SIGMAS"],
                    latent_image=latent["LATENT"])
    decode_and_save(w, sampled[0], vae, 1500, 200, "headhunter_flux")
    return w


def two_style_presets_combined(hw):
    """Paper Fig. 35: FLUX's golden-hour head and its green-filter head together."""
    w = hw.Workflow()
    w.note(
        "## Two style presets combined\n"
        "Two **HeadHunter Preset** nodes, each one head the paper labels on FLUX.1-dev: *golden hour* (L38H18) "
        "and *green filter* (L52H12), both label confidence high. **HeadHunter Combine** joins them (union), and "
        "the guidance node perturbs both: head effects compose (the paper's Fig. 35 shows exactly this pair).\n\n"
        "Swap either preset from its list, or set the operation to *difference* to remove heads. The outlined "
        "cells in the grid are the presets' heads; hover them for their labels. Heads typed into the guidance "
        "node's own field are added to the presets'.\n\n"
        "Models as in the FLUX example: flux1-dev, t5xxl_fp16 + clip_l, ae.",
        pos=(40, 40), size=(380, 330),
    )
    unet, clip, vae = flux_loaders(w, 410)
    golden = w.add("HeadHunterPreset", pos=(460, 40), size=(380, 200), title="Preset: golden hour",
                   preset="flux.1-dev/heads/golden-hour-L38H18")
    green = w.add("HeadHunterPreset", pos=(460, 280), size=(380, 200), title="Preset: green filter",
                  preset="flux.1-dev/heads/green-filter-L52H12")
    combined = w.add("HeadHunterCombine", pos=(460, 520), size=(380, 80), a=golden[0], b=green[0],
                     operation="union (a + b)")
    positive = w.add("CLIPTextEncode", pos=(460, 640), size=(380, 150), title="Positive", text=PROMPT, clip=clip["CLIP"])
    flux_guidance = w.add("FluxGuidance", pos=(460, 830), size=(380, 60), conditioning=positive["CONDITIONING"],
                          guidance=3.5)
    guided = w.add(
        "HeadHunterPerturbedAttention", pos=(880, 40), size=(580, 640), title="HeadHunter: preset heads",
        model=unet["MODEL"], head_set=combined[0], heads="", scale=8.0, softpag_u=1.0,
    )
    negative = w.add("CLIPTextEncode", pos=(880, 720), size=(380, 100), title="Negative (unused at cfg 1)", text="",
                     clip=clip["CLIP"])
    latent = w.add("EmptySD3LatentImage", pos=(880, 860), size=(380, 110), width=1024, height=1024, batch_size=1)
    sampled = w.add(
        "KSampler", pos=(1500, 40), size=(320, 270), model=guided["MODEL"], positive=flux_guidance["CONDITIONING"],
        negative=negative["CONDITIONING"], latent_image=latent["LATENT"], seed=42, steps=20, cfg=1.0,
        sampler_name="euler", scheduler="simple", denoise=1.0,
    )
    decode_and_save(w, sampled["LATENT"], vae, 1500, 350, "headhunter_presets")
    return w


# The five content prompts of the paper's style search (Table 4); seed = index of the prompt.
STYLE_CONTENT_PROMPTS = "\n".join([
    "portrait of an elderly man with white hair, wearing a wool coat, looking into the distance",
    "young woman in a red dress, standing in the wind, eyes closed",
    "teenage boy with messy hair, wearing headphones, sitting on a rooftop",
    "smiling girl holding a cat, in a flower garden",
    "a man leaning against a brick wall, hands in pockets, calmly observing the street",
])


def head_sweep(hw):
    w = hw.Workflow()
    w.note(
        "## What does each head do? A head sweep\n"
        f"Needs **{SD3_CHECKPOINT}** in `models/checkpoints`.\n\n"
        "**HeadHunter Sweep** renders the same prompt and seed once per head of a range, each image with only "
        "that head perturbed and labelled with its name (`L14H7`), with the unguided image first: the paper's per-head "
        "figures (Figs. 3, 32), for your prompt. Here: all 24 heads of layer 14, the layer of the paper's "
        "*high-res detail*, *3D render* and *rainbow neon* heads, at the figures' scale 5.\n\n"
        "Pick the range in the grid (click a layer number for the whole layer) or type it (`L0-3H0-7`). "
        "*per layer* mode renders one image per layer instead (layer-level PAG). 25 images of 20 steps: a few "
        "minutes on a GPU; lower batch_candidates if memory runs out.",
        pos=(40, 40), size=(360, 360),
    )
    ckpt = w.add("CheckpointLoaderSimple", pos=(40, 440), size=(360, 100), ckpt_name=SD3_CHECKPOINT)
    sweep = w.add(
        "HeadHunterSweep", pos=(440, 40), size=(460, 880), model=ckpt["MODEL"], vae=ckpt["VAE"], clip=ckpt["CLIP"],
        prompt=PROMPT, seed=0, heads="L14", mode="per head", steps=20, sampler="euler", scheduler="sgm_uniform",
        scale=5.0, softpag_u=1.0, cfg=1.0, width=1024, height=1024, batch_candidates=8, include_baseline=True,
        columns=5,
    )
    w.add("SaveImage", pos=(940, 40), size=(640, 700), images=sweep["IMAGE"], filename_prefix="headhunter_sweep")
    return w


def head_search(hw):
    w = hw.Workflow()
    w.note(
        "## Find heads for a style: HeadHunter Search\n"
        f"Needs **{SD3_CHECKPOINT}** in `models/checkpoints` and a PickScore folder in "
        "`models/headhunter_objectives/PickScore_v1` (docs/search.md says how to make it once; nothing is "
        "downloaded at run time).\n\n"
        "The paper's style search (Algorithm 1): each round, every remaining head is tried on top of the heads "
        "already chosen, over the five content prompts with the style 'sunlit, warm glow, golden hour', and "
        "the 3 best by PickScore join the set; 5 rounds, scale 3, 20 Euler steps, no CFG. That is about 14,000 "
        "images on SD3-medium: hours even on a large GPU. It shows progress, stops on Cancel and resumes "
        "when queued again. To try it quickly, set candidates to a few layers (e.g. L0-3) and rounds to 1.\n\n"
        "The chosen heads go straight into HeadHunter Perturbed Attention; after a run its grid colours every "
        "evaluated head by its score. The score map (every head, each round) and the round images show the "
        "search itself; the result is also saved as a preset (models/headhunter_presets/search/).",
        pos=(40, 40), size=(380, 420),
    )
    ckpt = w.add("CheckpointLoaderSimple", pos=(40, 500), size=(380, 100), ckpt_name=SD3_CHECKPOINT)
    objective = w.add("HeadHunterObjectiveLoader", pos=(40, 640), size=(380, 130), kind="PickScore",
                      model_folder="PickScore_v1", path="", template="")
    search = w.add(
        "HeadHunterSearch", pos=(460, 40), size=(420, 900), model=ckpt["MODEL"], vae=ckpt["VAE"], clip=ckpt["CLIP"],
        objective=objective[0], prompts=STYLE_CONTENT_PROMPTS, style="sunlit, warm glow, golden hour", seeds="",
        k=3, rounds=5, steps=20, sampler="euler", scheduler="sgm_uniform", scale=3.0, softpag_u=1.0, cfg=1.0,
        width=1024, height=1024, batch_candidates=4, candidates="", run_name="golden_hour_search", family="auto",
        overwrite=False,
    )
    guided = w.add(
        "HeadHunterPerturbedAttention", pos=(920, 40), size=(440, 780), title="HeadHunter: the heads found",
        model=ckpt["MODEL"], head_set=search[0], heads="", scale=3.0, softpag_u=1.0,
    )
    positive = w.add("CLIPTextEncode", pos=(920, 860), size=(440, 130), title="Positive",
                     text="sunlit, warm glow, golden hour, a lighthouse on a rocky coast", clip=ckpt["CLIP"])
    negative = w.add("CLIPTextEncode", pos=(920, 1030), size=(440, 90), title="Negative", text="", clip=ckpt["CLIP"])
    latent = w.add("EmptySD3LatentImage", pos=(1400, 860), size=(320, 110), width=1024, height=1024, batch_size=1)
    sampled = sd3_ksampler(w, guided["MODEL"], positive, negative, latent, (1400, 40), seed=7)
    decode_and_save(w, sampled["LATENT"], ckpt, 1400, 350, "headhunter_search")
    w.add("PreviewImage", pos=(1780, 40), size=(420, 420), title="Scores per head, each round", images=search[2])
    w.add("PreviewImage", pos=(1780, 500), size=(420, 420), title="Images after each round", images=search[3])
    return w


EXAMPLES = {
    "sd3_perturbed_attention_ksampler": sd3_perturbed_attention_ksampler,
    "flux_guider_sampler_custom_advanced": flux_guider_sampler_custom_advanced,
    "flux_two_style_presets_combined": two_style_presets_combined,
    "sd3_head_sweep": head_sweep,
    "sd3_head_search_golden_hour": head_search,
}


def load_pack(comfyui: Path) -> str:
    """ComfyUI with its core nodes (the examples use them), and the pack in it; the pack's module name."""
    spec = importlib.util.spec_from_file_location("hh_loading", TOOLS.parent / "comfy_host" / "loading.py")
    loading = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loading)  # imports nothing of the pack: loadable before ComfyUI is
    try:
        return loading.load_comfyui(comfyui, core_nodes=True)
    except loading.ComfyUILoadError as e:
        sys.exit(f"error: {e}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comfyui", type=Path, required=True, help="The ComfyUI folder (holding main.py).")
    parser.add_argument("names", nargs="*", help=f"Examples to write (default: all): {', '.join(EXAMPLES)}.")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in EXAMPLES]
    if unknown:
        parser.error(f"unknown example {', '.join(unknown)} (valid: {', '.join(EXAMPLES)})")
    package = load_pack(args.comfyui)
    names = args.names
    import ui_workflows as hw

    # ComfyUI-Manager's missing-node lookup reads node_list.json as {node id: description}
    # (its scanner iterates .items()); the pack registers its nodes through comfy_entrypoint,
    # which the scanner's NODE_CLASS_MAPPINGS pattern cannot see.
    node_list = hw.pack_node_list(package)
    (hw.PACK_DIR / "node_list.json").write_text(json.dumps(node_list, indent=2) + "\n")
    print(f"wrote node_list.json ({len(node_list)} nodes)")

    hw.EXAMPLES_DIR.mkdir(exist_ok=True)
    for name in names or EXAMPLES:
        workflow = EXAMPLES[name](hw).to_json()
        problems = hw.check_workflow(workflow)
        if problems:
            sys.exit(f"{name}: " + "; ".join(problems))
        path = hw.EXAMPLES_DIR / f"{name}.json"
        path.write_text(json.dumps(workflow, indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
