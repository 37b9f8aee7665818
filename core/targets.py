"""The perturbation menu: what a perturbed head's attention becomes, without an N x N map.

A head's SoftX output is O' = (1 - u) O + u O_target, where O = A V is what the attention backend
returned and O_target = A_target V for the target map A_target (HeadHunter, Ahn et al. 2025,
Sec. 4.2 and Appendix C; each map is applied to V linearly, so the blend of maps is the blend of
outputs). Each target below is computed from q, k, v alone, or with one more call of the backend
ComfyUI chose on a modified q:

==============  ===========================================  =====================================
target          A_target                                     computed as
==============  ===========================================  =====================================
identity        I (PAG, Ahn et al. 2024)                     V
uniform         1/N over the keys (HeadHunter App. C.1)      mean of V over keys; with a mask,
                                                             the backend with q = 0
mean_query      every query replaced by the mean query       ONE attention row per head (the
                (SEG's infinite blur; HeadHunter App. C.2)   backend with a 1-token q), broadcast
seg(sigma)      queries blurred by a Gaussian of sigma       the backend on the blurred image
                tokens over the image grid (SEG, Hong 2024)  queries
temperature(t)  softmax(QK^T / (t sqrt d))                   the backend on q / t
max             one-hot on each query's largest score        chunked argmax: bounded memory,
                ("max guidance", HeadHunter App. C.3)        O(N^2 d) arithmetic outside the backend
mask(XY)        queries of part X no longer see keys of     the backend on X's queries against the
                part Y (official [LOGIT_PERTURB]XY_mask)     other part's keys
identity(XX)    part X's queries attend, among X's keys,     an N_X x N_other score block and each
                to themselves only (official XX_identity)    query's own score (core/softpag.py)
==============  ===========================================  =====================================

temperature follows the usual meaning of the word: t > 1 flattens the map toward uniform (t -> inf
is ``uniform``), t < 1 sharpens it toward ``max`` (t -> 0). The official code's
``temp_control@temperature=T`` multiplies the logits by T instead, so its T is 1/t here, and its
"max" case (T >= 1e5) is our ``max``.

Which query rows a target acts on (``rows``) is the caller's choice: all of the joint sequence, or
the image queries only (text rows keep their attention). SEG smooths over the image grid, so it
only ever changes image queries. q, k, v here are [b, N, k, D] (the selected heads of one batch
slice); ``attend(q, k, v, mask)`` is the attention backend on such tensors, returning [b, Nq, k, D].
Host-free: plain torch.
"""
from __future__ import annotations

import math

import torch

from .target_spec import TargetSpec

_MAX_CHUNK_ELEMENTS = 1 << 22  # scores held at once by ``max``: 4M floats per chunk


# ---- the targets --------------------------------------------------------------------------------
# Each returns O_target for the query rows ``rows`` of q: [b, n_rows, k, D].

def identity_target(q, k, v, rows, attend, mask, grid):
    """PAG (Ahn et al. 2024): A = I, each token attends to itself, O = V."""
    return v[:, rows]


def uniform_target(q, k, v, rows, attend, mask, grid):
    """Uniform attention (HeadHunter App. C.1): every allowed key weighs the same. Without a mask
    that is the mean of V; with one, softmax(0 + mask) V, i.e. the backend with a zero query."""
    n_rows = _count(rows, q.shape[1])
    if mask is None:
        return v.mean(dim=1, keepdim=True).expand(-1, n_rows, -1, -1)
    return attend(torch.zeros_like(q[:, rows]), k, v, _rows_of(mask, rows))


def mean_query_target(q, k, v, rows, attend, mask, grid):
    """SEG's infinite blur (HeadHunter App. C.2, "smoothed_energy"): the rows' queries are all
    replaced by their mean; without a mask every row then has the same attention, so one row per
    head is computed and broadcast."""
    q_rows = q[:, rows]
    mean = q_rows.mean(dim=1, keepdim=True)
    if mask is None:
        return attend(mean, k, v, None).expand(-1, q_rows.shape[1], -1, -1)
    return attend(mean.expand_as(q_rows), k, v, _rows_of(mask, rows))


def seg_target(q, k, v, rows, attend, mask, grid, sigma: float):
    """Smoothed Energy Guidance (Hong 2024): image queries blurred by a 2-D Gaussian of
    ``sigma`` tokens over the image grid (reflecting at the edges), attention computed as usual.
    ``rows`` must be the grid's rows; ``grid`` is (h, w), or (h, w, frames) for video tokens (frame
    by frame: each frame is blurred on its own, SEG being defined on images), with their product
    = the rows' count."""
    q_img = q[:, rows]
    h, w = grid[:2]
    b, n, heads, d = q_img.shape
    frames = n // (h * w)
    if math.isinf(sigma) and frames == 1:
        return mean_query_target(q, k, v, rows, attend, mask, grid)  # one row per head, as mean_query
    if math.isinf(sigma):  # each frame's mean query: one row per frame and head
        means = q_img.reshape(b, frames, h * w, heads, d).mean(dim=2)
        if mask is None:
            return attend(means, k, v, None).unsqueeze(2).expand(-1, -1, h * w, -1, -1).reshape(b, n, heads, d)
        spread = means.unsqueeze(2).expand(-1, -1, h * w, -1, -1).reshape(b, n, heads, d)
        return attend(spread, k, v, _rows_of(mask, rows))
    img = q_img.reshape(b, frames, h * w, heads, d).permute(0, 1, 3, 4, 2).reshape(b * frames * heads * d, 1, h, w)
    blurred = gaussian_blur(img, sigma).reshape(b, frames, heads, d, h * w).permute(0, 1, 4, 2, 3).reshape(b, n, heads, d)
    return attend(blurred.to(q.dtype), k, v, _rows_of(mask, rows))


