"""The engine inside a real ComfyUI: tiny real SD3 / FLUX models, ComfyUI's samplers and nodes.

Head outputs are checked against an independent computation: plain SDPA for heads that must be
untouched, V for PAG heads, the lerp of both for SoftPAG heads.
"""
import copy

import pytest
import torch

from hh_attention_maps import check_recorded_calls, heads_view
from hh_nodes import TOKENS_ALL, patch

@pytest.fixture(scope="module")
def nodes_mod(host):
    return host("nodes.perturbed_attention"), host("nodes.guider")


def test_pack_registers_its_nodes(host):
    import nodes

    for node_id in ("HeadHunterPerturbedAttention", "HeadHunterGuider"):
        assert node_id in nodes.NODE_CLASS_MAPPINGS, node_id


def test_sd3_loaded_by_unet_loader_is_detected(host, sd3):
    layout = host("patches.model_patch").model_layout(sd3)
    assert (layout.arch.id, layout.layers, layout.heads) == ("sd3", 3, 3)


@pytest.mark.parametrize("kind", ["sd3", "flux"])
def test_ksampler_guidance_changes_image_and_scale_zero_is_bitwise_identical(host, hh, sd3, flux, kind):
    model = sd3 if kind == "sd3" else flux
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    before = copy.copy(model.model_options), {k: v for k, v in model.model_options["transformer_options"].items()}
    plain = hh.ksampler(model, pos, neg)
    guided = hh.ksampler(patch(host, hh, model, "L1H0, L2H2"), pos, neg)
    assert torch.isfinite(guided).all()
    assert not torch.allclose(guided, plain, atol=1e-4)
    assert torch.equal(hh.ksampler(patch(host, hh, model, "L1H0", scale=0.0), pos, neg), plain)
    assert torch.equal(hh.ksampler(patch(host, hh, model, ""), pos, neg), plain)
    # The model the node was given never changed.
    assert model.model_options == before[0]
    assert model.model_options["transformer_options"] == before[1]
    assert torch.equal(hh.ksampler(model, pos, neg), plain)


def test_scale_zero_and_empty_heads_run_no_extra_pass(host, hh, sd3):
    layout = host("patches.model_patch").model_layout(sd3)
    for kw in ({"heads": "L1H0", "scale": 0.0}, {"heads": ""}):
        calls = []
        model = patch(host, hh, hh.with_recorders(sd3, layout, calls), **kw)
        hh.ksampler(model, hh.conditioning("sd3"), hh.conditioning("sd3", seed=2), steps=2, cfg=2.0)
        forwards = sum(1 for c in calls if c["layer"] == 0)
        assert forwards == 2, kw  # one cond+uncond forward per step, nothing more


@pytest.mark.parametrize("kind", ["sd3", "flux"])
@pytest.mark.parametrize("u", [1.0, 0.5])
def test_only_the_selected_heads_change(host, hh, sd3, flux, kind, u):
    model = sd3 if kind == "sd3" else flux
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    heads = "L1H0, L2H2" if kind == "sd3" else "L1H3, L3H1, L4"  # FLUX: a double and single blocks
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), heads, u=u)
    hh.ksampler(patched, hh.conditioning(kind), hh.conditioning(kind, seed=2), steps=1, cfg=2.0)
    expected = {1: {0: u}, 2: {2: u}} if kind == "sd3" else {1: {3: u}, 3: {1: u}, 4: {h: u for h in range(4)}}
    # SD3.5-style attn2 (joint block 1 of the tiny SD3) is recorded too and must be untouched.
    attn2 = [c for c in calls if c["perturbed"] and c["layer"] == 1 and kind == "sd3"]
    joint_len = max(c["args"][0].shape[1] for c in attn2) if attn2 else None
    for c in calls:
        c["joint_tokens"] = joint_len if (kind == "sd3" and c["layer"] == 1) else None
    perturbed = [c for c in calls if c["perturbed"]]
    assert perturbed, "the perturbed pass never ran"
    for c in calls:
        if c.get("joint_tokens") and c["args"][0].shape[1] != c["joint_tokens"]:
            c["perturbed"] = False  # attn2: checked as plain attention below
    assert check_recorded_calls(calls, expected, heads_per_layer=None) > 0
    if kind == "sd3":
        assert any(c["args"][0].shape[1] != joint_len for c in attn2), "attn2 was not exercised"


