"""One HeadHunter search job, shared by the ComfyUI node and the command line.

Glue between the host-free algorithm (core.greedy_search) and ComfyUI: images from CandidateRenderer,
scores from the objective, the checkpoint and outputs in a run folder
(<output>/headhunter_search/<run name>/), the preset in the user preset folder. Under torchrun
(``job.workers``, search/distributed.py) every process runs this with its share of the batches;
rank 0 alone reads and writes files.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.model_layout import ModelLayout
from ..core.head_aliases import check_syntax, expand
from ..core.heads import HeadNotes, HeadSet, check_target_fits
from ..core.target_spec import TargetError, parse_target, parse_target_list
from ..core.scoring import Objective, SearchPrompt
from ..core.greedy_search import (CheckpointMismatch, SearchState, atomic_write_bytes, greedy_search, head_name,
                                  head_of, load_checkpoint, save_checkpoint, save_score_map, score_map, selection_map)
from ..core.search_images import heatmap, image_grid
from ..core.file_names import name_problem
from ..core.preset_format import FAMILIES, dumps_preset, preset_from_dict
from ..core.preset_files import save_preset
from ..core.search_preset import guess_family, search_preset
from .distributed import SingleProcess
from ..core.setting_ranges import BATCH, SOFTPAG_U, check_number
from .generation import CandidateRenderer, SamplingSettings, check_seed
from .identity import conditioning_digest, model_identity, vae_identity
from .progress import JobProgress

log = logging.getLogger("HeadHunter")

RUNS_FOLDER = "headhunter_search"
_RUN_NAME = re.compile(r"^[\w.\- ]{1,100}$")
_TARGET_IN_TEXT = re.compile(r"[^\s,;]*:[^\s,;@]*")  # a head token with a target, e.g. L3:uniform


def check_run_name(name: str) -> str:
    name = (name or "").strip() if isinstance(name, str) else ""
    if not _RUN_NAME.match(name) or name.startswith(".") or name in (".", ".."):
        raise ValueError(f"run name '{name[:60]}' is not usable as a folder name: use 1-100 letters, digits, spaces, "
                         "'-', '_' or '.', not starting with '.'")
    problem = name_problem(name, ".json")  # also the preset's file name: search/<run name>.json
    if problem:
        raise ValueError(f"run name {problem}: choose another")
    return name


def check_inputs(job: "SearchJob") -> None:
    """Every input a search takes, checked before the first image: a bad value must not surface
    after hours of sampling, or never (an unknown sampler name used to run as euler)."""
    check_run_name(job.run_name)
    job.settings.check()
    SOFTPAG_U.check("softpag_u", job.softpag_u)
    check_number("k", job.k, 1, 4096, whole=True)
    check_number("rounds", job.rounds, 1, 1000, whole=True)
    BATCH.check("batch_candidates", job.batch_candidates)
    if job.family not in ("", "auto") and job.family not in FAMILIES:
        raise ValueError(f"family '{job.family}' is not a known model family (valid: auto, {', '.join(FAMILIES)})")
    for prompt in job.prompts:
        check_seed(prompt.seed)
    check_syntax(job.candidates or "")
    try:
        parse_target(job.target)
    except TargetError as e:
        raise ValueError(f"target: {e}") from None
    try:
        searched = parse_target_list(job.search_targets)
    except TargetError as e:
        raise ValueError(str(e)) from None
    if searched and _TARGET_IN_TEXT.search(job.candidates or ""):
        # Checked on the text (its aliases are read only once the model is known): a ':' names a target.
        named = _TARGET_IN_TEXT.search(job.candidates).group(0)
        raise ValueError(f"candidates name their own target ('{named}') and search_targets lists the targets to try: "
                         "remove the targets from the candidates, or empty search_targets")
    check_preset_is_ours(job.presets_folder, job.run_name, job.overwrite)


def check_preset_is_ours(presets_folder, run_name: str, overwrite: bool) -> None:
    """The search writes its preset as search/<run name> in the user folder. A file there from
    anything but this same search (a preset the user saved under that name, another search) is
    only replaced when the job says overwrite."""
    if presets_folder is None or overwrite:
        return
    run_name = check_run_name(run_name)
    path = Path(presets_folder) / "search" / f"{run_name}.json"
    if not (path.exists() or path.is_symlink()):
        return
    try:
        existing = json.loads(path.read_text(encoding="utf-8-sig"))
        reference = existing["provenance"]["reference"]
    except (OSError, ValueError, RecursionError, KeyError, TypeError):
        reference = None
    if reference != _reference(run_name):
        raise ValueError(f"a preset named 'search/{run_name}' already exists ({path}) and is not from this "
                         "search: choose another run name, or turn on overwrite to replace it")


def _reference(run_name: str) -> str:
    return f"HeadHunter search run '{run_name}'"


def default_runs_root() -> Path:
    import folder_paths

    return Path(folder_paths.get_output_directory()) / RUNS_FOLDER


def candidate_pool(text: str, layout: ModelLayout, softpag_u: float) -> tuple[list[tuple[int, int]], dict]:
    """Head text (empty = every head of the model) -> the ordered pool and each head's u."""
    selection = HeadSet.parse(expand(text, layout)) if (text or "").strip() else HeadSet.parse(f"L0-{layout.layers - 1}")
    resolved = sorted(selection.resolve(layout, default_u=softpag_u))
    if not resolved:
        raise ValueError(f"the candidates '{text}' name no head of {layout.describe()}")
    return [(l, h) for l, h, _ in resolved], {(l, h): u for l, h, u in resolved}


