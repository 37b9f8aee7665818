"""The DiT families at their published sizes, as ComfyUI's own model detection builds them, and the
block proxies that reach HiDream's and Lumina 2's blocks (patches/block_proxy.py).

Sizes: each family's checkpoint is stood in for by the keys and shapes ComfyUI's
``model_detection.detect_unet_config`` reads (tensors on the meta device: nothing is allocated),
with the block counts of the published checkpoints; ComfyUI picks the model config and builds its
own class from them, and the pack's table must name the family. What this checks against ComfyUI's
code is the heads (ComfyUI derives or fixes them) and the class; layer counts are counted from a
checkpoint's keys by ComfyUI, so those stated here are the published models' (their configs).

The tiny-model tests of HiDream, Lumina 2 and Z-Image (heads against explicit attention maps, scale
0, guider modes, grid layout, search, sweep) are rows of tests/host/test_host_dits.py.
"""
import pytest
import torch

import hh_releases
from hh_nodes import patch
from hh_pack import architecture_modules


def _meta(*shape):
    return torch.empty(*shape, device="meta")


def _blocks(prefix, n):
    return {f"{prefix}.{i}.x": _meta(1) for i in range(n)}


def _wan(dim, ffn, in_dim, out_dim, layers, **extra):
    return {"head.modulation": _meta(1, 6, dim), "head.head.weight": _meta(out_dim * 4, dim),
            "blocks.0.ffn.0.weight": _meta(ffn, dim), "patch_embedding.weight": _meta(dim, in_dim, 1, 2, 2),
            **_blocks("blocks", layers), **extra}


# family -> (checkpoint keys and shapes ComfyUI's detection reads, first release that loads it, (arch, groups, heads))
CHECKPOINTS = {
    "flux.2-dev": ({"double_blocks.0.img_attn.norm.key_norm.scale": _meta(128), "img_in.weight": _meta(6144, 128),
                    "txt_in.weight": _meta(6144, 15360), "double_stream_modulation_img.lin.weight": _meta(1),
                    **_blocks("double_blocks", 8), **_blocks("single_blocks", 48)}, (0, 28), ("flux2", (8, 48), 48)),
    # FLUX.2 klein: Qwen3 text features (3 layers of 2560 / 4096 channels) into a 3072 / 4096 model.
    "flux.2-klein-4b": ({"double_blocks.0.img_attn.norm.key_norm.scale": _meta(128), "img_in.weight": _meta(3072, 128),
                         "txt_in.weight": _meta(3072, 7680), "double_stream_modulation_img.lin.weight": _meta(1),
                         **_blocks("double_blocks", 5), **_blocks("single_blocks", 20)}, (0, 28), ("flux2", (5, 20), 24)),
    "flux.2-klein-9b": ({"double_blocks.0.img_attn.norm.key_norm.scale": _meta(128), "img_in.weight": _meta(4096, 128),
                         "txt_in.weight": _meta(4096, 12288), "double_stream_modulation_img.lin.weight": _meta(1),
                         **_blocks("double_blocks", 8), **_blocks("single_blocks", 24)}, (0, 28), ("flux2", (8, 24), 32)),
    "chroma": ({"double_blocks.0.img_attn.norm.key_norm.scale": _meta(128), "img_in.weight": _meta(3072, 64),
                "txt_in.weight": _meta(3072, 4096), "distilled_guidance_layer.norms.0.scale": _meta(1),
                **_blocks("double_blocks", 19), **_blocks("single_blocks", 38)}, (), ("chroma", (19, 38), 24)),
    "qwen-image": ({"txt_norm.weight": _meta(3584), "img_in.weight": _meta(3072, 64),
                    **_blocks("transformer_blocks", 60)}, (), ("qwen-image", (60,), 24)),
    "auraflow": ({"double_layers.0.attn.w1q.weight": _meta(3072, 3072), "positional_encoding": _meta(1, 9216, 3072),
                  "cond_seq_linear.weight": _meta(3072, 2048), **_blocks("double_layers", 4),
                  **_blocks("single_layers", 32)}, (), ("auraflow", (4, 32), 12)),
    "hunyuan-video": ({"txt_in.individual_token_refiner.blocks.0.norm1.weight": _meta(3072),
                       "img_in.proj.weight": _meta(3072, 16, 1, 2, 2), "final_layer.linear.weight": _meta(64, 3072),
                       "txt_in.input_embedder.weight": _meta(3072, 4096), "vector_in.in_layer.weight": _meta(3072, 768),
                       "guidance_in.x": _meta(1), **_blocks("double_blocks", 20), **_blocks("single_blocks", 40)},
                      (), ("hunyuan-video", (20, 40), 24)),
    "wan-14b": (_wan(5120, 13824, 16, 16, 40), (), ("wan", (40,), 40)),
    "wan2.1-1.3b": (_wan(1536, 8960, 16, 16, 30), (), ("wan", (30,), 12)),
    "wan2.2-5b": (_wan(3072, 14336, 48, 48, 30), (), ("wan", (30,), 24)),
    "hidream-i1": ({"caption_projection.0.linear.weight": _meta(1)}, (), ("hidream", (16, 32), 20)),
    "lumina-image-2": ({"cap_embedder.1.weight": _meta(2304, 2304), "noise_refiner.0.attention.k_norm.weight": _meta(96),
                        **_blocks("layers", 26)}, (), ("lumina2", (26,), 24)),
    # v0.3.64 reads every Lumina-code checkpoint as Lumina 2 (dim 2304): it cannot load Z-Image.
    "z-image": ({"cap_embedder.1.weight": _meta(3840, 2560), "noise_refiner.0.attention.k_norm.weight": _meta(128),
                 "cap_pad_token": _meta(1, 3840), **_blocks("layers", 30)}, (0, 28), ("lumina2", (30,), 30)),
}


