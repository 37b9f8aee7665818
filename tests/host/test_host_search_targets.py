"""The search over (head, target) candidates inside a real ComfyUI (tiny SD3, TAESD-type VAE).

A synthetic objective rewards images rendered independently (KSampler + HeadHunter Perturbed
Attention) with given heads and targets; the search must find exactly those (head, target) pairs,
resume exactly after a stop, and write the targets into its preset. Bad target lists fail before
any image, in the job, the node and the command line.
"""
import json

import pytest
import torch

from hh_search_jobs import TargetObjective, job, reference_latent


@pytest.fixture(scope="module")
def prompts(host):
    return host("core.scoring").prompt_grid(["a cat", "a dog"], ["golden hour"])


@pytest.fixture(scope="module")
def pickscore(host, hs, tmp_path_factory):
    folder = hs.tiny_clip_folder(tmp_path_factory.mktemp("objectives") / "tiny-clip")
    return host("search.clip_objectives").load_objective("PickScore", str(folder))

SEARCHED = "identity, max, uniform"


@pytest.fixture(scope="module")
def rewarded(host, hh, hs, sd3, vae, prompts):
    """seed -> the images of 'L2H1:max' and of 'L2H1:max, L1H0:uniform', rendered independently."""
    conds = hs.prompt_conditionings(len(prompts))
    decode = lambda latent: vae.decode(latent)[0].float().detach()
    return {p.seed: [decode(reference_latent(host, hh, sd3, conds[m], p.seed, heads, steps=1))
                     for heads in ("L2H1:max", "L2H1:max, L1H0:uniform")] for m, p in enumerate(prompts)}


