"""HeadHunter benchmarks: every target of the performance issue as a ratio measured side by side.

    python benchmarks/run.py --comfyui /path/to/ComfyUI [--device cpu|cuda] [--dtype fp32|bf16] [--quick]

Run it with the Python that runs your ComfyUI (or the test environment of tests/run.sh). Variants
are interleaved round by round and each figure is the best of its rounds, so a noisy shared
machine disturbs every variant alike and as little as possible. Nothing here asserts a time: it prints a table, with the machine it ran on.

1. Step cost: CFG + HeadHunter (k heads) vs plain CFG, on a small real SD3 (MMDiT from ComfyUI's
   own classes), for the KSampler path, the batched and sequential guider, and ComfyUI core's
   SkipLayerGuidanceDiT and PerturbedAttentionGuidance on the same model.
2. Attention overhead: one attention call with the override (k of H heads perturbed) vs the
   unpatched backend, time and peak memory, next to the explicit-map implementation (softmax
   materialised, identity blended in), at FLUX-like and SD3-like sizes.
4. U-Net step cost (SD1.5-structured U-Net from ComfyUI's own config, reduced width): the
   KSampler path with `mid` (u = 1) vs ComfyUI core's PerturbedAttentionGuidance (the same
   perturbation), plus head-level and guider variants.
3. Heads that need no attention: u = 1 lets perturbed heads skip attention; attention calls and a
   whole perturbed forward with many heads / whole layers perturbed, shortcut on vs off.
4. Targets (core/targets.py): one attention call with 3 of 24 heads perturbed toward each target
   of the menu (u = 0.5), time and peak memory next to the unpatched call.
"""
from __future__ import annotations

import argparse
import builtins
import functools
import gc
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from hh_pack import find_host, load_host, pack_module  # noqa: E402