def target_candidates(pool: list[tuple[int, int]], layout: ModelLayout, search_targets: str) -> list[tuple]:
    """The (head, target) candidates of a search over targets: every head of the pool with every
    listed target, head by head in the pool's order, the targets in the list's order (ties go to
    the earlier). Empty list: the pool itself. A target the model cannot take fails here, before
    any image."""
    specs = parse_target_list(search_targets)
    if not specs:
        return list(pool)
    if pool:
        for spec in specs:
            check_target_fits("search_targets", spec, layout)
    return [(l, h, spec.text) for l, h in pool for spec in specs]


def candidate_targets(text: str, layout: ModelLayout, default_target: str = "identity") -> dict:
    """Each candidate head's perturbation target (core/targets.py): its own where the text names
    one (``L0-11:uniform``), else ``default_target``."""
    default = parse_target(default_target)
    selection = HeadSet.parse(expand(text, layout)) if (text or "").strip() else HeadSet.parse(f"L0-{layout.layers - 1}")
    return {(l, h): t for l, h, _, t in selection.resolve_targets(layout, None, default)}


@dataclass
class SearchJob:
    model: object
    vae: object
    objective: Objective
    prompts: list[SearchPrompt]
    conditionings: list  # one ComfyUI conditioning per prompt
    settings: SamplingSettings
    softpag_u: float = 1.0
    k: int = 3
    rounds: int = 5
    candidates: str = ""
    batch_candidates: int = 4
    run_name: str = "search"
    negative: object = None
    family: str = "auto"
    provenance: dict = field(default_factory=dict)  # e.g. the model file names, from the command line
    runs_root: Path | None = None
    presets_folder: Path | None = None  # the user preset folder; None: the preset stays in the run folder
    node_id: str | None = None
    overwrite: bool = False  # replace a preset search/<run name> that this search did not write
    workers: SingleProcess | None = None  # search.distributed.start(): this process's place in a torchrun launch
    target: str = "identity"  # the target of candidates whose text names none
    search_targets: str = ""  # targets to try per head ("identity, uniform"): (head, target) candidates


@dataclass
class SearchResult:
    head_set: HeadSet
    state: SearchState
    run_dir: Path
    preset_path: Path  # in the user preset folder, or the run folder's copy
    scores: torch.Tensor  # [rounds, layers, heads]
    heatmaps: torch.Tensor  # IMAGE, one per round
    round_grids: torch.Tensor  # IMAGE, baseline then one per round


