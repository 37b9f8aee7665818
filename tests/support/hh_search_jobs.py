"""Search jobs for the host tests (tests/host/test_host_search*.py): the sampling settings, an
independent reference image (KSampler + HeadHunter Perturbed Attention), a synthetic objective with a
known optimum and the job itself. Import only inside host tests (the pack is reached through the
``host`` fixture's loader).
"""
import torch

STEPS = 2
SIZE = 64  # 8 x 8 latents: the random TAESD decoder dominates the cost at larger sizes


def settings(host, **kw):
    gen = host("search.generation")
    args = dict(steps=1, sampler="euler", scheduler="simple", scale=3.0, cfg=1.0, width=SIZE, height=SIZE)
    args.update(kw)
    return gen.SamplingSettings(**args)


def reference_latent(host, hh, model, conditioning, seed, heads, u=1.0, scale=3.0, cfg=1.0, steps=STEPS):
    """KSampler + HeadHunter Perturbed Attention (the engine's sequential path), one image."""
    if heads:
        node = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
        model = hh.run_node(node, model=model, heads=heads, scale=scale, softpag_u=u, start_percent=0.0,
                            end_percent=1.0, rescale=0.0, perturb_tokens="all tokens (paper)")[0]
    import nodes

    (out,) = nodes.common_ksampler(model, seed, steps, cfg, "euler", "simple", conditioning, conditioning,
                                   hh.latent(size=SIZE // 8))
    return out["samples"]


class TargetObjective:
    """Synthetic objective with a known optimum: minus the distance to the nearest target image of
    the image's prompt. Targets are rendered independently (KSampler + the engine's node)."""

    name = "target"

    def __init__(self, targets, fail_on_call=None):
        self.targets = targets  # seed -> [images [H, W, 3]]
        self.calls = 0
        self.fail_on_call = fail_on_call

    def score(self, images, prompts):
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise KeyboardInterrupt("interrupted mid-round")
        return torch.stack([-min(((im - t) ** 2).mean() for t in self.targets[p.seed]) for im, p in zip(images, prompts)])

    def describe(self):
        return {"name": self.name}

    def release(self):
        pass


def job(host, hs, sd3, vae, prompts, objective, tmp_path, **kw):
    run = host("search.search_job")
    args = dict(model=sd3, vae=vae, objective=objective, prompts=prompts,
                conditionings=hs.prompt_conditionings(len(prompts)), settings=settings(host), softpag_u=1.0,
                k=1, rounds=2, candidates="L1-2", batch_candidates=4, run_name="run",
                runs_root=tmp_path / "runs", presets_folder=tmp_path / "presets")
    args.update(kw)
    return run.SearchJob(**args)