def machine(device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(variants: dict, rounds: int, device, clock=time.perf_counter) -> dict:
    """Best-of-rounds seconds per variant, running the variants round-robin. The minimum is the
    figure least disturbed by other work on a shared machine (as timeit recommends). ``clock``:
    wall time by default; ``time.process_time`` counts only this process's CPU work."""
    times = {name: [] for name in variants}
    for fn in variants.values():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            sync(device)
            t0 = clock()
            fn()
            sync(device)
            times[name].append(clock() - t0)
    return {name: min(ts) for name, ts in times.items()}


# ---------------------------------------------------------------------------------------------
# 1. Step cost
# ---------------------------------------------------------------------------------------------
def step_cost(args, pkg, device):
    import comfy_extras.nodes_pag as core_pag
    import comfy_extras.nodes_slg as core_slg
    import hh_host

    depth, size = (4, 16) if args.quick else (8, 48)
    path = hh_host.tiny_sd3_file(Path(args.workdir), depth=depth, self_attn_layers=(), max_size=size // 2)
    model = hh_host.load_with_unet_loader(path)
    pos, neg = hh_host.conditioning("sd3", tokens=77), hh_host.conditioning("sd3", seed=2, tokens=77)
    steps = 4
    k_heads = ", ".join(f"L{l}H{h}" for l, h in [(1, 0), (2, 3), (3, 1)])
    node = pack_module("nodes.perturbed_attention", pkg).HeadHunterPerturbedAttention
    guider_mod = pack_module("nodes.guider", pkg)
    common = dict(scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                  perturb_tokens="all tokens (paper)")
    hh = hh_host.run_node(node, model=model, heads=k_heads, **common)[0]
    # Heads deep in the model, as the paper's FLUX heads (all in single blocks, L >= 34 of 57): the
    # sequential pass reuses the cond pass below them (patches/prefix.py).
    late_heads = f"L{depth - 2}H0, L{depth - 1}H3"
    hh_late = hh_host.run_node(node, model=model, heads=late_heads, **common)[0]
    guiders = {
        mode: hh_host.run_node(guider_mod.HeadHunterGuider, model=model, positive=pos, negative=neg, cfg=4.0,
                               heads=k_heads, mode=mode, **common)[0]
        for mode in (guider_mod.MODE_BATCHED, guider_mod.MODE_SEQUENTIAL)
    }
    slg = core_slg.SkipLayerGuidanceDiT.execute(model, scale=3.0, start_percent=0.0, end_percent=1.0,
                                                double_layers="1, 2, 3", single_layers="")[0]
    pag = core_pag.PerturbedAttentionGuidance.execute(model, scale=3.0)[0]

    def latent():
        return {"samples": torch.zeros(1, 16, size, size)}

    def ks(m):
        import nodes
        return lambda: nodes.common_ksampler(m, 0, steps, 4.0, "euler", "simple", pos, neg, latent())

    def ca(g):
        import comfy.samplers
        from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)
        return lambda: SamplerCustomAdvanced().sample(Noise_RandomNoise(0), g, comfy.samplers.sampler_object("euler"), sigmas, latent())

    variants = {
        "plain CFG (KSampler)": ks(model),
        "HeadHunter, KSampler path": ks(hh),
        f"HeadHunter, KSampler path, late heads ({late_heads})": ks(hh_late),
        "HeadHunter guider, batched": ca(guiders[guider_mod.MODE_BATCHED]),
        "HeadHunter guider, sequential": ca(guiders[guider_mod.MODE_SEQUENTIAL]),
        "core SkipLayerGuidanceDiT": ks(slg),
        "core PerturbedAttentionGuidance": ks(pag),
    }
    med = interleaved(variants, args.rounds, device)
    base = med["plain CFG (KSampler)"]
    tokens = (size // 2) ** 2
    rows = [(name, f"{t / steps * 1000:.1f} ms/step", f"{t / base:.3f}x") for name, t in med.items()]
    title = (f"1. Step cost: SD3-style MMDiT depth {depth} ({depth} heads x 64), {tokens}+77 tokens, "
             f"{steps} steps, 3 heads perturbed ({k_heads}), cfg 4 (target: batched <= 1.50x, KSampler <= 1.55x)")
    return title, ("variant", "time", "vs plain CFG"), rows


def unet_step_cost(args, pkg, device):
    """4. The KSampler path against core PerturbedAttentionGuidance on the same U-Net."""
    import comfy_extras.nodes_pag as core_pag
    import hh_host
    import nodes

    channels, size = (32, 16) if args.quick else (64, 64)
    model = hh_host.tiny_unet("sd15-structure", channels=channels)
    pos, neg = hh_host.unet_conditioning("sd15", tokens=77), hh_host.unet_conditioning("sd15", seed=2, tokens=77)
    steps = 4
    node = pack_module("nodes.perturbed_attention", pkg).HeadHunterPerturbedAttention
    guider_mod = pack_module("nodes.guider", pkg)
    common = dict(scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                  perturb_tokens="all tokens (paper)")

    def ks(m):
        return lambda: nodes.common_ksampler(m, 0, steps, 4.0, "euler", "normal", pos, neg,
                                             {"samples": torch.zeros(1, 4, size, size)})

    def ca(g):
        import comfy.samplers
        from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "normal", steps)
        return lambda: SamplerCustomAdvanced().sample(Noise_RandomNoise(0), g, comfy.samplers.sampler_object("euler"),
                                                      sigmas, {"samples": torch.zeros(1, 4, size, size)})

    guider = lambda mode, heads: hh_host.run_node(guider_mod.HeadHunterGuider, model=model, positive=pos,
                                                  negative=neg, cfg=4.0, heads=heads, mode=mode, **common)[0]
    variants = {
        "plain CFG (KSampler)": ks(model),
        "core PerturbedAttentionGuidance (middle block)": ks(core_pag.PerturbedAttentionGuidance.execute(model, scale=3.0)[0]),
        "HeadHunter mid, KSampler path": ks(hh_host.run_node(node, model=model, heads="mid", **common)[0]),
        "HeadHunter midH0-3, KSampler path": ks(hh_host.run_node(node, model=model, heads="midH0-3", **common)[0]),
        "HeadHunter L12H1, L13H5 (output blocks), KSampler path":
            ks(hh_host.run_node(node, model=model, heads="L12H1, L13H5", **common)[0]),
        "HeadHunter mid, guider batched": ca(guider(guider_mod.MODE_BATCHED, "mid")),
        "HeadHunter mid, guider sequential": ca(guider(guider_mod.MODE_SEQUENTIAL, "mid")),
    }
    # On a CPU, the process's own CPU time (one thread: the work done), as the targets section:
    # wall time on a shared machine moved these ratios by more than the differences measured.
    clock = time.process_time if device.type == "cpu" else time.perf_counter
    med = interleaved(variants, args.rounds, device, clock)
    base = med["plain CFG (KSampler)"]
    rows = [(name, f"{t / steps * 1000:.1f} ms/step", f"{t / base:.3f}x") for name, t in med.items()]
    title = (f"4. U-Net step cost: SD1.5-structured U-Net, {channels} channels (16 layers x 8 heads), "
             f"{size}x{size} latent, {steps} steps, cfg 4, scale 3")
    return title, ("variant", "time", "vs plain CFG"), rows


# ---------------------------------------------------------------------------------------------
# 2 + 3. Attention calls
# ---------------------------------------------------------------------------------------------
def explicit_map_attention(q, k, v, heads_idx, u):
    """The paper's code path: materialise softmax(QK^T/sqrt d), blend in identity maps, multiply."""
    A = torch.softmax((q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5, dim=-1)  # [B, H, N, N]
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device).expand(A.shape[0], len(heads_idx), -1, -1)
    A[:, heads_idx] = (1 - u) * A[:, heads_idx] + u * eye
    return (A @ v).transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)


