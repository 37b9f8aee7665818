"""U-Nets inside a real ComfyUI: tiny SD1.5- and SDXL-like models built with ComfyUI's own configs.

References are independent of the pack: an explicit attention map per head (A' = (1 - u) A + u I,
paper Sec. 4.2) put in through ComfyUI's own attn1 replace patches with the PAG guidance of core's
PerturbedAttentionGuidance written out, and core's PerturbedAttentionGuidance node itself.
"""
import pytest
import torch

TOKENS_ALL = "all tokens (paper)"
SIZE = 64  # pixels: 8 x 8 latents


@pytest.fixture(scope="module")
def unets(host, hh):
    return {"sd15": hh.tiny_unet("sd15"), "sdxl": hh.tiny_unet("sdxl", seed=1)}


def conds(hh, kind):
    return hh.unet_conditioning(kind, seed=1, size=SIZE), hh.unet_conditioning(kind, seed=2, size=SIZE)


def node_model(host, hh, model, heads, u=1.0, scale=2.0):
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    return hh.run_node(node, model=model, heads=heads, scale=scale, softpag_u=u, start_percent=0.0,
                       end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL)[0]


def explicit_map_attention(heads_u: dict):
    """attn1 replace patch: softmax(q k^T / sqrt(d)) per head, selected heads' maps moved toward I."""

    def attention(q, k, v, extra):
        heads = extra["n_heads"]
        b, n, _ = q.shape
        qh, kh, vh = (t.reshape(b, n, heads, -1).transpose(1, 2).double() for t in (q, k, v))
        a = torch.softmax(qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5, dim=-1)  # [b, h, n, n]
        eye = torch.eye(n, dtype=a.dtype)
        for head, u in heads_u.items():
            a[:, head] = (1 - u) * a[:, head] + u * eye
        return (a @ vh).transpose(1, 2).reshape(b, n, -1).to(q.dtype)

    return attention


def reference_model(model, selected: dict, scale: float):
    """Core's PerturbedAttentionGuidance recipe with explicit maps on the layers ``selected``:
    {(block, id, index): {head: u}}."""
    import comfy.model_patcher
    import comfy.samplers

    m = model.clone()

    def post_cfg(args):
        options = args["model_options"].copy()
        for (block, block_id, index), heads_u in selected.items():
            options = comfy.model_patcher.set_model_options_patch_replace(
                options, explicit_map_attention(heads_u), "attn1", block, block_id, index)
        (pag,) = comfy.samplers.calc_cond_batch(args["model"], [args["cond"]], args["input"], args["sigma"], options)
        return args["denoised"] + (args["cond_denoised"] - pag) * scale

    m.set_model_sampler_post_cfg_function(post_cfg)
    return m


def test_layouts_are_read_from_the_model(host, unets):
    layout_of = host("patches.model_patch").model_layout
    sd15, sdxl = layout_of(unets["sd15"]), layout_of(unets["sdxl"])
    assert sd15.arch.id == sdxl.arch.id == "unet" and sd15.family is None  # tiny: not a published family
    assert [sd15.block_of(i) for i in range(sd15.layers)] == [
        ("input", 1, 0), ("input", 3, 0), ("middle", 0, 0)] + [("output", b, 0) for b in range(4)]
    assert [sd15.heads_of(i) for i in range(sd15.layers)] == [4] * 7
    # Read from each transformer block's attn1.heads (8-channel heads: 4 at 32 channels, 8 at 64).
    blocks = unets["sdxl"].get_model_object("diffusion_model")
    want = [(name, i, t, tb.attn1.heads) for name, group in (("input", blocks.input_blocks), ("middle", [blocks.middle_block]),
                                                             ("output", blocks.output_blocks))
            for i, block in enumerate(group) for module in block for t, tb in enumerate(getattr(module, "transformer_blocks", []))]
    assert [sdxl.block_of(i) + (sdxl.heads_of(i),) for i in range(sdxl.layers)] == want
    assert sorted({h for *_, h in want}) == [4, 8] and [k for k in want if k[0] == "middle"] == [
        ("middle", 0, t, 8) for t in range(3)]


