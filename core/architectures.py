"""The one table of what differs between architectures.

Everything the pack knows about a model family lives here: how its attention layers are
numbered (the paper's numbering; U-Nets flat in execution order), how many heads each layer has,
which ComfyUI replace patch reaches a layer (a DiT block or a U-Net ``attn1``), and the order of
text and image tokens in its joint sequence (if any). Nothing else in the pack special-cases an
architecture; supporting a new one means a row here, a tiny-model fixture and a test.

This module is host-free: it names ComfyUI classes by their import path and never imports them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .architecture_rows import (IMAGE_FIRST, NO_JOINT_TEXT, REACH_ATTN1, Architecture, BlockGroup, dit_layers,
                                unet_layers)


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
        # 5 + 20 blocks, 24 heads; klein 9B: 8 + 24 blocks, 32 heads (their published configs;
        # ComfyUI derives the heads from the hidden size, tests/host/test_host_dit_families.py).
        variants={"flux.2-dev": dit_layers((8, 48), 48), "flux.2-klein-4b": dit_layers((5, 20), 24),
                  "flux.2-klein-9b": dit_layers((8, 24), 32)},
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
