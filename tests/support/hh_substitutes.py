"""Tiny stand-ins for the model files an example workflow names, so the workflow can run here.

What is substituted, and how (everything else in a workflow runs as written):

* diffusion model, SD3 checkpoint: a random 3-layer x 3-head SD3 file, loaded by ComfyUI's own
  UNETLoader (ComfyUI's detection ties heads to depth, so a tiny SD3 cannot have 24 x 24 heads);
  the example's heads are folded into that range (layer % 3, head % 3).
* diffusion model, FLUX: a random FLUX with the real 57-layer x 24-head layout and tiny heads
  (head_dim 8), built from ComfyUI's Flux config (detection would make any FLUX file full width).
* text encoders (CLIP / T5): ``StubCLIP`` - no tiny T5-XXL exists; the prompt text is hashed
  into a fixed random conditioning of the right shapes. CLIPTextEncode itself is ComfyUI's.
* VAE: a random TAESD with 16 latent channels saved as a file and loaded by ComfyUI's VAELoader.
* search objective: a tiny random CLIP saved with save_pretrained under the folder name the
  workflow names (models/headhunter_objectives/PickScore_v1), read by the pack's own loader.
* images 64 x 64 pixels, 2 sampling steps, search rounds 1 and at most 2 heads per round, so that
  a run takes seconds on a CPU; search candidates and sweep ranges are folded like the heads.

Import only after ComfyUI is importable (host tests, or the test pack inside a test server).
"""
from __future__ import annotations

import zlib
from pathlib import Path

import hh_host

TINY_SD3_FILE = "hh_tiny_sd3.safetensors"
TINY_VAE_FILE = "hh_tiny_taesd.safetensors"
TINY_FLUX = dict(depth=19, single=38, heads=24, head_dim=8)  # FLUX.1's 57 x 24 heads, tiny width
TINY_SD3_HEADS = 3  # layers = heads = 3
TINY_IMAGE = 64
TINY_STEPS = 2
OBJECTIVE_FOLDERS = ("PickScore_v1", "clip-vit-large-patch14")  # the pack's default objective folder names
SHRINK = {"width": TINY_IMAGE, "height": TINY_IMAGE, "steps": TINY_STEPS, "rounds": 1}
HEAD_TEXT_INPUTS = ("heads", "candidates")


def write_tiny_model_files(models_dir: Path) -> None:
    """models/diffusion_models/<tiny SD3>, models/vae/<tiny TAESD> and tiny CLIP objective folders
    under models/headhunter_objectives/, as a user would place the real ones."""
    import comfy.taesd.taesd
    from safetensors.torch import save_file

    import hh_search

    (models_dir / "diffusion_models").mkdir(parents=True, exist_ok=True)
    (models_dir / "vae").mkdir(parents=True, exist_ok=True)
    path = hh_host.tiny_sd3_file(models_dir / "diffusion_models", depth=TINY_SD3_HEADS)
    path.rename(models_dir / "diffusion_models" / TINY_SD3_FILE)
    taesd = comfy.taesd.taesd.TAESD(latent_channels=16)
    hh_host.randomize(taesd, seed=3, std=0.05)
    save_file({k: v.contiguous() for k, v in taesd.state_dict().items()}, str(models_dir / "vae" / TINY_VAE_FILE))
    for name in OBJECTIVE_FOLDERS:
        hh_search.tiny_clip_folder(models_dir / "headhunter_objectives" / name)


class StubCLIP:
    """Stands in for the text encoders: tokenize / encode_from_tokens_scheduled, as CLIPTextEncode
    calls them, return a random conditioning seeded by the text (same text, same conditioning)."""

    def __init__(self, kind: str):
        self.kind = kind

    def tokenize(self, text, **kwargs):
        return {"text": text}

    def encode_from_tokens_scheduled(self, tokens, unprojected=False, add_dict=None, show_pbar=True):
        cond = hh_host.conditioning(self.kind, seed=zlib.crc32(tokens["text"].encode()) % (2**31))
        cond[0][1].update(add_dict or {})
        return cond


def _load_tiny_sd3():
    import nodes

    return nodes.UNETLoader().load_unet(TINY_SD3_FILE, "default")[0]


def _load_tiny_vae():
    import nodes

    return nodes.VAELoader().load_vae(TINY_VAE_FILE)[0]


