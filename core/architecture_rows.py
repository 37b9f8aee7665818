"""What one row of the architecture table says (core/architectures.py holds the rows): block
groups and their numbering, attention layers, how a layer is reached, the joint sequence's token
order, and the row itself. Host-free."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class BlockGroup:
    """A run of blocks numbered consecutively in the paper's layer numbering.

    ``patch_key`` is the key ComfyUI uses for these blocks: the block kind of
    ``patches_replace["dit"][(kind, index)]`` for DiTs, the block name of
    ``patches_replace["attn1"][(name, id, transformer_index)]`` for U-Nets. ``module_list`` is the
    attribute of the diffusion model that holds them.
    """

    patch_key: str
    module_list: str
    # Whether the block receives the text stream apart from the image stream. FLUX single
    # blocks only see the joined sequence, so the text length is learned from an earlier block.
    separate_text: bool = True
    # How people call these blocks, in messages and on the grid ("joint blocks 0-23").
    label: str = ""
    # ``module_list`` is one block, not a list of them (a U-Net's middle block, ComfyUI's id 0).
    one_block: bool = False
    # Short name for block aliases in head text (U-Nets: in4, mid, out1.2); empty = none.
    alias: str = ""
    # Proxied blocks only (``Architecture.proxied``): the names of the block forward's parameters
    # holding the image (or joined) tokens and the separate text tokens (empty: none). A block with
    # a text parameter returns (image, text), as HiDream's double-stream blocks do.
    img_arg: str = ""
    txt_arg: str = ""


@dataclass(frozen=True)
class Layer:
    """One attention layer: its group (index into ``Architecture.groups``), its block id inside
    the group, its index among the block's transformer layers (U-Nets; 0 for DiTs) and its heads."""

    group: int
    block: int
    index: int
    heads: int


# How a layer's attention is reached.
REACH_BLOCK = "dit"  # patches_replace["dit"][(patch_key, block)]: the whole block, joint attention inside
REACH_ATTN1 = "attn1"  # patches_replace["attn1"][(patch_key, block, index)]: the self-attention alone

# Token orders of a joint text+image sequence.
TEXT_FIRST = "text_first"
IMAGE_FIRST = "image_first"  # HiDream: image tokens, then the text (its attention's ``cat([img, txt])``)
NO_JOINT_TEXT = "none"  # U-Nets: text enters through cross-attention (attn2) only


@dataclass(frozen=True)
class Architecture:
    """One row of the table."""

    id: str
    display_name: str
    # Import paths of diffusion-model classes (subclasses match too).
    model_classes: tuple[str, ...]
    # Layers are numbered through the groups in this order: FLUX double blocks 0-18, then
    # single blocks 19-56 (paper, Sec. 5 / figure captions); U-Nets in execution order.
    groups: tuple[BlockGroup, ...]
    reach: str = REACH_BLOCK
    # DiTs: attribute path, from the diffusion model, to the heads of every joint attention.
    # U-Nets: None; each transformer block's ``attn1.heads`` is read (heads vary per layer).
    heads_attr: str | None = None
    # Order of the joint sequence. ComfyUI concatenates text then image in SD3's
    # ``_block_mixing`` and in FLUX's double and single blocks.
    token_order: str = TEXT_FIRST
    # Published variants, for the head-grid widget and preset checks: family -> its layers.
    variants: dict[str, tuple[Layer, ...]] = field(default_factory=dict)
    # Families of equal size told apart by an attribute path (from the diffusion model) that is
    # truthy only on that family's models.
    markers: dict[str, str] = field(default_factory=dict)
    # What the architecture's models are called, for the unsupported-model message.
    examples: str = ""
    # Rows that share model classes are told apart by their parameters: an attribute path (from
    # the diffusion model) truthy only on this row's models. A row with it wins over one without.
    requires: str = ""
    # An attribute path truthy on models whose joint sequence puts the image first, text last
    # (HunyuanVideo's double blocks on ComfyUI v0.3.64: ``flipped_img_txt``); read per model.
    image_first: str = ""
    # Attribute path, from the diffusion model, to the side of the square patch one image token
    # covers in the latent. The image tokens are the latent's patches in row-major order, after
    # padding to a whole patch: the grid is (ceil(h / p), ceil(w / p)) (SEG blurs over it). Empty:
    # no single grid (U-Nets attend over feature maps of several sizes; SEG leaves them alone).
    patch_size_attr: str = "patch_size"
    # ComfyUI calls no ``patches_replace["dit"]`` patch for these blocks (HiDream, Lumina 2 in both
    # checked releases). The pack then puts a proxy on each block through ComfyUI's
    # ``ModelPatcher.add_object_patch("diffusion_model.<module_list>.<i>", proxy)``; the proxy calls
    # the ``patches_replace["dit"][(patch_key, i)]`` patch in the block's ``transformer_options``
    # (patches/block_proxy.py), so every layer is reached as a block-replace patch reaches it. The
    # patch keys of proxied groups are the pack's own: ComfyUI never reads them.
    proxied: bool = False
    # (module list, parameter): blocks that see the image tokens alone, before the numbered blocks
    # (Lumina 2's ``noise_refiner``, parameter ``x``). Where no numbered block sees the text apart,
    # the text length of the joint sequence is its length minus this block's image tokens.
    image_probe: tuple[str, str] = ()

    @property
    def aliases(self) -> bool:
        return any(g.alias for g in self.groups)


def dit_layers(group_sizes: tuple[int, ...], heads: int) -> tuple[Layer, ...]:
    """A DiT's layers: one per block, every layer with the same heads."""
    return tuple(Layer(g, b, 0, heads) for g, size in enumerate(group_sizes) for b in range(size))


def unet_layers(*groups: tuple[tuple[int, int, int], ...]) -> tuple[Layer, ...]:
    """A U-Net's layers from, per group, its blocks with attention as (block id, transformer
    layers, heads), in execution order."""
    return tuple(Layer(g, block, t, heads) for g, blocks in enumerate(groups)
                 for block, depth, heads in blocks for t in range(depth))
