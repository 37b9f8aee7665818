"""Every target of the perturbation menu against an explicit attention-map reference (host-free).

The reference builds each N x N target map as HeadHunter's paper and code define it (identity,
uniform, mean query, SEG's blurred queries, temperature, one-hot max), blends it with the model's map
per head, A' = (1 - u) A + u A_target, and multiplies by V. The code under test never builds a map
and must agree in every layout ComfyUI's attention functions use.
"""
import math

import pytest
import torch

from hh_attention_maps import CONVENTIONS, IDS, MENU, from_out, path_map, target_reference, to_layout



def run(pack, q, k, v, groups, conv, skip_output_reshape=False, **kw):
    softpag = pack("core.softpag")
    qk_layout, v_layout, skip_reshape = conv
    H = q.shape[1]
    mask = kw.get("mask")
    backend = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out = backend if skip_output_reshape else to_layout(backend, "BNC")
    targets = [(r0, r1, softpag.LayerPerturbation(tuple(h), tuple(u), tuple(t))) for r0, r1, h, u, t in groups]
    result = softpag.apply_softpag(
        out, to_layout(q, qk_layout), to_layout(k, qk_layout), to_layout(v, v_layout), H, targets,
        skip_reshape=skip_reshape, skip_output_reshape=skip_output_reshape, **kw,
    )
    assert result is out
    return from_out(result, skip_output_reshape, H)


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(0)
    B, H, N, D = 3, 4, 3 + 12, 8  # 3 text tokens, a 3 x 4 image grid
    return [torch.randn(B, H, N, D, generator=g, dtype=torch.float64) for _ in range(3)]



@pytest.mark.parametrize("conv", CONVENTIONS, ids=IDS)
@pytest.mark.parametrize("kind,param", MENU)
@pytest.mark.parametrize("skip_output_reshape", [False, True])
def test_each_target_matches_its_explicit_map(pack, qkv, conv, kind, param, skip_output_reshape):
    targets = pack("core.targets")
    q, k, v = qkv
    spec = targets.TargetSpec(kind, param)
    for u in (0.5, 1.0):
        got = run(pack, q, k, v, [(1, 3, (0, 2), (u, u), (spec, spec))], conv, skip_output_reshape,
                  text_tokens=3, grid=(3, 4))
        want = target_reference(q, k, v, kind, param, [(1, 3, {0: u, 2: u})], n_txt=3, grid=(3, 4))
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,param", [k for k in MENU if k != ("identity", None)])
def test_image_queries_only(pack, qkv, kind, param):
    """Image scope: text queries keep their attention; image queries get the target."""
    targets = pack("core.targets")
    q, k, v = qkv
    spec = targets.TargetSpec(kind, param)
    got = run(pack, q, k, v, [(0, 3, (1,), (0.75,), (spec,))], CONVENTIONS[0], image_only=True, text_tokens=3,
              grid=(3, 4))
    want = target_reference(q, k, v, kind, param, [(0, 3, {1: 0.75})], rows=slice(3, None), n_txt=3, grid=(3, 4))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,param", [k for k in MENU if k != ("identity", None)])
def test_with_an_additive_mask(pack, qkv, kind, param):
    targets = pack("core.targets")
    q, k, v = qkv
    N = q.shape[2]
    g = torch.Generator().manual_seed(1)
    mask = torch.randn(N, N, generator=g, dtype=torch.float64)
    mask[:, 5] = float("-inf")  # a key nobody may attend to
    spec = targets.TargetSpec(kind, param)
    got = run(pack, q, k, v, [(0, 3, (3,), (0.5,), (spec,))], CONVENTIONS[2], text_tokens=3, grid=(3, 4), mask=mask)
    want = target_reference(q, k, v, kind, param, [(0, 3, {3: 0.5})], mask=mask, n_txt=3, grid=(3, 4))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_mixed_targets_in_one_layer(pack, qkv):
    """Each head its own target and u; heads outside the targets are the backend's output."""
    q, k, v = qkv
    t = pack("core.target_spec").parse_target
    groups = [(0, 3, (0, 1, 2), (1.0, 0.5, 0.25), (t("uniform"), t("identity"), t("temperature(3)")))]
    got = run(pack, q, k, v, groups, CONVENTIONS[1], text_tokens=3, grid=(3, 4))
    want = target_reference(q, k, v, "plain", None, [])
    for head, kind, param, u in ((0, "uniform", None, 1.0), (1, "identity", None, 0.5), (2, "temperature", 3.0, 0.25)):
        want[:, head] = target_reference(q, k, v, kind, param, [(0, 3, {head: u})])[:, head]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_seg_without_a_grid_leaves_the_call_alone(pack, qkv):
    targets = pack("core.targets")
    q, k, v = qkv
    spec = targets.TargetSpec("seg", 2.0)
    got = run(pack, q, k, v, [(0, 3, (0,), (1.0,), (spec,))], CONVENTIONS[0], text_tokens=3)
    torch.testing.assert_close(got, target_reference(q, k, v, "plain", None, []), rtol=1e-12, atol=1e-12)


