"""Every target of the perturbation menu against an explicit attention-map reference (host-free).

The reference builds each N x N target map as HeadHunter's paper and code define it (identity,
uniform, mean query, SEG's blurred queries, temperature, one-hot max), blends it with the model's map
per head, A' = (1 - u) A + u A_target, and multiplies by V. The code under test never builds a map
and must agree in every layout ComfyUI's attention functions use.
"""
import math

import pytest
import torch

from test_softpag_math import CONVENTIONS, from_out, to_layout

IDS = ["flux-BHND", "unet-BNC", "sd3-BNC-vBNHD"]


def blur_matrix(h, w, sigma):
    """The SEG blur as a dense (h w) x (h w) matrix: separable Gaussian, ceil(3 sigma) taps a side
    (at most size - 1), reflected at the edges, built index by index."""
    def one_axis(size):
        m = torch.zeros(size, size, dtype=torch.float64)
        radius = min(math.ceil(3 * sigma), size - 1)
        taps = [math.exp(-0.5 * (x / sigma) ** 2) for x in range(-radius, radius + 1)]
        total = sum(taps)
        for i in range(size):
            for x, tap in zip(range(-radius, radius + 1), taps):
                j = i + x
                j = -j if j < 0 else (2 * (size - 1) - j if j >= size else j)  # reflect
                m[i, j] += tap / total
        return m
    if math.isinf(sigma):
        return torch.full((h * w, h * w), 1.0 / (h * w), dtype=torch.float64)
    return torch.kron(one_axis(h), one_axis(w))


def target_map(kind, param, q, k, rows, mask, n_txt, grid):
    """[B, H, N, N] map of the target for the query rows ``rows``; other rows are the model's."""
    B, H, N, D = q.shape
    logits = q @ k.transpose(-1, -2) / D**0.5
    extra = mask if mask is not None else torch.zeros(N, N, dtype=q.dtype)
    A = torch.softmax(logits + extra, dim=-1)
    T = A.clone()
    if kind == "identity":
        T[:, :, rows] = torch.eye(N, dtype=q.dtype)[rows]
    elif kind == "uniform":
        T[:, :, rows] = torch.softmax(torch.zeros(B, H, N, N, dtype=q.dtype) + extra, dim=-1)[:, :, rows]
    elif kind == "mean_query":
        qm = q[:, :, rows].mean(dim=2, keepdim=True).expand_as(q)
        T[:, :, rows] = torch.softmax(qm @ k.transpose(-1, -2) / D**0.5 + extra, dim=-1)[:, :, rows]
    elif kind == "seg":
        h, w = grid
        rows = slice(n_txt, n_txt + h * w)
        qb = q.clone()
        qb[:, :, rows] = blur_matrix(h, w, param) @ q[:, :, rows]
        T[:, :, rows] = torch.softmax(qb @ k.transpose(-1, -2) / D**0.5 + extra, dim=-1)[:, :, rows]
    elif kind == "temperature":
        T[:, :, rows] = torch.softmax(logits / param + extra, dim=-1)[:, :, rows]
    elif kind == "mask":  # official [LOGIT_PERTURB]XY_mask: X's queries lose Y's keys; its own rows
        part = {"T": slice(0, n_txt), "I": slice(n_txt, N)}
        block = torch.zeros(N, N, dtype=q.dtype)
        block[part[param[0]], part[param[1]]] = float("-inf")
        T[:, :, part[param[0]]] = torch.softmax(logits + extra + block, dim=-1)[:, :, part[param[0]]]
    elif kind == "max":
        onehot = torch.nn.functional.one_hot((logits + extra).argmax(-1), N).to(q.dtype)
        T[:, :, rows] = onehot[:, :, rows]
    return A, T


def reference(q, k, v, kind, param, groups, rows=slice(None), mask=None, n_txt=0, grid=None):
    """groups: [(row0, row1, {head: u})]."""
    A, T = target_map(kind, param, q, k, rows, mask, n_txt, grid)
    A_new = A.clone()
    for r0, r1, heads in groups:
        for h, u in heads.items():
            A_new[r0:r1, h] = (1 - u) * A[r0:r1, h] + u * T[r0:r1, h]
    return A_new @ v


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


MENU = [("uniform", None), ("mean_query", None), ("seg", 1.0), ("seg", 0.6), ("seg", math.inf),
        ("temperature", 2.0), ("temperature", 0.25), ("max", None), ("identity", None),
        ("mask", "II"), ("mask", "IT"), ("mask", "TI"), ("mask", "TT")]


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
        want = reference(q, k, v, kind, param, [(1, 3, {0: u, 2: u})], n_txt=3, grid=(3, 4))
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,param", [k for k in MENU if k[0] != "identity"])
def test_image_queries_only(pack, qkv, kind, param):
    """Image scope: text queries keep their attention; image queries get the target."""
    targets = pack("core.targets")
    q, k, v = qkv
    spec = targets.TargetSpec(kind, param)
    got = run(pack, q, k, v, [(0, 3, (1,), (0.75,), (spec,))], CONVENTIONS[0], image_only=True, text_tokens=3,
              grid=(3, 4))
    want = reference(q, k, v, kind, param, [(0, 3, {1: 0.75})], rows=slice(3, None), n_txt=3, grid=(3, 4))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind,param", [k for k in MENU if k[0] != "identity"])