class RoundImages:
    """The S_final images of the baseline and each round, kept beside the checkpoint (uint8)."""

    def __init__(self, path: Path):
        self.path = path
        self.images: dict[str, torch.Tensor] = {}
        if path.is_file():
            from safetensors.torch import load_file

            try:
                self.images = load_file(str(path))
            except Exception as e:  # truncated or foreign file: safetensors raises its own error types
                raise ValueError(f"{path} cannot be read ({type(e).__name__}: {e}); delete it (and checkpoint.json "
                                 "beside it) to start this run over") from None

    def put(self, key: str, images: torch.Tensor, scores: torch.Tensor) -> None:
        from safetensors.torch import save

        self.images[key] = (images.clamp(0, 1) * 255).round().to(torch.uint8).contiguous()
        self.images[f"{key}.scores"] = scores.float().contiguous()
        atomic_write_bytes(self.path, save(self.images))

    def grid(self, key: str, stage: str, columns: int) -> torch.Tensor:
        images = self.images[key].float() / 255.0
        labels = [f"{stage} {float(s):.4g}" for s in self.images[f"{key}.scores"]]
        return image_grid(images, columns, labels)[0]


def run_search(job: SearchJob) -> SearchResult | None:
    """The search; its result on rank 0 (a run of one process is rank 0), None on the other
    processes of a distributed run."""
    workers = job.workers or SingleProcess()
    check_inputs(job)
    run_name = check_run_name(job.run_name)
    renderer = CandidateRenderer(job.model, job.vae, job.conditionings, [p.seed for p in job.prompts],
                                 job.settings, negative=job.negative)
    layout = renderer.layout
    heads_pool, u_of = candidate_pool(job.candidates, layout, job.softpag_u)
    target_of = candidate_targets(job.candidates, layout, job.target)
    pool = target_candidates(heads_pool, layout, job.search_targets)
    spec_of = {c[2]: parse_target(c[2]) for c in pool if len(c) > 2}
    if job.family not in ("", "auto"):
        guess_family(layout, [], job.family)  # a family of this architecture
    params = {
        "model": {"layout": layout.describe(), **model_identity(job.model)},
        "vae": vae_identity(job.vae),
        "objective": job.objective.describe(),
        "prompts": [[p.content, p.style, p.seed] for p in job.prompts],
        "conditioning": [conditioning_digest(c) for c in job.conditionings],
        "negative": conditioning_digest(job.negative) if job.settings.cfg != 1.0 else None,
        "sampling": job.settings.describe(),
        "softpag_u": job.softpag_u,
        "k": job.k, "rounds": job.rounds,
        "candidates": [head_name(h) + ("" if len(h) > 2 or target_of[h].is_identity else f":{target_of[h].text}")
                       + ("" if u_of[head_of(h)] == job.softpag_u else f"@{u_of[head_of(h)]:g}") for h in pool],
    }
    if job.search_targets.strip():  # only then: checkpoints of searches over heads alone resume as before
        params["search_targets"] = list(spec_of)
    workers.check_same("search inputs", json.loads(json.dumps(params)))
    run_dir = Path(job.runs_root or default_runs_root()) / run_name
    checkpoint = run_dir / "checkpoint.json"
    state = workers.on_writer(lambda: load_checkpoint(checkpoint, params))
    if state is None:
        state = SearchState(params=json.loads(json.dumps(params)), pool=pool)
    else:
        log.info("HeadHunter search '%s': resuming from %s", run_name, checkpoint)
    writer = workers.is_writer
    round_images = RoundImages(run_dir / "round_images.safetensors") if writer else None
    m = len(job.prompts)

    def score_images(images: torch.Tensor) -> torch.Tensor:
        """[C, M, H, W, 3] -> per-image scores [C, M]."""
        flat = job.objective.score(images.flatten(0, 1), job.prompts * images.shape[0])
        return flat.float().view(images.shape[0], m)

    def target(candidate):
        return spec_of[candidate[2]] if len(candidate) > 2 else target_of[head_of(candidate)]

    def resolve(candidates):
        return [(c[0], c[1], u_of[head_of(c)], target(c)) for c in candidates]

    def evaluate(candidates):
        scores = score_images(renderer.images([resolve(c) for c in candidates]))
        return scores.mean(1).tolist()

    def summarize(heads):
        def render():  # rank 0 keeps the images; the others wait for the score
            images = renderer.images([resolve(heads)])
            scores = score_images(images)[0]
            key = "baseline" if not heads else f"round_{len(state.selected) - 1}"
            round_images.put(key, images[0], scores)
            return float(scores.mean())

        return workers.on_writer(render)

    progress = JobProgress(f"HeadHunter search '{run_name}'", job.node_id) if writer else None
    try:
        greedy_search(pool, job.k, job.rounds, evaluate, batch_size=job.batch_candidates,
                      evaluate_step=lambda batches: workers.evaluate_batches(batches, evaluate),
                      batches_per_step=workers.world_size, state=state, summarize=summarize,
                      on_update=(lambda s: save_checkpoint(checkpoint, s)) if writer else None,
                      on_progress=progress.update if writer else None)
    finally:
        if progress is not None:
            progress.close()
        job.objective.release()
    if not writer:
        return None
    return _write_outputs(job, run_name, run_dir, layout, state, round_images, params, target_of, target)