def test_sd15_structure_is_told_apart_by_structure_not_size(host, hh):
    layout = host("patches.model_patch").model_layout(hh.tiny_unet("sd15-structure"))
    assert (layout.family, layout.layers, layout.heads) == ("sd1.5", 16, 8)
    assert layout.layer_list == host("core.model_layout").variant_layout("unet", "sd1.5").layer_list


@pytest.mark.parametrize("u", [0.5, 1.0])
@pytest.mark.parametrize("kind, flat, alias, selected", [
    ("sd15", "L2H1", "midH1", {("middle", 0, 0): {1: None}}),
    ("sd15", "L5H3", "out2H3", {("output", 2, 0): {3: None}}),
    ("sdxl", "L4H5", "mid.1H5", {("middle", 0, 1): {5: None}}),
    ("sdxl", "L0H2, L8H7", "in3H2, out1.0H7", {("input", 3, 0): {2: None}, ("output", 1, 0): {7: None}}),
])
def test_single_heads_match_an_explicit_attention_map(host, hh, unets, kind, flat, alias, selected, u):
    model = unets[kind]
    pos, neg = conds(hh, kind)
    want = hh.unet_ksampler(reference_model(model, {k: {h: u for h in hs} for k, hs in selected.items()}, 2.0), pos, neg)
    for text in (flat, alias):
        got = hh.unet_ksampler(node_model(host, hh, model, text, u=u), pos, neg)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
    plain = hh.unet_ksampler(model, pos, neg)
    assert not torch.allclose(plain, want, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("cfg", [4.0, 1.0])
@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_mid_with_u1_is_core_perturbed_attention_guidance(host, hh, unets, kind, cfg):
    from comfy_extras.nodes_pag import PerturbedAttentionGuidance

    model = unets[kind]
    pos, neg = conds(hh, kind)
    core = hh.run_node(PerturbedAttentionGuidance, model=model, scale=3.0)[0]
    want = hh.unet_ksampler(core, pos, neg, cfg=cfg)
    got = hh.unet_ksampler(node_model(host, hh, model, "mid", scale=3.0), pos, neg, cfg=cfg)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5 * want.abs().max().item())
    assert not torch.allclose(want, hh.unet_ksampler(model, pos, neg, cfg=cfg), rtol=1e-3)


@pytest.mark.parametrize("heads, message", [
    ("L0H4", r"L0H4: head 4 is out of range .* \(heads 0-3 in L0 \(input block 3, transformer 0\)\)"),
    ("in3H5", r"'in3H5': head 5 is out of range for L0 \(input block 3, transformer 0, heads 0-3\)"),
    ("L12", r"layer 12 is out of range .* \(layers 0-11\)"),
    ("mid.3", r"'mid.3': .* no such layer; 'mid' has transformer indices 0-2"),
    ("in1", r"'in1': .* no such layer; its input blocks with attention are in3, in5.0-1"),
])
def test_out_of_range_heads_fail_before_sampling_naming_the_layers_heads(host, hh, unets, heads, message):
    with pytest.raises(ValueError, match=message):
        node_model(host, hh, unets["sdxl"], heads)


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_guider_modes_match_the_ksampler_path(host, hh, unets, kind):
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    guider_node = host("nodes.guider").HeadHunterGuider
    model = unets[kind]
    pos, neg = conds(hh, kind)
    heads = "L2H1@0.5, L3" if kind == "sd15" else "mid.2H6, L9H1-3@0.5"
    want = hh.unet_ksampler(node_model(host, hh, model, heads, u=0.75), pos, neg, scheduler="simple")
    for mode in ("batched (one forward)", "sequential (like KSampler)", "auto (fastest)"):
        guider = hh.run_node(guider_node, model=model, positive=pos, negative=neg, cfg=2.0, heads=heads, scale=2.0,
                             softpag_u=0.75, start_percent=0.0, end_percent=1.0, rescale=0.0,
                             perturb_tokens=TOKENS_ALL, mode=mode)[0]
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", 3)
        out, _ = SamplerCustomAdvanced().sample(Noise_RandomNoise(0), guider, comfy.samplers.sampler_object("euler"),
                                                sigmas, {"samples": torch.zeros(1, 4, 8, 8)})
        torch.testing.assert_close(out["samples"], want, rtol=1e-4, atol=1e-4 * want.abs().max().item(), msg=mode)


