"""The DiTs beyond the paper's SD3 / FLUX.1, each a tiny random model built with ComfyUI's own
classes, in a real ComfyUI: detection by class and parameters, heads against an explicit
attention-map reference, scale 0, the guider's modes against the KSampler path, the grid's layout.

A model a release cannot build is skipped with the reason (FLUX.2 needs ComfyUI v0.28+).
"""
from dataclasses import dataclass

import pytest
import torch

from hh_attention_maps import check_recorded_calls, heads_view, recorded_key_mask, self_attention_calls
from hh_nodes import TOKENS_ALL, patch

FLUX_GROUPS = (("double_block", 2), ("single_block", 3))


@dataclass(frozen=True)
class Kind:
    arch: str
    groups: tuple  # the tiny model's groups as (ComfyUI block kind, blocks)
    heads: int
    image_tokens: int  # of an 8 x 8 latent
    text_tokens: int  # of a 5-token prompt, as the model sees it
    latent: tuple  # (channels, VAE factor): ComfyUI's latent format for the model
    label2: str = "single block 0"  # how people call layer 2 of the tiny model
    frames: tuple = ()  # video latent formats (Wan 2.1's): one frame


WAN = Kind("wan", (("double_block", 5),), 4, 16, 0, (16, 8), "block 2", (1,))
KINDS = {
    "flux2": Kind("flux2", FLUX_GROUPS, 4, 64, 512, (128, 16)),  # patch size 1; ComfyUI pads FLUX.2 text to 512
    "chroma": Kind("chroma", FLUX_GROUPS, 4, 16, 5, (16, 8)),
    "radiance": Kind("chroma", FLUX_GROUPS, 4, 4, 5, (3, 1)),  # pixels, 4 x 4 patches (tiny model)
    "qwen": Kind("qwen-image", (("double_block", 5),), 4, 16, 5, (16, 8), "transformer block 2", (1,)),  # Wan 2.1's format
    "aura": Kind("auraflow", FLUX_GROUPS, 4, 16, 8 + 5, (4, 8)),  # 8 register tokens before the text; SDXL's format
    "hv": Kind("hunyuan-video", FLUX_GROUPS, 4, 16, 5, (16, 8), frames=(1,)),
    # Wan: self-attention over the space-time tokens only (text through cross-attention); VACE adds
    # a hint after every block and S2V (v0.28+) audio after some, outside the block patch (and
    # never perturbed): the same grid.
    "wan": WAN,
    "vace": WAN,
    "s2v": WAN,
    # Proxied blocks (no block-replace hook in ComfyUI; patches/block_proxy.py), tests/support/hh_proxied.py.
    # HiDream: image first; its blocks' text is T5 + the last Llama layer + the block's Llama layer.
    "hidream": Kind("hidream", (("double_stream_block", 2), ("single_stream_block", 3)), 4, 16, 3 * 5, (16, 8),
                    "single-stream block 0"),
    "lumina": Kind("lumina2", (("layer", 5),), 4, 16, 5, (16, 8), "layer 2"),
    # Z-Image pads text and image tokens to multiples of 32 (v0.28+ only).
    "zimage": Kind("lumina2", (("layer", 5),), 4, 32, 32, (16, 8), "layer 2"),
}


@pytest.fixture(scope="module")
def dits(host, hh):
    import hh_proxied

    return {"flux2": hh.tiny_flux2(), "chroma": hh.tiny_chroma(), "radiance": hh.tiny_chroma_radiance(),
            "qwen": hh.tiny_qwen_image(), "aura": hh.tiny_auraflow(), "wan": hh.tiny_wan(), "vace": hh.tiny_wan_vace(), "s2v": hh.tiny_wan_s2v(),
            "hv": hh.tiny_hunyuan_video(), "hidream": hh_proxied.tiny_hidream(), "lumina": hh_proxied.tiny_lumina2(),
            "zimage": hh_proxied.tiny_zimage()}


