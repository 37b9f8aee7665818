"""The sweep: labelled image grids over heads, layers, targets, u, scale or head sets.

The paper's per-head figures: with the same prompt and seed, perturbing a single head shows the
concept it steers (lighting, colour, texture...). The same machinery makes the XY plots users ask
guidance packs for: one axis (columns), optionally a second (rows), each over heads or layers of a
head text, targets (core/targets.py), SoftPAG u, the guidance scale, or whole head sets. Cells
sharing a scale are rendered in batches through the same CandidateRenderer as the search (u,
targets and heads differ per candidate inside one forward; the scale is one per batch).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..core.head_aliases import check_syntax, expand
from ..core.heads import HeadSet, check_target_fits, head_key
from ..core.search_images import image_grid, label_image
from ..core.target_spec import TargetError, parse_target
from ..core.setting_ranges import BATCH, SOFTPAG_U, check_number
from .generation import CandidateRenderer, SamplingSettings, check_seed
from .progress import JobProgress

PER_HEAD = "per head"
PER_LAYER = "per layer"
PER_TARGET = "per target"
PER_U = "per u"
PER_SCALE = "per scale"
PER_HEAD_SET = "per head set"
AXES = (PER_HEAD, PER_LAYER, PER_TARGET, PER_U, PER_SCALE, PER_HEAD_SET)
NO_AXIS = "none"
MAX_VALUES = 64  # per axis
MAX_CELLS = 1024  # images in one grid
MAX_VALUES_TEXT = 4096


@dataclass(frozen=True)
class Cell:
    """One image of the grid: its heads ((layer, head, u or None, target or None)), the defaults for
    heads without their own u / target, and the scale."""

    label: str
    heads: tuple = ()
    u: float = 1.0
    target: object = None
    scale: float = 3.0

    def resolved(self) -> list[tuple]:
        return [(l, h, self.u if u is None else u, self.target if t is None else t) for l, h, u, t in self.heads]


def axis_values(axis: str, values: str, heads_text: str, layout) -> list[tuple[str, dict]]:
    """(label, what the value changes in a cell) for every value of one axis."""
    if axis in (PER_HEAD, PER_LAYER):
        resolved = sorted(HeadSet.parse(expand(heads_text, layout)).resolve_targets(layout, None, None))
        if not resolved:
            raise ValueError(f"the heads '{heads_text}' name no head of {layout.describe()}")
        if axis == PER_HEAD:
            return [(f"L{l}H{h}", {"heads": ((l, h, u, t),)}) for l, h, u, t in resolved]
        layers: dict[int, list] = {}
        for entry in resolved:
            layers.setdefault(entry[0], []).append(entry)
        return [(f"L{l}", {"heads": tuple(hs)}) for l, hs in layers.items()]
    if axis not in AXES:
        raise ValueError(f"unknown sweep axis '{axis}' (valid: {', '.join(AXES)})")
    if len(values or "") > MAX_VALUES_TEXT:
        raise ValueError(f"{axis} values: {len(values)} characters, at most {MAX_VALUES_TEXT}")
    separator = "|" if axis == PER_HEAD_SET else ","
    items = [v.strip() for v in (values or "").split(separator) if v.strip()]
    if not items:
        example = {PER_TARGET: "identity, uniform, seg(4)", PER_U: "0.25, 0.5, 1", PER_SCALE: "1, 3, 5",
                   PER_HEAD_SET: "L1H10 | L14H13, L0H2 | L5"}[axis]
        raise ValueError(f"{axis} needs values, e.g. '{example}'")
    if len(items) > MAX_VALUES:
        raise ValueError(f"{axis}: {len(items)} values, at most {MAX_VALUES}")
    out = []
    for item in items:
        if axis == PER_TARGET:
            try:
                spec = parse_target(item)
            except TargetError as e:
                raise ValueError(f"{axis}: {e}") from None
            out.append((spec.text, {"target": spec}))
        elif axis in (PER_U, PER_SCALE):
            try:
                number = float(item)
            except ValueError:
                raise ValueError(f"{axis}: '{item[:40]}' is not a number") from None
            what, hi = ("u", 1.0) if axis == PER_U else ("scale", 30.0)
            check_number(f"{axis}: {what}", number, 0.0, hi)
            out.append((f"{what} {number:g}", {what: number}))
        else:
            head_set = HeadSet.parse(expand(item, layout))
            out.append((item if len(item) <= 24 else item[:21] + "...",
                        {"heads": tuple(head_set.resolve_targets(layout, None, None))}))
    return out


def sweep_cells(layout, heads_text: str, x_axis: str, x_values: str = "", y_axis: str = NO_AXIS,
                y_values: str = "", softpag_u: float = 1.0, target: str = "identity", scale: float = 3.0,
                include_baseline: bool = False) -> tuple[list[Cell], int]:
    """The grid's cells, row by row, and its number of columns."""
    default_target = parse_target(target)
    base_heads = ()
    if PER_HEAD not in (x_axis, y_axis) and PER_LAYER not in (x_axis, y_axis) and PER_HEAD_SET not in (x_axis, y_axis):
        base_heads = tuple(HeadSet.parse(expand(heads_text, layout)).resolve_targets(layout, None, None))
        if not base_heads:
            raise ValueError(f"the heads '{heads_text}' name no head of {layout.describe()}")
    base = Cell("", base_heads, softpag_u, default_target, scale)
    head_axes = (PER_HEAD, PER_LAYER, PER_HEAD_SET)
    if y_axis != NO_AXIS and (y_axis == x_axis or (x_axis in head_axes and y_axis in head_axes)):
        raise ValueError(f"both axes choose the heads ('{x_axis}', '{y_axis}'): sweep targets, u or scale on the rows")
    xs = axis_values(x_axis, x_values, heads_text, layout)
    ys = [("", {})] if y_axis == NO_AXIS else axis_values(y_axis, y_values, heads_text, layout)
    if len(xs) * len(ys) > MAX_CELLS:
        raise ValueError(f"the grid would hold {len(xs) * len(ys)} images, at most {MAX_CELLS}")
    cells = []
    for y_label, y_change in ys:
        for x_label, x_change in xs:
            label = f"{x_label} / {y_label}" if y_label else x_label
            cells.append(replace(base, label=label, **y_change, **x_change))
    if include_baseline and y_axis == NO_AXIS:
        cells.insert(0, replace(base, label="no heads", heads=()))
    for cell in cells:  # a target the model cannot take (mask on a U-Net) fails here, before any image
        for layer, head, _, spec in cell.resolved():
            check_target_fits(head_key(layer, head), spec, layout)
    return cells, len(xs)


