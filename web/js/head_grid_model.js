// The head grid without the DOM: geometry and hit testing, toggling heads, and the search score
// heatmap. Layers run left to right (FLUX: double blocks, then single blocks; U-Nets: input, middle,
// output blocks), heads top to bottom, so a 57 x 24 FLUX grid stays short on a node. A layer's
// column is as long as its own heads (SDXL: 10 or 20): the cells below are absent. Selections are
// Maps "layer,head" -> u|null.

import { headKey, headsOf, parseHeadName, parseKey, readHeads } from "./head_text.js";

export const GUTTER_LEFT = 22; // head numbers
export const GUTTER_TOP = 14; // layer numbers; clicking there toggles a whole layer
export const GUTTER_BOTTOM = 13; // block-group names (FLUX: double | single), only with several groups
export const PAD = 2;
export const MIN_CELL = 9; // smaller cells cannot be aimed at: the grid scrolls sideways instead (FLUX at a default node width)
export const MAX_CELL = 22;

/** Cell size and drawing box for a widget of this width. */
export function gridGeometry(width, layout) {
  const usable = Math.max(0, width - GUTTER_LEFT - 2 * PAD);
  const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(usable / layout.layers)));
  const bottom = layout.groups.length > 1 ? GUTTER_BOTTOM : 0;
  return {
    left: GUTTER_LEFT + PAD,
    top: GUTTER_TOP + PAD,
    cell,
    layers: layout.layers,
    heads: layout.heads,
    headsPerLayer: Array.from({ length: layout.layers }, (_, l) => headsOf(layout, l)),
    width: GUTTER_LEFT + 2 * PAD + cell * layout.layers,
    height: GUTTER_TOP + 2 * PAD + cell * layout.heads + bottom,
  };
}

/**
 * What is under a point of the canvas: {layer, head} for a cell, {layer, head: null} on the layer
 * numbers above a column, or null.
 */
export function hitTest(geom, x, y) {
  const layer = Math.floor((x - geom.left) / geom.cell);
  if (x < geom.left || layer < 0 || layer >= geom.layers) return null;
  if (y < geom.top && y >= 0) return { layer, head: null };
  const head = Math.floor((y - geom.top) / geom.cell);
  const count = geom.headsPerLayer?.[layer] ?? geom.heads;
  if (y < geom.top || head < 0 || head >= count) return null;
  return { layer, head };
}

/** Every cell on the straight line between two cells, so a fast drag leaves no gaps. */
export function cellsBetween(a, b) {
  const steps = Math.max(Math.abs(b.layer - a.layer), Math.abs(b.head - a.head));
  const cells = [];
  for (let i = 0; i <= steps; i++) {
    const t = steps === 0 ? 0 : i / steps;
    cells.push({ layer: Math.round(a.layer + (b.layer - a.layer) * t), head: Math.round(a.head + (b.head - a.head) * t) });
  }
  return cells;
}

/**
 * A copy of the selection with these cells on or off; a head already on keeps its u. With a layout,
 * cells a layer does not have (a drag across SDXL's 10- and 20-head layers) are skipped.
 */
export function setCells(selection, cells, on, layout = null) {
  const next = new Map(selection);
  for (const { layer, head } of cells) {
    if (layout && (layer >= layout.layers || head >= headsOf(layout, layer))) continue;
    const k = headKey(layer, head);
    if (on && !next.has(k)) next.set(k, null);
    if (!on) next.delete(k);
  }
  return next;
}

/** Toggle a whole layer: all on unless all were already on. */
export function toggleLayer(selection, layer, layout) {
  const cells = Array.from({ length: headsOf(layout, layer) }, (_, head) => ({ layer, head }));
  const allOn = cells.every(({ layer: l, head: h }) => selection.has(headKey(l, h)));
  return setCells(selection, cells, !allOn);
}

