"""The HeadHunter search inside a real ComfyUI: tiny real SD3 (UNETLoader), a TAESD-type VAE,
a tiny CLIP objective loaded by transformers from a save_pretrained folder.

Numbers are checked against independent computations: images against KSampler + the engine's
HeadHunter Perturbed Attention node (sequential path), scores against one-at-a-time evaluation.
"""
import json

import pytest
import torch

pytestmark = pytest.mark.host

STEPS = 2
SIZE = 128  # 16 x 16 latents


@pytest.fixture(scope="module")
def hh(host):
    import hh_host

    return hh_host


@pytest.fixture(scope="module")
def hs(host):
    import hh_search

    return hh_search


@pytest.fixture(scope="module")
def sd3(host, hh, tmp_path_factory):
    return hh.load_with_unet_loader(hh.tiny_sd3_file(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="module")
def vae(host, hs):
    return hs.tiny_vae()


@pytest.fixture(scope="module")
def clip_folder(host, hs, tmp_path_factory):
    return hs.tiny_clip_folder(tmp_path_factory.mktemp("objectives") / "tiny-clip")


@pytest.fixture(scope="module")
def prompts(host):
    obj = host("core.objectives")
    return obj.prompt_grid(["a cat", "a dog"], ["golden hour"])


def settings(host, **kw):
    gen = host("patches.search_generation")
    args = dict(steps=STEPS, sampler="euler", scheduler="simple", scale=3.0, cfg=1.0, width=SIZE, height=SIZE)
    args.update(kw)
    return gen.SamplingSettings(**args)


def renderer(host, hs, sd3, vae, prompts, **kw):
    gen = host("patches.search_generation")
    return gen.CandidateRenderer(sd3, vae, hs.prompt_conditionings(len(prompts)), [p.seed for p in prompts],
                                 settings(host, **kw))


def reference_latent(host, hh, model, conditioning, seed, heads, u=1.0, scale=3.0, cfg=1.0):
    """KSampler + HeadHunter Perturbed Attention (the engine's sequential path), one image."""
    if heads:
        node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
        model = hh.run_node(node, model=model, heads=heads, scale=scale, softpag_u=u, start_percent=0.0,
                            end_percent=1.0, rescale=0.0, perturb_tokens="all tokens (paper)")[0]
    return hh.ksampler(model, conditioning, conditioning, steps=STEPS, cfg=cfg, seed=seed)


def test_batched_candidates_match_ksampler_per_image(host, hh, hs, sd3, vae, prompts):
    r = renderer(host, hs, sd3, vae, prompts)
    candidates = [[(1, 0, 1.0)], [], [(1, 0, 1.0), (2, 2, 0.5)]]
    latents = r.latents(candidates)
    assert latents.shape == (3, 2, 16, 16, 16)
    conds = hs.prompt_conditionings(len(prompts))
    texts = ["L1H0", "", "L1H0, L2H2@0.5"]
    for c, text in enumerate(texts):
        for m, p in enumerate(prompts):
            want = reference_latent(host, hh, sd3, conds[m], p.seed, text)
            torch.testing.assert_close(latents[c, m], want[0], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(latents[0], latents[1], atol=1e-3)