def test_image_tokens_only_keeps_text_rows(host, hh, flux):
    layout = host("patches.model_patch").model_layout(flux)
    calls = []
    patched = patch(host, hh, hh.with_recorders(flux, layout, calls), "L1H0, L3H2", tokens="image tokens only")
    hh.ksampler(patched, hh.conditioning("flux", tokens=5), hh.conditioning("flux", seed=2, tokens=5), steps=1)
    perturbed = [c for c in calls if c["perturbed"] and c["layer"] in (1, 3)]
    assert len(perturbed) == 2
    for c in perturbed:
        q, k, v = (t.double() for t in c["args"][:3])  # FLUX: [B, H, N, D]
        head = 0 if c["layer"] == 1 else 2
        n_txt = 5
        logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
        N = q.shape[2]
        block = torch.full((N, N), float("-inf"), dtype=q.dtype)
        block[:, :n_txt] = 0
        block.fill_diagonal_(0)
        block[:n_txt] = 0
        target = torch.softmax(logits + block, -1) @ v
        plain = torch.softmax(logits, -1) @ v
        want = plain.clone()
        want[:, head] = target[:, head]
        got = c["out"].double().view(q.shape[0], N, q.shape[1], -1).transpose(1, 2)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(got[:, head, :n_txt], plain[:, head, :n_txt], rtol=1e-4, atol=1e-5)


def three_paths(host, hh, model, pos, neg, settings, cfg=2.0):
    """The guider's batched and sequential images, and KSampler with the node, same settings."""
    guider_node = host("nodes.guider")
    results = {}
    for mode in (guider_node.MODE_BATCHED, guider_node.MODE_SEQUENTIAL):
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=model, positive=pos, negative=neg, cfg=cfg,
                                mode=mode, **settings)
        results[mode] = hh.custom_advanced(guider)
    return results, hh.ksampler(patch(host, hh, model, **settings), pos, neg, cfg=cfg)