/** Search scores per head: Map "layer,head" -> score, from [{head: "L14H13", score}] or {"L14H13": score}. */
export function scoreMap(scores) {
  const pairs = Array.isArray(scores) ? scores.map((s) => [s?.head, s?.score]) : Object.entries(scores ?? {});
  const out = new Map();
  for (const [name, score] of pairs) {
    const head = parseHeadName(name);
    if (head && head[1] !== null && Number.isFinite(score)) out.set(headKey(...head), score);
  }
  return out;
}

/** Scores -> heat in [0, 1] (min-max over the heads scored; higher = better, as HeadSet.meta["scores"]). */
export function scoreHeat(scores) {
  const values = scoreMap(scores);
  if (!values.size) return new Map();
  const lo = Math.min(...values.values());
  const span = Math.max(...values.values()) - lo;
  return new Map([...values].map(([k, s]) => [k, span > 0 ? (s - lo) / span : 1]));
}

// A perceptually ordered ramp (dark violet -> teal -> yellow, viridis-like) readable on light and
// dark themes alike.
const RAMP = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export function heatColor(t, alpha = 1) {
  const x = Math.max(0, Math.min(1, t)) * (RAMP.length - 1);
  const i = Math.min(RAMP.length - 2, Math.floor(x));
  const f = x - i;
  const c = RAMP[i].map((v, j) => Math.round(v + (RAMP[i + 1][j] - v) * f));
  return `rgba(${c[0]}, ${c[1]}, ${c[2]}, ${alpha})`;
}

/** Head labels from a preset or a head set's meta: [{head, label}] or {"L18H11": "golden hour"}. */
export function labelMap(labels) {
  const pairs = Array.isArray(labels) ? labels.map((l) => [l.head, l.label]) : Object.entries(labels ?? {});
  const out = new Map();
  for (const [name, label] of pairs) {
    const head = parseHeadName(name);
    if (head && head[1] !== null && label) out.set(headKey(...head), String(label));
  }
  return out;
}

/**
 * The heads of presets drawn as outlined cells, with what to say on hover:
 * Map "layer,head" -> ["golden hour (SD3 golden hour)", ...]. presets: [{name, heads, labels}] as
 * served by /headhunter/presets; heads outside the layout are skipped (the text field reports them).
 */
export function presetMarks(presets, layout) {
  const marks = new Map();
  const add = (k, text) => {
    if (!marks.has(k)) marks.set(k, []);
    if (!marks.get(k).includes(text)) marks.get(k).push(text);
  };
  for (const preset of presets ?? []) {
    const labelled = new Set();
    for (const [token, label] of Object.entries(preset.labels ?? {})) {
      for (const k of readHeads(token, layout).selection.keys()) {
        add(k, `${label} (${preset.name})`);
        labelled.add(k);
      }
    }
    for (const k of readHeads(preset.heads ?? "", layout).selection.keys()) if (!labelled.has(k)) add(k, preset.name);
  }
  return marks;
}

// Heads whose text names their own target (L14H7:uniform) carry a letter in their cell; the others
// take the node's target input. One letter per kind of core/target_spec.py's KINDS.
export const TARGET_LETTERS = {
  identity: "I", uniform: "U", mean_query: "Q", seg: "S", temperature: "T", max: "M", mask: "K", fisher_rao: "F",
  slerp: "R",
};

/** The letter drawn for a target text ("seg(4)" -> "S"). */
export function targetLetter(target) {
  const kind = /^[a-z_]+/i.exec(String(target ?? ""))?.[0]?.toLowerCase();
  return TARGET_LETTERS[kind] ?? "?";
}

/**
 * The legend of the targets a selection uses: [[letter, target text], ...] once per text, in the
 * grid's order (by layer, then head). targets: Map "layer,head" -> target text, as readHeads gives.
 */
export function targetLegend(targets) {
  const cells = [...(targets ?? new Map())].map(([k, t]) => [parseKey(k), t]);
  cells.sort(([a], [b]) => a[0] - b[0] || a[1] - b[1]);
  const seen = new Map();
  for (const [, t] of cells) if (!seen.has(t)) seen.set(t, targetLetter(t));
  return [...seen].map(([t, letter]) => [letter, t]);
}
