"""The DiTs beyond the paper's SD3 / FLUX.1, each a tiny random model built with ComfyUI's own
classes, in a real ComfyUI: detection by class and parameters, heads against an explicit
attention-map reference, scale 0, the guider's modes against the KSampler path, the grid's layout.

A model a release cannot build is skipped with the reason (FLUX.2 needs ComfyUI v0.28+).
"""
import pytest
import torch

from test_host_engine import TOKENS_ALL, _check_calls, patch

pytestmark = pytest.mark.host

# kind -> (architecture id, group sizes of the tiny model, heads)
KINDS = {
    "flux2": ("flux2", (2, 3), 4),
    "chroma": ("chroma", (2, 3), 4),
}


@pytest.fixture(scope="module")
def dits(host, hh):
    built = {"flux2": hh.tiny_flux2(), "chroma": hh.tiny_chroma()}
    return built


def _model(dits, kind):
    model = dits[kind]
    if model is None:
        pytest.skip(f"this ComfyUI release cannot build {kind} (FLUX.2 needs ComfyUI v0.28+)")
    return model


def _tokens(c):
    return c["args"][0].shape[2 if c["kwargs"].get("skip_reshape") else 1]


@pytest.mark.parametrize("kind", KINDS)
def test_detected_by_class_and_parameters(host, dits, kind):
    layout = host("patches.model_patch").model_layout(_model(dits, kind))
    arch, sizes, heads = KINDS[kind]
    assert (layout.arch.id, layout.group_sizes, layout.heads) == (arch, sizes, heads)
    # The numbering: double blocks first, then single blocks numbered on (as FLUX.1).
    assert [layout.block_of(i) for i in range(layout.layers)] == (
        [("double_block", i) for i in range(sizes[0])] + [("single_block", i) for i in range(sizes[1])])


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
    assert any(c["perturbed"] for c in calls), "the perturbed pass never ran"
    assert _check_calls(calls, expected, heads_per_layer=None) > 0


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
    forwards = [sum(1 for c in calls if c["layer"] == layer) for layer in range(layout.layers)]
    assert forwards == [2 if layer < 3 else 4 for layer in range(layout.layers)], forwards


@pytest.mark.parametrize("kind", KINDS)
def test_image_tokens_only_keeps_text_rows_in_single_blocks(host, hh, dits, kind):
    """Text first in the joint sequence (as FLUX.1): 'image tokens only' leaves the text queries'
    rows alone, also in single blocks, which learn the text length from the double blocks."""
    model = _model(dits, kind)
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), "L3H2", tokens="image tokens only")
    pos, neg = hh.conditioning(kind, tokens=5), hh.conditioning(kind, seed=2, tokens=5)
    hh.ksampler(patched, pos, neg, steps=1, size=8)
    (c,) = [c for c in calls if c["perturbed"] and c["layer"] == 3]
    q, k, v = (t.double() for t in c["args"][:3])  # [B, H, N, D]
    n_txt = q.shape[2] - (64 if kind == "flux2" else 16)  # 8 x 8 latent: 64 image tokens at patch size 1, 16 at 2
    logits = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    allowed = torch.full(logits.shape[-2:], float("-inf"), dtype=q.dtype)
    allowed[:, :n_txt] = 0
    allowed.fill_diagonal_(0)
    allowed[:n_txt] = 0
    plain = torch.softmax(logits, -1) @ v
    want = plain.clone()
    want[:, 2] = (torch.softmax(logits + allowed, -1) @ v)[:, 2]
    got = c["out"].double().view(q.shape[0], q.shape[2], q.shape[1], -1).transpose(1, 2)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_layout_payload_of_the_model(host, dits, kind):
    """What the grid draws after a run (the nodes' UI message): the model's own layout."""
    layout = host("patches.model_patch").model_layout(_model(dits, kind))
    payload = host("http_api.payloads").layout_payload(layout, layout.family)
    arch, sizes, heads = KINDS[kind]
    assert (payload["arch"], payload["layers"], payload["heads"]) == (arch, sum(sizes), heads)
    assert [(g["key"], g["start"], g["layers"]) for g in payload["groups"]] == [
        ("double_block", 0, sizes[0]), ("single_block", sizes[0], sizes[1])]
    assert payload["layer_labels"][sizes[0]] == "single block 0"


