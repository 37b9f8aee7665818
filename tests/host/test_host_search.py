"""The HeadHunter search inside a real ComfyUI: tiny real SD3 (UNETLoader), a TAESD-type VAE,
a tiny CLIP objective loaded by transformers from a save_pretrained folder.

Numbers are checked against independent computations: images against KSampler + the engine's
HeadHunter Perturbed Attention node (sequential path), scores against one-at-a-time evaluation.
"""
import json

import pytest
import torch
from hh_pack import preset_modules
from hh_search_jobs import SIZE, STEPS, TargetObjective, job, reference_latent, settings  # noqa: F401


@pytest.fixture(scope="module")
def clip_folder(host, hs, tmp_path_factory):
    return hs.tiny_clip_folder(tmp_path_factory.mktemp("objectives") / "tiny-clip")


@pytest.fixture(scope="module")
def prompts(host):
    obj = host("core.scoring")
    return obj.prompt_grid(["a cat", "a dog"], ["golden hour"])


@pytest.mark.parametrize("kind", ["sd3", "flux"])
def test_batched_candidates_match_ksampler_per_image(host, hh, hs, sd3, flux, vae, prompts, kind):
    gen = host("search.generation")
    model = sd3 if kind == "sd3" else flux
    conds = hs.prompt_conditionings(len(prompts), kind)
    r = gen.CandidateRenderer(model, vae, conds, [p.seed for p in prompts], settings(host, steps=STEPS))
    # FLUX: layer 1 is a double block, layer 3 a single block.
    candidates = [[(1, 0, 1.0)], [], [(1, 0, 1.0), (2 if kind == "sd3" else 3, 2, 0.5)]]
    latents = r.latents(candidates)
    assert latents.shape == (3, 2, 16, 8, 8)
    texts = ["L1H0", "", "L1H0, L2H2@0.5" if kind == "sd3" else "L1H0, L3H2@0.5"]
    for c, text in enumerate(texts):
        for m, p in enumerate(prompts):
            want = reference_latent(host, hh, model, conds[m], p.seed, text)
            torch.testing.assert_close(latents[c, m], want[0], rtol=1e-4, atol=1e-4)
    assert not torch.allclose(latents[0], latents[1], atol=1e-3)


def test_pack_registers_search_nodes(host):
    import nodes

    for node_id in ("HeadHunterSearch", "HeadHunterSweep", "HeadHunterObjectiveLoader", "HeadHunterObjectiveCombine"):
        assert node_id in nodes.NODE_CLASS_MAPPINGS, node_id