def test_mean_query_calls_the_backend_with_one_query_row(pack, qkv):
    """One attention row per head, not N: the backend sees a 1-token query."""
    targets = pack("core.targets")
    q, k, v = qkv
    seen = []

    def attend(q_, k_, v_, mask=None):
        seen.append(q_.shape[1])
        return targets.sdpa_attend(q_, k_, v_, mask)

    spec = targets.TargetSpec("mean_query")
    run(pack, q, k, v, [(0, 3, (0, 1), (1.0, 1.0), (spec, spec))], CONVENTIONS[0], attend=attend)
    assert seen == [1]


@pytest.mark.parametrize("text,want", [
    ("identity", ("identity", None)), ("", ("identity", None)), ("Uniform", ("uniform", None)),
    ("mean_query", ("mean_query", None)), ("max", ("max", None)), ("seg(4)", ("seg", 4.0)),
    ("seg(inf)", ("seg", math.inf)), ("seg(10000)", ("seg", math.inf)), ("temperature(2)", ("temperature", 2.0)),
    ("temperature(.5)", ("temperature", 0.5)), ("mask(ii)", ("mask", "II")), ("MASK(Tt)", ("mask", "TT")), ("identity(tt)", ("identity", "TT")), ("Identity(II)", ("identity", "II")), ("fisher_rao", ("fisher_rao", None)),
    ("Slerp", ("slerp", None)),
])
def test_target_text(pack, text, want):
    target_spec = pack("core.target_spec")
    spec = target_spec.parse_target(text)
    assert (spec.kind, spec.param) == want
    assert target_spec.parse_target(spec.text) == spec


@pytest.mark.parametrize("text,says", [
    ("blur", "is not a target"), ("seg", "needs its sigma"), ("temperature", "needs its t"),
    ("temperature(0)", "outside"), ("temperature(1000)", "outside"), ("seg(0)", "outside"),
    ("uniform(2)", "takes no parameter"), ("mask", "mask needs a block"), ("mask(XI)", "mask needs a block"),
    ("mask(2)", "mask needs a block"), ("identity(IT)", "identity takes no parameter, or a block"),
    ("identity(2)", "identity takes no parameter, or a block"), ("seg(ab)", "needs its sigma"), ("uniform(ii)", "takes no parameter"), ("seg(" + "9" * 40 + ")", "characters"), ("seg(-1)", "is not a target"),
])
def test_bad_target_text(pack, text, says):
    target_spec = pack("core.target_spec")
    with pytest.raises(target_spec.TargetError, match=says.replace("(", r"\(")):
        target_spec.parse_target(text)


# ---- curved paths to the identity (core/paths.py) -------------------------------------------------
@pytest.mark.parametrize("conv", CONVENTIONS, ids=IDS)
@pytest.mark.parametrize("path", ["fisher_rao", "slerp"])
@pytest.mark.parametrize("u", [0.25, 0.5, 1.0])
def test_curved_paths_match_their_explicit_maps(pack, qkv, conv, path, u):
    targets = pack("core.targets")
    q, k, v = qkv
    N = q.shape[2]
    g = torch.Generator().manual_seed(2)
    mask = torch.randn(N, N, generator=g, dtype=torch.float64)
    spec = targets.TargetSpec(path)
    for m, image_only in ((None, False), (mask, False), (None, True)):
        got = run(pack, q, k, v, [(1, 3, (0, 3), (u, u), (spec, spec))], conv, mask=m, image_only=image_only,
                  text_tokens=3)
        A = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + (0 if m is None else m), dim=-1)
        A_new = A.clone()
        rows = slice(3, None) if image_only else slice(None)
        for h in (0, 3):
            A_new[1:3, h, rows] = path_map(path, A[1:3, h], u)[:, rows]
        torch.testing.assert_close(got, A_new @ v, rtol=1e-9, atol=1e-9)
