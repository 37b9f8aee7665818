// Draws the head grid on its <canvas>: heatmap, selected heads, their own targets (a letter and a
// teal corner, head_grid_model.js's TARGET_LETTERS), preset outlines, the block-group
// boundaries (FLUX double | single; U-Net input | middle | output), axis numbers and the hovered
// cell. A layer's column is as long as its heads (SDXL: 10 or 20); below it nothing is drawn. No state of its own; geometry comes from
// head_grid_model.js.

import { groupBoundaries, groupLabel } from "./head_layouts.js";
import { heatColor, targetLetter } from "./head_grid_model.js";
import { parseKey } from "./head_text.js";

export const PRESET_MARK = "#f0a030"; // amber: visible on light and dark themes and on the heatmap
export const BOUNDARY = "#d6409f"; // magenta: neither the selection's, the presets' nor the heatmap's colour
export const TARGET_MARK = "#1fb5a3"; // teal: a head with its own target (corner), apart from amber and magenta
const MAX_RATIO = 4; // backing pixels per CSS pixel, at most (memory)

export function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    bg: v("--comfy-input-bg", "#222"),
    fg: v("--fg-color", "#fff"),
    border: v("--border-color", "#4e4e4e"),
    muted: v("--descrip-text", "#999"),
  };
}

const cellOf = parseKey;

/**
 * view: {layout, selection, targets, heat, marks, hover, linked} (targets: Map "layer,head" -> the
 * head's own target text, as readHeads gives it; optional). zoom: the graph canvas's scale, so that
 * the grid stays sharp when the graph is zoomed in (the element is CSS-scaled with it).
 */
