"""The perturbed pass and the guidance step, as ModelPatcher sampler hooks.

Two ways to run the perturbed pass, same result up to float rounding:

* sequential (the KSampler path): ComfyUI computes cond and uncond as usual; a post-CFG
  function runs one more ``calc_cond_batch`` over the positive conditioning with the plan in
  its options, like core's SkipLayerGuidanceDiT.
* batched: a ``sampler_calc_cond_batch_function`` runs cond, uncond and perturbed-cond in ONE
  ``calc_cond_batch``; the plan perturbs only the rows of the third entry. The post-CFG function
  then uses that prediction. ComfyUI still runs every pre-/post-CFG patch itself.
"""
from __future__ import annotations

import logging
from typing import Callable

import comfy.samplers

from ..core.architecture_rows import IMAGE_FIRST, NO_JOINT_TEXT, TEXT_FIRST
from ..core.guidance_formula import in_schedule, perturbed_guidance
from ..core.model_layout import ModelLayout
from ..core.plan import PerturbationPlan, layer_perturbations
from . import block_proxy
from .model_patch import with_dit_patches, with_plan
from .prefix import PrefixCache, capture_patch, prefix_reuse_exact, skip_patches

log = logging.getLogger("HeadHunter")

SEQUENTIAL_ENTRY = 0  # the perturbed pass alone: conds = [positive]
BATCHED_ENTRY = 2  # conds = [positive, negative, positive(perturbed)]


def joint_text_order(layout: ModelLayout) -> bool:
    """Whether "image tokens only" means anything here, read from the table's token order: without
    a joint text sequence (U-Nets) every self-attention token is an image token, so it is the same
    as all tokens. The token slicing in core/softpag.py and patches/prefix.py reads text first (SD3's
    ``_block_mixing``, FLUX) or image first (HiDream; ``layout.image_first``); another order fails."""
    order = layout.arch.token_order
    if order == NO_JOINT_TEXT:
        return False
    if order not in (TEXT_FIRST, IMAGE_FIRST):
        raise ValueError(f"{layout.name}: joint token order '{order}' is not supported (text or image first only)")
    return True


# Builds the plan that perturbs the rows of one cond entry: (entry, image_only) -> plan.
PlanFor = Callable[[int, bool], PerturbationPlan]


def heads_plan(resolved: list[tuple[int, int, float]]) -> PlanFor:
    """One head set, the same for every perturbed row."""
    per_layer = layer_perturbations(resolved)
    return lambda entry, image_only: PerturbationPlan({entry: per_layer}, image_only=image_only)


class PerturbedGuidance:
    """The perturbed pass and the guidance step of one node's settings.

    ``plan_for`` makes the plans of both paths (sequential: entry 0 of a pass of its own; batched:
    entry 2 of the cond, uncond, perturbed forward) once, here: a plan never changes afterwards.
    """

    def __init__(
        self,
        layout: ModelLayout,
        plan_for: PlanFor,
        scale: float,
        sigma_start: float,
        sigma_end: float,
        rescale: float = 0.0,
        image_only: bool = False,
    ):
        self.layout = layout
        self.scale = scale
        self.sigma_start = sigma_start
        self.sigma_end = sigma_end
        self.rescale = rescale
        image_only = image_only and joint_text_order(layout)
        self.sequential_plan = plan_for(SEQUENTIAL_ENTRY, image_only)
        self.batched_plan = plan_for(BATCHED_ENTRY, image_only)
        self._batched_result = None  # (input tensor, perturbed prediction) of the current step
        # Sequential pass: blocks below the first perturbed layer are reused from the cond pass,
        # where that is exact (patches/prefix.py).
        layers = self.sequential_plan.layers
        self.first_layer = layers[0] if layers else 0
        joined = layers and not layout.group_of(self.first_layer).separate_text
        # Blocks that only see the joined sequence learn the text length from the first block, which
        # must then run in the perturbed pass too.
        learns_text = self.sequential_plan.needs_text_tokens and joined
        exact = prefix_reuse_exact(layout) and not learns_text
        self.prefix = PrefixCache() if self.first_layer > 0 and exact else None

    @property
    def is_noop(self) -> bool:
        return self.scale == 0.0 or not self.sequential_plan.layers

    def batching_pays(self, device) -> bool:
        """Whether the batched pass should beat the sequential one: batching only pays on an
        accelerator (a CPU's cost grows with the batch), and not when the sequential pass can
        skip a third of the model or more by reusing the cond pass below the first perturbed layer."""
        if getattr(device, "type", str(device)) == "cpu":
            return False
        return self.prefix is None or 3 * self.first_layer < self.layout.layers

    def active(self, sigma) -> bool:
        return in_schedule(float(sigma[0]), self.sigma_start, self.sigma_end)

    def patch(self, model_patcher, batched: bool = False):
        """A clone of ``model_patcher`` guided by this object; the original is untouched."""
        m = model_patcher.clone()
        if self.is_noop:
            return m
        # Blocks ComfyUI gives no block-replace hook get the pack's proxy (ModelPatcher object patches).
        block_proxy.install(m, self.layout)
        if batched and "sampler_calc_cond_batch_function" in m.model_options:
            log.warning("HeadHunter: another node already batches conditions; running the perturbed pass separately.")
            batched = False
        if batched:
            m.set_model_sampler_calc_cond_batch_function(self.calc_cond_batch)
        elif self.prefix is not None:
            m.model_options = with_dit_patches(
                m.model_options, lambda dit: capture_patch(self.layout, self.first_layer, self.prefix, dit))
        m.set_model_sampler_post_cfg_function(self.post_cfg)
        return m

    def calc_cond_batch(self, args):
        conds, x, sigma, model = args["conds"], args["input"], args["sigma"], args["model"]
        if not self.active(sigma):
            return comfy.samplers.calc_cond_batch(model, conds, x, sigma, args["model_options"])
        options = with_plan(args["model_options"], self.batched_plan, self.layout, x)
        out = comfy.samplers.calc_cond_batch(model, [conds[0], conds[1], conds[0]], x, sigma, options)
        self._batched_result = (x, out[BATCHED_ENTRY])
        return out[:BATCHED_ENTRY]

    def post_cfg(self, args):
        cfg_result, sigma = args["denoised"], args["sigma"]
        if not self.active(sigma):
            return cfg_result
        x = args["input"]
        if self._batched_result is not None and self._batched_result[0] is x:
            perturbed = self._batched_result[1]
        else:
            options = with_plan(args["model_options"], self.sequential_plan, self.layout, x)
            state = self.prefix.take(sigma) if self.prefix is not None else None
            if state is not None and _prefix_reuse_is_exact(args):
                options = with_dit_patches(
                    options, lambda dit: skip_patches(self.layout, self.first_layer, state, dit))
            (perturbed,) = comfy.samplers.calc_cond_batch(args["model"], [args["cond"]], x, sigma, options)
        self._batched_result = None
        return perturbed_guidance(cfg_result, args["cond_denoised"], perturbed, self.scale, self.rescale)


def _prefix_reuse_is_exact(args) -> bool:
    """Whether the cond pass's hidden states equal what the perturbed pass would compute below its
    first perturbed layer. Not with ControlNet (the perturbed pass runs the control model on its
    own; the reuse is not checked with it), and not with patches that run inside the blocks
    (``transformer_options["patches"]``: e.g. core's Normalized Attention Guidance changes the
    cond rows' attention output only when the negative shares their batch, which the perturbed
    pass of the cond alone never does)."""
    if any("control" in c for c in args["cond"]):
        return False
    patches = args["model_options"].get("transformer_options", {}).get("patches", {})
    return not any(patches.values())