@pytest.mark.parametrize("kind", ["sd3", "flux"])
def test_guider_batched_equals_sequential_equals_ksampler(host, hh, sd3, flux, kind):
    model = sd3 if kind == "sd3" else flux
    guider_node = host("nodes.guider")
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    settings = dict(heads="L0H1, L2", scale=2.5, softpag_u=0.75, start_percent=0.0, end_percent=1.0, rescale=0.3,
                    perturb_tokens=TOKENS_ALL)
    results, ks = three_paths(host, hh, model, pos, neg, settings)
    torch.testing.assert_close(results[guider_node.MODE_BATCHED], results[guider_node.MODE_SEQUENTIAL], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(results[guider_node.MODE_SEQUENTIAL], ks, rtol=1e-5, atol=1e-5)


def test_core_nag_inside_flux_blocks_keeps_the_three_paths_equal(host, hh, flux):
    """ComfyUI v0.28's Normalized Attention Guidance patches the attention output inside FLUX
    blocks, and only when cond and uncond share a batch: the cond pass's hidden states then differ
    from a perturbed pass of the cond alone, so reusing them below the first perturbed layer would
    not be exact. The batched guider (its perturbed rows are never NAG-guided: NAG takes the first
    cond rows) is the reference; the sequential paths must give the same image."""
    nag = pytest.importorskip("comfy_extras.nodes_nag", reason="this ComfyUI release has no NAG node")
    (model,) = hh.run_node(nag.NAGuidance, model=flux, nag_scale=5.0, nag_alpha=0.5, nag_tau=1.5)
    guider_node = host("nodes.guider")
    pos, neg = hh.conditioning("flux", seed=1), hh.conditioning("flux", seed=2)
    settings = dict(heads="L3H1, L4", scale=2.5, softpag_u=0.75, start_percent=0.0, end_percent=1.0, rescale=0.0,
                    perturb_tokens=TOKENS_ALL)
    results, ks = three_paths(host, hh, model, pos, neg, settings)
    plain = hh.ksampler(model, pos, neg, cfg=2.0)
    assert not torch.allclose(ks, plain, atol=1e-3)
    torch.testing.assert_close(results[guider_node.MODE_SEQUENTIAL], results[guider_node.MODE_BATCHED], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ks, results[guider_node.MODE_BATCHED], rtol=1e-4, atol=1e-4)


def test_batched_guider_runs_one_forward_per_step(host, hh, sd3):
    guider_node = host("nodes.guider")
    layout = host("patches.model_patch").model_layout(sd3)
    calls = []
    (guider,) = hh.run_node(
        guider_node.HeadHunterGuider, model=hh.with_recorders(sd3, layout, calls), positive=hh.conditioning("sd3"),
        negative=hh.conditioning("sd3", seed=2), cfg=2.0, heads="L0H0", scale=3.0, softpag_u=1.0,
        start_percent=0.0, end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL, mode=guider_node.MODE_BATCHED)
    hh.custom_advanced(guider, steps=2)
    layer0 = [c for c in calls if c["layer"] == 0]
    assert len(layer0) == 2 and all(c["args"][0].shape[0] == 3 for c in layer0)  # cond, uncond, perturbed


def test_schedule_window_skips_the_extra_pass(host, hh, sd3):
    layout = host("patches.model_patch").model_layout(sd3)
    calls = []
    model = patch(host, hh, hh.with_recorders(sd3, layout, calls), "L0H0", start_percent=0.5, end_percent=1.0)
    hh.ksampler(model, hh.conditioning("sd3"), hh.conditioning("sd3", seed=2), steps=4)
    forwards = sum(1 for c in calls if c["layer"] == 0)
    assert 4 < forwards < 8  # extra passes only in the second half of the schedule


@pytest.mark.parametrize(
    "heads, message",
    [
        ("L30H2", r"L30H2: layer 30 is out of range for SD3: 3 layers .*\(layers 0-2\)"),
        ("L1H7", r"L1H7: head 7 is out of range .*\(heads 0-2\)"),
        ("L1X", r"'L1X' is not a head"),
    ],
)
def test_bad_heads_fail_before_sampling_with_the_valid_range(host, hh, sd3, heads, message):
    with pytest.raises(ValueError, match=message):
        patch(host, hh, sd3, heads)


def test_unsupported_model_names_supported_families(host, hh):
    import comfy.ops
    from comfy.ldm.pixart.pixartms import PixArtMS

    # PixArt: a DiT the pack does not support (built on the meta device: only its class is read).
    model = PixArtMS(depth=1, hidden_size=64, num_heads=2, device="meta", operations=comfy.ops.disable_weight_init)
    with pytest.raises(ValueError, match=r"does not support this model \(PixArtMS\). Supported families: SD3, FLUX, "
                                         r"FLUX.2, Chroma, Qwen-Image, AuraFlow, HunyuanVideo, Wan, HiDream, Lumina 2, U-Net \(SD3 / SD3.5 MMDiT; FLUX.1"):
        host("core.model_layout").detect_layout(model)


def test_flux2_is_told_apart_from_flux1_by_its_parameters(host, hh, flux):
    """ComfyUI v0.28+ builds FLUX.2 with the same Flux class; with the same block counts and heads
    it is still FLUX.2 (global modulation), and FLUX.1 presets do not apply to it."""
    flux2 = hh.tiny_flux2(depth=2, single=3, heads=4)
    if flux2 is None:
        pytest.skip("this ComfyUI release cannot build FLUX.2")
    model_layout = host("patches.model_patch").model_layout
    assert (model_layout(flux).arch.id, model_layout(flux2).arch.id) == ("flux", "flux2")
    assert model_layout(flux).layer_list == model_layout(flux2).layer_list
    preset = host("core.heads").HeadSet.parse("L3H1", name="golden", arch="flux", family="flux.1-dev")
    with pytest.raises(ValueError, match=r"golden.* was made for .*flux.1-dev.* but the model is FLUX.2: 5 layers"):
        host("core.head_set_algebra").check_against_layout(preset, model_layout(flux2))


def test_chains_an_existing_attention_override(host, hh, sd3):
    seen = []

    def other(func, *a, **kw):
        seen.append(1)
        return func(*a, **kw)

    m = sd3.clone()
    m.model_options["transformer_options"]["optimized_attention_override"] = other
    hh.ksampler(patch(host, hh, m, "L1H1"), hh.conditioning("sd3"), hh.conditioning("sd3", seed=2), steps=1)
    normal = 3 + 1  # three joint attentions + the SD3.5-style attn2 of block 1
    perturbed = 2 + 1  # block 0 is reused from the cond pass (below the first perturbed layer, L1)
    assert len(seen) == normal + perturbed  # both passes went through the other override


@pytest.mark.parametrize(
    "heads, guider_mode",
    [
        ("L0H0-1", None),  # 2 of 3 heads: only the third is sent to the backend
        ("L2", None),  # a whole layer: no attention at all in the perturbed pass
        ("L2, L0H1", "batched (one forward)"),  # whole layer inside a batched forward: rows skipped
    ],
)
def test_identity_shortcuts_match_the_reference(host, hh, sd3, heads, guider_mode):
    """PAG heads need no attention (their output is V); the shortcuts must not change a number."""
    layout = host("patches.model_patch").model_layout(sd3)
    calls = []
    model = hh.with_recorders(sd3, layout, calls)
    pos, neg = hh.conditioning("sd3"), hh.conditioning("sd3", seed=2)
    if guider_mode is None:
        hh.ksampler(patch(host, hh, model, heads), pos, neg, steps=1, cfg=2.0)
    else:
        guider_node = host("nodes.guider")
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=model, positive=pos, negative=neg, cfg=2.0,
                                heads=heads, scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0,
                                rescale=0.0, perturb_tokens=TOKENS_ALL, mode=guider_mode)
        hh.custom_advanced(guider, steps=1)
    resolved = host("core.heads").HeadSet.parse(heads).resolve(layout)
    expected = {}
    for l, h, u in resolved:
        expected.setdefault(l, {})[h] = u
    joint = max(c["args"][0].shape[1] for c in calls)
    for c in calls:
        if c["args"][0].shape[1] != joint:
            c["perturbed"] = False  # attn2 of block 1: plain attention
    if guider_mode is not None:
        # Batched: the rows of conds entry 2 are the perturbed pass, the others plain cond/uncond.
        checked = 0
        for c in calls:
            if not c["perturbed"]:
                continue
            order = c["cond_or_uncond"]
            assert sorted(order) == [0, 1, 2]
            for row, entry in enumerate(order):
                rows = slice(row, row + 1)
                part = dict(c, out=c["out"][rows], perturbed=entry == 2,
                            args=tuple(a[rows] for a in c["args"][:3]) + c["args"][3:])
                checked += check_recorded_calls([part], expected, None)
        assert checked > 0
        return
    assert check_recorded_calls(calls, expected, None) > 0


