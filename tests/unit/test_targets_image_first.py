"""Every target with the image tokens FIRST in the joint sequence (HunyuanVideo on ComfyUI v0.3.64),
and with a one-row key mask [B, 1, N] on the text (its text padding mask), host-free.

The reference is the explicit map of the text-first sequence (tests/support/hh_attention_maps.py); the
same tokens put image first must give the same outputs, token for token: attention does not
depend on where a token sits, only the parts (text, image, the SEG grid) must be found.
"""
import math

import pytest
import torch

from hh_attention_maps import MENU, path_map
from hh_attention_maps import target_reference as reference

N_TXT, GRID = 3, (3, 4)
SCOPES = [False, True]  # image_only


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(3)
    B, H, N, D = 3, 4, N_TXT + GRID[0] * GRID[1], 8
    return [torch.randn(B, H, N, D, generator=g, dtype=torch.float64) for _ in range(3)]


def key_mask(B, N):
    """[B, 1, N]: rows 1-2 of the batch have their last text token as padding."""
    mask = torch.zeros(B, 1, N, dtype=torch.float64)
    mask[1:, 0, N_TXT - 1] = -1e4
    return mask


def image_first(N):
    return torch.cat([torch.arange(N_TXT, N), torch.arange(N_TXT)])


def run_image_first(pack, q, k, v, spec, heads, u, image_only, mask):
    """apply_softpag on the image-first order of q, k, v (and the mask's keys); rows 1-2 perturbed."""
    softpag = pack("core.softpag")
    order = image_first(q.shape[2])
    qi, ki, vi = q[:, :, order], k[:, :, order], v[:, :, order]
    mi = None if mask is None else mask[..., order]
    out = torch.nn.functional.scaled_dot_product_attention(qi, ki, vi, attn_mask=None if mi is None else mi.unsqueeze(1))
    targets = [(1, 3, softpag.LayerPerturbation(tuple(heads), (u,) * len(heads), (spec,) * len(heads)))]
    softpag.apply_softpag(out, qi, ki, vi, q.shape[1], targets, skip_reshape=True, skip_output_reshape=True,
                          image_only=image_only, text_tokens=N_TXT, mask=mi, grid=GRID, text_first=False)
    return out, order


def rows_of(kind, image_only, N):
    if kind == "seg":
        return slice(N_TXT, N_TXT + GRID[0] * GRID[1])
    return slice(N_TXT, None) if image_only else slice(None)


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "key-mask"])
@pytest.mark.parametrize("image_only", SCOPES, ids=["all-tokens", "image-only"])
@pytest.mark.parametrize("kind,param", MENU)
def test_menu_targets_with_the_image_first(pack, qkv, kind, param, image_only, with_mask):
    targets = pack("core.targets")
    q, k, v = qkv
    B, H, N, _ = q.shape
    mask = key_mask(B, N) if with_mask else None
    spec = targets.TargetSpec(kind, param)
    if (kind, param) == ("identity", None) and image_only:
        pytest.skip("image-only identity: tests/unit/test_softpag_math.py::test_image_tokens_only_with_the_image_first")
    out, order = run_image_first(pack, q, k, v, spec, (0, 2), 0.5, image_only, mask)
    want = reference(q, k, v, kind, param, [(1, 3, {0: 0.5, 2: 0.5})], rows=rows_of(kind, image_only, N),
                     mask=None if mask is None else mask.unsqueeze(1), n_txt=N_TXT, grid=GRID)
    torch.testing.assert_close(out, want[:, :, order], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "key-mask"])
@pytest.mark.parametrize("image_only", SCOPES, ids=["all-tokens", "image-only"])
@pytest.mark.parametrize("path", ["fisher_rao", "slerp"])
def test_curved_paths_with_the_image_first(pack, qkv, path, image_only, with_mask):
    targets = pack("core.targets")
    q, k, v = qkv
    B, H, N, D = q.shape
    mask = key_mask(B, N) if with_mask else None
    out, order = run_image_first(pack, q, k, v, targets.TargetSpec(path), (1, 3), 0.5, image_only, mask)
    extra = 0 if mask is None else mask.unsqueeze(1)
    A = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + extra, dim=-1)
    A_new = A.clone()
    rows = slice(N_TXT, None) if image_only else slice(None)
    for h in (1, 3):
        A_new[1:3, h, rows] = path_map(path, A[1:3, h], 0.5)[:, rows]
    torch.testing.assert_close(out, (A_new @ v)[:, :, order], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("path", ["fisher_rao", "slerp"])
def test_curved_paths_image_only_with_a_full_mask(pack, qkv, path):
    """A [N, N] mask with image-only rows: each query row reads its own row of the mask."""
    targets = pack("core.targets")
    softpag = pack("core.softpag")
    q, k, v = qkv
    B, H, N, D = q.shape
    g = torch.Generator().manual_seed(4)
    mask = torch.randn(N, N, generator=g, dtype=torch.float64)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    spec = targets.TargetSpec(path)
    softpag.apply_softpag(out, q, k, v, H, [(0, 3, softpag.LayerPerturbation((2,), (0.5,), (spec,)))], skip_reshape=True,
                          skip_output_reshape=True, image_only=True, text_tokens=N_TXT, mask=mask)
    A = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + mask, dim=-1)
    A_new = A.clone()
    A_new[:, 2, N_TXT:] = path_map(path, A[:, 2], 0.5)[:, N_TXT:]
    torch.testing.assert_close(out, A_new @ v, rtol=1e-9, atol=1e-9)
