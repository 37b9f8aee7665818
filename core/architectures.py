"""The one table of what differs between architectures.

Everything the pack knows about a model family lives here: how its attention layers are
numbered (the paper's numbering; U-Nets flat in execution order), how many heads each layer has,
which ComfyUI replace patch reaches a layer (a DiT block or a U-Net ``attn1``), and the order of
text and image tokens in its joint sequence (if any). Nothing else in the pack special-cases an
architecture; supporting a new one means a row here, a tiny-model fixture and a test.

This module is host-free: it names ComfyUI classes by their import path and never imports them.
"""
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


# FLUX-like DiTs: double-stream blocks numbered first, then single-stream blocks (paper, Sec. 5).
_FLUX_GROUPS = (
    BlockGroup("double_block", "double_blocks", label="double blocks"),
    BlockGroup("single_block", "single_blocks", separate_text=False, label="single blocks"),
)

_UNET_GROUPS = (
    BlockGroup("input", "input_blocks", label="input blocks", alias="in"),
    BlockGroup("middle", "middle_block", label="middle block", one_block=True, alias="mid"),
    BlockGroup("output", "output_blocks", label="output blocks", alias="out"),
)

ARCHITECTURES: tuple[Architecture, ...] = (
    Architecture(
        id="sd3",
        display_name="SD3",
        model_classes=("comfy.ldm.modules.diffusionmodules.mmdit.MMDiT",),
        groups=(BlockGroup("double_block", "joint_blocks", label="joint blocks"),),
        heads_attr="joint_blocks.0.x_block.attn.num_heads",
        variants={"sd3-medium": dit_layers((24,), 24), "sd3.5-medium": dit_layers((24,), 24),
                  "sd3.5-large": dit_layers((38,), 38)},
        # SD3.5-medium adds an image self-attention (attn2) to its first joint blocks.
        markers={"sd3.5-medium": "x_block_self_attn_layers"},
        examples="SD3 / SD3.5 MMDiT",
    ),
    Architecture(
        id="flux",
        display_name="FLUX",
        model_classes=("comfy.ldm.flux.model.Flux",),
        groups=_FLUX_GROUPS,
        heads_attr="num_heads",
        variants={"flux.1-dev": dit_layers((19, 38), 24), "flux.1-schnell": dit_layers((19, 38), 24)},
        examples="FLUX.1 dev / schnell",
    ),
    Architecture(
        # ComfyUI v0.28+ builds FLUX.2 with the same Flux class and the same blocks, with other
        # parameters: only FLUX.2 has global modulation (``params.global_modulation``, set by
        # ComfyUI's model detection from ``double_stream_modulation_img``). Numbered as FLUX.1.
        id="flux2",
        display_name="FLUX.2",
        model_classes=("comfy.ldm.flux.model.Flux",),
        requires="params.global_modulation",
        groups=_FLUX_GROUPS,
        heads_attr="num_heads",
        # FLUX.2 dev: 8 double + 48 single blocks, 48 heads of 128 channels; FLUX.2 klein 4B:
        # 5 + 20 blocks, 24 heads (its diffusers transformer config).
        variants={"flux.2-dev": dit_layers((8, 48), 48), "flux.2-klein-4b": dit_layers((5, 20), 24)},
        examples="FLUX.2 dev / klein (ComfyUI v0.28+)",
    ),
    Architecture(
        # Chroma (and Chroma Radiance, a subclass working in pixel space): FLUX.1-schnell's
        # blocks with modulations from a distilled guidance layer; ComfyUI's own class.
        id="chroma",
        display_name="Chroma",
        model_classes=("comfy.ldm.chroma.model.Chroma",),
        groups=_FLUX_GROUPS,
        heads_attr="num_heads",
        variants={"chroma": dit_layers((19, 38), 24), "chroma-radiance": dit_layers((19, 38), 24)},
        markers={"chroma-radiance": "nerf_blocks"},
        examples="Chroma, Chroma Radiance",
    ),
    Architecture(
        # Qwen-Image (and its Edit models): one kind of block, each a joint attention over text
        # then image tokens (``torch.cat([txt, img])`` in its Attention); ComfyUI v0.28 also passes
        # the text padding mask to the backend. ComfyUI keys its blocks ("double_block", i).
        id="qwen-image",
        display_name="Qwen-Image",
        model_classes=("comfy.ldm.qwen_image.model.QwenImageTransformer2DModel",),
        groups=(BlockGroup("double_block", "transformer_blocks", label="transformer blocks"),),
        heads_attr="transformer_blocks.0.attn.heads",
        variants={"qwen-image": dit_layers((60,), 24)},
        examples="Qwen-Image, Qwen-Image-Edit",
    ),
    Architecture(
        # AuraFlow: MMDiT double blocks, then DiT single blocks over the joined sequence (text with
        # its register tokens first, then image), keyed ("double_block", i) / ("single_block", i).
        id="auraflow",
        display_name="AuraFlow",
        model_classes=("comfy.ldm.aura.mmdit.MMDiT",),
        groups=(
            BlockGroup("double_block", "double_layers", label="double blocks"),
            BlockGroup("single_block", "single_layers", separate_text=False, label="single blocks"),
        ),
        heads_attr="single_layers.0.attn.n_heads",
        # AuraFlow v0.1-v0.3: 4 MMDiT + 32 DiT blocks, 12 heads of 256 channels.
        variants={"auraflow": dit_layers((4, 32), 12)},
        examples="AuraFlow",
    ),
    Architecture(
        # HunyuanVideo (1.0; ComfyUI's class also runs HunyuanVideo 1.5): FLUX-like double then
        # single blocks over space-time video tokens and the text. ComfyUI v0.3.64 joins them
        # image first (``flipped_img_txt`` in its double blocks, then ``cat(img, txt)``), v0.28.1
        # text first: read from the model.
        id="hunyuan-video",
        display_name="HunyuanVideo",
        model_classes=("comfy.ldm.hunyuan_video.model.HunyuanVideo",),
        groups=_FLUX_GROUPS,
        heads_attr="num_heads",
        image_first="double_blocks.0.flipped_img_txt",
        # HunyuanVideo 1.0: 20 double + 40 single blocks, 24 heads of 128 channels.
        variants={"hunyuan-video": dit_layers((20, 40), 24)},
        examples="HunyuanVideo",
    ),
    Architecture(
        # Wan 2.1 / 2.2 (and ComfyUI's Vace, Camera, S2V, HuMo variants, subclasses of WanModel):
        # self-attention over the video's space-time tokens, text only through cross-attention.
        # Its block patch gets the text as "txt", but that is the cross-attention context, not a
        # part of the attended sequence: hence no joint text.
        id="wan",
        display_name="Wan",
        model_classes=("comfy.ldm.wan.model.WanModel",),
        groups=(BlockGroup("double_block", "blocks", label="blocks"),),
        heads_attr="num_heads",
        token_order=NO_JOINT_TEXT,
        # Wan 2.1 / 2.2 14B: 40 blocks x 40 heads; Wan 2.1 1.3B: 30 x 12; Wan 2.2 5B: 30 x 24
        # (dim / 128 heads, as ComfyUI's model detection reads them).
        variants={"wan-14b": dit_layers((40,), 40), "wan2.1-1.3b": dit_layers((30,), 12),
                  "wan2.2-5b": dit_layers((30,), 24)},
        examples="Wan 2.1 / 2.2",
    ),
    Architecture(
        # HiDream-I1 (full / dev / fast) and HiDream-E1: double-stream blocks (attention over
        # ``cat([image, text])``), then single-stream blocks over the joined sequence, numbered on.
        # Image first. ComfyUI's blocks get ``transformer_options`` (their attention passes it to
        # the backend) but no block-replace hook: proxied (both checked releases, same code).
        id="hidream",
        display_name="HiDream",
        model_classes=("comfy.ldm.hidream.model.HiDreamImageTransformer2DModel",),
        groups=(
            BlockGroup("double_stream_block", "double_stream_blocks", label="double-stream blocks",
                       img_arg="image_tokens", txt_arg="text_tokens"),
            BlockGroup("single_stream_block", "single_stream_blocks", separate_text=False,
                       label="single-stream blocks", img_arg="image_tokens"),
        ),
        heads_attr="num_attention_heads",
        token_order=IMAGE_FIRST,
        proxied=True,
        # ComfyUI's model detection (v0.3.64 and v0.28.1): 16 double + 32 single blocks, 20 heads
        # of 128 channels.
        variants={"hidream-i1": dit_layers((16, 32), 20)},
        examples="HiDream-I1 / E1",
    ),
    Architecture(
        # Lumina 2 (NextDiT) and the models ComfyUI runs on its code (Z-Image on v0.28; NewBie):
        # layer = main layer (``layers``), a joint attention over text (caption) tokens, then image
        # tokens. Its refiner blocks (caption / noise refiners, before the main layers) are not
        # numbered and never perturbed. ComfyUI's layers get ``transformer_options``, but no
        # block-replace hook: proxied. Lumina 2's attention is GQA (8 key/value heads repeated to
        # 24 before the backend): the backend sees 24 heads, each perturbed on its own.
        id="lumina2",
        display_name="Lumina 2",
        model_classes=("comfy.ldm.lumina.model.NextDiT",),
        groups=(BlockGroup("layer", "layers", separate_text=False, label="layers", img_arg="x"),),
        heads_attr="n_heads",
        proxied=True,
        image_probe=("noise_refiner", "x"),
        # ComfyUI's model detection: Lumina 2 is dim 2304, 24 heads (v0.3.64 and v0.28.1); Z-Image
        # dim 3840, 30 heads (v0.28.1). Layers are counted from the checkpoint: 26 (Lumina-Image
        # 2.0) and 30 (Z-Image), as their published configs give them.
        variants={"lumina-image-2": dit_layers((26,), 24), "z-image": dit_layers((30,), 30)},
        examples="Lumina Image 2.0, Z-Image (ComfyUI v0.28+)",
    ),
    Architecture(
        id="unet",
        display_name="U-Net",
        model_classes=("comfy.ldm.modules.diffusionmodules.openaimodel.UNetModel",),
        groups=_UNET_GROUPS,
        reach=REACH_ATTN1,
        token_order=NO_JOINT_TEXT,
        patch_size_attr="",
        # ComfyUI's block ids of the blocks with attention (SD1.5: 8 heads of 40-160 channels;
        # SDXL: 64-channel heads, 10 at 640 channels and 20 at 1280, 2 or 10 layers deep).
        variants={
            "sd1.5": unet_layers(
                tuple((b, 1, 8) for b in (1, 2, 4, 5, 7, 8)), ((0, 1, 8),), tuple((b, 1, 8) for b in range(3, 12))),
            "sdxl": unet_layers(
                ((4, 2, 10), (5, 2, 10), (7, 10, 20), (8, 10, 20)), ((0, 10, 20),),
                ((0, 10, 20), (1, 10, 20), (2, 10, 20), (3, 2, 10), (4, 2, 10), (5, 2, 10))),
        },
        examples="SD1.5 / SDXL U-Net",
    ),
)

