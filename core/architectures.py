"""The one table of what differs between architectures.

Everything the pack knows about a model family lives here: how its attention layers are
numbered (the paper's numbering), how many heads a layer has, which ComfyUI block-replace keys
reach each layer, and the order of text and image tokens in its joint sequence. Nothing else in
the pack special-cases an architecture; supporting a new DiT means adding a row.

This module is host-free: it names ComfyUI classes by their import path and never imports them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockGroup:
    """A run of transformer blocks numbered consecutively in the paper's layer numbering.

    ``patch_key`` is the key ComfyUI's ``transformer_options["patches_replace"]["dit"]`` uses
    for these blocks; ``module_list`` is the attribute of the diffusion model that holds them.
    """

    patch_key: str
    module_list: str
    # Whether the block receives the text stream apart from the image stream. FLUX single
    # blocks only see the joined sequence, so the text length is learned from an earlier block.
    separate_text: bool = True
    # How people call these blocks, in messages ("joint blocks 0-23").
    label: str = ""


@dataclass(frozen=True)
class Architecture:
    """One row of the table."""

    id: str
    display_name: str
    # Import paths of diffusion-model classes (subclasses match too).
    model_classes: tuple[str, ...]
    # Layers are numbered through the groups in this order: FLUX double blocks 0-18, then
    # single blocks 19-56 (paper, Sec. 5 / figure captions).
    groups: tuple[BlockGroup, ...]
    # Attribute path, from the diffusion model, to the number of heads of a joint attention.
    heads_attr: str
    # Order of the joint sequence. ComfyUI concatenates text then image in SD3's
    # ``_block_mixing`` and in FLUX's double and single blocks.
    token_order: str = "text_first"
    # Published variants, for the head-grid widget and preset checks: family -> (layers, heads).
    variants: dict[str, tuple[int, int]] = field(default_factory=dict)
    # For widgets: number of layers in each group for each variant (boundary markers).
    variant_groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Families of equal size told apart by an attribute path (from the diffusion model) that is
    # truthy only on that family's models.
    markers: dict[str, str] = field(default_factory=dict)
    # Models built by the same classes that the pack does not support (yet), told apart by an
    # attribute path that is truthy only on them: name -> path. Refused with a message naming them.
    refused: dict[str, str] = field(default_factory=dict)


ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        id="sd3",
        display_name="SD3",
        model_classes=("comfy.ldm.modules.diffusionmodules.mmdit.MMDiT",),
        groups=(BlockGroup("double_block", "joint_blocks", label="joint blocks"),),
        heads_attr="joint_blocks.0.x_block.attn.num_heads",
        variants={"sd3-medium": (24, 24), "sd3.5-medium": (24, 24), "sd3.5-large": (38, 38)},
        variant_groups={"sd3-medium": (24,), "sd3.5-medium": (24,), "sd3.5-large": (38,)},
        # SD3.5-medium adds an image self-attention (attn2) to its first joint blocks.
        markers={"sd3.5-medium": "x_block_self_attn_layers"},
    ),
    Architecture(
        id="flux",
        display_name="FLUX",
        model_classes=("comfy.ldm.flux.model.Flux",),
        groups=(
            BlockGroup("double_block", "double_blocks", label="double blocks"),
            BlockGroup("single_block", "single_blocks", separate_text=False, label="single blocks"),
        ),
        heads_attr="num_heads",
        variants={"flux.1-dev": (57, 24), "flux.1-schnell": (57, 24)},
        variant_groups={"flux.1-dev": (19, 38), "flux.1-schnell": (19, 38)},
        # ComfyUI v0.28+ builds FLUX.2 with the same Flux class (48 heads, 128-channel latents):
        # only FLUX.2 has global modulation.
        refused={"FLUX.2": "params.global_modulation"},
    ),
)

SUPPORTED = ", ".join(a.display_name for a in ARCHITECTURES)


def architecture(arch_id: str) -> Architecture:
    for arch in ARCHITECTURES:
        if arch.id == arch_id:
            return arch
    raise ValueError(f"unknown architecture '{arch_id}' (known: {', '.join(a.id for a in ARCHITECTURES)})")


def family_architecture(family: str) -> Architecture | None:
    """The architecture a published model family (e.g. 'flux.1-dev') belongs to, if known."""
    for arch in ARCHITECTURES:
        if family in arch.variants:
            return arch
    return None


@dataclass(frozen=True)
class ModelLayout:
    """The concrete numbering of one loaded model: layers per group and heads per layer."""

    arch: Architecture
    group_sizes: tuple[int, ...]
    heads: int
    # The published family this model is, where its size and markers say so unambiguously.
    family: str | None = None

    @property
    def layers(self) -> int:
        return sum(self.group_sizes)

    @property
    def name(self) -> str:
        return self.arch.display_name

    def block_of(self, layer: int) -> tuple[str, int]:
        """Paper layer index -> (ComfyUI patch key, block index inside its group)."""
        start = 0
        for group, size in zip(self.arch.groups, self.group_sizes):
            if layer < start + size:
                return group.patch_key, layer - start
            start += size
        raise IndexError(layer)

    def group_of(self, layer: int) -> BlockGroup:
        kind, _ = self.block_of(layer)
        return next(g for g in self.arch.groups if g.patch_key == kind)

    def text_stream_layer(self) -> int | None:
        """The first layer whose block sees the text stream on its own, if any."""
        start = 0
        for group, size in zip(self.arch.groups, self.group_sizes):
            if group.separate_text and size:
                return start
            start += size
        return None

    def describe(self) -> str:
        parts = []
        start = 0
        for group, size in zip(self.arch.groups, self.group_sizes):
            parts.append(f"{group.label} {start}-{start + size - 1}" if size else f"no {group.label}")
            start += size
        return f"{self.name}: {self.layers} layers ({', '.join(parts)}) x {self.heads} heads"


def _class_paths(obj) -> list[str]:
    return [f"{c.__module__}.{c.__qualname__}" for c in type(obj).__mro__]


def _attr_path(obj, path: str):
    for part in path.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part)
    return obj


def detect_layout(diffusion_model) -> ModelLayout:
    """Find the table row for a diffusion model and read its concrete sizes.

    Raises ValueError naming the supported families for any other model.
    """
    paths = _class_paths(diffusion_model)
    for arch in ARCHITECTURES:
        if any(p in paths for p in arch.model_classes):
            for name, path in arch.refused.items():
                if _truthy(diffusion_model, path):
                    raise ValueError(
                        f"HeadHunter does not support {name} yet (it is built by the same ComfyUI class as "
                        f"{arch.display_name}, whose supported models are {_families(arch)}). Supported families: {SUPPORTED}."
                    )
            sizes = tuple(len(getattr(diffusion_model, g.module_list)) for g in arch.groups)
            heads = int(_attr_path(diffusion_model, arch.heads_attr))
            return ModelLayout(arch, sizes, heads, _family_of(arch, diffusion_model, sum(sizes), heads))
    raise ValueError(
        f"HeadHunter does not support this model ({type(diffusion_model).__name__}). "
        f"Supported families: {SUPPORTED} (SD3 / SD3.5 MMDiT and FLUX.1 dev / schnell)."
    )


def _families(arch: Architecture) -> str:
    return ", ".join(arch.variants) or arch.display_name


def _family_of(arch: Architecture, diffusion_model, layers: int, heads: int) -> str | None:
    same_size = [f for f, size in arch.variants.items() if size == (layers, heads)]
    marked = [f for f in same_size if f in arch.markers and _truthy(diffusion_model, arch.markers[f])]
    unmarked = [f for f in same_size if f not in arch.markers]
    candidates = marked or unmarked
    return candidates[0] if len(candidates) == 1 else None  # FLUX dev / schnell: not told apart


def _truthy(obj, path: str) -> bool:
    try:
        return bool(_attr_path(obj, path))
    except (AttributeError, IndexError, KeyError, TypeError):
        return False


def variant_layout(arch_id: str, family: str) -> ModelLayout:
    arch = architecture(arch_id)
    layers, heads = arch.variants[family]
    return ModelLayout(arch, arch.variant_groups[family], heads, family)
