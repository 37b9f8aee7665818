"""A block-replace hook for DiT blocks ComfyUI gives none (HiDream, Lumina 2), through ComfyUI's
own ``ModelPatcher.add_object_patch``: no ComfyUI class or function is changed.

ComfyUI calls ``transformer_options["patches_replace"]["dit"][(kind, i)]`` around most DiT
blocks; HiDream's and Lumina 2's model loops call their blocks directly, with the forward's
``transformer_options`` (which their attention hands to ``wrap_attn``, so an
``optimized_attention_override`` there reaches the backend). On a ModelPatcher clone, each such
block at ``diffusion_model.<module_list>.<i>`` is object-patched with a ``BlockProxy``: a module
that shares the block's children, parameters and buffers (every weight keeps its path, so LoRA
patches, low-VRAM loading and device moves see the same tensors) and, when the forward's
``transformer_options`` holds a dit patch under this block's key, calls it the way ComfyUI's own
loops do: ``patch({"img", "txt", "transformer_options"}, {"original_block": ...})``. Without one
it is the block. ComfyUI removes object patches when the clone is unloaded; the model a node was
given never changes.

Which blocks, the parameter names and the keys come from the architecture table
(``Architecture.proxied``, ``BlockGroup.img_arg`` / ``txt_arg``, ``Architecture.image_probe``).
"""
from __future__ import annotations

import inspect

import torch

from ..core.model_layout import ModelLayout
from .attention import IMAGE_TOKENS_KEY, PLAN_KEY

OPTIONS = "transformer_options"


class BlockProxy(torch.nn.Module):
    """Stands in for one block; calls the dit patch registered for ``key`` when a forward has one.

    ``probe``: the block only reports its image-token count to the forward's options (Lumina 2's
    first noise-refiner block: its input is the image tokens alone)."""

    def __init__(self, block: torch.nn.Module, key: tuple, img_arg: str, txt_arg: str = "", probe: bool = False):
        super().__init__()
        # The same children, parameters and buffers as the block: weights keep their paths.
        self._modules = block._modules
        self._parameters = block._parameters
        self._buffers = block._buffers
        self.training = block.training
        # The proxy's own attributes carry a prefix no ComfyUI module uses: ComfyUI reaches weights
        # by attribute path (comfy.utils.get_attr, e.g. in partial loading), and HiDream's blocks
        # have a child named "block" that a plain ``self._hh_block`` would hide.
        object.__setattr__(self, "_hh_block", block)  # not a child: its children are ours already
        self._hh_key = key
        self._hh_img_arg = img_arg
        self._hh_txt_arg = txt_arg
        self._hh_probe = probe
        self._hh_signature = inspect.signature(block.forward)

    def forward(self, *args, **kwargs):
        # ComfyUI's loops pass the options by keyword: the arguments are bound (a per-call cost)
        # only for a forward that has work for this proxy.
        bound = None
        options = kwargs.get(OPTIONS)
        if options is None:
            bound = self._hh_signature.bind(*args, **kwargs)
            options = bound.arguments.get(OPTIONS)
        if not isinstance(options, dict):
            return self._hh_block(*args, **kwargs)
        if self._hh_probe:
            if PLAN_KEY in options:
                bound = bound or self._hh_signature.bind(*args, **kwargs)
                options[IMAGE_TOKENS_KEY] = bound.arguments[self._hh_img_arg].shape[1]
            return self._hh_block(*args, **kwargs)
        # Also in passes without a plan: the cond pass's capture for the prefix reuse is a dit patch.
        patch = options.get("patches_replace", {}).get("dit", {}).get(self._hh_key)
        if patch is None:
            return self._hh_block(*args, **kwargs)
        bound = bound or self._hh_signature.bind(*args, **kwargs)

        def original_block(call):
            bound.arguments[self._hh_img_arg] = call["img"]
            if self._hh_txt_arg:
                bound.arguments[self._hh_txt_arg] = call["txt"]
            bound.arguments[OPTIONS] = call.get(OPTIONS, options)
            out = self._hh_block(*bound.args, **bound.kwargs)
            return {"img": out[0], "txt": out[1]} if self._hh_txt_arg else {"img": out}

        call = {"img": bound.arguments[self._hh_img_arg], OPTIONS: options}
        if self._hh_txt_arg:
            call["txt"] = bound.arguments[self._hh_txt_arg]
        out = patch(call, {"original_block": original_block})
        return (out["img"], out["txt"]) if self._hh_txt_arg else out["img"]


def install(model_patcher, layout: ModelLayout) -> None:
    """Object-patch every numbered block (and the image probe) of a proxied architecture on
    ``model_patcher`` (a clone), once: blocks that already are proxies are left alone."""
    arch = layout.arch
    if not arch.proxied:
        return
    for layer in range(layout.layers):
        group = layout.group_of(layer)
        key = layout.block_of(layer)
        _proxy(model_patcher, f"{group.module_list}.{key[1]}",
               lambda block: BlockProxy(block, key, group.img_arg, group.txt_arg))
    if arch.image_probe:
        module_list, arg = arch.image_probe
        if len(model_patcher.get_model_object(f"diffusion_model.{module_list}")) > 0:
            _proxy(model_patcher, f"{module_list}.0", lambda block: BlockProxy(block, (), arg, probe=True))


def _proxy(model_patcher, path: str, make) -> None:
    name = f"diffusion_model.{path}"
    block = model_patcher.get_model_object(name)
    if not isinstance(block, BlockProxy):
        model_patcher.add_object_patch(name, make(block))