def test_with_an_additive_mask(pack, qkv, kind, param):
    targets = pack("core.targets")
    q, k, v = qkv
    N = q.shape[2]
    g = torch.Generator().manual_seed(1)
    mask = torch.randn(N, N, generator=g, dtype=torch.float64)
    mask[:, 5] = float("-inf")  # a key nobody may attend to
    spec = targets.TargetSpec(kind, param)
    got = run(pack, q, k, v, [(0, 3, (3,), (0.5,), (spec,))], CONVENTIONS[2], text_tokens=3, grid=(3, 4), mask=mask)
    want = reference(q, k, v, kind, param, [(0, 3, {3: 0.5})], mask=mask, n_txt=3, grid=(3, 4))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_mixed_targets_in_one_layer(pack, qkv):
    """Each head its own target and u; heads outside the targets are the backend's output."""
    targets = pack("core.targets")
    q, k, v = qkv
    t = targets.parse_target
    groups = [(0, 3, (0, 1, 2), (1.0, 0.5, 0.25), (t("uniform"), t("identity"), t("temperature(3)")))]
    got = run(pack, q, k, v, groups, CONVENTIONS[1], text_tokens=3, grid=(3, 4))
    want = reference(q, k, v, "plain", None, [])
    for head, kind, param, u in ((0, "uniform", None, 1.0), (1, "identity", None, 0.5), (2, "temperature", 3.0, 0.25)):
        want[:, head] = reference(q, k, v, kind, param, [(0, 3, {head: u})])[:, head]
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_seg_without_a_grid_leaves_the_call_alone(pack, qkv):
    targets = pack("core.targets")
    q, k, v = qkv
    spec = targets.TargetSpec("seg", 2.0)
    got = run(pack, q, k, v, [(0, 3, (0,), (1.0,), (spec,))], CONVENTIONS[0], text_tokens=3)
    torch.testing.assert_close(got, reference(q, k, v, "plain", None, []), rtol=1e-12, atol=1e-12)


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
    ("temperature(.5)", ("temperature", 0.5)), ("mask(ii)", ("mask", "II")), ("MASK(Tt)", ("mask", "TT")), ("fisher_rao", ("fisher_rao", None)),
    ("Slerp", ("slerp", None)),
])
def test_target_text(pack, text, want):
    targets = pack("core.targets")
    spec = targets.parse_target(text)
    assert (spec.kind, spec.param) == want
    assert targets.parse_target(spec.text) == spec


@pytest.mark.parametrize("text,says", [
    ("blur", "is not a target"), ("seg", "needs its sigma"), ("temperature", "needs its t"),
    ("temperature(0)", "outside"), ("temperature(1000)", "outside"), ("seg(0)", "outside"),
    ("uniform(2)", "takes no parameter"), ("mask", "mask needs a block"), ("mask(XI)", "mask needs a block"),
    ("mask(2)", "mask needs a block"), ("seg(ab)", "needs its sigma"), ("uniform(ii)", "takes no parameter"), ("seg(" + "9" * 40 + ")", "characters"), ("seg(-1)", "is not a target"),
])
def test_bad_target_text(pack, text, says):
    targets = pack("core.targets")
    with pytest.raises(targets.TargetError, match=says.replace("(", r"\(")):
        targets.parse_target(text)


# ---- curved paths to the identity (core/paths.py) -------------------------------------------------
def path_map(path, A, u):
    """The official README's paths from A to I as explicit maps (Appendix B): t = 1 - u."""
    N = A.shape[-1]
    eye = torch.eye(N, dtype=A.dtype)
    t = 1.0 - u
    root = A.clamp_min(0).sqrt()
    if path == "fisher_rao":
        S = (1 - t) * eye + t * root
    else:
        theta = torch.acos(torch.diagonal(root, dim1=-2, dim2=-1).clamp(-1 + 1e-12, 1 - 1e-12)).unsqueeze(-1)
        c1 = torch.sin((1 - t) * theta) / torch.sin(theta)
        c2 = torch.sin(t * theta) / torch.sin(theta)
        small = theta < 1e-4
        c1, c2 = torch.where(small, 1 - t, c1), torch.where(small, t, c2)
        S = c1 * eye + c2 * root
    out = S ** 2
    return out / out.sum(-1, keepdim=True)


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