# ---- search and sweep: latent channels and the VAE factor from the model's latent format ----------

@pytest.fixture(scope="module")
def vaes(host):
    import hh_search

    return {channels: hh_search.tiny_vae(latent_channels=channels) for channels in (16, 128)}


def _latent_format(model):
    fmt = model.get_model_object("latent_format")
    return fmt.latent_channels, getattr(fmt, "spacial_downscale_ratio", 8)


@pytest.mark.parametrize("kind", KINDS)
def test_search_renders_candidates_as_ksampler_would(host, hh, dits, vaes, kind):
    model = _model(dits, kind)
    channels, factor = _latent_format(model)
    assert (channels, factor) == ((128, 16) if kind == "flux2" else (16, 8))  # ComfyUI's Flux2 / Flux formats
    gen = host("search.generation")
    positive = [hh.conditioning(kind, seed=s) for s in (1, 3)]
    size = 8 * factor  # 8 x 8 latents
    settings = gen.SamplingSettings(steps=2, sampler="euler", scheduler="simple", scale=2.0, cfg=1.0, width=size,
                                    height=size)
    renderer = gen.CandidateRenderer(model, vaes[channels], positive, [0, 1], settings)
    assert renderer.latent_shape == (channels, 8, 8)
    latents = renderer.latents([[(4, 1, 1.0)], [(0, 2, 0.5), (3, 1, 1.0)]])
    for c, text in enumerate(["L4H1", "L0H2@0.5, L3H1"]):
        for m in range(2):
            want = hh.ksampler(patch(host, hh, model, text, scale=2.0), positive[m], positive[m], steps=2, cfg=1.0,
                               seed=m, size=8)
            torch.testing.assert_close(latents[c, m], want[0], rtol=1e-4, atol=1e-4 * want.abs().max().item())


@pytest.mark.parametrize("kind", KINDS)
def test_search_and_sweep_nodes_run(host, hh, dits, vaes, kind, tmp_path, monkeypatch):
    import folder_paths

    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path / "output"))
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "headhunter_presets", ([str(tmp_path / "presets")], {".json"}))
    model = _model(dits, kind)
    channels, factor = _latent_format(model)
    size = 8 * factor
    positive = hh.conditioning(kind)
    grid, images = hh.run_node(
        host("nodes.sweep").HeadHunterSweep, model=model, vae=vaes[channels], positive=positive, prompt="", seed=5,
        heads="L4", mode="per head", steps=1, sampler="euler", scheduler="simple", scale=2.0, softpag_u=1.0, cfg=1.0,
        width=size, height=size, batch_candidates=2, include_baseline=True, columns=5)
    assert images.shape[0] == 5  # baseline + the 4 heads of single block 2

    class Brightness:
        name = "brightness"

        def score(self, images, prompts):
            return images.mean(dim=(1, 2, 3))

        def describe(self):
            return {"name": self.name}

        def release(self):
            pass

    out = hh.run_node(
        host("nodes.search").HeadHunterSearch, model=model, vae=vaes[channels], objective=Brightness(), positive=positive,
        prompts="a cat", style="", seeds="", k=1, rounds=1, steps=1, sampler="euler", scheduler="simple", scale=2.0,
        softpag_u=1.0, cfg=1.0, width=size, height=size, batch_candidates=4, candidates="L4, L0H1",
        run_name=f"{kind} run", family="")
    head_set = out[0]
    assert head_set.arch == KINDS[kind][0]
    assert set(head_set.meta["scores"]) == {"L4H0", "L4H1", "L4H2", "L4H3", "L0H1"}
