"""The attention override's shortcuts give the same numbers as the explicit map (host-free).

The backend below follows the calling convention of ComfyUI's attention functions (q/k/v
[B, N, H*D] or [B, H, N, D] with skip_reshape; output [B, N, H*D] or [B, H, N, D]); the host
tier checks the same paths with ComfyUI's real backends.
"""
import pytest
import torch

from hh_attention_maps import from_out, softpag_reference, to_layout


def backend(q, k, v, heads, mask=None, skip_reshape=False, skip_output_reshape=False, **kwargs):
    backend.calls.append(q.shape)
    if not skip_reshape:
        q, k, v = (t.view(t.shape[0], t.shape[1], heads, -1).transpose(1, 2) for t in (q, k, v))
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out if skip_output_reshape else out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)


@pytest.mark.parametrize("layout, skip_reshape", [("BHND", True), ("BNC", False)])
@pytest.mark.parametrize("skip_output_reshape", [False, True])
@pytest.mark.parametrize(
    "targets, backend_batch",
    [
        ([(4, 6, (0, 1, 2, 3), 1.0)], 4),  # whole layer on the last chunk: rows 0-3 only
        ([(0, 2, (0, 1, 2, 3), 1.0), (2, 4, (1,), 0.5)], 4),  # whole layer + a SoftPAG head
        ([(0, 6, (0, 2, 3), 1.0)], 6),  # 3 of 4 heads over the whole batch: 1 head attended
        ([(0, 2, (0, 1, 2, 3), 1.0), (4, 6, (0, 1, 2, 3), 1.0)], 2),  # identity rows around rows 2-3
        ([(2, 4, (0, 1, 2, 3), 1.0)], 6),  # rows to attend not contiguous: no shortcut
        ([(0, 6, (0, 1, 2, 3), 1.0)], None),  # every row identity: no backend call
    ],
)
def test_shortcuts_match_reference(pack, layout, skip_reshape, skip_output_reshape, targets, backend_batch):
    attention = pack("patches.attention")
    softpag = pack("core.softpag")
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(6, 4, 9, 8, generator=g, dtype=torch.float64) for _ in range(3))
    built = [(r0, r1, softpag.LayerPerturbation(tuple(h), tuple([u] * len(h)))) for r0, r1, h, u in targets]
    override = attention.PerturbedAttention(built, joint_tokens=9, text_tokens=0, image_only=False)
    backend.calls = []
    out = override(backend, to_layout(q, layout), to_layout(k, layout), to_layout(v, layout), 4,
                   skip_reshape=skip_reshape, skip_output_reshape=skip_output_reshape, _inside_attn_wrapper=True)
    want = softpag_reference(q, k, v, [(r0, r1, {h: u for h in hs}) for r0, r1, hs, u in targets])
    torch.testing.assert_close(from_out(out, skip_output_reshape, 4), want, rtol=1e-10, atol=1e-10)
    assert [s[0] for s in backend.calls] == ([] if backend_batch is None else [backend_batch])


def test_other_lengths_pass_through(pack):
    """SD3.5's image-only attn2 in a perturbed block has another length: untouched."""
    attention = pack("patches.attention")
    softpag = pack("core.softpag")
    q = torch.randn(1, 5, 12)
    override = attention.PerturbedAttention([(0, 1, softpag.LayerPerturbation((0,), (1.0,)))], 9, 0, False)
    backend.calls = []
    torch.testing.assert_close(override(backend, q, q, q, 3), backend(q, q, q, 3))
