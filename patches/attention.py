"""The two hooks that put SoftPAG into a model's forward pass, through ComfyUI's own extension
points only (no monkey-patching):

* ``PerturbedBlock`` sits in ``transformer_options["patches_replace"]["dit"][(kind, index)]``
  for every perturbed layer. It learns which batch rows this forward perturbs (from the plan and
  ``cond_or_uncond``) and how long the joint sequence is, and hands the block a copy of its
  transformer_options with an attention override.
* ``PerturbedAttention`` is that ``optimized_attention_override``: ComfyUI's ``wrap_attn`` calls
  it with the backend it chose (SDPA, sage, flash, xformers, ...). It runs the backend (or the
  override another node set before us), then blends the selected heads toward the identity.

Only the joint attention over the whole text+image sequence is perturbed; any other attention
call inside the block (SD3.5's image-only ``attn2``) has a different length and passes through.
Nothing here imports ComfyUI: the calling conventions are ComfyUI's, the code is plain Python.
"""
from __future__ import annotations

from ..core.plan import PerturbationPlan
from ..core.softpag import Target, apply_softpag

PLAN_KEY = "headhunter_plan"
OVERRIDE_KEY = "optimized_attention_override"
_ATTENTION_PARAMS = ("q", "k", "v", "heads")


class PerturbedAttention:
    def __init__(self, targets: list[Target], joint_tokens: int, text_tokens: int, image_only: bool, previous=None):
        self.targets = targets
        self.joint_tokens = joint_tokens
        self.text_tokens = text_tokens
        self.image_only = image_only
        self.previous = previous

    def _call(self, func, args, kwargs):
        if self.previous is not None:
            return self.previous(func, *args, **kwargs)
        return func(*args, **kwargs)

    def __call__(self, func, *args, **kwargs):
        bound = dict(zip(_ATTENTION_PARAMS, args))
        bound.update({name: kwargs[name] for name in _ATTENTION_PARAMS if name in kwargs})
        q, k, v, heads = (bound[name] for name in _ATTENTION_PARAMS)
        skip_reshape = kwargs.get("skip_reshape", False)
        tokens = q.shape[2] if skip_reshape else q.shape[1]
        if tokens != self.joint_tokens:
            return self._call(func, args, kwargs)
        out = self._call(func, args, kwargs)
        return apply_softpag(
            out, q, k, v, heads, self.targets,
            skip_reshape=skip_reshape,
            skip_output_reshape=kwargs.get("skip_output_reshape", False),
            image_only=self.image_only,
            text_tokens=self.text_tokens,
            mask=kwargs.get("mask"),
        )


class PerturbedBlock:
    """Block-replace patch for one paper layer; chains a replace patch that was there before."""

    def __init__(self, layer: int, previous=None):
        self.layer = layer
        self.previous = previous

    def __call__(self, args, extra):
        options = args.get("transformer_options") or {}
        plan: PerturbationPlan | None = options.get(PLAN_KEY)
        if plan is not None:
            txt = args.get("txt")
            if txt is not None:
                plan.text_tokens = txt.shape[1]
            img = args["img"]
            targets = plan.targets(self.layer, options.get("cond_or_uncond"), img.shape[0])
            if targets:
                joint = img.shape[1] + (txt.shape[1] if txt is not None else 0)
                override = PerturbedAttention(targets, joint, plan.text_tokens, plan.image_only, options.get(OVERRIDE_KEY))
                args = {**args, "transformer_options": {**options, OVERRIDE_KEY: override}}
        if self.previous is not None:
            return self.previous(args, extra)
        return extra["original_block"](args)
