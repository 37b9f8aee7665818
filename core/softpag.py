"""SoftPAG on an attention output, without ever building an N x N attention map.

Paper (Ahn et al. 2025, Sec. 4.2): for a selected head, A' = (1 - u) A + u I. Since the map acts
linearly on V, the head's output becomes O' = (1 - u) A V + u V, i.e. ``lerp(O, V, u)``; u = 1
is PAG (Ahn et al. 2024), where the head's output is V itself. So the backend ComfyUI chose
computes O as usual and we only touch the selected heads' slices of it.

"Image tokens only" is diffusers' SD3 PAG target: image queries keep attending to text keys,
but among image keys only to themselves. For an image query i, with text scores s_t and
self-score s_ii, that softmax splits into two parts we can compute from an N_img x N_txt score
block (never N x N):  O_i = sigmoid(L - s_ii) * O_txt + sigmoid(s_ii - L) * v_i, where
L = logsumexp_t(s_t) and O_txt = softmax(s_t) V_txt. Text queries are left unperturbed.

Other targets (uniform, mean query, SEG, temperature, max: ``core.targets``) replace V by that
target's output, computed with the same backend on a modified q (``attend``) or from q, k, v alone;
each head has its own target and its own u.

Shapes follow ComfyUI's attention functions: q/k/v are [B, H, N, D] when ``skip_reshape``,
otherwise [B, N, H*D] (v may also be [B, N, H, D], as SD3 passes it); the output is [B, N, H*D],
or [B, H, N, D] when ``skip_output_reshape``. Host-free: plain torch.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .paths import PATHS, curved_output
from .target_spec import IDENTITY, TargetSpec

IDENTITY_II = TargetSpec("identity", "II")
from .targets import compute_target, mask_target, sdpa_attend


@dataclass(frozen=True)
class LayerPerturbation:
    """The heads of one layer to perturb for one group of batch rows, with their u and target
    (``targets`` empty: every head's target is the identity)."""

    heads: tuple[int, ...]
    u: tuple[float, ...]
    targets: tuple[TargetSpec, ...] = ()
    _cache: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def identity_only(self) -> bool:
        """PAG on every head: u = 1 and the identity target (the backend's output is not needed)."""
        return all(u == 1.0 for u in self.u) and all(t.is_identity for t in self.targets)

    def target_of(self, i: int) -> TargetSpec:
        return self.targets[i] if self.targets else IDENTITY

    def index(self, device) -> torch.Tensor:
        key = ("index", device)
        if key not in self._cache:
            self._cache[key] = torch.tensor(self.heads, dtype=torch.long, device=device)
        return self._cache[key]

    def u_tensor(self, device, dtype) -> torch.Tensor:
        """u per head shaped to broadcast over a [B, N, k, D] slice."""
        key = ("u", device, dtype)
        if key not in self._cache:
            self._cache[key] = torch.tensor(self.u, dtype=dtype, device=device).view(1, 1, -1, 1)
        return self._cache[key]

    def groups(self, device, dtype) -> list[tuple[TargetSpec, torch.Tensor, torch.Tensor, bool]]:
        """(target, head index, u per head, every u is 1) for each target this layer uses."""
        key = ("groups", device, dtype)
        if key not in self._cache:
            if not self.targets or all(t == self.targets[0] for t in self.targets):
                spec = self.target_of(0) if self.heads else IDENTITY
                found = [(spec, self.index(device), self.u_tensor(device, dtype), all(u == 1.0 for u in self.u))]
            else:
                by_target: dict[TargetSpec, list[int]] = {}
                for i, spec in enumerate(self.targets):
                    by_target.setdefault(spec, []).append(i)
                found = []
                for spec, members in by_target.items():
                    us = [self.u[i] for i in members]
                    found.append((spec, torch.tensor([self.heads[i] for i in members], dtype=torch.long, device=device),
                                  torch.tensor(us, dtype=dtype, device=device).view(1, 1, -1, 1),
                                  all(u == 1.0 for u in us)))
            self._cache[key] = found
        return self._cache[key]


# A target: rows [start, stop) of the batch get this layer perturbation.
Target = tuple[int, int, LayerPerturbation]


def to_heads(t: torch.Tensor, heads: int, heads_first: bool) -> torch.Tensor:
    """A [B, N, H, D] view of a q/k/v/output tensor in any of ComfyUI's layouts (no copy)."""
    if heads_first:
        return t.transpose(1, 2)
    if t.ndim == 3:
        return t.view(t.shape[0], t.shape[1], heads, -1)
    return t


def apply_softpag(
    out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    heads: int,
    targets: list[Target],
    *,
    skip_reshape: bool = False,
    skip_output_reshape: bool = False,
    image_only: bool = False,
    text_tokens: int = 0,
    mask: torch.Tensor | None = None,
    attend=None,
    grid: tuple[int, int] | None = None,
    text_first: bool = True,
) -> torch.Tensor:
    """Blend the selected heads' outputs toward their targets, in place; returns ``out``.

    ``attend(q, k, v, mask)``: the attention backend on [b, N, k, D] tensors (default: torch's
    SDPA), used by targets that attend with a modified query. ``grid``: the image tokens' (h, w),
    which follow the ``text_tokens`` text tokens; needed by ``seg`` only. ``text_first``: the joint
    sequence is text then image (SD3, FLUX, ...); False where the model puts the image first
    (HunyuanVideo on ComfyUI v0.3.64): the text is the last ``text_tokens``.
    """
    out_h = to_heads(out, heads, skip_output_reshape)
    v_h = to_heads(v, heads, skip_reshape)
    n = out_h.shape[1]
    text = slice(0, text_tokens) if text_first else slice(n - text_tokens, n)
    image = slice(text_tokens, n) if text_first else slice(0, n - text_tokens)
    for start, stop, pert in targets:
        rows = slice(start, stop)
        for spec, idx, u, all_one in pert.groups(out.device, out.dtype):
            if spec.is_identity and not image_only:
                tokens = slice(None)
                target = v_h[rows][:, :, idx]
            elif spec.kind in PATHS:
                # A curved path to the identity: O' itself, not a target to lerp toward.
                tokens = image if image_only else slice(None)
                q_h, k_h, v_h, m = _selected_heads(q, k, v, mask, heads, rows, idx, skip_reshape, out.shape[0])
                view = out_h[rows, tokens]
                view[:, :, idx] = curved_output(spec.kind, view[:, :, idx], q_h, k_h, v_h, tokens, u, m).to(out.dtype)
                continue
            else:
                tokens, target = _menu_target(spec, q, k, v, heads, rows, idx, skip_reshape, image_only, text_tokens,
                                              mask, attend, grid, out.shape[0], image, text)
                if target is None:
                    continue
            view = out_h[rows, tokens]
            if all_one:
                view[:, :, idx] = target.to(out.dtype)
            else:
                view[:, :, idx] = torch.lerp(view[:, :, idx], target.to(out.dtype), u)
    return out


def _menu_target(spec, q, k, v, heads, rows, idx, skip_reshape, image_only, text_tokens, mask, attend, grid, batch,
                 image: slice, text: slice):
    """(token rows, O_target for them) of a target other than the whole-map identity, or (rows, None)
    when it leaves this call alone (SEG without an image grid, a block of an empty part). ``image``,
    ``text``: where the two parts sit in the joint sequence (text first, or the image first where
    the model puts it so)."""
    q_h, k_h, v_h, m = _selected_heads(q, k, v, mask, heads, rows, idx, skip_reshape, batch)
    n = q_h.shape[1]
    parts = {"I": image, "T": text}
    if spec.is_identity:  # image tokens only: the image's own block (diffusers' SD3 PAG), as identity(II)
        spec = IDENTITY_II
    if spec.kind == "identity":  # identity(II) / identity(TT): its own part's rows, whatever the token scope
        own, other = (image, text) if spec.param == "II" else (text, image)
        if len(range(*own.indices(n))) == 0:
            return own, None
        return own, _own_block_identity(q_h, k_h, v_h, m, own, other)
    tokens = image if image_only else slice(None)
    if spec.kind == "seg":
        # The grid is the first h * w (* frames) image tokens (tokens past it, e.g. FLUX Kontext's
        # reference images, are not blurred), wherever the image part starts.
        if grid is None or math.prod(grid) > n - text_tokens:
            return tokens, None
        tokens = slice(image.start, image.start + math.prod(grid))
    if spec.kind == "mask":  # a block of the joint map: its own rows, whatever the token scope
        return mask_target(q_h, k_h, v_h, attend or sdpa_attend, m, spec.param, parts)
    target = compute_target(spec, q_h, k_h, v_h, tokens, attend or sdpa_attend, m, grid)
    return tokens, target


def _selected_heads(q, k, v, mask, heads: int, rows: slice, idx, skip_reshape: bool, batch: int):
    """q, k, v of the batch ``rows`` and heads ``idx`` as [b, N, k, D], and the mask for them (a
    per-head mask keeps those heads; a mask shared by the heads stays shared)."""
    q_h, k_h, v_h = (to_heads(t, heads, skip_reshape)[rows][:, :, idx] for t in (q, k, v))
    m = _mask_rows(mask, rows, batch)
    return q_h, k_h, v_h, (m[:, idx] if m is not None and m.shape[1] > 1 else m)


def _mask_rows(mask, rows: slice, batch: int):
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill_(~mask, float("-inf"))
    # As ComfyUI's attention backends read it: [N, N] -> [1, 1, N, N]; [B, Nq, N] -> [B, 1, Nq, N]
    # (Qwen-Image passes [B, 1, N]: a key mask for every query).
    if mask.ndim == 2:
        mask = mask.unsqueeze(0)
    if mask.ndim == 3:
        mask = mask.unsqueeze(1)
    if mask.shape[0] == batch and batch > 1:
        mask = mask[rows]
    return mask


def _own_block_identity(q_h, k_h, v_h, mask, own: slice, other: slice):
    """The map where ``own``'s queries attend to the ``other`` part's keys as before but, among
    their own part's keys, only to themselves: the official [LOGIT_PERTURB]II_identity (own = the
    image: diffusers' SD3 PAG) or TT_identity (own = the text). q_h, k_h, v_h: the selected heads
    [b, N, k, D], mask for them; returns O_target for the own rows, [b, N_own, k, D]. Never an N x N
    map: an N_own x N_other score block, and each query's score with itself."""
    # At least fp32: the softmax split below is computed outside the backend's kernels.
    dtype = torch.promote_types(q_h.dtype, torch.float32)
    q_o, k_x, k_o, v_x, v_o = (
        t[:, tokens].transpose(1, 2).to(dtype)  # [b, k, tokens, D]
        for t, tokens in ((q_h, own), (k_h, other), (k_h, own), (v_h, other), (v_h, own))
    )
    scale = q_o.shape[-1] ** -0.5
    s_other = (q_o @ k_x.transpose(-1, -2)) * scale  # [b, k, N_own, N_other]
    s_self = (q_o * k_o).sum(-1, keepdim=True) * scale  # [b, k, N_own, 1]
    if mask is not None:
        key_mask = mask.shape[2] == 1  # one row for every query (Qwen-Image's, HunyuanVideo's text mask)
        m = (mask if key_mask else mask[:, :, own, :]).to(dtype)
        s_other = s_other + m[..., other]
        mine = m[..., 0, own] if key_mask else torch.diagonal(m[..., own], dim1=-2, dim2=-1)
        s_self = s_self + mine.unsqueeze(-1)
    if k_x.shape[2] == 0:
        target = v_o
    else:
        lse = torch.logsumexp(s_other, dim=-1, keepdim=True)
        o_other = torch.softmax(s_other, dim=-1) @ v_x
        target = torch.sigmoid(lse - s_self) * o_other + torch.sigmoid(s_self - lse) * v_o
    return target.transpose(1, 2)  # [b, N_own, k, D]