def _model(dits, kind):
    model = dits[kind]
    if model is None:
        pytest.skip(f"this ComfyUI release cannot build or reach {kind} (FLUX.2, Z-Image and Wan S2V need ComfyUI v0.28+)")
    return model


def _tokens(c, arg=0):
    return c["args"][arg].shape[2 if c["kwargs"].get("skip_reshape") else 1]


@pytest.mark.parametrize("kind", KINDS)
def test_detected_by_class_and_parameters(host, dits, kind):
    layout = host("patches.model_patch").model_layout(_model(dits, kind))
    k = KINDS[kind]
    assert (layout.arch.id, layout.group_sizes, layout.heads) == (k.arch, tuple(n for _, n in k.groups), k.heads)
    # The numbering: FLUX-like double blocks first, then single blocks numbered on (as FLUX.1);
    # Qwen-Image: the block index.
    assert [layout.block_of(i) for i in range(layout.layers)] == [(key, i) for key, n in k.groups for i in range(n)]


@pytest.mark.parametrize("kind", KINDS)
def test_scale_zero_is_bitwise_identical_and_guidance_changes_the_image(host, hh, dits, kind):
    model = _model(dits, kind)
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    plain = hh.ksampler(model, pos, neg, size=8)
    assert torch.equal(hh.ksampler(patch(host, hh, model, "L1H0", scale=0.0), pos, neg, size=8), plain)
    guided = hh.ksampler(patch(host, hh, model, "L1H3, L4"), pos, neg, size=8)
    assert torch.isfinite(guided).all() and not torch.allclose(guided, plain, atol=1e-4)
    assert torch.equal(hh.ksampler(model, pos, neg, size=8), plain)  # the input model never changed


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("u", [1.0, 0.5])
def test_only_the_selected_heads_change(host, hh, dits, kind, u):
    """Every recorded attention call is recomputed from its q, k, v with plain attention; the
    selected heads must be (1 - u) A V + u V, every other head A V (paper Sec. 4.2)."""
    model = _model(dits, kind)
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), "L1H3, L3H1, L4", u=u)
    hh.ksampler(patched, hh.conditioning(kind), hh.conditioning(kind, seed=2), steps=1, cfg=2.0, size=8)
    expected = {1: {3: u}, 3: {1: u}, 4: {h: u for h in range(layout.heads)}}
    self_attention_calls(calls)
    assert any(c["perturbed"] for c in calls), "the perturbed pass never ran"
    assert check_recorded_calls(calls, expected, heads_per_layer=None) > 0


