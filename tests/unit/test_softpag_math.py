"""SoftPAG on attention outputs against an explicit attention-map reference (host-free).

The reference builds the N x N map A = softmax(QK^T / sqrt(d)), forms A' = (1-u) A + u I (or the
image-only target) and multiplies by V, exactly as the paper writes it. The code under test never
builds a map; the two must agree in every layout ComfyUI's attention functions use.
"""
import pytest
import torch

from hh_attention_maps import CONVENTIONS, from_out, softpag_reference, to_layout


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(0)
    B, H, N, D = 4, 5, 13, 8
    return [torch.randn(B, H, N, D, generator=g, dtype=torch.float64) for _ in range(3)]


def run(pack, q, k, v, targets, conv, skip_output_reshape=False, **kw):
    softpag = pack("core.softpag")
    qk_layout, v_layout, skip_reshape = conv
    H = q.shape[1]
    backend = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=kw.get("mask"))
    out = backend if skip_output_reshape else to_layout(backend, "BNC")
    targets = [(r0, r1, softpag.LayerPerturbation(tuple(h), tuple(u))) for r0, r1, h, u in targets]
    result = softpag.apply_softpag(
        out, to_layout(q, qk_layout), to_layout(k, qk_layout), to_layout(v, v_layout), H, targets,
        skip_reshape=skip_reshape, skip_output_reshape=skip_output_reshape, **kw,
    )
    assert result is out  # in place
    return from_out(result, skip_output_reshape, H)


@pytest.mark.parametrize("conv", CONVENTIONS, ids=["flux-BHND", "unet-BNC", "sd3-BNC-vBNHD"])
@pytest.mark.parametrize("u", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("skip_output_reshape", [False, True])
def test_matches_explicit_map(pack, qkv, conv, u, skip_output_reshape):
    q, k, v = qkv
    heads = (1, 3)
    got = run(pack, q, k, v, [(2, 4, heads, (u, u))], conv, skip_output_reshape)
    want = softpag_reference(q, k, v, [(2, 4, {h: u for h in heads})])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("conv", CONVENTIONS, ids=["flux-BHND", "unet-BNC", "sd3-BNC-vBNHD"])
def test_per_head_u_and_several_row_groups(pack, qkv, conv):
    q, k, v = qkv
    targets = [(0, 1, (0, 4), (0.25, 1.0)), (3, 4, (2,), (0.5,))]
    got = run(pack, q, k, v, targets, conv)
    want = softpag_reference(q, k, v, [(0, 1, {0: 0.25, 4: 1.0}), (3, 4, {2: 0.5})])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)
    # Rows and heads outside the targets are the backend's output, untouched.
    plain = softpag_reference(q, k, v, [])
    torch.testing.assert_close(got[1:3], plain[1:3], rtol=0, atol=1e-12)
    torch.testing.assert_close(got[0, [1, 2, 3]], plain[0, [1, 2, 3]], rtol=0, atol=1e-12)


@pytest.mark.parametrize("conv", CONVENTIONS, ids=["flux-BHND", "unet-BNC", "sd3-BNC-vBNHD"])
@pytest.mark.parametrize("u", [0.0, 0.5, 1.0])
def test_image_tokens_only(pack, qkv, conv, u):
    q, k, v = qkv
    n_txt = 4
    got = run(pack, q, k, v, [(0, 4, (0, 2), (u, u))], conv, image_only=True, text_tokens=n_txt)
    want = softpag_reference(q, k, v, [(0, 4, {0: u, 2: u})], image_only=True, n_txt=n_txt)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_image_tokens_only_with_additive_mask(pack, qkv):
    q, k, v = qkv
    N = q.shape[2]
    g = torch.Generator().manual_seed(1)
    mask = torch.randn(N, N, generator=g, dtype=torch.float64)
    got = run(pack, q, k, v, [(0, 4, (1,), (1.0,))], CONVENTIONS[0], image_only=True, text_tokens=3, mask=mask)
    want = softpag_reference(q, k, v, [(0, 4, {1: 1.0})], image_only=True, n_txt=3, mask=mask)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("u", [0.5, 1.0])
def test_image_tokens_only_with_a_per_row_key_mask(pack, qkv, u):
    """Qwen-Image (ComfyUI v0.28) passes a [B, 1, N] additive mask that hides padded text keys,
    different per batch row; ComfyUI's backends read it as [B, 1, 1, N]."""
    q, k, v = qkv
    B, H, N, D = q.shape
    n_txt = 5
    mask = torch.zeros(B, 1, N, dtype=torch.float64)
    for row in range(B):
        mask[row, 0, n_txt - row:n_txt] = -1e4  # row r: its last r text tokens are padding
    softpag = pack("core.softpag")
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask.unsqueeze(1))
    targets = [(1, 4, softpag.LayerPerturbation((0, 3), (u, u)))]
    softpag.apply_softpag(out, q, k, v, H, targets, skip_reshape=True, skip_output_reshape=True, image_only=True,
                          text_tokens=n_txt, mask=mask)
    want = softpag_reference(q, k, v, [(1, 4, {0: u, 3: u})], image_only=True, n_txt=n_txt, mask=mask.unsqueeze(1))
    torch.testing.assert_close(out, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("u", [0.5, 1.0])
def test_image_tokens_only_with_the_image_first(pack, qkv, u):
    """HunyuanVideo on ComfyUI v0.3.64 joins image then text: the same tokens in that order give
    the same outputs, token for token, as the explicit map of the text-first sequence; also with
    a [B, 1, N] key mask on the text."""
    q, k, v = qkv
    B, H, N, D = q.shape
    n_txt = 4
    mask = torch.zeros(B, 1, N, dtype=torch.float64)
    mask[1:, 0, n_txt - 1] = -1e4  # rows 1-3: the last text token is padding
    want = softpag_reference(q, k, v, [(0, 4, {2: u, 4: u})], image_only=True, n_txt=n_txt, mask=mask.unsqueeze(1))
    order = torch.cat([torch.arange(n_txt, N), torch.arange(n_txt)])  # image first, then text
    qi, ki, vi, mi = q[:, :, order], k[:, :, order], v[:, :, order], mask[..., order]
    softpag = pack("core.softpag")
    out = torch.nn.functional.scaled_dot_product_attention(qi, ki, vi, attn_mask=mi.unsqueeze(1))
    softpag.apply_softpag(out, qi, ki, vi, H, [(0, 4, softpag.LayerPerturbation((2, 4), (u, u)))], skip_reshape=True,
                          skip_output_reshape=True, image_only=True, text_tokens=n_txt, mask=mi, text_first=False)
    torch.testing.assert_close(out, want[:, :, order], rtol=1e-9, atol=1e-9)


def test_pag_head_output_is_v(pack, qkv):
    """u = 1 is PAG: the head's output is its value vectors, exactly."""
    q, k, v = qkv
    got = run(pack, q, k, v, [(0, 4, (2,), (1.0,))], CONVENTIONS[0])
    assert torch.equal(got[:, 2], v[:, 2])


def test_half_precision_stays_in_dtype(pack):
    softpag = pack("core.softpag")
    q, k, v = (torch.randn(2, 3, 7, 4, dtype=torch.bfloat16) for _ in range(3))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(2, 7, 12)
    softpag.apply_softpag(out, q, k, v, 3, [(0, 2, softpag.LayerPerturbation((1,), (0.5,)))], skip_reshape=True)
    assert out.dtype == torch.bfloat16
