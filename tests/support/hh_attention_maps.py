"""Explicit attention-map references: the independent computation the engine is tested against.

Each builds the N x N map A = softmax(QK^T / sqrt(d)) as the papers write it, forms the perturbed
map (SoftPAG: A' = (1-u) A + u I, Ahn et al. 2025 Eq. 5; the targets: A' = (1-u) A + u A_target;
the curved paths of Appendix B) and multiplies by V. The code under test never builds a map.
"""
import math

import torch


def softpag_reference(q, k, v, targets, image_only=False, n_txt=0, mask=None):
    """q, k, v: [B, H, N, D] float64. targets: [(row0, row1, {head: u})]. Returns [B, H, N, D]."""
    B, H, N, D = q.shape
    logits = q @ k.transpose(-1, -2) / D**0.5
    if mask is not None:
        logits = logits + mask
    A = torch.softmax(logits, dim=-1)
    eye = torch.eye(N, dtype=q.dtype).expand(B, H, N, N)
    if image_only:
        blocked = torch.full((N, N), float("-inf"), dtype=q.dtype)
        blocked[:, :n_txt] = 0
        blocked.fill_diagonal_(0)
        blocked[:n_txt] = 0  # text rows keep their attention
        target_map = torch.softmax(logits + blocked, dim=-1)
    else:
        target_map = eye
    A_new = A.clone()
    for r0, r1, heads in targets:
        for h, u in heads.items():
            A_new[r0:r1, h] = (1 - u) * A[r0:r1, h] + u * target_map[r0:r1, h]
    return A_new @ v


def to_layout(t, layout):
    """[B, H, N, D] -> the layout a ComfyUI caller passes."""
    B, H, N, D = t.shape
    if layout == "BHND":
        return t.contiguous()
    if layout == "BNHD":
        return t.transpose(1, 2).contiguous()
    return t.transpose(1, 2).reshape(B, N, H * D).contiguous()


def from_out(out, skip_output_reshape, H):
    if skip_output_reshape:
        return out
    B, N, HD = out.shape
    return out.view(B, N, H, HD // H).transpose(1, 2)


# (q/k layout, v layout, skip_reshape): FLUX, U-Net-style, SD3.
CONVENTIONS = [("BHND", "BHND", True), ("BNC", "BNC", False), ("BNC", "BNHD", False)]

IDS = ["flux-BHND", "unet-BNC", "sd3-BNC-vBNHD"]


# Every target of the menu with a parameter to test it at (tests/unit/test_targets_*.py).
MENU = [("uniform", None), ("mean_query", None), ("seg", 1.0), ("seg", 0.6), ("seg", math.inf),
        ("temperature", 2.0), ("temperature", 0.25), ("max", None), ("identity", None),
        ("mask", "II"), ("mask", "IT"), ("mask", "TI"), ("mask", "TT"), ("identity", "II"), ("identity", "TT")]


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
    if kind == "identity" and param is not None:  # official [LOGIT_PERTURB]XX_identity: its own rows
        part = {"T": slice(0, n_txt), "I": slice(n_txt, N)}[param[0]]
        own = torch.arange(N)[part]
        block = torch.zeros(N, N, dtype=q.dtype)
        block[own.unsqueeze(1), own] = float("-inf")  # its own part's keys: gone ...
        block[own, own] = 0.0  # ... but its own token
        T[:, :, part] = torch.softmax(logits + extra + block, dim=-1)[:, :, part]
    elif kind == "identity":
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


def target_reference(q, k, v, kind, param, groups, rows=slice(None), mask=None, n_txt=0, grid=None):
    """groups: [(row0, row1, {head: u})]."""
    A, T = target_map(kind, param, q, k, rows, mask, n_txt, grid)
    A_new = A.clone()
    for r0, r1, heads in groups:
        for h, u in heads.items():
            A_new[r0:r1, h] = (1 - u) * A[r0:r1, h] + u * T[r0:r1, h]
    return A_new @ v


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


def video_reference(q, k, v, sigma, heads_u, n_txt, grid, mask=None, text_first=True):
    """SEG over video tokens (frames x h x w, frame by frame, row-major in each) as explicit maps:
    each frame's image queries multiplied by that frame's blur matrix. ``grid``: (h, w, frames);
    ``heads_u``: {head: u} for every batch row; the text is first or, ``text_first`` False, last."""
    B, H, N, D = q.shape
    h, w, frames = grid
    blur = torch.kron(torch.eye(frames, dtype=q.dtype), blur_matrix(h, w, sigma))
    image = slice(n_txt, N) if text_first else slice(0, N - n_txt)
    qb = q.clone()
    qb[:, :, image] = blur @ q[:, :, image]
    extra = 0 if mask is None else mask
    A = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D) + extra, dim=-1)
    T = A.clone()
    T[:, :, image] = torch.softmax(qb @ k.transpose(-1, -2) / math.sqrt(D) + extra, dim=-1)[:, :, image]
    A_new = A.clone()
    for head, u in heads_u.items():
        A_new[:, head] = (1 - u) * A[:, head] + u * T[:, head]
    return A_new @ v