def test_cross_attention_is_never_perturbed_and_the_model_is_untouched(host, hh, unets):
    model = unets["sdxl"]
    before = {k: dict(v) for k, v in model.model_options["transformer_options"].get("patches_replace", {}).items()}
    guided = node_model(host, hh, model, "L0-11")
    options = guided.model_options["transformer_options"]
    assert "attn2" not in options.get("patches_replace", {})
    assert {k: dict(v) for k, v in model.model_options["transformer_options"].get("patches_replace", {}).items()} == before


@pytest.fixture(scope="module")
def vae4(host):
    import hh_search

    return hh_search.tiny_vae(latent_channels=4)


def test_search_renders_unet_candidates_as_ksampler_would(host, hh, unets, vae4):
    gen = host("search.generation")
    model = unets["sdxl"]
    positive = [hh.unet_conditioning("sdxl", seed=s, size=SIZE) for s in (1, 3)]
    settings = gen.SamplingSettings(steps=2, sampler="euler", scheduler="normal", scale=2.0, cfg=1.0, width=SIZE,
                                    height=SIZE)
    renderer = gen.CandidateRenderer(model, vae4, positive, [0, 1], settings)
    assert renderer.latent_shape == (4, 8, 8)  # the latent format's channels, the VAE's factor 8
    latents = renderer.latents([[(4, 5, 1.0)], [(0, 2, 0.5), (9, 1, 1.0)]])
    for c, text in enumerate(["L4H5", "L0H2@0.5, L9H1"]):
        for m in range(2):
            want = hh.unet_ksampler(node_model(host, hh, model, text), positive[m], positive[m], steps=2, cfg=1.0, seed=m)
            torch.testing.assert_close(latents[c, m], want[0], rtol=1e-4, atol=1e-4 * want.abs().max().item())


def test_search_and_sweep_nodes_run_on_a_unet(host, hh, unets, vae4, tmp_path, monkeypatch):
    import hh_search

    images, head_set = hh_search.sweep_and_search(
        host, hh, monkeypatch, tmp_path, unets["sd15"], vae4, hh.unet_conditioning("sd15", size=SIZE),
        sweep_heads="mid", candidates="mid, out0H1", size=SIZE, scheduler="normal", run_name="unet run", family="sd1.5")
    assert images.shape == (5, SIZE, SIZE, 3)  # baseline + the 4 heads of the middle block
    assert head_set.arch == "unet" and head_set.family == "sd1.5"
    assert set(head_set.notes.scores) == {"L2H0", "L2H1", "L2H2", "L2H3", "L3H1"}


def test_image_tokens_only_is_all_tokens_on_a_unet(host, hh, unets):
    # No joint text sequence (the table's token order): every self-attention token is an image token.
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    pos, neg = conds(hh, "sd15")
    image_only = hh.run_node(node, model=unets["sd15"], heads="L2H1@0.5, L4", scale=2.0, softpag_u=1.0,
                             start_percent=0.0, end_percent=1.0, rescale=0.0, perturb_tokens="image tokens only")[0]
    torch.testing.assert_close(hh.unet_ksampler(image_only, pos, neg),
                               hh.unet_ksampler(node_model(host, hh, unets["sd15"], "L2H1@0.5, L4"), pos, neg),
                               rtol=0, atol=0)


def test_sequential_pass_runs_whole_on_a_unet(host, hh, unets):
    # Input blocks feed output blocks through skip connections: no prefix of blocks can be reused
    # from the cond pass by block patches (patches/prefix.py), even for heads late in the model.
    build = host("nodes.perturbation_inputs").build_guidance
    guidance = build(unets["sdxl"], "L11H0", 2.0, 1.0, 0.0, 1.0, 0.0, TOKENS_ALL)
    assert guidance.first_layer == 11 and guidance.prefix is None
