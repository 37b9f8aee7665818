#!/usr/bin/env python3
"""Candidates per minute of one search round: one candidate per forward vs several batched.

    COMFYUI_PATH=~/ComfyUI python benchmarks/search_throughput.py [--depth 4] [--batch 8]

Runs inside a real ComfyUI on a tiny random SD3 (ComfyUI's own MMDiT, loaded by UNETLoader) and a
TAESD-type VAE, from the test helpers. Both ways are timed side by side, alternating, in one run, so
a noisy shared machine disturbs both alike; each way's best run is its figure (as benchmarks/run.py),
every run is printed too.
The objective is a cheap stand-in (mean brightness): this measures generation, which dominates.
"""
from __future__ import annotations

import argparse
import os
import time



def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"), help="ComfyUI folder (or COMFYUI_PATH).")
    p.add_argument("--depth", type=int, default=4, help="Tiny SD3 depth: layers = heads = depth.")
    p.add_argument("--size", type=int, default=64, help="Image size (latents size/8).")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--prompts", type=int, default=2, help="Prompt-seed images per candidate (M).")
    p.add_argument("--batch", type=int, default=8, help="batch_candidates of the batched way.")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    if not args.comfyui:
        raise SystemExit("give --comfyui or set COMFYUI_PATH")

    from tiny_search import load_pack, tiny_search

    package = load_pack(args.comfyui)  # on the CPU, as the tests
    import torch

    search, pool, evaluate = tiny_search(package, args.depth, args.size, args.steps, args.prompts)

    def rate(batch: int) -> float:
        start = time.perf_counter()
        search.greedy_search(pool, k=1, rounds=1, evaluate=evaluate, batch_size=batch)
        return len(pool) / (time.perf_counter() - start) * 60.0

    rate(args.batch)  # warm-up
    one, batched = [], []
    for _ in range(args.repeats):
        one.append(rate(1))
        batched.append(rate(args.batch))
    one_m, batched_m = max(one), max(batched)
    print(f"tiny SD3 {args.depth}x{args.depth} heads, {args.size}px, {args.steps} steps, M={args.prompts}, "
          f"{len(pool)} candidates per round, CPU, {torch.get_num_threads()} threads")
    print(f"one at a time:      {one_m:8.1f} candidates/min, best of {', '.join(f'{r:.1f}' for r in one)}")
    print(f"batched ({args.batch:3d}/fwd): {batched_m:8.1f} candidates/min, best of "
          f"{', '.join(f'{r:.1f}' for r in batched)}")
    print(f"speed-up: {batched_m / one_m:.2f}x")


if __name__ == "__main__":
    main()