def test_search_end_to_end_finds_the_heads_a_synthetic_objective_rewards(host, hh, hs, sd3, vae, prompts, tmp_path):
    from safetensors.torch import load_file

    conds = hs.prompt_conditionings(len(prompts))
    decode = lambda latent: vae.decode(latent)[0].float().detach()
    targets = {p.seed: [decode(reference_latent(host, hh, sd3, conds[m], p.seed, heads, steps=1))
                        for heads in ("L2H1", "L2H1, L1H0")] for m, p in enumerate(prompts)}
    result = host("search.search_job").run_search(job(host, hs, sd3, vae, prompts, TargetObjective(targets), tmp_path))
    assert result.state.selected == [[(2, 1)], [(1, 0)]]
    assert result.head_set.to_text() == "L2H1, L1H0"
    scores = result.head_set.notes.scores
    # The targets are met up to the float noise of batched vs one-image forwards (the random decoder
    # amplifies it); every other candidate is orders of magnitude further away.
    # notes.scores holds every evaluated head (for the head grid's heatmap); the chosen ones at the
    # round that chose them.
    assert set(scores) == set(result.state.rounds[0])
    assert all(-1e-4 < scores[h] <= 0 for h in ("L2H1", "L1H0"))
    assert scores["L1H0"] == result.state.rounds[1]["L1H0"]
    assert max(v for n, v in result.state.rounds[0].items() if n != "L2H1") < -1e-3
    assert max(v for n, v in result.state.rounds[1].items() if n != "L1H0") < -1e-3

    # Outputs load back: score map, preset, pictures.
    saved = load_file(str(result.run_dir / "scores.safetensors"))
    assert saved["scores"].shape == (2, 3, 3)
    assert torch.isnan(saved["scores"][:, 0]).all()  # layer 0 was not a candidate
    assert torch.isnan(saved["scores"][1, 2, 1]) and saved["selected_round"][1, 0] == 1
    torch.testing.assert_close(saved["scores"][0, 2, 1], torch.tensor(scores["L2H1"], dtype=torch.float32))
    preset = json.loads(result.preset_path.read_text())
    assert result.preset_path == tmp_path / "presets" / "search" / "run.json"
    assert preset["format"] == "headhunter-preset" and preset["version"] == 1
    assert [h["head"] for h in preset["heads"]] == ["L2H1", "L1H0"] and preset["architecture"] == "sd3"
    prov = preset["provenance"]
    assert prov["source"] == "search" and prov["parameters"]["k"] == 1
    assert prov["parameters"]["prompts"] == [["a cat", "golden hour", 0], ["a dog", "golden hour", 1]]
    assert [r["chosen"] for r in prov["rounds"]] == [["L2H1"], ["L1H0"]]
    assert result.heatmaps.shape[0] == 2 and result.heatmaps.shape[-1] == 3
    assert result.round_grids.shape[0] == 3  # baseline + 2 rounds
    assert (result.run_dir / "heatmap_round1.png").is_file() and (result.run_dir / "images_round_1.png").is_file()
    loaded = host("core.preset_files").read_preset(result.preset_path, "search/run").head_set()
    assert loaded.to_text() == "L2H1, L1H0" and loaded.family == "sd3-medium"
    assert loaded.notes.scores == {h: scores[h] for h in ("L2H1", "L1H0")}
    assert (result.run_dir / "preset.json").read_text() == result.preset_path.read_text()


@pytest.fixture(scope="module")
def pickscore(host, clip_folder):
    return host("search.clip_objectives").load_objective("PickScore", str(clip_folder))


@pytest.fixture(scope="module")
def reference(host, hs, sd3, vae, prompts, pickscore, tmp_path_factory):
    """An uninterrupted PickScore search, two candidates per forward."""
    run = host("search.search_job")
    return run.run_search(job(host, hs, sd3, vae, prompts, pickscore, tmp_path_factory.mktemp("reference"),
                              batch_candidates=2, run_name="ref"))


def test_batched_and_one_at_a_time_give_the_same_scores(host, hs, sd3, vae, prompts, pickscore, reference, tmp_path):
    run = host("search.search_job")
    one = run.run_search(job(host, hs, sd3, vae, prompts, pickscore, tmp_path, batch_candidates=1, run_name="one"))
    many = reference
    for a, b in zip(one.state.rounds, many.state.rounds):
        assert a.keys() == b.keys()
        for name in a:
            assert b[name] == pytest.approx(a[name], rel=1e-5, abs=1e-5), name
    assert one.state.final == many.state.final