def sweep_candidates(text: str, layout, mode: str, softpag_u: float) -> list[tuple[str, list]]:
    """(label, resolved heads) for every head, or every layer, that ``text`` names."""
    cells, _ = sweep_cells(layout, text, mode, softpag_u=softpag_u)
    return [(c.label, c.resolved()) for c in cells]


def check_sweep_inputs(seed: int, text: str, mode: str, settings: SamplingSettings, softpag_u: float,
                       batch_candidates: int, columns: int, y_axis: str = NO_AXIS, target: str = "identity") -> None:
    """Everything a sweep takes that can be checked without the model, before the first image."""
    settings.check()
    check_seed(seed)
    SOFTPAG_U.check("softpag_u", softpag_u)
    BATCH.check("batch_candidates", batch_candidates)
    check_number("columns", columns, 1, 64, whole=True)
    if mode not in AXES:
        raise ValueError(f"unknown sweep mode '{mode}' (valid: {', '.join(AXES)})")
    if y_axis != NO_AXIS and y_axis not in AXES:
        raise ValueError(f"unknown sweep axis '{y_axis}' for the rows (valid: {NO_AXIS}, {', '.join(AXES)})")
    try:
        parse_target(target)
    except TargetError as e:
        raise ValueError(f"target: {e}") from None
    check_syntax(text)


def run_sweep(model, vae, conditioning, seed: int, text: str, mode: str, settings: SamplingSettings,
              softpag_u: float, batch_candidates: int, include_baseline: bool, columns: int,
              negative=None, node_id=None, values: str = "", y_axis: str = NO_AXIS, y_values: str = "",
              target: str = "identity") -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (grid [1, H', W', 3], labelled images [N, H, W, 3]). With a second axis the grid has
    one column per value of the first and ``columns`` is not used."""
    check_sweep_inputs(seed, text, mode, settings, softpag_u, batch_candidates, columns, y_axis, target)
    renderer = CandidateRenderer(model, vae, [conditioning], [seed], settings, negative=negative)
    cells, width = sweep_cells(renderer.layout, text, mode, values, y_axis, y_values, softpag_u, target,
                               settings.scale, include_baseline)
    if batch_candidates < 1:
        raise ValueError(f"batch_candidates must be at least 1, got {batch_candidates}")
    progress = JobProgress("HeadHunter sweep", node_id)
    images: list = [None] * len(cells)
    done = 0
    try:
        for scale in dict.fromkeys(c.scale for c in cells):
            renderer.settings = replace(settings, scale=scale)
            order = [i for i, c in enumerate(cells) if c.scale == scale]
            for start in range(0, len(order), batch_candidates):
                chunk = order[start:start + batch_candidates]
                rendered = renderer.images([cells[i].resolved() for i in chunk])[:, 0]
                for i, im in zip(chunk, rendered):
                    images[i] = label_image(im, cells[i].label)
                done += len(chunk)
                progress.update(done, len(cells), cells[chunk[-1]].label)
    finally:
        renderer.settings = settings
        progress.close()
    stacked = torch.stack(images)
    return image_grid(stacked, width if y_axis != NO_AXIS else columns), stacked