SUPPORTED = ", ".join(a.display_name for a in ARCHITECTURES)


@dataclass(frozen=True)
class Unreachable:
    """A model family whose attention no ComfyUI extension point reaches per layer in some releases:
    named in its own error instead of the generic one, before sampling."""

    name: str
    model_class: str
    why: str
    # Refused on ComfyUI releases before this one (the first checked release that reaches it);
    # empty: on every release.
    before: tuple[int, ...] = ()

    def refuses(self, release: tuple[int, ...] | None) -> bool:
        """Whether a model of this class is refused on ``release`` (None: not known, refused)."""
        return not self.before or release is None or tuple(release) < self.before


def release_text(release) -> str:
    return "v" + ".".join(str(p) for p in release)


UNREACHABLE = (
    # Read in v0.3.64: WanModel_S2V.forward_orig calls its blocks (and the block-replace patch's
    # ``original_block``) without transformer_options, so no attention override reaches them;
    # v0.28.1 passes them. Checked there, nowhere in between.
    Unreachable("Wan S2V", "comfy.ldm.wan.model.WanModel_S2V",
                "its blocks are called without transformer_options, so no attention override reaches them; "
                "ComfyUI v0.28.1 passes them: upgrade ComfyUI to v0.28.1 or newer", before=(0, 28, 1)),
)


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


MODELS = ", ".join(a.examples for a in ARCHITECTURES)


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
