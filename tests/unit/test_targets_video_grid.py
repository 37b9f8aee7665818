"""SEG on video tokens (HunyuanVideo, Wan: patches of (time, height, width)), host-free: the image
part is frames x h x w tokens, frame by frame, row-major in each; each frame's queries are blurred
on their own (SEG is defined on images), against the explicit blur matrix of every frame.
"""
import math

import pytest
import torch

from hh_attention_maps import video_reference
from hh_pack import architecture_modules

N_TXT, GRID = 2, (3, 4, 2)  # 2 text tokens, then 2 frames of 3 x 4


@pytest.mark.parametrize("text_first", [True, False], ids=["text-first", "image-first"])
@pytest.mark.parametrize("with_mask", [False, True], ids=["no-mask", "key-mask"])
@pytest.mark.parametrize("sigma", [0.7, 2.0, math.inf])
def test_seg_blurs_each_frame_on_its_own(pack, sigma, with_mask, text_first):
    softpag = pack("core.softpag")
    targets = pack("core.targets")
    g = torch.Generator().manual_seed(5)
    B, H, D = 2, 3, 8
    N = N_TXT + math.prod(GRID)
    q, k, v = (torch.randn(B, H, N, D, generator=g, dtype=torch.float64) for _ in range(3))
    mask = None
    if with_mask:
        mask = torch.zeros(B, 1, N, dtype=torch.float64)
        mask[1, 0, N_TXT - 1 if text_first else N - 1] = -1e4  # the last text token of row 1 is padding
    want = video_reference(q, k, v, sigma, {0: 0.5, 2: 1.0}, N_TXT, GRID,
                           None if mask is None else mask.unsqueeze(1), text_first)
    out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else mask.unsqueeze(1))
    spec = targets.TargetSpec("seg", sigma)
    softpag.apply_softpag(out, q, k, v, H, [(0, B, softpag.LayerPerturbation((0, 2), (0.5, 1.0), (spec, spec)))],
                          skip_reshape=True, skip_output_reshape=True, text_tokens=N_TXT, grid=GRID, mask=mask,
                          text_first=text_first)
    torch.testing.assert_close(out, want, rtol=1e-9, atol=1e-9)


def test_video_layouts_give_frames_and_image_layouts_do_not(pack):
    arch = architecture_modules(pack)
    video = arch.layout.ModelLayout.of_layers(arch.table.architecture("wan"), arch.rows.dit_layers((2,), 4), patch_size=(2, 1))
    assert video.image_grid((1, 16, 3, 8, 12)) == (4, 6, 3)
    assert video.image_grid((1, 16, 1, 8, 12)) == (4, 6)  # one frame: an image grid
    image = arch.layout.ModelLayout.of_layers(arch.table.architecture("flux"), arch.rows.dit_layers((2,), 4), patch_size=2)
    assert image.image_grid((1, 16, 9, 12)) == (5, 6) and image.time_patch == 0
    unet = arch.layout.ModelLayout.of_layers(arch.table.architecture("unet"), arch.rows.dit_layers((2,), 4))
    assert unet.image_grid((1, 4, 8, 8)) is None