def _comfy_model(state_dict):
    """ComfyUI's own detection and model config for a checkpoint's keys, built on the meta device."""
    import comfy.model_detection

    unet_config = comfy.model_detection.detect_unet_config(state_dict, "")
    model_config = comfy.model_detection.model_config_from_unet_config(unet_config, state_dict)
    return model_config.get_model(state_dict, "", device=torch.device("meta"))


@pytest.mark.parametrize("family", CHECKPOINTS)
def test_published_sizes_as_comfyui_detects_them(host, family):
    state_dict, first, (arch, groups, heads) = CHECKPOINTS[family]
    if hh_releases.release() < first:
        pytest.skip(f"ComfyUI {hh_releases.release()} cannot load {family}")
    model = _comfy_model(state_dict)
    arch_module = architecture_modules(host)
    layout = arch_module.layout.detect_layout(model.diffusion_model, hh_releases.release())
    assert (layout.arch.id, layout.group_sizes, layout.heads, layout.family) == (arch, groups, heads, family)
    assert arch_module.layout.same_structure(layout, family)


def _s2v_patcher():
    """Wan 2.2 S2V (14B) as ComfyUI detects it (its audio encoder's key), on the meta device."""
    import comfy.model_patcher

    state_dict = {**CHECKPOINTS["wan-14b"][0], "casual_audio_encoder.encoder.final_linear.weight": _meta(1)}
    model = _comfy_model(state_dict)
    assert type(model.diffusion_model).__name__ == "WanModel_S2V"
    meta = torch.device("meta")
    return comfy.model_patcher.ModelPatcher(model, load_device=meta, offload_device=meta)


def test_wan_s2v_refused_on_v0_3_64_before_sampling_and_reached_on_v0_28(host, hh):
    """v0.3.64's WanModel_S2V calls its blocks (and the block patch's original_block) without
    transformer_options, so no attention override reaches them: the node refuses it, naming the
    release and the upgrade. v0.28.1 passes them: S2V is numbered as every Wan."""
    model = _s2v_patcher()
    if hh_releases.release() < (0, 28, 1):
        with pytest.raises(ValueError, match=r"cannot perturb Wan S2V heads on ComfyUI v0\.3\.64: .*without "
                                             r"transformer_options.*upgrade ComfyUI to v0\.28\.1"):
            patch(host, hh, model, "L3H1")
        return
    patched = patch(host, hh, model, "L3H1")
    layout = host("patches.model_patch").model_layout(patched)
    assert (layout.arch.id, layout.group_sizes, layout.heads, layout.family) == ("wan", (40,), 40, "wan-14b")


