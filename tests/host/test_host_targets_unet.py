"""Every target on the U-Nets (SD1.5- and SDXL-like tiny models) inside ComfyUI's own sampling.

The reference puts explicit attention maps into ComfyUI's attn1 replace patches: per perturbed head
A' = (1 - u) A + u A_target with A_target built as an N x N map by tests/support/hh_attention_maps.py
(fisher_rao / slerp: the official paths' maps), and the PAG guidance of core's
PerturbedAttentionGuidance written out. SEG blurs over each level's own feature map, whose shape
ComfyUI's SpatialTransformer gives the patch (``activations_shape``); the latent is not square so
that rows and columns cannot be confused.
"""
import pytest
import torch

from hh_attention_maps import path_map, target_map
from hh_nodes import TOKENS_ALL

TARGETS = ["identity", "uniform", "mean_query", "seg(1)", "seg(0.6)", "seg(inf)", "temperature(2)", "temperature(0.5)",
           "max", "fisher_rao", "slerp"]
HEADS = {  # flat text, and the same heads as ComfyUI's attn1 keys (tests/host/test_host_unet.py's layouts)
    "sd15": ("L0H1, L2H3", {("input", 1, 0): (1,), ("middle", 0, 0): (3,)}),
    "sdxl": ("L0H2, L8H7", {("input", 3, 0): (2,), ("output", 1, 0): (7,)}),
}
LATENT = (8, 12)
SCALE = 20.0  # tiny random models barely react to a head: a large scale makes every target visible
TOL = 3e-3  # fp32 forwards against a float64 reference, amplified by the scale; a missed target is off by > 0.04  # h x w; levels of 8 x 12 and 4 x 6 tokens


@pytest.fixture(scope="module")
def unets(host, hh):
    return {"sd15": hh.tiny_unet("sd15"), "sdxl": hh.tiny_unet("sdxl", seed=1)}


def conds(hh, kind):
    return hh.unet_conditioning(kind, seed=1, size=64), hh.unet_conditioning(kind, seed=2, size=64)


def explicit_target_attention(spec, heads, u, grids_seen):
    def attention(q, k, v, extra):
        n_heads = extra["n_heads"]
        b, n, _ = q.shape
        qh, kh, vh = (t.reshape(b, n, n_heads, -1).transpose(1, 2).double() for t in (q, k, v))
        shape = extra["activations_shape"]
        grid = (shape[2], shape[3])
        grids_seen.add(grid)
        if spec.kind in ("fisher_rao", "slerp"):
            a = torch.softmax(qh @ kh.transpose(-1, -2) / qh.shape[-1] ** 0.5, dim=-1)
            target = path_map(spec.kind, a, 1.0)  # the path's end, blended below by its own u
            new = a.clone()
            for h in heads:
                new[:, h] = path_map(spec.kind, a[:, h], u)
        else:
            a, target = target_map(spec.kind, spec.param, qh, kh, slice(None), None, 0, grid)
            new = a.clone()
            for h in heads:
                new[:, h] = (1 - u) * a[:, h] + u * target[:, h]
        return (new @ vh).transpose(1, 2).reshape(b, n, -1).to(q.dtype)

    return attention


def reference_model(model, spec, selected, u, scale, grids_seen):
    import comfy.model_patcher
    import comfy.samplers

    m = model.clone()

    def post_cfg(args):
        options = args["model_options"].copy()
        for (block, block_id, index), heads in selected.items():
            options = comfy.model_patcher.set_model_options_patch_replace(
                options, explicit_target_attention(spec, heads, u, grids_seen), "attn1", block, block_id, index)
        (pag,) = comfy.samplers.calc_cond_batch(args["model"], [args["cond"]], args["input"], args["sigma"], options)
        return args["denoised"] + (args["cond_denoised"] - pag) * scale

    m.set_model_sampler_post_cfg_function(post_cfg)
    return m


def sample(model, pos, neg):
    import nodes

    samples = {"samples": torch.zeros(1, 4, *LATENT)}
    (out,) = nodes.common_ksampler(model, 0, 3, 2.0, "euler", "normal", pos, neg, samples)
    return out["samples"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_each_target_matches_its_explicit_map_in_a_unet(host, hh, unets, kind, target):
    model = unets[kind]
    spec = host("core.target_spec").parse_target(target)
    text, selected = HEADS[kind]
    pos, neg = conds(hh, kind)
    grids = set()
    want = sample(reference_model(model, spec, selected, 0.5, SCALE, grids), pos, neg)
    assert grids == {(8, 12), (4, 6)} if kind == "sd15" else {(4, 6), (2, 3)}
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    # The target both ways: the node's default and written in the heads text.
    own = ", ".join(f"{h}:{target}@0.5" for h in text.split(", "))
    for heads, default in ((text, target), (own, "identity")):
        patched = hh.run_node(node, model=model, heads=heads, scale=SCALE, softpag_u=0.5, start_percent=0.0,
                              end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL, target=default)[0]
        got = sample(patched, pos, neg)
        torch.testing.assert_close(got, want, rtol=0, atol=TOL)
    # The guidance moves the sample far more than the tolerance: a target left out would show.
    moved = (sample(model, pos, neg) - want).abs().max().item()
    assert moved > 10 * TOL, moved


@pytest.mark.parametrize("kind", ["sd15", "sdxl"])
def test_seg_and_temperature_differ_from_mean_query_per_level(host, hh, unets, kind):
    """SEG with a small sigma is not the infinite blur: the grid is really used."""
    model = unets[kind]
    pos, neg = conds(hh, kind)
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    out = {}
    for target in ("seg(0.6)", "seg(inf)", "mean_query"):
        patched = hh.run_node(node, model=model, heads=HEADS[kind][0], scale=2.0, softpag_u=1.0, start_percent=0.0,
                              end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL, target=target)[0]
        out[target] = sample(patched, pos, neg)
    torch.testing.assert_close(out["seg(inf)"], out["mean_query"], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(out["seg(0.6)"], out["mean_query"], rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("heads, target", [("L0H1:mask(II)", "identity"), ("L0H1", "mask(IT)"), ("L0H1", "identity(TT)")])
def test_mask_targets_are_refused_before_sampling_on_unets(host, hh, unets, heads, target):
    node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    with pytest.raises(ValueError, match=r"L0H1:(mask\(I[IT]\)|identity\(TT\)): U-Net has no text in its self-attention .* use identity"):
        hh.run_node(node, model=unets["sd15"], heads=heads, scale=2.0, softpag_u=1.0, start_percent=0.0,
                    end_percent=1.0, rescale=0.0, perturb_tokens=TOKENS_ALL, target=target)


def test_a_sweep_over_targets_refuses_mask_on_unets_before_any_image(host, unets):
    layout = host("patches.model_patch").model_layout(unets["sd15"])
    sweep = host("search.sweep_job")
    cells, columns = sweep.sweep_cells(layout, "L0H1", "per target", "identity, seg(1), slerp")
    assert columns == 3 and [c.label for c in cells] == ["identity", "seg(1)", "slerp"]
    with pytest.raises(ValueError, match=r"L0H1:mask\(II\): U-Net has no text in its self-attention"):
        sweep.sweep_cells(layout, "L0H1", "per target", "identity, mask(II)")