@pytest.fixture(scope="module")
def uninterrupted(host, hs, sd3, vae, prompts, rewarded, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    return host("search.search_job").run_search(job(host, hs, sd3, vae, prompts, TargetObjective(rewarded), tmp,
                                                    search_targets=SEARCHED, run_name="pairs")), tmp


def test_search_finds_the_rewarded_head_target_pairs_and_writes_them(host, uninterrupted):
    from safetensors.torch import load_file

    result, tmp = uninterrupted
    assert result.state.selected == [[(2, 1, "max")], [(1, 0, "uniform")]]
    assert result.head_set.to_text() == "L2H1:max, L1H0:uniform"
    # Every (head, target) pair of the 6 candidate heads in round 1; round 2 drops L2H1's three pairs.
    assert len(result.state.rounds[0]) == 6 * 3 and len(result.state.rounds[1]) == 5 * 3
    assert not any(name.startswith("L2H1:") for name in result.state.rounds[1])
    best = result.state.rounds[0]["L2H1:max"]
    assert -1e-4 < best <= 0 and max(v for n, v in result.state.rounds[0].items() if n != "L2H1:max") < -1e-3
    # The grid's heatmap: one score per head (its best target).
    assert set(result.head_set.notes.scores) == {f"L{l}H{h}" for l in (1, 2) for h in range(3)}
    assert result.head_set.notes.scores["L2H1"] == best

    preset = json.loads(result.preset_path.read_text(encoding="utf-8"))
    assert result.preset_path == tmp / "presets" / "search" / "pairs.json"
    assert [(h["head"], h.get("target")) for h in preset["heads"]] == [("L2H1", "max"), ("L1H0", "uniform")]
    assert preset["provenance"]["parameters"]["search_targets"] == ["identity", "max", "uniform"]
    assert [r["chosen"] for r in preset["provenance"]["rounds"]] == [["L2H1:max"], ["L1H0:uniform"]]
    loaded = host("core.preset_files").read_preset(result.preset_path, "search/pairs").head_set()
    assert loaded.to_text() == "L2H1:max, L1H0:uniform"

    saved = load_file(str(result.run_dir / "scores.safetensors"))
    assert saved["scores"].shape == (2, 3, 3) and {"scores:identity", "scores:max", "scores:uniform"} <= set(saved)
    torch.testing.assert_close(saved["scores:max"][0, 2, 1], torch.tensor(best, dtype=torch.float32))
    torch.testing.assert_close(saved["scores"][0, 2, 1], torch.tensor(best, dtype=torch.float32))


def test_resume_after_a_stop_equals_the_uninterrupted_search(host, hs, sd3, vae, prompts, rewarded, uninterrupted,
                                                            tmp_path):
    run = host("search.search_job")
    want, _ = uninterrupted
    # Scoring calls: the baseline, then round 1's 18 pairs in batches of 4 (calls 2-6): stop in the 3rd batch.
    with pytest.raises(KeyboardInterrupt):
        run.run_search(job(host, hs, sd3, vae, prompts, TargetObjective(rewarded, fail_on_call=4), tmp_path,
                           search_targets=SEARCHED, run_name="pairs"))
    saved = json.loads((tmp_path / "runs" / "pairs" / "checkpoint.json").read_text())
    assert len(saved["rounds"][0]) == 8 and saved["pool"][:3] == ["L1H0:identity", "L1H0:max", "L1H0:uniform"]
    # Another target list is another search: refused, not mixed.
    with pytest.raises(run.CheckpointMismatch, match="search_targets"):
        run.run_search(job(host, hs, sd3, vae, prompts, TargetObjective(rewarded), tmp_path,
                           search_targets="identity, max", run_name="pairs"))
    objective = TargetObjective(rewarded)
    resumed = run.run_search(job(host, hs, sd3, vae, prompts, objective, tmp_path, search_targets=SEARCHED,
                                 run_name="pairs"))
    assert objective.calls == 3 + 1 + 4 + 1  # round 1's last 3 batches, its summary, round 2's 4 batches, summary
    assert resumed.state.rounds == want.state.rounds  # bit for bit
    assert resumed.state.selected == want.state.selected and resumed.state.summaries == want.state.summaries
    assert resumed.head_set.to_text() == want.head_set.to_text()


@pytest.mark.parametrize("change, message", [
    (dict(search_targets="identity, blur"), r"search_targets: 'blur' is not a target; targets: identity, uniform"),
    (dict(search_targets="max, MAX"), r"search_targets: 'MAX' is listed twice \(as max\)"),
    (dict(search_targets="temperature(500)"), r"search_targets: 'temperature\(500\)': t=500 is outside \[0.01, 100\]"),
    (dict(search_targets="uniform", candidates="L1:max, L2"), r"candidates name their own target \('L1:max'\)"),
])
def test_bad_search_targets_fail_before_the_first_image(host, hs, prompts, tmp_path, change, message):
    search_job = job(host, hs, None, None, prompts, None, tmp_path, **change)  # no model: nothing can run
    with pytest.raises(ValueError, match=message):
        host("search.search_job").run_search(search_job)
    assert not (tmp_path / "runs").exists()


def test_search_node_takes_search_targets(host, hh, hs, sd3, vae, pickscore, tmp_path, monkeypatch):
    import folder_paths

    node = host("nodes.search_node").HeadHunterSearch
    assert "search_targets" in {i.id for i in node.define_schema().inputs}
    assert node.validate_inputs(search_targets="uniform, nope").startswith("search_targets: 'nope' is not a target")
    assert node.validate_inputs(search_targets="uniform, seg(4)") is True
    monkeypatch.setattr(folder_paths, "output_directory", str(tmp_path / "output"))
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "headhunter_presets", ([str(tmp_path / "presets")], {".json"}))
    head_set, heads, *_ = hh.run_node(
        node, model=sd3, vae=vae, objective=pickscore, positive=hs.prompt_conditionings(1)[0],
        prompts="a cat", style="", seeds="", k=2, rounds=1, steps=1, sampler="euler", scheduler="simple",
        scale=3.0, softpag_u=1.0, cfg=1.0, width=64, height=64, batch_candidates=6, candidates="L2",
        run_name="node pairs", family="auto", search_targets="identity, uniform")
    layout = host("patches.model_patch").model_layout(sd3)
    resolved = head_set.resolve_targets(layout, 1.0, None)
    assert len(resolved) == 2 and len({(l, h) for l, h, *_ in resolved}) == 2  # two heads, each once
    preset = json.loads((tmp_path / "presets" / "search" / "node pairs.json").read_text(encoding="utf-8"))
    assert [h["head"] for h in preset["heads"]] == [f"L{l}H{h}" for l, h, *_ in resolved]
    assert all(h.get("target", "identity") in ("identity", "uniform") for h in preset["heads"])


def test_command_line_refuses_a_bad_target_list_before_loading_models(host, tmp_path):
    import subprocess
    import sys

    from hh_pack import PACK_DIR, find_host

    comfyui, _ = find_host()
    done = subprocess.run(
        [sys.executable, str(PACK_DIR / "headhunter_cli.py"), "--comfyui", str(comfyui), "--cpu", "--output-dir",
         str(tmp_path / "out"), "search", "--prompt", "a cat", "--unet", "not_there.safetensors", "--clip", "x",
         "--vae", "y", "--search-targets", "identity, blur"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "error: search_targets: 'blur' is not a target" in done.stderr
    assert "--search-targets" in subprocess.run([sys.executable, str(PACK_DIR / "headhunter_cli.py"), "search", "--help"],
                                                capture_output=True, text=True, timeout=300).stdout
