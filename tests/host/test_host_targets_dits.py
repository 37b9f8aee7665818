"""Targets other than the identity inside real tiny DiT forwards, against explicit attention maps.

HunyuanVideo on ComfyUI v0.3.64 and HiDream join image then text (HunyuanVideo on v0.28.1: text then
image; HiDream's blocks are reached through patches/block_proxy.py); Qwen-Image on
v0.28.1 hides padded text with a [B, 1, N] key mask; Chroma, AuraFlow (registers before the text) and
Lumina 2 (proxied blocks) are text first. Every target, with image-token scope and
with the whole sequence, must match the explicit map of tests/support/hh_attention_maps.py computed on
the recorded q, k, v of the perturbed call, in the text-first order, then put back in the call's
own order.
"""
import math

import pytest
import torch

from hh_attention_maps import heads_view as _heads_view
from hh_attention_maps import path_map, recorded_key_mask, self_attention_calls, video_reference
from hh_attention_maps import target_reference as reference
from hh_nodes import patch

TOKENS_IMAGE = "image tokens only"
# Text tokens of a 5-token prompt as each tiny model sees it; 16 image tokens (8 x 8 latent, 2 x 2 patches).
# HiDream: T5 + the last Llama layer + the block's Llama layer, after the image.
TEXT_TOKENS = {"hv": 5, "qwen": 5, "wan": 0, "hidream": 15, "chroma": 5, "aura": 8 + 5, "lumina": 5}  # AuraFlow: 8 registers
TOKENS_ALL = "all tokens (paper)"
TARGETS = ["uniform", "mean_query", "seg(1)", "temperature(2)", "max", "mask(II)", "mask(IT)", "identity(II)",
           "identity(TT)", "fisher_rao", "slerp"]
GRID = (4, 4)  # an 8 x 8 latent in 2 x 2 patches


@pytest.fixture(scope="module")
def dits(host, hh):
    import hh_proxied

    return {"hv": hh.tiny_hunyuan_video(), "qwen": hh.tiny_qwen_image(), "wan": hh.tiny_wan(),
            "hidream": hh_proxied.tiny_hidream(), "chroma": hh.tiny_chroma(), "aura": hh.tiny_auraflow(),
            "lumina": hh_proxied.tiny_lumina2()}


def _perturbed_call(host, hh, model, heads, tokens, kind, frames=None):
    layout = host("patches.model_patch").model_layout(model)
    calls = []
    patched = patch(host, hh, hh.with_recorders(model, layout, calls), heads, tokens=tokens)
    pos, neg = hh.conditioning(kind, tokens=5), hh.conditioning(kind, seed=2, tokens=5)
    hh.ksampler(patched, pos, neg, steps=1, size=8, frames=frames)
    (c,) = [c for c in self_attention_calls(calls) if c["perturbed"] and c["layer"] == 3]
    return layout, c


@pytest.mark.parametrize("tokens", [TOKENS_IMAGE, TOKENS_ALL], ids=["image-only", "all-tokens"])
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("kind", ["hv", "qwen", "hidream", "chroma", "aura", "lumina"])
def test_targets_match_the_explicit_map_in_the_models_token_order(host, hh, dits, kind, target, tokens):
    model = dits[kind]
    layout, c = _perturbed_call(host, hh, model, f"L3H2:{target}@0.5", tokens, kind)
    a, kw = c["args"], c["kwargs"]
    heads = a[3] if len(a) > 3 else kw["heads"]
    q, k, v = (_heads_view(t, heads, kw.get("skip_reshape", False)).transpose(1, 2).double() for t in a[:3])
    B, H, N, D = q.shape
    n_txt = TEXT_TOKENS[kind]
    assert N == n_txt + GRID[0] * GRID[1]
    if kind == "hv":
        import hh_releases

        assert layout.image_first == (hh_releases.release() < (0, 28))
    # Text-first order for the reference: where token i of that order sits in the call.
    order = torch.cat([torch.arange(N - n_txt, N), torch.arange(N - n_txt)]) if layout.image_first else torch.arange(N)
    back = torch.argsort(order)
    qt, kt, vt = q[:, :, order], k[:, :, order], v[:, :, order]
    mask = recorded_key_mask(c, q)
    mask = None if mask.ndim == 0 else mask[..., order]
    spec = host("core.target_spec").parse_target(target)
    rows = slice(n_txt, None) if tokens == TOKENS_IMAGE else slice(None)
    if spec.kind in ("fisher_rao", "slerp"):
        A = torch.softmax(qt @ kt.transpose(-1, -2) / math.sqrt(D) + (0 if mask is None else mask), dim=-1)
        A_new = A.clone()
        A_new[:, 2, rows] = path_map(spec.kind, A[:, 2], 0.5)[:, rows]
        want = A_new @ vt
    else:
        if spec.kind == "seg":
            rows = slice(n_txt, n_txt + GRID[0] * GRID[1])
        want = reference(qt, kt, vt, spec.kind, spec.param, [(0, B, {2: 0.5})], rows=rows, mask=mask, n_txt=n_txt,
                         grid=GRID)
    want = want[:, :, back]
    got = c["out"].double()
    got = got if kw.get("skip_output_reshape") else got.view(B, N, heads, -1).transpose(1, 2)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    plain = reference(q, k, v, "plain", None, [], mask=recorded_key_mask(c, q) if mask is not None else None)
    assert not torch.allclose(got[:, 2], plain[:, 2], rtol=1e-4, atol=1e-5), "head 2 was not perturbed"


@pytest.mark.parametrize("sigma", ["1", "inf"])
@pytest.mark.parametrize("kind", ["hv", "wan"])
def test_seg_blurs_each_video_frame_over_its_own_grid(host, hh, dits, kind, sigma):
    """Three latent frames of 4 x 4 tokens (patches (1, 2, 2)): SEG blurs each frame on its own,
    wherever the image part sits (HunyuanVideo on v0.3.64: first)."""
    model = dits[kind]
    layout, c = _perturbed_call(host, hh, model, f"L3H2:seg({sigma})@0.5", TOKENS_ALL, kind, frames=3)
    a, kw = c["args"], c["kwargs"]
    heads = a[3] if len(a) > 3 else kw["heads"]
    q, k, v = (_heads_view(t, heads, kw.get("skip_reshape", False)).transpose(1, 2).double() for t in a[:3])
    B, H, N, D = q.shape
    n_txt = TEXT_TOKENS[kind]
    assert N == n_txt + 3 * GRID[0] * GRID[1]
    mask = recorded_key_mask(c, q)
    want = video_reference(q, k, v, float(sigma), {2: 0.5}, n_txt, GRID + (3,), None if mask.ndim == 0 else mask,
                           text_first=not layout.image_first)
    got = c["out"].double()
    got = got if kw.get("skip_output_reshape") else got.view(B, N, heads, -1).transpose(1, 2)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
