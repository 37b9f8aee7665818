"""Curved paths from a head's attention map A to the identity, without an N x N map.

HeadHunter's code (README "Interpolation Methods"; Appendix B) can move A toward I along the
Fisher-Rao geodesic instead of the straight line: with t = 1 - u,

    fisher_rao:  S = (1 - t) I + t sqrt(A),             A' = S^2 / rowsum(S^2)
    slerp:       S = c1 I + c2 sqrt(A), theta_i = arccos(sqrt(a_ii)),
                 c1 = sin((1 - t) theta) / sin theta, c2 = sin(t theta) / sin theta  (lerp below 1e-4)

Squaring S elementwise, I * sqrt(A) only keeps the diagonal, so row i of S^2 is
c1^2 e_i + 2 c1 c2 sqrt(a_ii) e_i + c2^2 A_i, and its sum is c1^2 + 2 c1 c2 sqrt(a_ii) + c2^2 (rows of
A sum to one). Hence, per query row,

    O'_i = [(c1^2 + 2 c1 c2 sqrt(a_ii)) v_i + c2^2 O_i] / (c1^2 + 2 c1 c2 sqrt(a_ii) + c2^2)

which needs only O (the backend's output), V, and the diagonal a_ii = exp(s_ii - L_i) with L_i the
row's log-sum-exp. No attention backend returns L_i, so it is computed here, a chunk of queries at
a time: memory bounded by _CHUNK_ELEMENTS scores, arithmetic O(N^2 d) per perturbed head, about
one unfused attention call. (The log-linear path, p^(1 - t) A^t, would also need the partition
function of softmax(t s): not offered.)
"""
from __future__ import annotations

import torch

PATHS = ("fisher_rao", "slerp")
_CHUNK_ELEMENTS = 1 << 22


def row_logsumexp(q, k, mask=None) -> torch.Tensor:
    """L_i = logsumexp_j(q_i k_j / sqrt(d) + mask_ij) for q [b, n, k, D], k [b, N, k, D] -> [b, n, k],
    in chunks of queries (at least fp32)."""
    dtype = torch.promote_types(q.dtype, torch.float32)
    qh, kh = q.transpose(1, 2).to(dtype), k.transpose(1, 2).to(dtype)  # [b, k, n, D]
    b, heads, n, d = qh.shape
    chunk = max(1, _CHUNK_ELEMENTS // max(1, b * heads * kh.shape[2]))
    out = torch.empty(b, heads, n, dtype=dtype, device=q.device)
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        scores = (qh[:, :, part] @ kh.transpose(-1, -2)) * d ** -0.5
        if mask is not None:
            # A one-row mask (a key mask for every query, Qwen-Image's and HunyuanVideo's) broadcasts.
            scores = scores + (mask if mask.shape[2] == 1 else mask[:, :, part]).to(dtype)
        out[:, :, part] = torch.logsumexp(scores, dim=-1)
    return out.transpose(1, 2)


def curved_output(path: str, out_rows, q, k, v, rows: slice, u, mask=None):
    """O' of the query rows ``rows`` along ``path`` with strength u ([1, 1, k, 1]); ``out_rows`` is
    the backend's output O of those rows, q/k/v [b, N, k, D]. Returns [b, n_rows, k, D]."""
    dtype = torch.promote_types(q.dtype, torch.float32)
    q_r, v_r = q[:, rows].to(dtype), v[:, rows].to(dtype)
    # The mask's rows of these queries (all of it where it is one row for every query).
    lse = row_logsumexp(q[:, rows], k, mask if mask is None or mask.shape[2] == 1 else mask[:, :, rows])  # [b, n, k]
    self_score = (q_r * k[:, rows].to(dtype)).sum(-1) * q.shape[-1] ** -0.5
    if mask is not None:
        if mask.shape[2] == 1:
            diag = mask[:, :, 0, rows]  # [b, 1 or k, n]
        else:
            diag = torch.diagonal(mask[:, :, rows][..., rows], dim1=-2, dim2=-1)  # [b, 1 or k, n]
        self_score = self_score + diag.transpose(1, 2).to(dtype)
    root = torch.exp(0.5 * (self_score - lse)).clamp(0.0, 1.0).unsqueeze(-1)  # sqrt(a_ii): [b, n, k, 1]
    t = (1.0 - u.to(dtype)).expand_as(root)
    if path == "fisher_rao":
        c1, c2 = 1.0 - t, t
    else:
        theta = torch.acos(root.clamp(-1.0 + 1e-12, 1.0 - 1e-12))
        small = theta < 1e-4
        sin = torch.sin(theta)
        c1 = torch.where(small, 1.0 - t, torch.sin((1.0 - t) * theta) / sin)
        c2 = torch.where(small, t, torch.sin(t * theta) / sin)
    own = c1 * c1 + 2.0 * c1 * c2 * root
    total = own + c2 * c2
    return (own * v_r + c2 * c2 * out_rows.to(dtype)) / total


__all__ = ["PATHS", "curved_output", "row_logsumexp"]