def test_other_post_cfg_patches_keep_working_under_the_guider(host, hh, sd3):
    """A post-CFG patch set on the model before the guider still runs, every step, in both modes."""
    guider_node = host("nodes.guider")
    seen = []

    def other_post_cfg(args):
        seen.append(args["sigma"][0].item())
        return args["denoised"] * 0.5

    for mode in (guider_node.MODE_BATCHED, guider_node.MODE_SEQUENTIAL):
        seen.clear()
        m = sd3.clone()
        m.set_model_sampler_post_cfg_function(other_post_cfg)
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=m, positive=hh.conditioning("sd3"),
                                negative=hh.conditioning("sd3", seed=2), cfg=2.0, heads="L0H0", scale=3.0,
                                softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                                perturb_tokens=TOKENS_ALL, mode=mode)
        hh.custom_advanced(guider, steps=3)
        assert len(seen) == 3, mode


@pytest.mark.parametrize(
    "kind, heads",
    [
        ("sd3", "L2H1"),  # joint blocks 0-1 reused
        ("flux", "L1H2"),  # double block 0 reused
        ("flux", "L2H0, L4"),  # first single block: the double blocks' output is split back into txt/img
        ("flux", "L4H3@0.5"),  # single blocks: the joined sequence is reused
    ],
)
def test_perturbed_pass_reuses_the_cond_pass_below_the_first_perturbed_layer(host, hh, sd3, flux, kind, heads):
    """Blocks below the first perturbed layer see exactly the cond pass's input: the sequential
    pass starts at that layer. Same images as the batched guider, which computes every block."""
    model = sd3 if kind == "sd3" else flux
    layout = host("patches.model_patch").model_layout(model)
    first = host("core.heads").HeadSet.parse(heads).resolve(layout)[0][0]
    guider_node = host("nodes.guider")
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    settings = dict(heads=heads, scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                    perturb_tokens=TOKENS_ALL)
    calls = []
    recorded = hh.with_recorders(model, layout, calls)
    results = {}
    for mode in (guider_node.MODE_BATCHED, guider_node.MODE_SEQUENTIAL):
        calls.clear()
        (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=recorded, positive=pos, negative=neg, cfg=2.0,
                                mode=mode, **settings)
        results[mode] = hh.custom_advanced(guider, steps=2)
        if mode == guider_node.MODE_SEQUENTIAL:
            # Per step: one cond+uncond forward through every block, then the perturbed pass from `first` on.
            def tokens(c):
                return c["args"][0].shape[2 if c["kwargs"].get("skip_reshape") else 1]

            joint = {layer: max(tokens(c) for c in calls if c["layer"] == layer) for layer in range(layout.layers)}
            forwards = [sum(1 for c in calls if c["layer"] == layer and tokens(c) == joint[layer])
                        for layer in range(layout.layers)]
            assert forwards == [2 if layer < first else 4 for layer in range(layout.layers)], forwards
    torch.testing.assert_close(results[guider_node.MODE_SEQUENTIAL], results[guider_node.MODE_BATCHED], rtol=1e-4, atol=1e-4)