# ---- attention calls recorded inside a real forward ---------------------------------------------
def heads_view(t, heads, skip_reshape):
    if skip_reshape:
        return t.transpose(1, 2)
    return t.view(t.shape[0], t.shape[1], heads, -1) if t.ndim == 3 else t


def check_recorded_calls(calls, expected, heads_per_layer, image_only_text=None):
    """Attention calls recorded in a real forward, each recomputed with plain SDPA: heads not in
    ``expected`` ({layer: {head: u}} for perturbed forwards) untouched, the others (1-u) O + u V.
    Returns how many joint perturbed calls were checked."""
    checked = 0
    for c in calls:
        a, kw = c["args"], c["kwargs"]
        q, k, v = a[0], a[1], a[2]
        heads = a[3] if len(a) > 3 else kw["heads"]
        skip = kw.get("skip_reshape", False)
        qh, kh, vh = (heads_view(t, heads, skip).transpose(1, 2).double() for t in (q, k, v))  # [B, H, N, D]
        mask = a[4] if len(a) > 4 else kw.get("mask")  # Qwen-Image passes it fifth
        if mask is not None:  # as ComfyUI's backends read it: [B, N, N] or [B, 1, N] -> [B, 1, ., N]
            mask = (mask.unsqueeze(1) if mask.ndim == 3 else mask).double()
        plain = torch.nn.functional.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        want = plain.clone()
        joint = c["out"].shape[1] == q.shape[2 if skip else 1] and (c["layer"] in expected) and c["perturbed"]
        is_attn2 = heads_per_layer is not None and q.shape[2 if skip else 1] != c.get("joint_tokens", q.shape[2 if skip else 1])
        if c["perturbed"] and c["layer"] in expected and not is_attn2:
            for h, u in expected[c["layer"]].items():
                want[:, h] = (1 - u) * plain[:, h] + u * vh[:, h]
        got = c["out"].double()
        got = got if kw.get("skip_output_reshape") else got.view(got.shape[0], got.shape[1], heads, -1).transpose(1, 2)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
        checked += joint
    return checked


def _tokens(c, arg=0):
    return c["args"][arg].shape[2 if c["kwargs"].get("skip_reshape") else 1]


def self_attention_calls(calls):
    """The recorded self-attention calls (as many keys as queries); cross-attention (Wan's, to the
    text) is never perturbed and is checked as plain attention."""
    for c in calls:
        if _tokens(c, 1) != _tokens(c):
            c["perturbed"] = False
    return [c for c in calls if _tokens(c, 1) == _tokens(c)]


def recorded_key_mask(call, q):
    """The additive mask of a recorded call as ComfyUI's backends read it ([B, 1, N] -> [B, 1, 1, N]),
    zeros without one. Qwen-Image on v0.28 hides the padded text token this way."""
    a, kw = call["args"], call["kwargs"]
    mask = a[4] if len(a) > 4 else kw.get("mask")
    if mask is None:
        return torch.zeros((), dtype=q.dtype)
    mask = mask.double()
    return mask.unsqueeze(1) if mask.ndim == 3 else mask