@pytest.mark.parametrize("u", [1.0, 0.5])
def test_wan_heads_over_space_and_time(host, hh, dits, u):
    """A 3-frame video: Wan's self-attention runs over all 3 x 16 space-time tokens at once, and a
    perturbed head's map over all of them moves toward the identity (head-level spatio-temporal
    guidance); cross-attention to the text is untouched."""
    model = _model(dits, "wan")
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), "L2H1, L4H0-2", u=u)
    hh.ksampler(patched, hh.conditioning("wan"), hh.conditioning("wan", seed=2), steps=1, cfg=2.0, size=8, frames=3)
    selfs = self_attention_calls(calls)
    assert {_tokens(c) for c in selfs} == {3 * 16} and len(calls) == 2 * len(selfs)
    assert check_recorded_calls(calls, {2: {1: u}, 4: {0: u, 1: u, 2: u}}, heads_per_layer=None) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_guider_modes_equal_the_ksampler_path(host, hh, dits, kind):
    model = _model(dits, kind)
    guider_node = host("nodes.guider")
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    settings = dict(heads="L0H1, L2, L4H0", scale=2.5, softpag_u=0.75, start_percent=0.0, end_percent=1.0,
                    rescale=0.3, perturb_tokens=TOKENS_ALL)
    results = {}
    for mode in (guider_node.MODE_BATCHED, guider_node.MODE_SEQUENTIAL):
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=model, positive=pos, negative=neg, cfg=2.0,
                                mode=mode, **settings)
        results[mode] = hh.custom_advanced(guider, size=8)
    ks = hh.ksampler(patch(host, hh, model, **settings), pos, neg, cfg=2.0, size=8)
    torch.testing.assert_close(results[guider_node.MODE_BATCHED], results[guider_node.MODE_SEQUENTIAL], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(results[guider_node.MODE_SEQUENTIAL], ks, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_sequential_pass_reuses_the_cond_pass_below_the_first_perturbed_layer(host, hh, dits, kind):
    model = _model(dits, kind)
    layout = host("patches.model_patch").model_layout(model)
    guider_node = host("nodes.guider")
    calls = []
    recorded = hh.with_recorders(model, layout, calls)
    (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=recorded, positive=hh.conditioning(kind),
                            negative=hh.conditioning(kind, seed=2), cfg=2.0, heads="L3H2", scale=3.0, softpag_u=1.0,
                            start_percent=0.0, end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL,
                            mode=guider_node.MODE_SEQUENTIAL)
    hh.custom_advanced(guider, steps=2, size=8)
    forwards = [sum(1 for c in self_attention_calls(calls) if c["layer"] == layer) for layer in range(layout.layers)]
    assert forwards == [2 if layer < 3 else 4 for layer in range(layout.layers)], forwards


# First perturbed layer 4 (every kind): the sequential pass reuses the cond pass's output of block 3,
# and the model's own loop then does what it does after block 3 (Wan S2V injects audio there) once.
# First perturbed layer 2 = the first single block (two-group kinds): the last double block's output,
# text and image apart, which the model's loop joins in its own order (image first for HunyuanVideo
# on v0.3.64).
REUSE_CASES = [(kind, "L4H1") for kind in KINDS] + [
    (kind, "L2H0@0.5, L4H1") for kind, k in KINDS.items() if len(k.groups) == 2]


@pytest.mark.parametrize("kind, heads", REUSE_CASES)
def test_reusing_the_cond_pass_gives_the_batched_guiders_image(host, hh, dits, kind, heads):
    """The batched guider runs every block and reuses nothing: the sequential pass must match it."""
    model = _model(dits, kind)
    guider_node = host("nodes.guider")
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    results = {}
    for mode in (guider_node.MODE_BATCHED, guider_node.MODE_SEQUENTIAL):
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=model, positive=pos, negative=neg, cfg=2.0,
                                mode=mode, heads=heads, scale=3.0, softpag_u=1.0, start_percent=0.0,
                                end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL)
        results[mode] = hh.custom_advanced(guider, steps=2, size=8)
    torch.testing.assert_close(results[guider_node.MODE_SEQUENTIAL], results[guider_node.MODE_BATCHED], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("kind", KINDS)
def test_image_tokens_only_keeps_text_rows_in_single_blocks(host, hh, dits, kind):
    """'image tokens only' leaves the text queries' rows alone, also in single blocks, which learn
    the text length from the double blocks. Text first in the joint sequence (as FLUX.1), except
    HunyuanVideo on v0.3.64, which joins image then text (its text is then the last tokens)."""
    model = _model(dits, kind)
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), "L3H2", tokens="image tokens only")
    pos, neg = hh.conditioning(kind, tokens=5), hh.conditioning(kind, seed=2, tokens=5)
    hh.ksampler(patched, pos, neg, steps=1, size=8)
    (c,) = [c for c in self_attention_calls(calls) if c["perturbed"] and c["layer"] == 3]
    a, kw = c["args"], c["kwargs"]
    heads = a[3] if len(a) > 3 else kw["heads"]
    q, k, v = (heads_view(t, heads, kw.get("skip_reshape", False)).transpose(1, 2).double() for t in a[:3])
    n_txt = KINDS[kind].text_tokens
    assert q.shape[2] == n_txt + KINDS[kind].image_tokens
    if kind == "qwen":
        import hh_releases

        masked = (a[4] if len(a) > 4 else kw.get("mask")) is not None
        assert masked == hh_releases.qwen_image_masks_text()
    n = q.shape[2]
    text = slice(n - n_txt, n) if layout.image_first else slice(0, n_txt)
    if kind == "hv":
        import hh_releases

        assert layout.image_first == (hh_releases.release() < (0, 28))  # read in both trees
    logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + recorded_key_mask(c, q)
    allowed = torch.full(logits.shape[-2:], float("-inf"), dtype=q.dtype)
    allowed[:, text] = 0
    allowed.fill_diagonal_(0)
    allowed[text] = 0
    plain = torch.softmax(logits, -1) @ v
    want = plain.clone()
    want[:, 2] = (torch.softmax(logits + allowed, -1) @ v)[:, 2]
    got = c["out"].double()
    got = got if kw.get("skip_output_reshape") else got.view(q.shape[0], q.shape[2], heads, -1).transpose(1, 2)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_layout_payload_of_the_model(host, dits, kind):
    """What the grid draws after a run (the nodes' UI message): the model's own layout."""
    layout = host("patches.model_patch").model_layout(_model(dits, kind))
    payload = host("http_api.payloads").layout_payload(layout, layout.family)
    k = KINDS[kind]
    groups = k.groups
    assert (payload["arch"], payload["layers"], payload["heads"]) == (k.arch, sum(n for _, n in groups), k.heads)
    starts = [sum(n for _, n in groups[:i]) for i in range(len(groups))]
    assert [(g["key"], g["start"], g["layers"]) for g in payload["groups"]] == [
        (key, start, n) for (key, n), start in zip(groups, starts)]
    assert payload["layer_labels"][2] == k.label2