class HHTestTinyCheckpoint:
    """CheckpointLoaderSimple's stand-in: tiny SD3 (UNETLoader), StubCLIP, tiny TAESD (VAELoader)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"ckpt_name": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("MODEL", "CLIP", "VAE")
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self, ckpt_name):
        return _load_tiny_sd3(), StubCLIP("sd3"), _load_tiny_vae()


_FLUX_CACHE = {}


class HHTestTinyFlux:
    """UNETLoader's stand-in for a FLUX file: a random FLUX with 57 x 24 heads, 8 dims each."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"unet_name": ("STRING", {"default": ""}), "weight_dtype": ("STRING", {"default": ""})}}

    RETURN_TYPES = ("MODEL",)
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self, unet_name, weight_dtype):
        if "model" not in _FLUX_CACHE:  # ~30 M random weights: build once per process
            _FLUX_CACHE["model"] = hh_host.tiny_flux(**TINY_FLUX)
        return (_FLUX_CACHE["model"],)


class HHTestStubCLIP:
    """Any CLIP loader's stand-in (DualCLIPLoader, CLIPLoader, TripleCLIPLoader)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"kind": ("STRING", {"default": "sd3"})}}

    RETURN_TYPES = ("CLIP",)
    FUNCTION = "load"
    CATEGORY = "testing"

    def load(self, kind):
        return (StubCLIP(kind),)


NODE_CLASS_MAPPINGS = {
    "HHTestTinyCheckpoint": HHTestTinyCheckpoint,
    "HHTestTinyFlux": HHTestTinyFlux,
    "HHTestStubCLIP": HHTestStubCLIP,
}


def fold_heads(head_set_cls, text: str, layers: int, heads: int) -> str:
    """Heads of a full-size model folded into a tiny one's range (layer % layers, head % heads),
    read and written by the pack's own ``HeadSet`` class."""
    s = head_set_cls.parse(text)
    return head_set_cls.from_pairs([(l % layers, None if h is None else h % heads, u) for l, h, u in s.entries]).to_text()


def substitute(prompt: dict, head_set_cls) -> tuple[dict, list[str]]:
    """An API prompt with the stand-ins above; returns it and one line per substitution made."""
    out = {k: {**v, "inputs": dict(v["inputs"])} for k, v in prompt.items()}
    notes = []
    uses_tiny_sd3 = False
    for node_id, node in out.items():
        kind, inputs = node["class_type"], node["inputs"]
        if kind == "CheckpointLoaderSimple":
            node["class_type"] = "HHTestTinyCheckpoint"
            uses_tiny_sd3 = True
            notes.append(f"#{node_id} CheckpointLoaderSimple({inputs['ckpt_name']}) -> tiny SD3 via UNETLoader, StubCLIP, tiny TAESD via VAELoader")
        elif kind == "UNETLoader" and "flux" in inputs["unet_name"].lower():
            node["class_type"] = "HHTestTinyFlux"
            notes.append(f"#{node_id} UNETLoader({inputs['unet_name']}) -> tiny FLUX 57x24 heads (injected)")
        elif kind == "UNETLoader":
            inputs["unet_name"] = TINY_SD3_FILE
            uses_tiny_sd3 = True
            notes.append(f"#{node_id} UNETLoader file -> {TINY_SD3_FILE}")
        elif kind in ("DualCLIPLoader", "CLIPLoader", "TripleCLIPLoader"):
            node["class_type"] = "HHTestStubCLIP"
            node["inputs"] = {"kind": "flux" if inputs.get("type") == "flux" else "sd3"}
            notes.append(f"#{node_id} {kind} -> StubCLIP")
        elif kind == "VAELoader":
            notes.append(f"#{node_id} VAELoader({inputs['vae_name']}) -> {TINY_VAE_FILE}")
            inputs["vae_name"] = TINY_VAE_FILE
        for key, value in SHRINK.items():
            if isinstance(inputs.get(key), int) and inputs[key] != value:
                notes.append(f"#{node_id} {kind}: {key} {inputs[key]} -> {value}")
                inputs[key] = value
        if isinstance(inputs.get("k"), int) and inputs["k"] > 2 and "rounds" in inputs:
            notes.append(f"#{node_id} {kind}: k {inputs['k']} -> 2")
            inputs["k"] = 2
    if uses_tiny_sd3:
        for node_id, node in out.items():
            for key in HEAD_TEXT_INPUTS:
                text = node["inputs"].get(key)
                if node["class_type"].startswith("HeadHunter") and isinstance(text, str) and text.strip():
                    node["inputs"][key] = fold_heads(head_set_cls, text, TINY_SD3_HEADS, TINY_SD3_HEADS)
                    notes.append(f"#{node_id} {key} '{text}' folded into 3x3: '{node['inputs'][key]}'")
    return out, notes
