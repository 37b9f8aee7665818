"""CLIP-based search objectives (PickScore, CLIPScore) loaded with transformers from local folders.

Weights come only from disk (``local_files_only=True``): a folder made with ``save_pretrained``
holding a CLIP model and its processor, under ComfyUI's models/headhunter_objectives/<name>/ or at
a path the user gives. The paper's objectives (its code):

* PickScore: ``yuvalkirstain/PickScore_v1`` (a CLIP-H) with the processor of
  ``laion/CLIP-ViT-H-14-laion2B-s32B-b79K``; score = logit_scale.exp() * cos(image, text) (~20).
* CLIPScore: ``openai/clip-vit-large-patch14`` against "A photo depicts {style}, {content}";
  score = 100 * max(cos, 0) (the torchmetrics scale, 0-100).
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch

import comfy.model_management

from ..comfy_host.folders import register_model_folder
from ..core.scoring import Objective, SearchPrompt

log = logging.getLogger("HeadHunter")

FOLDER_KEY = "headhunter_objectives"
PICKSCORE = "PickScore"
CLIPSCORE = "CLIPScore"
KINDS = (PICKSCORE, CLIPSCORE)
DEFAULT_TEMPLATES = {PICKSCORE: "{prompt}", CLIPSCORE: "A photo depicts {prompt}"}
DEFAULT_FOLDERS = {PICKSCORE: "PickScore_v1", CLIPSCORE: "clip-vit-large-patch14"}
HOW_TO_GET = (
    "Make the folder once on a machine with internet access, in Python with transformers: "
    "CLIPModel.from_pretrained('yuvalkirstain/PickScore_v1').save_pretrained(DIR); "
    "CLIPProcessor.from_pretrained('laion/CLIP-ViT-H-14-laion2B-s32B-b79K').save_pretrained(DIR) "
    "(CLIPScore: both from 'openai/clip-vit-large-patch14'); see docs/search.md."
)
SCORE_BATCH = 16


def search_roots() -> list[Path]:
    import folder_paths

    return [Path(p) for p in folder_paths.get_folder_paths(FOLDER_KEY)]


def available_folders() -> list[str]:
    """Names of model folders (holding a config.json) under every registered objectives folder."""
    names = set()
    for root in search_roots():
        if root.is_dir():
            names.update(p.name for p in root.iterdir() if (p / "config.json").is_file())
    return sorted(names)


def resolve_folder(name_or_path: str) -> Path:
    """A folder name under models/headhunter_objectives, or a path; a clear error if absent."""
    candidate = Path(name_or_path).expanduser()
    looked = [candidate] if candidate.is_absolute() else [root / name_or_path for root in search_roots()]
    for folder in looked:
        if (folder / "config.json").is_file():
            return folder
    where = ", ".join(str(p) for p in looked) or "(no headhunter_objectives folder registered)"
    raise FileNotFoundError(f"No objective model '{name_or_path}' found (looked in: {where}). {HOW_TO_GET}")


def _check_files(folder: Path) -> None:
    missing = []
    if not any((folder / f).is_file() for f in ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")):
        missing.append("model weights (model.safetensors)")
    if not any((folder / f).is_file() for f in ("preprocessor_config.json", "processor_config.json")):
        missing.append("the image processor (preprocessor_config.json)")
    if not ((folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file()):
        missing.append("tokenizer files (tokenizer.json or vocab.json + merges.txt)")
    if missing:
        raise FileNotFoundError(f"The objective folder {folder} lacks {', '.join(missing)}. {HOW_TO_GET}")


class ClipObjective(Objective):
    """PickScore or CLIPScore of each image against its own prompt (one text per image)."""

    def __init__(self, kind: str, folder: Path, template: str = ""):
        if kind not in KINDS:
            raise ValueError(f"unknown objective '{kind}' (valid: {', '.join(KINDS)})")
        from transformers import CLIPModel, CLIPProcessor

        folder = Path(folder)
        _check_files(folder)
        try:
            self.model = CLIPModel.from_pretrained(str(folder), local_files_only=True).eval()
            self.processor = CLIPProcessor.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as e:
            raise FileNotFoundError(f"Could not load a CLIP model and processor from {folder}: {e}. {HOW_TO_GET}") from e
        self.kind, self.folder = kind, folder
        self.template = template or DEFAULT_TEMPLATES[kind]
        self.name = kind
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    def describe(self) -> dict:
        return {"name": self.kind, "model": self.folder.name, "path": str(self.folder), "template": self.template}

    def _device(self):
        device = comfy.model_management.get_torch_device()
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        if self.model.device != device or self.model.dtype != dtype:
            self.model.to(device=device, dtype=dtype)
        return device

    @torch.no_grad()
    def score(self, images: torch.Tensor, prompts: list[SearchPrompt]) -> torch.Tensor:
        if len(images) != len(prompts):
            raise ValueError(f"{len(images)} images for {len(prompts)} prompts")
        device = self._device()
        texts = [p.fill(self.template) for p in prompts]
        # The processors of PickScore and CLIPScore read 8-bit images, as saved images are.
        pixels = (images.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
        out = []
        for start in range(0, len(texts), SCORE_BATCH):
            inputs = self.processor(text=texts[start:start + SCORE_BATCH], images=list(pixels[start:start + SCORE_BATCH]),
                                    return_tensors="pt", padding=True, truncation=True, max_length=self.max_length)
            inputs = {k: v.to(device) for k, v in inputs.items()}
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            result = self.model(**inputs)
            cos = (result.image_embeds.float() * result.text_embeds.float()).sum(-1)  # both unit length
            if self.kind == PICKSCORE:
                out.append(self.model.logit_scale.exp().float() * cos)
            else:
                out.append(100.0 * cos.clamp_min(0))
        return torch.cat(out).cpu()

    def release(self) -> None:
        self.model.to("cpu")
        comfy.model_management.soft_empty_cache()


def load_objective(kind: str, folder_or_path: str = "", template: str = "") -> ClipObjective:
    folder = resolve_folder(folder_or_path or DEFAULT_FOLDERS[kind])
    log.info("HeadHunter: loading %s objective from %s", kind, folder)
    return ClipObjective(kind, folder, template)


register_model_folder(FOLDER_KEY, set())  # at import, so the loader's folder list and extra_model_paths.yaml see it
