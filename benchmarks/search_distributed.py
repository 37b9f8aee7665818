#!/usr/bin/env python3
"""Candidates per minute of one search round against the number of torchrun processes.

    COMFYUI_PATH=~/ComfyUI python benchmarks/search_distributed.py --processes 1,2 [--cpu]

For each process count N it launches ``python -m torch.distributed.run --standalone
--nproc_per_node N`` on this script's worker mode, which runs the search the way the command line
does under torchrun (search/distributed.py: one batch per process per step, scores gathered with
all_gather_object) on a tiny random SD3 (ComfyUI's own MMDiT, loaded by UNETLoader) and a
TAESD-type VAE from the test helpers, each process on its own GPU (cuda:LOCAL_RANK) or, with --cpu
or without CUDA, on the CPU with one thread. Model loading is not timed: the clock starts at a
collective every process reaches once ready. The objective is a cheap stand-in (mean brightness):
this measures generation, which dominates. Each N's figure is its best of --repeats rounds.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

PACK = Path(__file__).resolve().parents[1]


def parse():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), help="ComfyUI folder (or COMFYUI_PATH).")
    p.add_argument("--processes", default="1,2", help="Process counts to compare, e.g. 1,2,4,8.")
    p.add_argument("--cpu", action="store_true", help="Run on the CPU even where CUDA is available.")
    p.add_argument("--depth", type=int, default=4, help="Tiny SD3 depth: layers = heads = depth.")
    p.add_argument("--size", type=int, default=64, help="Image size (latents size/8).")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--prompts", type=int, default=2, help="Prompt-seed images per candidate (M).")
    p.add_argument("--batch", type=int, default=2, help="batch_candidates (per forward, per process).")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args()


def worker(args) -> None:
    spec = importlib.util.spec_from_file_location("headhunter_distributed", PACK / "search" / "distributed.py")
    distributed = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(distributed)
    workers = distributed.start("search", cpu=args.cpu)  # before ComfyUI, as the command line

    from tiny_search import load_pack, tiny_search

    package = load_pack(args.comfyui, cpu=args.cpu or not _cuda())
    search, pool, evaluate = tiny_search(package, args.depth, args.size, args.steps, args.prompts)

    def one_round() -> float:
        workers.check_same("start", {})  # a collective: every process starts the clock together
        start = time.perf_counter()
        search.greedy_search(pool, k=1, rounds=1, evaluate=evaluate, batch_size=args.batch,
                             evaluate_step=lambda batches: workers.evaluate_batches(batches, evaluate),
                             batches_per_step=workers.world_size)
        return len(pool) / (time.perf_counter() - start) * 60.0

    one_round()  # warm-up
    rates = [one_round() for _ in range(args.repeats)]
    if workers.is_writer:
        import torch

        device = "cpu" if args.cpu or not _cuda() else torch.cuda.get_device_name()
        print("RESULT " + json.dumps({"processes": workers.world_size, "rates": rates, "device": device,
                                      "pool": len(pool), "threads": torch.get_num_threads()}), flush=True)
    workers.close()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def main() -> None:
    args = parse()
    if not args.comfyui:
        raise SystemExit("give --comfyui or set COMFYUI_PATH")
    if args.worker:
        return worker(args)
    counts = [int(n) for n in args.processes.split(",")]
    passed = ["--comfyui", args.comfyui, "--depth", str(args.depth), "--size", str(args.size), "--steps",
              str(args.steps), "--prompts", str(args.prompts), "--batch", str(args.batch), "--repeats",
              str(args.repeats)] + (["--cpu"] if args.cpu else [])
    env = dict(os.environ, COMFYUI_PATH=args.comfyui)
    if args.cpu or not _cuda():
        env["OMP_NUM_THREADS"] = "1"  # one thread per process: N processes use N cores
    results = []
    for n in counts:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n),
               __file__, "--worker", *passed]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
        if done.returncode != 0 or line is None:
            raise SystemExit(f"{n} processes failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        results.append(json.loads(line[len("RESULT "):]))
    first = results[0]
    print(f"tiny SD3 {args.depth}x{args.depth} heads, {args.size}px, {args.steps} steps, M={args.prompts}, "
          f"{first['pool']} candidates per round, batch {args.batch} per process, device {first['device']}, "
          f"{first['threads']} thread(s) per process")
    print("| processes | candidates / minute | speed-up | runs |")
    print("| --- | --- | --- | --- |")
    for r in results:
        best = max(r["rates"])
        print(f"| {r['processes']} | {best:.1f} | {best / max(first['rates']):.2f}x | "
              f"{', '.join(f'{x:.1f}' for x in r['rates'])} |")


if __name__ == "__main__":
    main()