def test_resume_after_interruption_equals_uninterrupted_run(host, hs, sd3, vae, prompts, pickscore, reference, tmp_path):
    run = host("search.search_job")

    import comfy.model_management

    class Flaky(TargetObjective):
        """PickScore that raises on one call, or presses ComfyUI's Cancel during one call."""

        def __init__(self, fail_on=None, cancel_on=None):
            super().__init__({}, fail_on)
            self.cancel_on = cancel_on

        def score(self, images, prompts):
            self.calls += 1
            if self.calls == self.fail_on_call:
                raise KeyboardInterrupt("interrupted mid-round")
            if self.calls == self.cancel_on:
                comfy.model_management.interrupt_current_processing(True)
            return pickscore.score(images, prompts)

        def describe(self):
            return pickscore.describe()

    # Scoring calls: the baseline, 3 batches of round 1 (6 heads by 2), its summary, 3 batches of round 2
    # (5 heads), its summary. Cancel during round 1's 2nd batch: ComfyUI stops the next sampling step.
    with pytest.raises(comfy.model_management.InterruptProcessingException):
        run.run_search(job(host, hs, sd3, vae, prompts, Flaky(cancel_on=3), tmp_path, run_name="flaky",
                           batch_candidates=2))
    saved = json.loads((tmp_path / "runs" / "flaky" / "checkpoint.json").read_text())
    assert len(saved["rounds"]) == 1 and len(saved["rounds"][0]) == 4
    # Resumed, then a crash in round 2's 2nd batch (call 4: round 1's last batch, its summary, round 2's 1st).
    with pytest.raises(KeyboardInterrupt):
        run.run_search(job(host, hs, sd3, vae, prompts, Flaky(fail_on=4), tmp_path, run_name="flaky",
                           batch_candidates=2))
    saved = json.loads((tmp_path / "runs" / "flaky" / "checkpoint.json").read_text())
    assert len(saved["rounds"]) == 2 and len(saved["rounds"][1]) == 2  # one batch of round 2 was kept
    resumed_objective = Flaky()
    resumed = run.run_search(job(host, hs, sd3, vae, prompts, resumed_objective, tmp_path, run_name="flaky",
                                 batch_candidates=2))
    assert resumed_objective.calls == 2 + 1  # the two missing batches of round 2 and its summary
    assert resumed.state.rounds == reference.state.rounds  # bit for bit
    assert resumed.state.summaries == reference.state.summaries and resumed.state.baseline == reference.state.baseline
    assert resumed.head_set.to_text() == reference.head_set.to_text()
    torch.testing.assert_close(resumed.scores, reference.scores, equal_nan=True, rtol=0, atol=0)
    torch.testing.assert_close(resumed.round_grids, reference.round_grids, rtol=0, atol=0)

    with pytest.raises(run.CheckpointMismatch, match=r"k: checkpoint 1 vs now 2.*another run name"):
        run.run_search(job(host, hs, sd3, vae, prompts, pickscore, tmp_path, run_name="flaky", k=2))
    with pytest.raises(run.CheckpointMismatch, match="sampling"):
        run.run_search(job(host, hs, sd3, vae, prompts, pickscore, tmp_path, run_name="flaky",
                           settings=settings(host, scale=2.0)))


def test_objective_folder_errors_name_the_folder(host, tmp_path):
    objectives = host("search.clip_objectives")
    with pytest.raises(FileNotFoundError, match=r"No objective model 'PickScore_v1'.*headhunter_objectives.*save_pretrained"):
        objectives.load_objective("PickScore")
    empty = tmp_path / "half"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"half lacks model weights.*preprocessor_config.json"):
        objectives.load_objective("CLIPScore", str(empty))


