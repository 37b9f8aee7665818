"""Putting a perturbation plan into a model's options: ComfyUI glue, no math.

Everything is written into copies of ``model_options`` / ``transformer_options`` (ComfyUI's
ModelPatcher clone semantics), so the model a node was given never changes.
"""
from __future__ import annotations

from ..core.architecture_rows import NO_JOINT_TEXT, REACH_ATTN1, REACH_BLOCK
from ..core.model_layout import ModelLayout, detect_layout
from ..core.plan import PerturbationPlan
from . import self_attention
from .attention import GRID_KEY, PLAN_KEY, PerturbedBlock


def model_layout(model_patcher) -> ModelLayout:
    """The numbering of a ComfyUI MODEL; a clear error for unsupported families (and for models this
    ComfyUI release cannot reach, naming the release)."""
    return detect_layout(model_patcher.get_model_object("diffusion_model"), comfyui_release())


def comfyui_release() -> tuple[int, ...] | None:
    """The running ComfyUI's release, from its ``comfyui_version.py`` (None where it has none)."""
    try:
        from comfyui_version import __version__
    except ImportError:
        return None
    try:
        return tuple(int(part) for part in __version__.split(".")[:3])
    except ValueError:
        return None


def with_plan(model_options: dict, plan: PerturbationPlan, layout: ModelLayout, latent=None) -> dict:
    """A copy of ``model_options`` whose forward passes perturb according to ``plan``.

    ``latent``: this call's input, whose spatial size gives the image-token grid (SEG needs it);
    a per-call fact, so it goes in this copy's options, never on the plan."""
    layers = set(plan.layers)
    if layout.arch.reach == REACH_ATTN1:
        options = with_dit_patches(model_options, lambda attn1: self_attention.register(attn1, layout, sorted(layers)),
                                   kind=REACH_ATTN1)
        options["transformer_options"][PLAN_KEY] = plan
        return options
    if plan.needs_text_tokens:
        # Blocks that only see the joined sequence need the text length from an earlier block.
        probe = layout.text_stream_layer()
        if probe is not None and any(not layout.group_of(layer).separate_text for layer in layers):
            layers.add(probe)

    def register(dit):
        for layer in sorted(layers):
            key = layout.block_of(layer)
            dit[key] = PerturbedBlock(layer, previous=dit.get(key), joint_text=layout.arch.token_order != NO_JOINT_TEXT,
                                      text_first=not layout.image_first)

    options = with_dit_patches(model_options, register)
    options["transformer_options"][PLAN_KEY] = plan
    if latent is not None and latent.ndim >= 4:
        options["transformer_options"][GRID_KEY] = layout.image_grid(latent.shape)
    return options


def with_dit_patches(model_options: dict, register, kind: str = REACH_BLOCK) -> dict:
    """A copy of ``model_options`` whose patches_replace[kind] dict ``register(patches)`` edited
    (kind: the architecture's ``reach``, 'dit' block patches or U-Net 'attn1' patches)."""
    options = dict(model_options)
    transformer_options = dict(options.get("transformer_options", {}))
    patches_replace = dict(transformer_options.get("patches_replace", {}))
    patches = dict(patches_replace.get(kind, {}))
    register(patches)
    patches_replace[kind] = patches
    transformer_options["patches_replace"] = patches_replace
    options["transformer_options"] = transformer_options
    return options
