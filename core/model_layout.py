"""A model's layout: its architecture's row with the sizes of one model (layers, heads per layer,
family, token order, patch size), built from the table for a published variant or detected from a
loaded diffusion model by its classes and parameters. Host-free: ComfyUI classes are matched by
import path, never imported.
"""
from __future__ import annotations

from dataclasses import dataclass

from .architecture_rows import IMAGE_FIRST, NO_JOINT_TEXT, REACH_BLOCK, Architecture, BlockGroup, Layer, dit_layers
from .architectures import ARCHITECTURES, SUPPORTED, UNREACHABLE, architecture, release_text

@dataclass(frozen=True)
class ModelLayout:
    """The concrete numbering of one loaded model: its layers, in the paper's flat order.

    ``heads`` is the most heads any layer has (every layer's count on DiTs); ask ``heads_of``
    for one layer's. A DiT's layout can be given by group sizes alone (``ModelLayout(arch,
    (24,), 24)``); a U-Net's comes with its ``layer_list``.
    """

    arch: Architecture
    group_sizes: tuple[int, ...]
    heads: int
    # The published family this model is, where its structure and markers say so unambiguously.
    family: str | None = None
    layer_list: tuple[Layer, ...] = ()
    # This model's joint sequence is image first, text last (see ``Architecture.image_first``).
    image_first: bool = False
    # The latent patch one image token covers (``Architecture.patch_size_attr``); 0 where the model
    # has none (U-Nets: their attention runs on feature maps of several sizes).
    patch_size: int = 0
    # Video models (HunyuanVideo, Wan: patches of (time, height, width)): the latent frames one token
    # covers; 0 for image models.
    time_patch: int = 0

    def __post_init__(self):
        if not self.layer_list:
            object.__setattr__(self, "layer_list", dit_layers(self.group_sizes, self.heads))

    @classmethod
    def of_layers(cls, arch: Architecture, layers: tuple[Layer, ...], family: str | None = None,
                  image_first: bool = False, patch_size: int | tuple[int, int] = 0) -> "ModelLayout":
        """``patch_size``: the spatial patch, or (spatial, time) for video patches."""
        sizes = tuple(sum(1 for l in layers if l.group == g) for g in range(len(arch.groups)))
        spatial, time = patch_size if isinstance(patch_size, tuple) else (patch_size, 0)
        return cls(arch, sizes, max((l.heads for l in layers), default=0), family, tuple(layers),
                   image_first=image_first, patch_size=spatial, time_patch=time)

    def image_grid(self, latent_shape) -> tuple[int, ...] | None:
        """The image tokens' grid for a latent of shape ``latent_shape`` ([..., h, w], video
        [B, C, T, h, w]): (rows, columns), or (rows, columns, frames) for a video model with more
        than one frame of tokens (tokens run frame by frame, row-major in each: ComfyUI's
        patch embeddings flatten (t, h, w)). None for models without a patch size."""
        if not self.patch_size:
            return None
        h, w = (int(x) for x in latent_shape[-2:])
        p = self.patch_size
        grid = (-(-h // p), -(-w // p))
        if self.time_patch and len(latent_shape) == 5:
            frames = -(-int(latent_shape[2]) // self.time_patch)
            if frames > 1:
                return grid + (frames,)
        return grid

    @property
    def layers(self) -> int:
        return len(self.layer_list)

    @property
    def name(self) -> str:
        return self.arch.display_name

    @property
    def uniform_heads(self) -> bool:
        return all(l.heads == self.heads for l in self.layer_list)

    def heads_of(self, layer: int) -> int:
        return self.layer_list[layer].heads

    def block_of(self, layer: int) -> tuple:
        """Paper layer index -> the key of ComfyUI's ``patches_replace[arch.reach]`` reaching it:
        (block kind, block index) for DiTs, (block name, block id, transformer index) for U-Nets."""
        spec = self.layer_list[layer]
        key = self.arch.groups[spec.group].patch_key
        return (key, spec.block) if self.arch.reach == REACH_BLOCK else (key, spec.block, spec.index)

    def group_of(self, layer: int) -> BlockGroup:
        return self.arch.groups[self.layer_list[layer].group]

    def label_of(self, layer: int) -> str:
        """Where a layer sits, as people say it: "single block 3", "output block 1.2"."""
        spec = self.layer_list[layer]
        group = self.arch.groups[spec.group]
        where = group.label.removesuffix("s")
        if self.arch.reach == REACH_BLOCK:
            return f"{where} {spec.block}"
        return f"{where if group.one_block else f'{where} {spec.block}'}, transformer {spec.index}"

    def layers_named(self, alias: str, block: int | None, index: int | None) -> list[int]:
        """The flat layers a block alias names (U-Nets: ``in4``, ``mid``, ``out1.2``)."""
        return [i for i, l in enumerate(self.layer_list)
                if self.arch.groups[l.group].alias == alias
                and (block is None or l.block == block) and (index is None or l.index == index)]

    def text_stream_layer(self) -> int | None:
        """The first layer whose block sees the text stream on its own, if any."""
        if self.arch.token_order == NO_JOINT_TEXT:
            return None
        return next((i for i, l in enumerate(self.layer_list) if self.arch.groups[l.group].separate_text), None)

    @property
    def heads_text(self) -> str:
        """"24", or "10-20" where heads differ per layer."""
        counts = sorted({l.heads for l in self.layer_list}) or [self.heads]
        return f"{counts[0]}-{counts[-1]}" if len(counts) > 1 else str(counts[0])

    def groups_text(self) -> str:
        """"double blocks 0-18, single blocks 19-56"."""
        parts, start = [], 0
        for group, size in zip(self.arch.groups, self.group_sizes):
            span = f"{start}-{start + size - 1}" if size > 1 else str(start)
            parts.append(f"{group.label} {span}" if size else f"no {group.label}")
            start += size
        return ", ".join(parts)

    def describe(self) -> str:
        return f"{self.name}: {self.layers} layers ({self.groups_text()}) x {self.heads_text} heads"


def _class_paths(obj) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__]


def _attr_path(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def detect_layout(diffusion_model, release: tuple[int, ...] | None = None) -> ModelLayout:
    """Find the table row for a diffusion model and read its concrete sizes from its modules.

    ``release``: the ComfyUI release running it (patches/model_patch.py reads it), for the models
    some releases cannot reach (``UNREACHABLE``). Raises ValueError naming the supported families
    for any other model.
    """
    paths = _class_paths(diffusion_model)
    rows = [a for a in ARCHITECTURES if any(p in paths for p in a.model_classes)]
    marked = [a for a in rows if a.requires and _truthy(diffusion_model, a.requires)]
    rows = marked or [a for a in rows if not a.requires]
    for model in UNREACHABLE:
        if model.model_class in paths and model.refuses(release):
            on = f"on ComfyUI {release_text(release)}" if release else "on this ComfyUI release"
            raise ValueError(f"HeadHunter cannot perturb {model.name} heads {on}: {model.why}. No layer's attention "
                             f"can be reached there without patching ComfyUI. Supported families: {SUPPORTED}.")
    if rows:
        arch = rows[0]
        if arch.heads_attr is None:
            layers = _attention_layers(arch, diffusion_model)
        else:
            sizes = tuple(len(getattr(diffusion_model, g.module_list)) for g in arch.groups)
            layers = dit_layers(sizes, int(_attr_path(diffusion_model, arch.heads_attr)))
        image_first = arch.token_order == IMAGE_FIRST or (bool(arch.image_first) and
                                                           _truthy(diffusion_model, arch.image_first))
        return ModelLayout.of_layers(arch, layers, _family_of(arch, diffusion_model, layers), image_first,
                                     _patch_size(arch, diffusion_model))
    raise ValueError(
        f"HeadHunter does not support this model ({type(diffusion_model).__name__}). "
        f"Supported families: {SUPPORTED} ({'; '.join(a.examples for a in ARCHITECTURES)})."
    )


def _attention_layers(arch: Architecture, diffusion_model) -> tuple[Layer, ...]:
    """A U-Net's self-attention layers in execution order, as ComfyUI keys them: the block id in
    its group, and the transformer index ``SpatialTransformer`` sets (``block_index``)."""
    layers = []
    for g, group in enumerate(arch.groups):
        blocks = getattr(diffusion_model, group.module_list, None)
        if blocks is None:
            continue
        for block_id, block in enumerate([blocks] if group.one_block else blocks):
            for module in block:
                for t, transformer in enumerate(getattr(module, "transformer_blocks", ())):
                    layers.append(Layer(g, block_id, t, int(transformer.attn1.heads)))
    return tuple(layers)


def _family_of(arch: Architecture, diffusion_model, layers: tuple[Layer, ...]) -> str | None:
    """The one rule for families: same layers (group, block, index, heads), then the markers."""
    same = [f for f, v in arch.variants.items() if v == tuple(layers)]
    marked = [f for f in same if f in arch.markers and _truthy(diffusion_model, arch.markers[f])]
    unmarked = [f for f in same if f not in arch.markers]
    candidates = marked or unmarked
    return candidates[0] if len(candidates) == 1 else None  # FLUX dev / schnell: not told apart


def same_structure(layout: ModelLayout, family: str) -> bool:
    """Whether a model has exactly the layers of a published family (numbers mean the same)."""
    return layout.arch.variants.get(family) == layout.layer_list


def _patch_size(arch: Architecture, diffusion_model) -> int | tuple[int, int]:
    if not arch.patch_size_attr:
        return 0
    try:
        patch = _attr_path(diffusion_model, arch.patch_size_attr)
    except (AttributeError, IndexError, KeyError, TypeError):
        return 0
    if isinstance(patch, (tuple, list)):
        if len(patch) == 3 and patch[1] == patch[2]:
            return int(patch[1]), int(patch[0])  # video (time, height, width) patches
        if len(set(patch)) != 1:
            return 0  # no square patch: no image grid
        patch = patch[0]
    return int(patch)


def _truthy(obj, path: str) -> bool:
    try:
        return bool(_attr_path(obj, path))
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def variant_layout(arch_id: str, family: str) -> ModelLayout:
    arch = architecture(arch_id)
    return ModelLayout.of_layers(arch, arch.variants[family], family, image_first=arch.token_order == IMAGE_FIRST)


def numbering_help() -> str:
    """How layers are numbered, per architecture and distinct variant, for tooltips (from the table)."""
    parts = []
    for arch in ARCHITECTURES:
        seen = []
        for family, layers in arch.variants.items():
            if layers in seen:
                continue
            seen.append(layers)
            layout = variant_layout(arch.id, family)
            parts.append(f"{family}: {layout.groups_text()} (x {layout.heads_text} heads)")
    return "; ".join(parts) + "."