def test_objective_loader_node_and_scores_against_transformers(host, hh, clip_folder, prompts):
    from transformers import CLIPModel, CLIPProcessor

    node = host("nodes.objective_nodes").HeadHunterObjectiveLoader
    pick = hh.run_node(node, kind="PickScore", model_folder="PickScore_v1", path=str(clip_folder), template="")[0]
    clip_score = hh.run_node(node, kind="CLIPScore", model_folder="PickScore_v1", path=str(clip_folder), template="")[0]
    images = torch.rand(2, 40, 48, 3, generator=torch.Generator().manual_seed(0))
    got_pick, got_clip = pick.score(images, prompts), clip_score.score(images, prompts)

    # Independently: the CLIP model's own logits_per_image for each (image, its prompt) pair.
    model = CLIPModel.from_pretrained(str(clip_folder), local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(str(clip_folder), local_files_only=True)
    pixels = list((images * 255).round().to(torch.uint8).numpy())
    for template, got, to_score in (("{prompt}", got_pick, lambda logits, scale: logits),
                                    ("A photo depicts {prompt}", got_clip,
                                     lambda logits, scale: 100 * (logits / scale).clamp_min(0))):
        texts = [template.replace("{prompt}", f"{p.style}, {p.content}") for p in prompts]
        with torch.no_grad():
            out = model(**processor(text=texts, images=pixels, return_tensors="pt", padding=True))
        want = to_score(out.logits_per_image.diagonal(), model.logit_scale.exp())
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert ((got_clip >= 0) & (got_clip <= 100)).all()

    combine = host("nodes.objective_nodes").HeadHunterObjectiveCombine
    both = hh.run_node(combine, objective_a=pick, objective_b=clip_score, weight_a=1.0, weight_b=0.5,
                       mode="weighted sum")[0]
    torch.testing.assert_close(both.score(images, prompts), got_pick + 0.5 * got_clip)


def test_search_node_runs_and_outputs_load_back(host, hh, hs, sd3, vae, pickscore, tmp_path, monkeypatch):
    import folder_paths
    from safetensors.torch import load_file

    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path / "output"))
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "headhunter_presets", ([str(tmp_path / "presets")], {".json"}))
    node = host("nodes.search_node").HeadHunterSearch
    out = hh.run_node(
        node, model=sd3, vae=vae, objective=pickscore, positive=hs.prompt_conditionings(1)[0],
        prompts="a cat\na dog", style="", seeds="", k=1, rounds=1, steps=1, sampler="euler", scheduler="simple",
        scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE, height=SIZE, batch_candidates=3, candidates="L2",
        run_name="node run", family="auto")
    head_set, heads, heatmaps, round_images, preset_path = out
    assert heads == head_set.to_text() and len(head_set.resolve(host("patches.model_patch").model_layout(sd3))) == 1
    assert head_set.arch == "sd3" and set(head_set.notes.scores) == {"L2H0", "L2H1", "L2H2"}
    assert heatmaps.ndim == 4 and heatmaps.shape[0] == 1 and round_images.shape[0] == 2
    assert preset_path == str(tmp_path / "presets" / "search" / "node run.json")
    scores = load_file(str(tmp_path / "output" / "headhunter_search" / "node run" / "scores.safetensors"))["scores"]
    assert scores.shape == (1, 3, 3) and (~torch.isnan(scores)).sum() == 3
    with pytest.raises(ValueError, match="run name"):
        hh.run_node(node, model=sd3, vae=vae, objective=pickscore, prompts="a", style="", seeds="", k=1, rounds=1,
                    steps=1, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE,
                    height=SIZE, batch_candidates=1, candidates="", run_name="../escape", family="auto")