def test_auto_mode_batches_only_where_it_pays(host, hh, sd3):
    """auto: never on the CPU (cost grows with the batch); on an accelerator unless the
    sequential pass can skip a third of the model or more."""
    build = host("nodes.perturbation_inputs").build_guidance
    guider_node = host("nodes.guider")

    def guidance(heads):
        return build(sd3, heads, 3.0, 1.0, 0.0, 1.0, 0.0, TOKENS_ALL)

    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert guidance("L0H0").batching_pays(cuda) and not guidance("L0H0").batching_pays(cpu)
    assert not guidance("L1H0").batching_pays(cuda)  # layer 1 of 3: a third of the model reused
    layout = host("patches.model_patch").model_layout(sd3)
    calls = []
    (guider,) = hh.run_node(guider_node.HeadHunterGuider, model=hh.with_recorders(sd3, layout, calls),
                            positive=hh.conditioning("sd3"), negative=hh.conditioning("sd3", seed=2), cfg=2.0,
                            heads="L0H0", scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                            perturb_tokens=TOKENS_ALL, mode=guider_node.MODE_AUTO)
    hh.custom_advanced(guider, steps=1)
    assert sorted(c["args"][0].shape[0] for c in calls if c["layer"] == 0) == [1, 2]  # CPU: sequential