def _write_outputs(job, run_name, run_dir, layout, state, round_images, params, target_of, target) -> SearchResult:
    scores = score_map(state, job.rounds, layout.layers, layout.heads)
    chosen = selection_map(state, layout.layers, layout.heads)
    save_score_map(run_dir / "scores.safetensors", state, job.rounds, layout.layers, layout.heads,
                   metadata={"run": run_name, "heads": ", ".join(head_name(h) for h in state.final),
                             "objective": json.dumps(job.objective.describe())})
    heatmaps = heatmap(scores, chosen, title=run_name)
    columns = max(1, min(len(job.prompts), 8))
    stages = [("baseline", "base")] + [(f"round_{r}", f"R{r + 1}") for r in range(job.rounds)]
    round_grids = torch.stack([round_images.grid(key, stage, columns) for key, stage in stages])
    for r, page in enumerate(heatmaps):
        save_png(run_dir / f"heatmap_round{r + 1}.png", page)
    for (key, _), grid in zip(stages, round_grids):
        save_png(run_dir / f"images_{key}.png", grid)

    family = guess_family(layout, [head_of(c) for c in state.final], job.family)
    styles = sorted({p.style for p in job.prompts if p.style})
    label = ", ".join(styles) or job.objective.name
    s = job.settings
    preset_dict = search_preset(
        name=run_name,
        description=f"Heads found by a HeadHunter search ({job.objective.name}"
                    + (f", style '{label}'" if styles else "") + f", k={job.k}, {job.rounds} rounds).",
        arch_id=layout.arch.id, family=family, state=state, label=label,
        recommended={"scale": s.scale, "softpag_u": job.softpag_u, "steps": s.steps, "cfg": s.cfg},
        tags=["search"] + (["style"] if styles else []),
        targets={head_name(h): t.text for h, t in target_of.items() if not t.is_identity},  # candidates' own
        provenance={"reference": _reference(run_name), "model_layout": layout.describe(),
                    **job.provenance, "parameters": params},
    )
    preset = preset_from_dict(preset_dict, f"search/{run_name}")  # checked as any preset file is
    preset_path = run_dir / "preset.json"
    atomic_write_bytes(preset_path, dumps_preset(preset).encode("utf-8"))
    if job.presets_folder is not None:
        # Checked before the search: the file there is this search's own, or overwrite was asked for.
        check_preset_is_ours(job.presets_folder, run_name, job.overwrite)
        preset_path = save_preset(job.presets_folder, preset, overwrite=True)
    notes = HeadNotes(scores=state.latest_scores(), labels={h["head"]: h["label"] for h in preset.heads})
    head_set = HeadSet.from_pairs([(c[0], c[1], None, None if target(c).is_identity else target(c))
                                   for c in state.final], name=run_name, arch=layout.arch.id, family=family,
                                  notes=notes)
    log.info("HeadHunter search '%s': %s (preset %s)", run_name, head_set.to_text(), preset_path)
    return SearchResult(head_set, state, run_dir, preset_path, scores, heatmaps, round_grids)


def save_png(path: Path, image: torch.Tensor) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((image.clamp(0, 1) * 255).round().to(torch.uint8).numpy()).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())


__all__ = ["SearchJob", "SearchResult", "run_search", "CheckpointMismatch", "candidate_pool", "check_run_name",
           "check_inputs", "check_preset_is_ours", "candidate_targets", "target_candidates"]