# ---- block proxies: ComfyUI's object patches, nothing of the model changed ------------------------

@pytest.fixture(scope="module")
def proxied(host):
    import hh_proxied

    return {"hidream": hh_proxied.tiny_hidream(), "lumina": hh_proxied.tiny_lumina2()}


@pytest.mark.parametrize("kind", ["hidream", "lumina"])
def test_proxies_keep_every_weight_path_and_change_nothing_alone(host, hh, proxied, kind):
    """The proxies share their blocks' modules: the patched model has the same parameter names and
    tensors (LoRA keys and low-VRAM loading find them), samples bitwise as the plain model while no
    plan is in a forward, and ComfyUI puts the blocks back when the clone is unloaded."""
    import comfy.model_management
    import comfy.utils

    model = proxied[kind]
    layout = host("patches.model_patch").model_layout(model)
    proxies = model.clone()
    host("patches.block_proxy").install(proxies, layout)
    group = layout.group_of(0).module_list
    assert f"diffusion_model.{group}.0" in proxies.object_patches
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    plain = hh.ksampler(model, pos, neg, size=8)
    params_before = dict(model.model.named_parameters())
    comfy.model_management.load_models_gpu([proxies])
    proxy_class = host("patches.block_proxy").BlockProxy
    assert isinstance(getattr(proxies.model.diffusion_model, group)[0], proxy_class)
    assert dict(proxies.model.named_parameters()) == params_before  # same names, same tensors
    # ComfyUI also reaches weights by attribute path (comfy.utils.get_attr: partial loading, LoRA);
    # HiDream's blocks have a child named "block", which a proxy attribute of that name once hid.
    for name, param in params_before.items():
        assert comfy.utils.get_attr(proxies.model, name) is param, name
    assert torch.equal(hh.ksampler(proxies, pos, neg, size=8), plain)
    # A guided clone of a clone that already has the proxies adds none on top of them.
    guided = patch(host, hh, proxies, "L1H0")
    assert guided.object_patches[f"diffusion_model.{group}.0"] is proxies.object_patches[f"diffusion_model.{group}.0"]
    assert torch.equal(hh.ksampler(model, pos, neg, size=8), plain)  # the plain model: its own blocks again
    assert not isinstance(getattr(model.model.diffusion_model, group)[0], proxy_class)


@pytest.mark.parametrize("u", [1.0, 0.5])
def test_lumina_refiner_blocks_are_never_perturbed(host, hh, proxied, u):
    """Lumina 2's caption and noise refiner blocks attend over the text alone and the image alone
    before the main layers; they are not numbered and their attention never sees the pack's
    override, even with every main layer perturbed. A recorder set as the model's own attention
    override sees every call: called by ComfyUI directly (the forward's override is itself) or from
    inside the pack's override (chained)."""
    model = proxied["lumina"]
    calls = []

    def recorder(func, *args, **kwargs):
        options = kwargs.get("transformer_options", {})
        q = args[0]
        calls.append({"tokens": q.shape[2], "planned": "headhunter_plan" in options,
                      "direct": options.get("optimized_attention_override") is recorder})
        return func(*args, **kwargs)

    recorded = model.clone()
    recorded.model_options["transformer_options"]["optimized_attention_override"] = recorder
    guided = patch(host, hh, recorded, "L0-4", u=u)
    hh.ksampler(guided, hh.conditioning("lumina", tokens=5), hh.conditioning("lumina", seed=2, tokens=5), steps=1,
                size=8)
    planned = [c for c in calls if c["planned"]]
    # Per perturbed forward: 2 caption refiner calls (5 tokens), 2 noise refiner calls (16 image tokens),
    # then 5 main layers over the 21 joint tokens.
    assert sorted(c["tokens"] for c in planned) == [5, 5, 16, 16] + [21] * 5
    assert all(c["direct"] for c in planned if c["tokens"] != 21)
    assert not any(c["direct"] for c in planned if c["tokens"] == 21)
    assert all(c["direct"] for c in calls if not c["planned"])  # the cond / uncond pass: untouched