@pytest.mark.parametrize("attn2, family", [((), "sd3-medium"), ((0, 1, 2), "sd3.5-medium")])
def test_sd3_and_sd35_medium_are_told_apart(host, attn2, family):
    """Same size (24 x 24); SD3.5-medium's joint blocks carry an image self-attention (attn2).
    Built on the meta device: only the structure is read."""
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.mmdit import MMDiT

    model = MMDiT(input_size=None, patch_size=2, in_channels=16, out_channels=16, depth=24, adm_in_channels=2048,
                  context_embedder_config={"target": "torch.nn.Linear", "params": {"in_features": 4096, "out_features": 1536}},
                  pos_embed_max_size=8, num_patches=64, qk_norm="rms", x_block_self_attn_layers=list(attn2),
                  device="meta", operations=comfy.ops.disable_weight_init)
    layout = host("core.model_layout").detect_layout(model)
    assert (layout.layers, layout.heads, layout.family) == (24, 24, family)
    other = "sd3.5-medium" if family == "sd3-medium" else "sd3-medium"
    preset = host("core.heads").HeadSet.parse("L14H7", name="detail", arch="sd3", family=other)
    (warning,) = host("core.head_set_algebra").check_against_layout(preset, layout)
    assert f"found on {other}; this model is {family}" in warning
    assert host("core.head_set_algebra").check_against_layout(
        host("core.heads").HeadSet.parse("L14H7", name="detail", arch="sd3", family=family), layout) == []


# ---- the perturbation menu (core/targets.py) inside ComfyUI's real forward ------------------------
MENU = ["uniform", "mean_query", "seg(1)", "seg(inf)", "temperature(2)", "temperature(0.5)", "max", "mask(II)", "mask(TT)",
        "identity(TT)"]


def _menu_reference(c, head_targets, n_txt, grid, rows=slice(None)):
    """The recorded call recomputed with explicit N x N maps (tests/support/hh_attention_maps.py); ``rows``:
    the query rows the targets act on."""
    from hh_attention_maps import target_map

    a, kw = c["args"], c["kwargs"]
    q, k, v = a[0], a[1], a[2]
    heads = a[3] if len(a) > 3 else kw["heads"]
    skip = kw.get("skip_reshape", False)
    qh, kh, vh = (heads_view(t, heads, skip).transpose(1, 2).double() for t in (q, k, v))
    A = torch.softmax(qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5, -1)
    want = A @ vh
    for h, (kind, param, u) in head_targets.items():
        _, T = target_map(kind, param, qh, kh, rows, None, n_txt, grid)
        want[:, h] = ((1 - u) * A[:, h] + u * T[:, h]) @ vh[:, h]
    got = c["out"].double()
    got = got if kw.get("skip_output_reshape") else got.view(got.shape[0], got.shape[1], heads, -1).transpose(1, 2)
    return got, want


@pytest.mark.parametrize("kind", ["sd3", "flux"])
@pytest.mark.parametrize("target", MENU)
def test_each_target_in_the_real_forward(host, hh, sd3, flux, kind, target):
    """Per-head targets typed in the head text, on the joint attention of SD3 joint blocks and FLUX
    double and single blocks, match the explicit-map reference; the image grid (8 x 8 tokens for a
    16 x 16 latent, patch 2) and the text length are learned per forward."""
    spec = host("core.target_spec").parse_target(target)
    model = sd3 if kind == "sd3" else flux
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    # FLUX layer 3 is a single block (the text length comes from an earlier block); SD3 layer 2.
    layer, head = (3, 1) if kind == "flux" else (2, 2)
    text = f"L{layer}H{head}:{target}@0.5, L{layer}H0:{target}"
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), text)
    hh.ksampler(patched, hh.conditioning(kind), hh.conditioning(kind, seed=2), steps=1, cfg=2.0)
    perturbed = [c for c in calls if c["perturbed"] and c["layer"] == layer]
    assert perturbed, "the perturbed pass never ran"
    for c in perturbed:
        got, want = _menu_reference(c, {head: (spec.kind, spec.param, 0.5), 0: (spec.kind, spec.param, 1.0)},
                                    n_txt=6, grid=(8, 8))
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5)