# ---- search and sweep: latent channels and the VAE factor from the model's latent format ----------

@pytest.fixture(scope="module")
def vaes(host):
    import hh_search

    return {channels: hh_search.tiny_vae(latent_channels=channels) for channels in (4, 16, 128)}


def _vae(vaes, kind, channels):
    """The decoder for the kind's latents: TAESD for image latents, Wan 2.1's VAE for Qwen-Image's
    one-frame video latents (built on first use: it is large), ComfyUI's pixel-space conversion
    for Chroma Radiance."""
    if kind == "radiance":
        import comfy.sd

        return comfy.sd.VAE(sd={"pixel_space_vae": torch.tensor(1.0)})
    if kind in ("qwen", "wan", "vace", "s2v", "hv"):  # HunyuanVideo's VAE differs; Wan's decodes its latent shape alike
        if "wan21" not in vaes:
            import hh_search

            vaes["wan21"] = hh_search.tiny_wan21_vae()
        return vaes["wan21"]
    return vaes[channels]


@pytest.mark.parametrize("kind", KINDS)
def test_search_renders_candidates_as_ksampler_would(host, hh, dits, vaes, kind):
    model = _model(dits, kind)
    channels, factor = KINDS[kind].latent
    gen = host("search.generation")
    positive = [hh.conditioning(kind, seed=s) for s in (1, 3)]
    size = 8 * factor  # 8 x 8 latents
    settings = gen.SamplingSettings(steps=2, sampler="euler", scheduler="simple", scale=2.0, cfg=1.0, width=size,
                                    height=size)
    renderer = gen.CandidateRenderer(model, _vae(vaes, kind, channels), positive, [0, 1], settings)
    assert renderer.latent_shape == (channels,) + KINDS[kind].frames + (8, 8)
    latents = renderer.latents([[(4, 1, 1.0)], [(0, 2, 0.5), (3, 1, 1.0)]])
    for c, text in enumerate(["L4H1", "L0H2@0.5, L3H1"]):
        for m in range(2):
            want = hh.ksampler(patch(host, hh, model, text, scale=2.0), positive[m], positive[m], steps=2, cfg=1.0,
                               seed=m, size=8)
            torch.testing.assert_close(latents[c, m], want[0], rtol=1e-4, atol=1e-4 * want.abs().max().item())


