"""Tiny real inputs for the search tests: a TAESD-type ComfyUI VAE, per-prompt conditionings, and a
tiny CLIP model + processor built with transformers and saved with save_pretrained (the real
loading path of the objectives). Import only inside host tests.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from hh_host import randomize


def tiny_vae_state_dict(seed: int = 3, latent_channels: int = 16) -> dict:
    """A random TAESD decoder's weights, keyed as ComfyUI detects a TAESD VAE file."""
    import comfy.taesd.taesd

    taesd = comfy.taesd.taesd.TAESD(latent_channels=latent_channels)
    randomize(taesd, seed, std=0.2)
    sd = {k: v.contiguous() for k, v in taesd.state_dict().items()}
    sd["vae_scale"], sd["vae_shift"] = torch.tensor(1.0), torch.tensor(0.0)
    return sd


def tiny_vae(seed: int = 3, latent_channels: int = 16):
    """A random TAESD decoder wrapped in ComfyUI's own VAE class (detected from its keys)."""
    import comfy.sd

    sd = tiny_vae_state_dict(seed, latent_channels)
    if latent_channels == 128:
        # FLUX.2's TAESD (v0.28+) has another decoder whose first layer does not show the latent
        # channels; ComfyUI reads them from the file's metadata, as a saved taef2 file carries them.
        return comfy.sd.VAE(sd=sd, metadata={"tae_latent_channels": latent_channels})
    return comfy.sd.VAE(sd=sd)


def tiny_vae_file(folder: Path, seed: int = 3) -> Path:
    """The same VAE as a file, for ComfyUI's loaders (the command line's --vae)."""
    from safetensors.torch import save_file

    path = Path(folder) / f"tiny_taesd_s{seed}.safetensors"
    save_file(tiny_vae_state_dict(seed), str(path))
    return path


def tiny_wan21_vae(seed: int = 3):
    """A random Wan 2.1 VAE (Qwen-Image's; video latents [B, 16, T, h, w]) wrapped in ComfyUI's VAE
    class, which detects it from its keys. ComfyUI fixes its width (96), so it is not tiny:
    127 M parameters, a few seconds per decode on a CPU."""
    import comfy.ldm.wan.vae
    import comfy.sd

    model = comfy.ldm.wan.vae.WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                     temperal_downsample=[False, True, True], dropout=0.0)
    randomize(model, seed, std=0.02)
    return comfy.sd.VAE(sd=model.state_dict())


def prompt_conditionings(count: int, kind: str = "sd3", tokens: int = 6, seed: int = 10):
    """One random conditioning per prompt (distinct seeds), shaped like a text encoder's output."""
    from hh_host import conditioning

    return [conditioning(kind, tokens=tokens, seed=seed + i) for i in range(count)]


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table, which CLIP's BPE vocabulary is written in."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def tiny_clip_folder(folder: Path, seed: int = 0) -> Path:
    """A tiny random CLIPModel + CLIPProcessor (own byte-level vocabulary) saved with save_pretrained."""
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted(set(_bytes_to_unicode().values()))
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({c + "</w>": len(chars) + i for i, c in enumerate(chars)})
    merges = ["#version: 0.2", "a t</w>", "c at</w>"]
    for token in ("at</w>", "cat</w>", "<|startoftext|>", "<|endoftext|>"):
        vocab[token] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    end = vocab["<|endoftext|>"]
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=32, bos_token_id=vocab["<|startoftext|>"],
                         eos_token_id=end, pad_token_id=end),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    CLIPModel(config).save_pretrained(str(folder))
    processor = CLIPProcessor(image_processor=CLIPImageProcessor(size={"shortest_edge": 32},
                                                                  crop_size={"height": 32, "width": 32}),
                              tokenizer=tokenizer)
    processor.save_pretrained(str(folder))
    return folder


class Brightness:
    """A search objective that needs no model: an image's mean brightness (higher = better)."""

    name = "brightness"

    def score(self, images, prompts):
        return images.mean(dim=(1, 2, 3))

    def describe(self):
        return {"name": self.name}

    def release(self):
        pass


def sweep_and_search(host, hh, monkeypatch, tmp_path, model, vae, positive, *, sweep_heads: str, candidates: str,
                     size: int, scheduler: str, run_name: str, family: str = ""):
    """The sweep node (per head, with the baseline) and the search node (one round, k = 1, scored
    by brightness) on a model, each one sampling step, writing into ``tmp_path``: (the sweep's
    images, the search's head set)."""
    import folder_paths

    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path / "output"))
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "headhunter_presets", ([str(tmp_path / "presets")], {".json"}))
    sampling = dict(steps=1, sampler="euler", scheduler=scheduler, scale=2.0, softpag_u=1.0, cfg=1.0, width=size,
                    height=size)
    _, images = hh.run_node(
        host("nodes.sweep_node").HeadHunterSweep, model=model, vae=vae, positive=positive, prompt="", seed=5,
        heads=sweep_heads, mode="per head", batch_candidates=2, include_baseline=True, columns=5, **sampling)
    out = hh.run_node(
        host("nodes.search_node").HeadHunterSearch, model=model, vae=vae, objective=Brightness(), positive=positive,
        prompts="a cat", style="", seeds="", k=1, rounds=1, batch_candidates=4, candidates=candidates,
        run_name=run_name, family=family, **sampling)
    return images, out[0]
