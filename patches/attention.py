"""The two hooks that put SoftPAG into a model's forward pass, through ComfyUI's own extension
points only (no monkey-patching):

* ``PerturbedBlock`` sits in ``transformer_options["patches_replace"]["dit"][(kind, index)]``
  for every perturbed layer. It learns which batch rows this forward perturbs (from the plan and
  ``cond_or_uncond``) and how long the joint sequence is, and hands the block a copy of its
  transformer_options with an attention override.
* ``PerturbedAttention`` is that ``optimized_attention_override``: ComfyUI's ``wrap_attn`` calls
  it with the backend it chose (SDPA, sage, flash, xformers, ...). It runs the backend (or the
  override another node set before us), then blends the selected heads toward their targets;
  targets that attend with a modified query (core/targets.py) call that same backend again, on
  the selected heads only.

Only the joint attention over the whole text+image sequence is perturbed; any other attention
call inside the block (SD3.5's image-only ``attn2``) has a different length and passes through.
Nothing here imports ComfyUI: the calling conventions are ComfyUI's, the code is plain Python.
"""
from __future__ import annotations

import math

import torch

from ..core.plan import PerturbationPlan
from ..core.softpag import Target, apply_softpag, to_heads

PLAN_KEY = "headhunter_plan"
TEXT_TOKENS_KEY = "headhunter_text_tokens"
# Image tokens of this forward, where no block sees the text apart (Lumina 2: its first noise-refiner
# block reports them, patches/block_proxy.py): the text is then the rest of the joint sequence.
IMAGE_TOKENS_KEY = "headhunter_image_tokens"
GRID_KEY = "headhunter_image_grid"  # (h, w) or (h, w, frames) of the image tokens, per forward (patches/model_patch.py)
OVERRIDE_KEY = "optimized_attention_override"
_ATTENTION_PARAMS = ("q", "k", "v", "heads")


class PerturbedAttention:
    def __init__(self, targets: list[Target], joint_tokens: int, text_tokens: int, image_only: bool, previous=None,
                 grid=None, text_first: bool = True):
        self.targets = targets
        self.grid = grid
        self.joint_tokens = joint_tokens
        self.text_tokens = text_tokens
        self.image_only = image_only
        self.previous = previous
        self.text_first = text_first

    def _call(self, func, args, kwargs):
        if self.previous is not None:
            return self.previous(func, *args, **kwargs)
        return func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        bound = dict(zip(_ATTENTION_PARAMS, args))
        bound.update({name: kwargs[name] for name in _ATTENTION_PARAMS if name in kwargs})
        q, k, v, heads = (bound[name] for name in _ATTENTION_PARAMS)
        skip_reshape = kwargs.get("skip_reshape", False)
        # ComfyUI's backends take the mask fifth (Qwen-Image passes it so) or by name.
        mask = args[4] if len(args) > 4 else kwargs.get("mask")
        tokens = q.shape[2] if skip_reshape else q.shape[1]
        keys = k.shape[2] if skip_reshape else k.shape[1]
        # Only the self-attention over the whole sequence: an identity map needs a key per query
        # (cross-attention to the text, as in Wan's blocks, has as many queries but other keys).
        if tokens != self.joint_tokens or keys != tokens:
            return self._call(func, args, kwargs)
        out = None
        targets = self.targets
        # A mask given fifth as None (Qwen-Image on v0.3.64) is the default; later positional args are not.
        if self.previous is None and not self.image_only and mask is None and len(args) <= 5:
            out, targets = _identity_shortcut(func, q, k, v, heads, targets, kwargs)
        if out is None:
            out = self._call(func, args, kwargs)
        return apply_softpag(
            out, q, k, v, heads, targets,
            skip_reshape=skip_reshape,
            skip_output_reshape=kwargs.get("skip_output_reshape", False),
            image_only=self.image_only,
            text_tokens=self.text_tokens,
            mask=mask,
            attend=lambda q_, k_, v_, mask=None: self._attend(func, q_, k_, v_, mask, kwargs),
            grid=self.grid,
            text_first=self.text_first,
        )

    def _attend(self, func, q, k, v, mask, kwargs):
        """The backend (through any override chained before us) on [b, N, k, D] tensors, in the
        [B, N, H*D] layout every ComfyUI attention function takes."""
        b, _, heads, dim = q.shape
        call = {name: value for name, value in kwargs.items()
                if name not in _ATTENTION_PARAMS and name not in ("mask", "skip_reshape", "skip_output_reshape")}
        flat = [t.to(q.dtype).reshape(t.shape[0], t.shape[1], -1) for t in (q, k, v)]
        out = self._call(func, (*flat, heads), {**call, "mask": mask})
        return out.reshape(b, -1, heads, dim)