def attention_variants(optimized_attention, attention, softpag, q, k, v):
    """name -> (description, callable) for one attention call at the size of q/k/v."""
    H, N = q.shape[1], q.shape[2]

    def call_with(heads, u=1.0):
        targets = [(0, q.shape[0], softpag.LayerPerturbation(tuple(heads), tuple([u] * len(heads))))]
        override = attention.PerturbedAttention(targets, N, 0, False)
        return lambda: optimized_attention(q, k, v, H, skip_reshape=True,
                                           transformer_options={"optimized_attention_override": override})

    return {
        "plain": ("unpatched backend", lambda: optimized_attention(q, k, v, H, skip_reshape=True, transformer_options={})),
        "k3": ("override, 3 of 24 heads, u=1", call_with([1, 7, 13])),
        "k3_soft": ("override, 3 of 24 heads, u=0.5", call_with([1, 7, 13], 0.5)),
        "explicit": ("explicit map (paper's code path)", lambda: explicit_map_attention(q, k, v, [1, 7, 13], 1.0)),
        "half_off": ("12 of 24 heads, u<1 (attention for all)", call_with(range(H // 2), 0.999999)),
        "half": ("12 of 24 heads, u=1 (attention for 12)", call_with(range(H // 2))),
        "all": ("24 of 24 heads, u=1 (no attention)", call_with(range(H))),
    }


def make_qkv(H, D, N, device, dtype):
    g = torch.Generator(device="cpu").manual_seed(0)
    return [torch.randn(1, H, N, D, generator=g).to(device, dtype) for _ in range(3)]


def peak_bytes(fn, device) -> int:
    """Peak extra memory of one call, beyond what was allocated before it. CUDA: the allocator's
    peak. CPU: the resident set, sampled every 0.2 ms by a thread while the call runs (large
    tensors are mmap'ed and returned to the system when freed, so the peak shows up)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    import os
    import threading

    page = os.sysconf("SC_PAGE_SIZE")

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    gc.collect()
    base = rss()
    peak = [base]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.0002)

    watcher = threading.Thread(target=sample)
    watcher.start()
    result = fn()
    peak[0] = max(peak[0], rss())
    done.set()
    watcher.join()
    del result
    return max(0, peak[0] - base)


def attention_overhead(args, pkg, device, dtype):
    from comfy.ldm.modules.attention import optimized_attention

    attention = pack_module("patches.attention", pkg)
    softpag = pack_module("core.softpag", pkg)
    sizes = {
        "FLUX-like (24 x 128, 4096+512 tokens)": (24, 128, 4096 + 512),
        "SD3-like (24 x 64, 4096+333 tokens)": (24, 64, 4096 + 333),
    }
    if args.quick:
        sizes = {"quick (24 x 64, 1024+77 tokens)": (24, 64, 1024 + 77)}
    rows_overhead, rows_skip = [], []
    rounds = max(2, args.rounds // 2)
    for label, size in sizes.items():
        q, k, v = make_qkv(*size, device, dtype)
        variants = attention_variants(optimized_attention, attention, softpag, q, k, v)
        first = ("plain", "k3", "k3_soft", "explicit")
        med = interleaved({name: variants[name][1] for name in first}, rounds, device)
        mem = {name: peak_bytes(variants[name][1], device) for name in first}
        inputs = 3 * q.numel() * q.element_size()
        for name in first:
            ratio = (inputs + mem[name]) / (inputs + mem["plain"])  # peak with the inputs counted
            rows_overhead.append((label, variants[name][0], f"{med[name] * 1000:.1f} ms",
                                  f"{med[name] / med['plain']:.3f}x", f"{mem[name] / 2**20:.0f} MiB", f"{ratio:.3f}x"))
        second = ("plain", "half_off", "half", "all")
        med = interleaved({name: variants[name][1] for name in second}, rounds, device)
        for name in second[1:]:
            rows_skip.append((label, variants[name][0], f"{med[name] * 1000:.1f} ms", f"{med[name] / med['plain']:.3f}x"))
        del q, k, v, variants
        gc.collect()
    return [
        ("2. Attention overhead (target: override <= 1.05x time and peak memory of the unpatched call)",
         ("size", "variant", "time", "vs unpatched", "peak extra", "peak vs unpatched"), rows_overhead),
        ("3a. Heads that need no attention: one attention call", ("size", "variant", "time", "vs unpatched"), rows_skip),
    ]


TARGET_MENU = ("identity", "uniform", "mean_query", "seg(2)", "seg(inf)", "temperature(2)", "temperature(0.5)", "max",
               "mask(II)", "identity(II)", "identity(TT)", "fisher_rao", "slerp")


def target_costs(args, pkg, device, dtype):
    """4: one attention call per target of the menu, 3 of 24 heads perturbed at u = 0.5."""
    from comfy.ldm.modules.attention import optimized_attention

    attention = pack_module("patches.attention", pkg)
    softpag = pack_module("core.softpag", pkg)
    parse_target = pack_module("core.target_spec", pkg).parse_target
    sizes = {"SD3-like (24 x 64, 333 text + 64 x 64 image tokens)": (24, 64, 333, (64, 64))}
    if args.quick:
        sizes = {"quick (24 x 64, 77 text + 32 x 32 image tokens)": (24, 64, 77, (32, 32))}
    rows = []
    rounds = max(2, args.rounds // 2)
    for label, (H, D, n_txt, grid) in sizes.items():
        N = n_txt + grid[0] * grid[1]
        q, k, v = make_qkv(H, D, N, device, dtype)

        def call_with(target):
            spec = parse_target(target)
            pert = softpag.LayerPerturbation((1, 7, 13), (0.5, 0.5, 0.5), (spec,) * 3)
            override = attention.PerturbedAttention([(0, 1, pert)], N, n_txt, False, None, grid)
            return lambda: optimized_attention(q, k, v, H, skip_reshape=True,
                                               transformer_options={"optimized_attention_override": override})

        variants = {"unpatched": lambda: optimized_attention(q, k, v, H, skip_reshape=True, transformer_options={})}
        variants.update({t: call_with(t) for t in TARGET_MENU})
        # On a CPU, the process's own CPU time: other jobs on a shared machine barely move it (with
        # one thread it is the work done; with several, their sum).
        clock = time.process_time if device.type == "cpu" else time.perf_counter
        med = interleaved(variants, rounds, device, clock)
        mem = {name: peak_bytes(fn, device) for name, fn in variants.items()}
        inputs = 3 * q.numel() * q.element_size()
        for name in variants:
            ratio = (inputs + mem[name]) / (inputs + mem["unpatched"])
            rows.append((label, name, f"{med[name] * 1000:.1f} ms", f"{med[name] / med['unpatched']:.3f}x",
                         f"{mem[name] / 2**20:.0f} MiB", f"{ratio:.3f}x"))
        del q, k, v, variants
        gc.collect()
    clock = "CPU time of the process" if device.type == "cpu" else "wall time"
    return (f"4. Targets: one attention call, 3 of 24 heads perturbed toward the target at u = 0.5 ({clock})",
            ("size", "target", "time", "vs unpatched", "peak extra", "peak vs unpatched"), rows)


def layer_pag_forward(args, pkg, device):
    """3b: the cost of the perturbed pass with whole layers perturbed, shortcut on (u=1) vs off.

    KSampler with cfg 1 runs one plain forward per step, plus the perturbed one when patched, so
    (step - plain step) / plain step is the perturbed pass relative to a plain forward.
    """
    import hh_host
    import nodes

    depth, size = (4, 16) if args.quick else (8, 48)
    model = hh_host.load_with_unet_loader(hh_host.tiny_sd3_file(Path(args.workdir), depth=depth, self_attn_layers=(), max_size=size // 2))
    node = pack_module("nodes.perturbed_attention", pkg).HeadHunterPerturbedAttention
    pos = hh_host.conditioning("sd3", tokens=77)
    layers = f"L0-{depth // 2 - 1}"

    def patched(u):
        return hh_host.run_node(node, model=model, heads=layers, scale=3.0, softpag_u=u, start_percent=0.0,
                                end_percent=1.0, rescale=0.0, perturb_tokens="all tokens (paper)")[0]

    def run(m):
        return lambda: nodes.common_ksampler(m, 0, 4, 1.0, "euler", "simple", pos, pos,
                                             {"samples": torch.zeros(1, 16, size, size)})

    med = interleaved({"plain": run(model), "off": run(patched(0.999999)), "on": run(patched(1.0))}, args.rounds, device)
    rows = [
        (f"{layers} perturbed, u<1: attention computed, then blended", f"{(med['off'] - med['plain']) / med['plain']:.3f}x"),
        (f"{layers} perturbed, u=1: their attention skipped", f"{(med['on'] - med['plain']) / med['plain']:.3f}x"),
    ]
    return (f"3b. Heads that need no attention: cost of the perturbed pass vs a plain forward, SD3-style depth "
            f"{depth}, {(size // 2) ** 2}+77 tokens", ("variant", "perturbed pass vs plain forward"), rows)


def print_table(title, header, rows):
    print = functools.partial(builtins.print, flush=True)  # noqa: A001
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths))
    print(f"| {line} |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comfyui", help="ComfyUI folder (default: as the tests find it)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", choices=["step", "attention", "forward", "unet", "targets"], action="append")
    parser.add_argument("--workdir", default="/tmp/headhunter-bench")
    args = parser.parse_args()
    host = Path(args.comfyui) if args.comfyui else find_host()[0]
    if host is None:
        sys.exit("benchmarks need a ComfyUI: pass --comfyui PATH or set COMFYUI_PATH")
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    pkg = load_host(host, cpu=args.device == "cpu")
    device = torch.device(args.device)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.dtype]
    print(flush=True)
    print(f"HeadHunter benchmarks on {machine(device)}, {args.dtype}, {args.rounds} interleaved rounds, best of rounds")
    only = set(args.only or ["step", "attention", "forward", "unet", "targets"])
    if "step" in only:
        print_table(*step_cost(args, pkg, device))
    if "attention" in only:
        for table in attention_overhead(args, pkg, device, dtype):
            print_table(*table)
    if "forward" in only:
        print_table(*layer_pag_forward(args, pkg, device))
    if "unet" in only:
        print_table(*unet_step_cost(args, pkg, device))
    if "targets" in only:
        print_table(*target_costs(args, pkg, device, dtype))


if __name__ == "__main__":
    main()