@pytest.mark.parametrize("kind", KINDS)
def test_search_and_sweep_nodes_run(host, hh, dits, vaes, kind, tmp_path, monkeypatch):
    import hh_search

    model = _model(dits, kind)
    channels, factor = KINDS[kind].latent
    size = max(16, 8 * factor)  # at least the smallest image side ComfyUI offers (16 px)
    images, head_set = hh_search.sweep_and_search(
        host, hh, monkeypatch, tmp_path, model, _vae(vaes, kind, channels), hh.conditioning(kind), sweep_heads="L4",
        candidates="L4, L0H1", size=size, scheduler="simple", run_name=f"{kind} run")
    assert images.shape[0] == 5  # baseline + the 4 heads of single block 2
    assert head_set.arch == KINDS[kind].arch
    assert set(head_set.notes.scores) == {"L4H0", "L4H1", "L4H2", "L4H3", "L0H1"}


@pytest.mark.parametrize("radiance", [False, True])
def test_chroma_and_chroma_radiance_are_told_apart_at_their_real_size(host, radiance):
    """Both 19 + 38 blocks x 24 heads; Radiance carries a NeRF head (``nerf_blocks``). Built on the
    meta device with ComfyUI's own classes and the parameters its model detection writes."""
    import comfy.ops
    import hh_releases
    from comfy.ldm.chroma.model import Chroma
    from comfy.ldm.chroma_radiance.model import ChromaRadiance

    params = dict(in_channels=64, out_channels=64, context_in_dim=4096, hidden_size=3072, mlp_ratio=4.0, num_heads=24,
                  depth=19, depth_single_blocks=38, axes_dim=[16, 56, 56], theta=10000, patch_size=2, qkv_bias=True,
                  in_dim=64, out_dim=3072, hidden_dim=5120, n_layers=5, **hh_releases.chroma_params_extras())
    if radiance:
        params.update(in_channels=3, out_channels=3, patch_size=16, nerf_hidden_size=64, nerf_mlp_ratio=4,
                      nerf_depth=4, nerf_max_freqs=8, nerf_tile_size=512, nerf_final_head_type="conv",
                      nerf_embedder_dtype=torch.float32, **hh_releases.chroma_radiance_params_extras())
    model = (ChromaRadiance if radiance else Chroma)(device="meta", operations=comfy.ops.disable_weight_init, **params)
    layout = host("core.model_layout").detect_layout(model)
    assert (layout.arch.id, layout.group_sizes, layout.heads) == ("chroma", (19, 38), 24)
    assert layout.family == ("chroma-radiance" if radiance else "chroma")


def test_flux2_dev_and_qwen_image_families_at_their_real_size(host):
    """FLUX.2 dev (8 + 48 blocks, 48 heads, as ComfyUI's detection writes its parameters) and
    Qwen-Image (60 blocks, 24 heads) are their published families; built on the meta device."""
    import comfy.ops
    import hh_releases
    from comfy.ldm.qwen_image.model import QwenImageTransformer2DModel

    ops = comfy.ops.disable_weight_init
    detect = host("core.model_layout").detect_layout
    config = hh_releases.flux2_model_config(hidden_size=6144, heads=48, depth=8, single=48)
    if config is not None:
        from comfy.ldm.flux.model import Flux

        params = {k: v for k, v in config.unet_config.items() if k != "image_model"}
        params.update(context_in_dim=15360, axes_dim=[32, 32, 32, 32])
        layout = detect(Flux(device="meta", operations=ops, **params))
        assert (layout.arch.id, layout.group_sizes, layout.heads, layout.family) == ("flux2", (8, 48), 48, "flux.2-dev")
    qwen = QwenImageTransformer2DModel(num_layers=60, device="meta", operations=ops)
    layout = detect(qwen)
    assert (layout.arch.id, layout.group_sizes, layout.heads, layout.family) == ("qwen-image", (60,), 24, "qwen-image")