def test_sweep_node_one_labelled_image_per_head(host, hh, hs, sd3, vae):
    node = host("nodes.sweep_node").HeadHunterSweep
    conditioning = hs.prompt_conditionings(1)[0]
    decoded = []  # what the sweep hands ComfyUI's VAE, and what it gets back
    real_decode = vae.decode

    def recording_decode(latents, *args, **kwargs):
        images = real_decode(latents, *args, **kwargs)
        decoded.append((latents.detach().clone(), images.detach().clone()))
        return images

    vae.decode = recording_decode
    try:
        grid, images = hh.run_node(
            node, model=sd3, vae=vae, positive=conditioning, prompt="", seed=5, heads="L1H0-2, L2H1", mode="per head",
            steps=STEPS, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE,
            height=SIZE, batch_candidates=2, include_baseline=True, columns=3)
    finally:
        del vae.decode
    assert images.shape == (5, SIZE, SIZE, 3) and grid.shape == (1, 2 * SIZE + 4, 3 * SIZE + 8, 3)
    latents = torch.cat([lat for lat, _ in decoded])
    pictures = torch.cat([img for _, img in decoded]).reshape(images.shape).float()
    assert latents.shape[0] == 5
    # Image 2 is L1H1 alone: its latent is KSampler + the engine's node with that head, compared
    # before the VAE (the tiny random VAE saturates, so a float rounding in the latent can flip a
    # pixel), and below its label the image is exactly what the VAE made of that latent.
    want = reference_latent(host, hh, sd3, conditioning, 5, "L1H1")[0]
    torch.testing.assert_close(latents[2], want, rtol=0, atol=1e-4)
    assert not torch.allclose(latents[2], latents[3], atol=1e-3)
    torch.testing.assert_close(images[2, SIZE // 2:], pictures[2, SIZE // 2:], rtol=0, atol=1 / 255)
    per_layer = hh.run_node(
        node, model=sd3, vae=vae, positive=conditioning, prompt="", seed=5, heads="L0-2", mode="per layer",
        steps=1, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE, height=SIZE,
        batch_candidates=4, include_baseline=False, columns=8)[1]
    assert per_layer.shape[0] == 3


def test_command_line_loads_comfyui_and_names_missing_models(host, clip_folder, tmp_path):
    import subprocess
    import sys

    from hh_pack import PACK_DIR, find_host

    comfyui, _ = find_host()

    cli = [sys.executable, str(PACK_DIR / "headhunter_cli.py"), "--comfyui", str(comfyui), "--cpu",
           "--output-dir", str(tmp_path)]
    done = subprocess.run(cli + ["search", "--unet", "not_there.safetensors", "--clip", "x.safetensors", "--vae",
                                 "y.safetensors", "--prompt", "a cat", "--objective-model", str(clip_folder)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "'not_there.safetensors' is not in ComfyUI's diffusion_models folders" in done.stderr


@pytest.mark.parametrize("change, message", [
    (dict(run_name="con"), r"reserved file name on Windows \(CON\)"),
    (dict(run_name="aux.v2"), r"reserved file name on Windows \(AUX\)"),
    (dict(run_name="LPT1"), r"reserved file name on Windows"),
    (dict(run_name="字" * 84), r"bytes long in UTF-8"),
    (dict(softpag_u=5.0), r"softpag_u must be a number from 0 to 1, got 5.0"),
    (dict(settings=dict(scale=-3.0)), r"scale must be a number from 0 to 30, got -3.0"),
    (dict(settings=dict(sampler="bogus")), r"sampler 'bogus' is not one of ComfyUI's samplers: euler, "),
    (dict(settings=dict(scheduler="bogus")), r"scheduler 'bogus' is not one of ComfyUI's schedulers"),
    (dict(settings=dict(steps=0)), r"steps must be a whole number from 1 to 10000, got 0"),
    (dict(settings=dict(width=0)), r"width must be a whole number from 16 to 16384, got 0"),
    (dict(family="sd9-huge"), r"family 'sd9-huge' is not a known model family \(valid: auto, sd3-medium"),
    (dict(seed=2 ** 64), r"seed 18446744073709551616 is outside ComfyUI's seeds, 0 to 18446744073709551615"),
    (dict(k=0), r"k must be a whole number from 1 to 4096"),
    (dict(candidates="L0-9999999H*"), r"layer 9999999 is out of range"),
])
def test_every_search_input_is_checked_before_the_first_image(host, hs, prompts, tmp_path, change, message):
    # No model at all: a check that came after the first forward pass would fail on the model
    # instead of naming the bad input.
    change = dict(change)
    if "settings" in change:
        change["settings"] = settings(host, **change["settings"])
    if "seed" in change:
        prompts = [host("core.scoring").SearchPrompt("a cat", "", change.pop("seed"))]
    search_job = job(host, hs, None, None, prompts, None, tmp_path, **change)
    with pytest.raises(ValueError, match=message):
        host("search.search_job").run_search(search_job)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "presets").exists()


def test_seeds_text_refuses_seeds_beyond_comfyui(host):
    obj = host("core.scoring")
    assert obj.parse_seeds("0, 18446744073709551615") == [0, 2 ** 64 - 1]
    for text in ("18446744073709551616", "9" * 5000, "١٢"):
        with pytest.raises(ValueError, match=r"outside ComfyUI's seeds|not a non-negative whole number"):
            obj.parse_seeds(text)


def test_a_search_never_replaces_the_users_own_preset_without_overwrite(host, hh, hs, sd3, vae, prompts, tmp_path):
    # The user saved "search/mine" with Save Preset; a search named "mine" must not replace it.
    presets = preset_modules(host)
    users = presets.fmt.preset_from_dict({"format": "headhunter-preset", "version": 1, "name": "mine",
                                      "family": "sd3-medium", "architecture": "sd3", "heads": ["L5H5"],
                                      "provenance": {"source": "user"}}, "search/mine")
    path = presets.files.save_preset(tmp_path / "presets", users)
    before = path.read_bytes()
    run = host("search.search_job")
    with pytest.raises(ValueError, match=r"a preset named 'search/mine' already exists .*mine.json.* not from this "
                       r"search: choose another run name, or turn on overwrite"):
        run.run_search(job(host, hs, None, None, prompts, None, tmp_path, run_name="mine"))  # before any image
    assert path.read_bytes() == before
    # The node says so when the prompt is queued.
    import folder_paths

    node = host("nodes.search_node").HeadHunterSearch
    saved = folder_paths.folder_names_and_paths["headhunter_presets"]
    folder_paths.folder_names_and_paths["headhunter_presets"] = ([str(tmp_path / "presets")], {".json"})
    try:
        assert "already exists" in node.validate_inputs(run_name="mine")
        assert node.validate_inputs(run_name="mine", overwrite=True) is True
    finally:
        folder_paths.folder_names_and_paths["headhunter_presets"] = saved
    # With overwrite the search's preset replaces it; the same search run again may rewrite its own.
    conds = hs.prompt_conditionings(len(prompts))
    one = dict(conditionings=conds, rounds=1, candidates="L2H0-1", run_name="mine")
    target = TargetObjective({p.seed: [torch.zeros(SIZE, SIZE, 3)] for p in prompts})
    result = run.run_search(job(host, hs, sd3, vae, prompts, target, tmp_path, overwrite=True, **one))
    assert json.loads(path.read_text())["provenance"]["source"] == "search"
    again = run.run_search(job(host, hs, sd3, vae, prompts, target, tmp_path, **one))
    assert again.preset_path == result.preset_path


def test_sweep_xy_grid_over_targets_u_and_scale(host, hh, hs, sd3, vae):
    """Columns over targets, rows over u, then scale: each cell is KSampler + the perturbation node
    with that head text, compared before the (saturating) tiny VAE."""
    node = host("nodes.sweep_node").HeadHunterSweep
    conditioning = hs.prompt_conditionings(1)[0]
    decoded = []
    real_decode = vae.decode

    def recording_decode(latents, *args, **kwargs):
        decoded.append(latents.detach().clone())
        return real_decode(latents, *args, **kwargs)

    vae.decode = recording_decode
    try:
        grid, images = hh.run_node(
            node, model=sd3, vae=vae, positive=conditioning, prompt="", seed=3, heads="L1H0, L2H1:max", mode="per target",
            steps=STEPS, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE,
            height=SIZE, batch_candidates=3, include_baseline=True, columns=8, values="uniform, seg(1)",
            rows="per u", row_values="0.5, 1", target="identity")
    finally:
        del vae.decode
    assert images.shape == (4, SIZE, SIZE, 3) and grid.shape == (1, 2 * SIZE + 4, 2 * SIZE + 4, 3)
    latents = torch.cat(decoded)
    # Row 0 is u 0.5, column 1 is seg(1): L2H1 keeps its own target (max) and takes the row's u.
    want = reference_latent(host, hh, sd3, conditioning, 3, "L1H0:seg(1)@0.5, L2H1:max@0.5")[0]
    torch.testing.assert_close(latents[1], want, rtol=0, atol=1e-4)
    want = reference_latent(host, hh, sd3, conditioning, 3, "L1H0:uniform, L2H1:max")[0]
    torch.testing.assert_close(latents[2], want, rtol=0, atol=1e-4)
    scales = hh.run_node(
        node, model=sd3, vae=vae, positive=conditioning, prompt="", seed=3, heads="L1H0", mode="per scale",
        steps=1, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE, height=SIZE,
        batch_candidates=4, include_baseline=False, columns=8, values="0, 5", target="mean_query")[1]
    assert scales.shape[0] == 2
    for bad, says in ((dict(values="uniform, blur"), "'blur' is not a target"), (dict(values=""), "needs values"),
                      (dict(rows="per target", row_values="max"), "both axes"),
                      (dict(mode="per u", values="0.5, 2"), "u must be a number from 0 to 1")):
        args = dict(model=sd3, vae=vae, positive=conditioning, prompt="", seed=3, heads="L1H0", mode="per target",
                    steps=1, sampler="euler", scheduler="simple", scale=3.0, softpag_u=1.0, cfg=1.0, width=SIZE,
                    height=SIZE, batch_candidates=4, include_baseline=False, columns=8)
        with pytest.raises(ValueError, match=says):
            hh.run_node(node, **{**args, **bad})


def test_search_over_heads_with_targets(host, hh, hs, sd3, vae, prompts, tmp_path):
    """Candidates carry their targets (their own, else the job's): a synthetic objective rewarding
    images rendered independently with 'L2H1:max' then 'L2H1:max, L1H0:uniform' is met exactly by
    those heads, and the preset records the targets."""
    conds = hs.prompt_conditionings(len(prompts))
    decode = lambda latent: vae.decode(latent)[0].float().detach()
    targets = {p.seed: [decode(reference_latent(host, hh, sd3, conds[m], p.seed, heads, steps=1))
                        for heads in ("L2H1:max", "L2H1:max, L1H0:uniform")] for m, p in enumerate(prompts)}
    result = host("search.search_job").run_search(job(host, hs, sd3, vae, prompts, TargetObjective(targets), tmp_path,
                                               candidates="L2H1:max, L1-2", target="uniform"))
    assert result.state.selected == [[(2, 1)], [(1, 0)]]
    assert result.head_set.to_text() == "L2H1:max, L1H0:uniform"
    saved = json.loads(result.preset_path.read_text(encoding="utf-8"))
    assert [(h["head"], h.get("target")) for h in saved["heads"]] == [("L2H1", "max"), ("L1H0", "uniform")]
    assert "L2H1:max" in saved["provenance"]["parameters"]["candidates"]
    with pytest.raises(ValueError, match="target: 'blur' is not a target"):
        host("search.search_job").run_search(job(host, hs, sd3, vae, prompts, TargetObjective(targets), tmp_path,
                                          target="blur"))


def test_command_line_errors_are_clear_and_come_before_any_model_is_loaded(host, tmp_path):
    import subprocess
    import sys

    from hh_pack import PACK_DIR, find_host

    comfyui, _ = find_host()
    cli = [sys.executable, str(PACK_DIR / "headhunter_cli.py")]

    def run(*args):
        done = subprocess.run(cli + list(args), capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
        return done

    # Global options after the subcommand work; the bad sampler is named before the (missing) models.
    done = run("search", "--comfyui", str(comfyui), "--cpu", "--output-dir", str(tmp_path / "out"), "--prompt", "a cat",
               "--unet", "not_there.safetensors", "--clip", "x", "--vae", "y", "--sampler", "bogus")
    assert done.returncode == 2 and "error: sampler 'bogus' is not one of ComfyUI's samplers: euler" in done.stderr
    # --extra-model-paths works (ComfyUI's utils package, not comfy/utils.py); a file that is not a
    # model is named, without a traceback.
    models = tmp_path / "extra" / "diffusion_models"
    models.mkdir(parents=True)
    (models / "notes.safetensors").write_text("not a model")
    (tmp_path / "extra.yaml").write_text(f"mine:\n  base_path: {tmp_path / 'extra'}\n  diffusion_models: diffusion_models\n")
    done = run("--comfyui", str(comfyui), "--cpu", "--extra-model-paths", str(tmp_path / "extra.yaml"), "sweep",
               "--prompt", "a cat", "--out", str(tmp_path / "grid.png"), "--unet", "notes.safetensors", "--clip", "x",
               "--vae", "y")
    assert done.returncode != 0 and "error: could not load --unet 'notes.safetensors'" in done.stderr, done.stderr[-2000:]
    # Not a ComfyUI folder, or none given: said plainly, at once.
    done = run("--comfyui", str(tmp_path), "sweep", "--prompt", "a", "--out", "x.png")
    assert done.returncode != 0 and f"{tmp_path} is not a ComfyUI folder" in done.stderr
    done = run("sweep", "--prompt", "a", "--out", "x.png")
    assert done.returncode == 2 and "--comfyui is required (the ComfyUI folder; before or after the subcommand)" in done.stderr
    # Help shows the defaults.
    assert "(default: 20)" in run("search", "--help").stdout and "(default: per head)" in run("sweep", "--help").stdout
    assert not (tmp_path / "out").exists() and not (tmp_path / "grid.png").exists()