def test_node_target_input_is_the_default_and_bad_targets_fail_before_sampling(host, hh, sd3):
    layout = host("patches.model_patch").model_layout(sd3)
    calls = []
    patched = patch(host, hh, hh.with_recorders(sd3, layout, calls), "L1H0, L2H1:max", target="uniform")
    hh.ksampler(patched, hh.conditioning("sd3"), hh.conditioning("sd3", seed=2), steps=1, cfg=2.0)
    checked = 0
    for c in (c for c in calls if c["perturbed"] and c["layer"] in (1, 2)):
        if c["args"][0].shape[1] != 6 + 64:
            continue  # SD3.5-style attn2: image tokens only, never perturbed
        targets = {0: ("uniform", None, 1.0)} if c["layer"] == 1 else {1: ("max", None, 1.0)}
        got, want = _menu_reference(c, targets, n_txt=6, grid=(8, 8))
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5)
        checked += 1
    assert checked >= 2
    for bad, says in (("blur", "'blur' is not a target"), ("seg", "needs its sigma")):
        with pytest.raises(ValueError, match=says):
            patch(host, hh, sd3, "L1H0", target=bad)


@pytest.mark.parametrize("target", ["mean_query", "temperature(2)", "uniform"])
def test_image_tokens_only_with_other_targets_keeps_text_rows(host, hh, flux, target):
    """image tokens only: text queries keep their attention, image queries get the target (the
    official smoothed_energy@img for mean_query), in FLUX double and single blocks."""
    spec = host("core.target_spec").parse_target(target)
    layout = host("patches.model_patch").model_layout(flux)
    calls = []
    patched = patch(host, hh, hh.with_recorders(flux, layout, calls), f"L1H0:{target}, L3H2:{target}@0.5",
                    tokens="image tokens only")
    hh.ksampler(patched, hh.conditioning("flux", tokens=5), hh.conditioning("flux", seed=2, tokens=5), steps=1)
    perturbed = [c for c in calls if c["perturbed"] and c["layer"] in (1, 3)]
    assert len(perturbed) == 2
    for c in perturbed:
        head, u = (0, 1.0) if c["layer"] == 1 else (2, 0.5)
        got, want = _menu_reference(c, {head: (spec.kind, spec.param, u)}, n_txt=5, grid=(8, 8), rows=slice(5, None))
        torch.testing.assert_close(got, want, rtol=1e-4, atol=2e-5)


@pytest.mark.parametrize("kind", ["sd3", "flux"])
@pytest.mark.parametrize("path", ["fisher_rao", "slerp"])
def test_curved_paths_in_the_real_forward(host, hh, sd3, flux, kind, path):
    """SoftPAG along the official code's Fisher-Rao / slerp paths (per-row log-sum-exp computed in
    chunks), against the explicit map of tests/support/hh_attention_maps.py."""
    from hh_attention_maps import path_map

    model = sd3 if kind == "sd3" else flux
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    layer, head = (3, 1) if kind == "flux" else (2, 2)
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), f"L{layer}H{head}:{path}@0.5")
    hh.ksampler(patched, hh.conditioning(kind), hh.conditioning(kind, seed=2), steps=1, cfg=2.0)
    perturbed = [c for c in calls if c["perturbed"] and c["layer"] == layer]
    assert perturbed
    for c in perturbed:
        a, kw = c["args"], c["kwargs"]
        heads = a[3] if len(a) > 3 else kw["heads"]
        skip = kw.get("skip_reshape", False)
        qh, kh, vh = (heads_view(t, heads, skip).transpose(1, 2).double() for t in a[:3])
        A = torch.softmax(qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5, -1)
        A[:, head] = path_map(path, A[:, head], 0.5)
        got = c["out"].double()
        got = got if kw.get("skip_output_reshape") else got.view(got.shape[0], got.shape[1], heads, -1).transpose(1, 2)
        torch.testing.assert_close(got, A @ vh, rtol=1e-4, atol=2e-5)