def temperature_target(q, k, v, rows, attend, mask, grid, t: float):
    """softmax(QK^T / (t sqrt d)) V: the backend on q / t (HeadHunter App. C.3, with t = 1/T of the
    official code)."""
    return attend(q[:, rows] / t, k, v, _rows_of(mask, rows))


def max_target(q, k, v, rows, attend, mask, grid):
    """"Max guidance" (HeadHunter App. C.3, T -> inf): each query takes the value of its
    highest-scoring key. No backend returns an argmax, so scores are computed here, a chunk of
    queries at a time: memory bounded by _MAX_CHUNK_ELEMENTS, arithmetic O(N^2 d) like attention."""
    q_rows = q[:, rows].transpose(1, 2)  # [b, k, n, D]
    keys = k.transpose(1, 2)
    values = v.transpose(1, 2)
    b, heads, n, _ = q_rows.shape
    m = _rows_of(mask, rows)
    chunk = max(1, _MAX_CHUNK_ELEMENTS // max(1, b * heads * keys.shape[2]))
    out = torch.empty_like(values[:, :, :1]).expand(-1, -1, n, -1).contiguous()
    for start in range(0, n, chunk):
        part = slice(start, min(n, start + chunk))
        scores = q_rows[:, :, part] @ keys.transpose(-1, -2)  # the 1/sqrt(d) scale keeps the argmax
        if m is not None:
            rows_mask = m if m.shape[2] == 1 else m[:, :, part]  # a one-row mask holds for every query
            scores = scores + rows_mask.to(scores.dtype) * math.sqrt(q_rows.shape[-1])
        best = scores.argmax(dim=-1)  # [b, k, c]
        out[:, :, part] = torch.gather(values, 2, best.unsqueeze(-1).expand(-1, -1, -1, values.shape[-1]))
    return out.transpose(1, 2)


def mask_target(q, k, v, attend, mask, block: str, parts: dict):
    """A block of the joint map removed (the official code's [LOGIT_PERTURB]II_mask, IT_mask,
    TI_mask, TT_mask): queries of part ``block[0]`` attend only to keys outside part ``block[1]``
    (I image, T text; ``parts`` says where each sits in the sequence, as the caller reads the
    model's token order). One backend call on that sub-block. Returns (query rows, O_target), or
    (rows, None) when a part is empty."""
    n = q.shape[1]
    rows = parts[block[0]]
    keys = parts["I" if block[1] == "T" else "T"]
    if _count(rows, n) == 0 or _count(keys, n) == 0:
        return rows, None
    m = None if mask is None else _rows_of(mask, rows)[..., keys]
    return rows, attend(q[:, rows], k[:, keys], v[:, keys], m)


TARGETS = {
    "identity": identity_target,
    "uniform": uniform_target,
    "mean_query": mean_query_target,
    "seg": seg_target,
    "temperature": temperature_target,
    "max": max_target,
}


def compute_target(spec: TargetSpec, q, k, v, rows: slice, attend, mask=None, grid=None):
    """O_target of ``spec`` for the query rows ``rows``: [b, n_rows, k, D]."""
    fn = TARGETS[spec.kind]
    if spec.param is None:
        return fn(q, k, v, rows, attend, mask, grid)
    return fn(q, k, v, rows, attend, mask, grid, spec.param)


def gaussian_blur(img: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [n, 1, h, w] with reflect padding, three standard deviations a side
    (SEG, Hong 2024, blurs with a kernel about 6 sigma wide). The radius is capped at the grid's
    size minus one, where reflection stops."""
    h, w = img.shape[-2:]
    dtype = torch.promote_types(img.dtype, torch.float32)
    out = img.to(dtype)
    for dim, size in ((-2, h), (-1, w)):
        radius = min(math.ceil(3 * sigma), size - 1)
        if radius <= 0:
            continue
        x = torch.arange(-radius, radius + 1, dtype=dtype, device=img.device)
        kernel = torch.exp(-0.5 * (x / sigma) ** 2)
        kernel = kernel / kernel.sum()
        if dim == -2:
            padded = torch.nn.functional.pad(out, (0, 0, radius, radius), mode="reflect")
            out = torch.nn.functional.conv2d(padded, kernel.view(1, 1, -1, 1))
        else:
            padded = torch.nn.functional.pad(out, (radius, radius, 0, 0), mode="reflect")
            out = torch.nn.functional.conv2d(padded, kernel.view(1, 1, 1, -1))
    return out


def sdpa_attend(q, k, v, mask=None):
    """The default ``attend``: torch's scaled_dot_product_attention on [b, N, k, D] tensors."""
    out = torch.nn.functional.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2).to(q.dtype), v.transpose(1, 2).to(q.dtype),
        attn_mask=None if mask is None else mask.to(q.dtype))
    return out.transpose(1, 2)


def _count(rows: slice, n: int) -> int:
    return len(range(*rows.indices(n)))


def _rows_of(mask, rows: slice):
    """The mask's rows for the queries ``rows`` ([b, 1 or k, Nq, Nk] in, same out). A mask with one
    row ([b, 1 or k, 1, Nk]: a key mask for every query, as Qwen-Image's and HunyuanVideo's text
    padding masks) holds for any rows and is returned as it is."""
    if mask is None or mask.shape[2] == 1:
        return mask
    return mask[:, :, rows]