export function drawGrid(canvas, g, view, zoom = 1) {
  const ratio = Math.min(MAX_RATIO, (window.devicePixelRatio || 1) * Math.max(1, zoom));
  const w = Math.round(g.width * ratio), h = Math.round(g.height * ratio);
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  canvas.style.width = `${g.width}px`;
  canvas.style.height = `${g.height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const c = themeColors();
  const { left, top, cell, layers, heads } = g;
  const counts = g.headsPerLayer ?? Array(layers).fill(heads);
  const x = (l) => left + l * cell, y = (hd) => top + hd * cell;
  const inGrid = (l, hd) => l < layers && hd < counts[l];
  ctx.clearRect(0, 0, g.width, g.height);
  ctx.fillStyle = c.bg;
  for (let l = 0; l < layers; l++) ctx.fillRect(x(l), top, cell, counts[l] * cell);

  for (const [k, t] of view.heat) {
    const [l, hd] = cellOf(k);
    if (inGrid(l, hd)) {
      ctx.fillStyle = heatColor(t);
      ctx.fillRect(x(l), y(hd), cell, cell);
    }
  }
  // Selected heads: the theme's text colour (opacity = u where the text sets one). On a heatmap
  // cell a frame in the background colour keeps it apart from dark heat colours (light theme).
  const inset = cell > 6 ? 1 : 0;
  if (!view.linked) {
    for (const [k, u] of view.selection) {
      const [l, hd] = cellOf(k);
      const heat = view.heat.get(k);
      ctx.globalAlpha = u === null ? 1 : 0.3 + 0.7 * u;
      if (heat !== undefined && cell >= 7) {
        ctx.fillStyle = c.bg;
        ctx.fillRect(x(l), y(hd), cell, cell);
      }
      const i = heat !== undefined && cell >= 9 ? 2 : inset; // 1 px of frame inside the grid line
      ctx.fillStyle = c.fg;
      ctx.fillRect(x(l) + i, y(hd) + i, cell - 2 * i, cell - 2 * i);
      ctx.globalAlpha = 1;
      if (heat !== undefined && cell >= 7) {
        // Keep the score readable under a selected head: its heat colour as a centre dot.
        const d = Math.max(2, Math.round(cell * 0.3));
        ctx.fillStyle = heatColor(heat);
        ctx.fillRect(x(l) + (cell - d) / 2, y(hd) + (cell - d) / 2, d, d);
      }
    }
  }
  ctx.globalAlpha = 1;

  // Heads with their own target: a teal corner, and the target's letter where the cell can hold it
  // (in the background colour, on the selected cell's text-colour fill).
  if (!view.linked && view.targets?.size) {
    ctx.font = `bold ${Math.max(7, Math.floor(cell * 0.62))}px sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const corner = Math.max(3, Math.round(cell * 0.4));
    for (const [k, target] of view.targets) {
      const [l, hd] = cellOf(k);
      if (!inGrid(l, hd) || !view.selection.has(k)) continue;
      ctx.fillStyle = TARGET_MARK;
      ctx.beginPath();
      ctx.moveTo(x(l) + cell - corner, y(hd));
      ctx.lineTo(x(l) + cell, y(hd));
      ctx.lineTo(x(l) + cell, y(hd) + corner);
      ctx.closePath();
      ctx.fill();
      if (cell >= 11) {
        ctx.fillStyle = c.bg;
        ctx.fillText(targetLetter(target), x(l) + cell / 2, y(hd) + cell / 2 + 0.5);
      }
    }
  }

  // Grid lines every cell when cells are large, every 4 heads / layers otherwise; the outline
  // follows each column's own length (a step where the heads per layer change).
  ctx.strokeStyle = c.border;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const every = cell >= 9 ? 1 : 4;
  for (let l = 0; l <= layers; l++) {
    const before = counts[l - 1] ?? 0, after = counts[l] ?? 0;
    if (l % every && l !== layers && before === after) continue;
    ctx.moveTo(x(l) + 0.5, top);
    ctx.lineTo(x(l) + 0.5, y(Math.max(before, after)));
  }
  for (let l = 0; l < layers; l++) {
    for (let hd = 0; hd <= counts[l]; hd++) {
      if (hd % every && hd !== counts[l]) continue;
      ctx.moveTo(x(l), y(hd) + 0.5);
      ctx.lineTo(x(l + 1) + 1, y(hd) + 0.5);
    }
  }
  ctx.stroke();

  // Preset heads: an amber frame over everything else.
  if (view.marks.size) {
    ctx.strokeStyle = PRESET_MARK;
    ctx.lineWidth = cell >= 8 ? 2 : 1;
    const o = ctx.lineWidth / 2;
    for (const k of view.marks.keys()) {
      const [l, hd] = cellOf(k);
      if (inGrid(l, hd)) ctx.strokeRect(x(l) - o, y(hd) - o, cell + 2 * o, cell + 2 * o);
    }
  }

  // Block groups (FLUX: double | single; U-Nets: input | middle | output), named under the grid.
  ctx.font = "9px sans-serif";
  ctx.textBaseline = "middle";
  const bounds = groupBoundaries(view.layout);
  if (bounds.length) {
    for (const [style, width] of [[c.bg, 4], [BOUNDARY, 2]]) {
      ctx.strokeStyle = style;
      ctx.lineWidth = width;
      ctx.beginPath();
      for (const b of bounds) {
        ctx.moveTo(x(b), top - 3);
        ctx.lineTo(x(b), y(heads) + 3);
      }
      ctx.stroke();
    }
    ctx.fillStyle = c.muted;
    ctx.textAlign = "center";
    for (const grp of view.layout.groups) {
      if (!grp.layers) continue;
      // "single blocks 19-56", "middle block 24-33"; only "middle" where the group is too narrow.
      const full = `${grp.name} ${grp.start}\u2013${grp.start + grp.layers - 1}`;
      const name = ctx.measureText(full).width <= grp.layers * cell ? full : groupLabel(grp);
      ctx.fillText(name, left + (grp.start + grp.layers / 2) * cell, y(heads) + 8);
    }
  }

  // Axis numbers: layers on top (click = whole layer), heads on the left.
  ctx.fillStyle = c.muted;
  ctx.textAlign = "center";
  const layerStep = cell >= 14 ? 2 : cell >= 8 ? 5 : 10;
  for (let l = 0; l < layers; l += layerStep) ctx.fillText(String(l), left + (l + 0.5) * cell, top / 2);
  ctx.textAlign = "right";
  const headStep = cell >= 12 ? 2 : cell >= 7 ? 4 : 8;
  for (let hd = 0; hd < heads; hd += headStep) ctx.fillText(String(hd), left - 3, top + (hd + 0.5) * cell);

  if (view.hover) {
    const { layer, head } = view.hover;
    ctx.strokeStyle = c.fg;
    ctx.lineWidth = 1;
    if (head === null) ctx.strokeRect(x(layer) + 0.5, top + 0.5, cell - 1, counts[layer] * cell - 1);
    else ctx.strokeRect(x(layer) - 0.5, y(head) - 0.5, cell + 1, cell + 1);
  }
}