def _identity_shortcut(func, q, k, v, heads, targets, kwargs):
    """Skip attention that PAG throws away (u = 1 makes a head's output V, whatever A is).

    Whole rows whose every head is identity-perturbed (layer-level PAG, or the perturbed rows of
    a batched forward) are not sent to the backend; and when a single head set covers the whole
    batch and perturbs at least half the heads, only the other heads are. Returns (out, targets
    still to apply) or (None, targets) when no shortcut applies.
    """
    skip_reshape = kwargs.get("skip_reshape", False)
    skip_output_reshape = kwargs.get("skip_output_reshape", False)
    batch = q.shape[0]
    full = [t for t in targets if t[2].identity_only and len(t[2].heads) == heads]
    if full:
        identity_rows = torch.zeros(batch, dtype=torch.bool)
        for start, stop, _ in full:
            identity_rows[start:stop] = True
        keep = (~identity_rows).nonzero().flatten().tolist()
        if keep and keep != list(range(keep[0], keep[-1] + 1)):
            return None, targets  # rows to attend are not contiguous: no cheap slicing
        out = _values_as_output(v, heads, skip_reshape, skip_output_reshape)
        if keep:
            rows = slice(keep[0], keep[-1] + 1)
            call = {**kwargs, "q": q[rows], "k": k[rows], "v": v[rows], "heads": heads}
            out[rows] = _backend(func, call)
        return out, [t for t in targets if t not in full]

    if len(targets) == 1 and targets[0][:2] == (0, batch) and targets[0][2].identity_only:
        perturbed = set(targets[0][2].heads)
        if 2 * len(perturbed) >= heads:
            keep = torch.tensor([h for h in range(heads) if h not in perturbed], device=q.device)
            q_h, k_h, v_h = (to_heads(t, heads, skip_reshape) for t in (q, k, v))
            tokens = q_h.shape[1]
            sub = [t[:, :, keep].reshape(batch, tokens, -1) for t in (q_h, k_h, v_h)]
            call = {**kwargs, "q": sub[0], "k": sub[1], "v": sub[2], "heads": len(keep),
                    "skip_reshape": False, "skip_output_reshape": False}
            attended = _backend(func, call).view(batch, tokens, len(keep), -1)
            out = _values_as_output(v, heads, skip_reshape, skip_output_reshape)
            to_heads(out, heads, skip_output_reshape)[:, :, keep] = attended.to(out.dtype)
            return out, []
    return None, targets


def _backend(func, call):
    call = dict(call)
    q, k, v, heads = (call.pop(name) for name in _ATTENTION_PARAMS)
    return func(q, k, v, heads, **call)


def _values_as_output(v, heads, skip_reshape, skip_output_reshape):
    """A fresh tensor holding V in the layout the backend would have returned."""
    v_h = to_heads(v, heads, skip_reshape)  # [B, N, H, D]
    batch, tokens, _, dim = v_h.shape
    if skip_output_reshape:
        return v_h.new_empty(batch, heads, tokens, dim).copy_(v_h.transpose(1, 2))
    out = v_h.new_empty(batch, tokens, heads * dim)
    out.view(batch, tokens, heads, dim).copy_(v_h)
    return out


class PerturbedBlock:
    """Block-replace patch for one paper layer; chains a replace patch that was there before.

    ``joint_text``: the block's "txt" is part of the attended sequence (SD3, FLUX, Qwen-Image...);
    False where it is only cross-attention context (Wan): the table's token order says which.
    ``text_first``: the order of that sequence (False: image first, as HunyuanVideo on v0.3.64)."""

    def __init__(self, layer: int, previous=None, joint_text: bool = True, text_first: bool = True):
        self.layer = layer
        self.previous = previous
        self.joint_text = joint_text
        self.text_first = text_first

    def __call__(self, args, extra):
        options = args.get("transformer_options") or {}
        plan: PerturbationPlan | None = options.get(PLAN_KEY)
        if plan is not None:
            txt = args.get("txt") if self.joint_text else None
            if txt is not None:
                # For later blocks that only see the joined sequence (FLUX single blocks), in this
                # forward's own options: ComfyUI copies transformer_options for every forward and
                # hands the same dict to each block of it.
                options[TEXT_TOKENS_KEY] = txt.shape[1]
            img = args["img"]
            targets = plan.targets(self.layer, options.get("cond_or_uncond"), img.shape[0])
            if targets:
                joint = img.shape[1] + (txt.shape[1] if txt is not None else 0)
                text = options.get(TEXT_TOKENS_KEY)
                if text is None:
                    image = options.get(IMAGE_TOKENS_KEY)
                    text = joint - image if image is not None and image <= joint else 0
                grid = options.get(GRID_KEY)
                if grid is not None and math.prod(grid) > joint - text:
                    grid = None  # not this forward's image (SEG then leaves the call alone)
                override = PerturbedAttention(targets, joint, text, plan.image_only, options.get(OVERRIDE_KEY), grid,
                                              text_first=self.text_first)
                args = {**args, "transformer_options": {**options, OVERRIDE_KEY: override}}
        if self.previous is not None:
            return self.previous(args, extra)
        return extra["original_block"](args)
