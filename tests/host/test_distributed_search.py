"""The headless search on several processes (torchrun, gloo, CPU) against one process.

Every run is headhunter_cli.py's own main() in subprocesses (tests/support/hh_dist_search.py: ComfyUI's
loaders read a tiny SD3 and a tiny VAE from files, the objective is a tiny CLIP read by
transformers; only the text encoders are stood in for). The reference is the same command in one
plain process; the distributed runs must write the same files, byte for byte. Subprocess timeouts
are hang guards only.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DRIVER = Path(__file__).resolve().parents[1] / "support" / "hh_dist_search.py"
GUARD_S = 600  # a hang guard: a run here takes well under a minute
OUTPUTS = ("checkpoint.json", "scores.safetensors", "round_images.safetensors", "preset.json")


@pytest.fixture(scope="module")
def models(host, hh, tmp_path_factory):
    import hh_search

    folder = tmp_path_factory.mktemp("dist_models")
    return {"unet": hh.tiny_sd3_file(folder), "vae": hh_search.tiny_vae_file(folder),
            "clip": hh_search.tiny_clip_folder(folder / "tiny-clip")}


def command(models, out: Path, processes: int) -> list:
    from hh_pack import find_host

    comfyui, _ = find_host()
    launch = [sys.executable, str(DRIVER)] if processes == 0 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes), str(DRIVER)]
    # 9 candidate heads in batches of 2: round 1 = batches of heads 0-1, 2-3, 4-5, 6-7, 8; round 2 = 8 heads.
    return launch + [
        "--comfyui", str(comfyui), "--cpu", "--output-dir", str(out), "search",
        "--unet", str(models["unet"]), "--vae", str(models["vae"]),
        "--objective", "PickScore", "--objective-model", str(models["clip"]),
        "--prompt", "a cat", "--prompt", "a dog", "--style", "golden hour",
        "--k", "1", "--rounds", "2", "--candidates", "L0-2", "--steps", "1", "--width", "64", "--height", "64",
        "--batch-candidates", "2", "--run-name", "dist"]


def environment(out: Path, **extra) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", HH_DIST_TEST_PRESETS=str(out / "presets"), PYTHONUNBUFFERED="1",
               HH_DIST_TEST_SCRATCH=str(out / "comfyui-folders"))
    env.pop("HH_DIST_TEST_HOOK", None)
    env.update(extra)
    return env


def launch(models, out: Path, processes: int, **env) -> subprocess.CompletedProcess:
    """``processes`` = 0: plain python, no torchrun."""
    return subprocess.run(command(models, out, processes), env=environment(out, **env), capture_output=True,
                          text=True, timeout=GUARD_S)


def outputs(out: Path) -> dict:
    return {name: (out / "headhunter_search" / "dist" / name).read_bytes() for name in OUTPUTS}


def scored(text: str) -> dict:
    return {int(line.split()[2]): int(line.split()[4]) for line in text.splitlines() if line.startswith("[hh-dist] rank")}


def checkpoint(out: Path) -> dict:
    return json.loads((out / "headhunter_search" / "dist" / "checkpoint.json").read_text())


@pytest.fixture(scope="module")
def reference(models, tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    done = launch(models, out, 0)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out, done


def safetensors_content(data: bytes):
    """Tensors and metadata: safetensors writes its metadata in hash order, which varies by process."""
    from safetensors.torch import load

    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    return load(data), header.get("__metadata__")


def assert_same_result(out: Path, reference) -> None:
    ref_out, ref_done = reference
    got, want = outputs(out), outputs(ref_out)
    for name in OUTPUTS:
        if name.endswith(".safetensors"):
            (got_tensors, got_meta), (want_tensors, want_meta) = safetensors_content(got[name]), safetensors_content(want[name])
            assert got_meta == want_meta and got_tensors.keys() == want_tensors.keys(), name
            for key in want_tensors:  # bit for bit, NaN included
                assert got_tensors[key].numpy().tobytes() == want_tensors[key].numpy().tobytes(), (name, key)
        else:
            assert got[name] == want[name], name
    assert (out / "presets" / "search" / "dist.json").read_bytes() == (ref_out / "presets" / "search" / "dist.json").read_bytes()


def test_two_processes_give_the_single_process_result(models, reference, tmp_path):
    done = launch(models, tmp_path, 2)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_same_result(tmp_path, reference)
    heads = [line for line in done.stdout.splitlines() if line.startswith("heads: ")]
    assert heads == [line for line in reference[1].stdout.splitlines() if line.startswith("heads: ")]
    assert len(heads) == 1  # rank 0 alone reports
    # The work was shared: 17 candidates x 2 images in batches of 2, dealt one batch per process per step
    # (round 1: batches 0,2,4 on rank 0, 1,3 on rank 1; round 2: 0,2 and 1,3); rank 0 also renders the
    # baseline and the two per-round images.
    assert scored(done.stdout) == {0: 2 * (5 + 4) + 2 * 3, 1: 2 * (4 + 4)}
    assert scored(reference[1].stdout) == {0: 2 * 17 + 2 * 3}


def test_stopped_on_three_processes_resumes_on_two_with_the_same_result(models, reference, tmp_path):
    # Rank 1 stops at its 2nd scoring call: round 1's 2nd step (batches 3-4), after step 1 (batches 0-2).
    stopped = launch(models, tmp_path, 3, HH_DIST_TEST_HOOK="1,2,interrupt")
    text = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0, text[-3000:]
    assert "HeadHunter search stopped on rank 0 of 3" in text and "resume" in text
    saved = checkpoint(tmp_path)
    assert len(saved["rounds"]) == 1 and list(saved["rounds"][0]) == [f"L{i // 3}H{i % 3}" for i in range(6)]
    assert not (tmp_path / "presets").exists()

    resumed = launch(models, tmp_path, 2)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert_same_result(tmp_path, reference)
    # Only what was missing ran: round 1's batches 3-4, then round 2; no baseline again.
    assert scored(resumed.stdout) == {0: 2 * (2 + 2 + 2) + 2 * 2, 1: 2 * (1 + 4)}


def test_a_killed_process_stops_the_run_and_a_restart_resumes(models, reference, tmp_path):
    pidfile = tmp_path / "paused.pid"
    # Rank 1 pauses at its 2nd scoring call (round 1's 2nd step, batches 2-3) and is killed there.
    run = subprocess.Popen(command(models, tmp_path, 2), env=environment(
        tmp_path, HH_DIST_TEST_HOOK="1,2,pause", HH_DIST_TEST_PIDFILE=str(pidfile)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + GUARD_S  # hang guard
        while not pidfile.is_file() or not pidfile.read_text():
            assert run.poll() is None, run.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "rank 1 never reached its 2nd call"
            time.sleep(0.5)
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
        text, _ = run.communicate(timeout=GUARD_S)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0, text[-3000:]
    assert "HeadHunter search stopped on rank 0 of 2" in text, text[-3000:]
    assert "Signal 9 (SIGKILL)" in text and "rank      : 1" in text  # torchrun names the process
    saved = checkpoint(tmp_path)
    assert len(saved["rounds"]) == 1 and len(saved["rounds"][0]) == 4  # step 1: batches 0-1

    restarted = launch(models, tmp_path, 0)  # one process now
    assert restarted.returncode == 0, restarted.stdout[-3000:] + restarted.stderr[-3000:]
    assert_same_result(tmp_path, reference)


def test_a_hanging_process_is_named_after_the_timeout(models, tmp_path):
    pidfile = tmp_path / "paused.pid"
    done = launch(models, tmp_path, 2, HH_DIST_TEST_HOOK="1,1,pause", HH_DIST_TEST_PIDFILE=str(pidfile),
                  HEADHUNTER_DIST_TIMEOUT="30")
    text = done.stdout + done.stderr
    assert done.returncode != 0, text[-3000:]
    assert "HeadHunter search stopped on rank 0 of 2" in text and "Ranks 1 failed to pass monitoredBarrier" in text


def test_a_sweep_refuses_torchrun(models, tmp_path):
    from hh_pack import PACK_DIR, find_host

    comfyui, _ = find_host()
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(PACK_DIR / "headhunter_cli.py"), "--comfyui", str(comfyui), "--cpu", "sweep", "--prompt", "x",
         "--out", str(tmp_path / "x.png")], env=environment(tmp_path), capture_output=True, text=True, timeout=GUARD_S)
    assert done.returncode != 0
    assert "'sweep' runs on one process; only the search spreads over torchrun's processes" in done.stderr
