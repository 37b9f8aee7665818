// The head grid's elements: a small toolbar (fold, grid picker, status, target and score legends,
// clear), one <canvas> with every head of the model (1368 cells for FLUX are drawn, not built as
// elements; head_grid_render.js), a message line and a hover tooltip. It shows a GridState
// (head_grid_state.js) and decides nothing; head_grid_widget.js wires its events.

import { heatColor } from "./head_grid_model.js";
import { TARGET_MARK, drawGrid } from "./head_grid_render.js";

export const TOOLBAR_HEIGHT = 24;
export const MESSAGE_HEIGHT = 26; // two lines: range errors name the model's layout

const STYLE = `
.hh-grid { position: relative; display: flex; flex-direction: column; gap: 3px; font: 11px sans-serif;
  color: var(--fg-color); user-select: none; -webkit-user-select: none; }
.hh-grid .hh-bar { display: flex; align-items: center; gap: 6px; height: ${TOOLBAR_HEIGHT - 3}px; min-width: 0; }
.hh-grid select, .hh-grid button { background: var(--comfy-input-bg); color: var(--input-text, var(--fg-color));
  border: 1px solid var(--border-color); border-radius: 4px; font-size: 11px; padding: 1px 4px; height: 20px; }
.hh-grid select { max-width: 60%; min-width: 0; }
.hh-grid button { cursor: pointer; }
.hh-grid button:hover { background: var(--comfy-menu-secondary-bg, var(--comfy-input-bg)); }
.hh-grid .hh-status { flex: 1; min-width: 0; color: var(--descrip-text); overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; }
.hh-grid .hh-scroll { overflow-x: auto; overflow-y: hidden; }
.hh-grid.hh-folded .hh-scroll, .hh-grid.hh-folded .hh-message { display: none; }
.hh-grid.hh-linked canvas { opacity: 0.55; }
.hh-grid .hh-legend { display: none; align-items: center; gap: 3px; color: var(--descrip-text); white-space: nowrap; }
.hh-grid .hh-legend.hh-on { display: flex; }
.hh-grid .hh-targets { display: none; color: var(--descrip-text); white-space: nowrap; overflow: hidden; text-overflow: ellipsis;
  max-width: 40%; }
.hh-grid .hh-targets.hh-on { display: inline; }
.hh-grid .hh-targets b { color: ${TARGET_MARK}; }
.hh-grid .hh-legend i { display: inline-block; width: 44px; height: 8px; border-radius: 2px;
  background: linear-gradient(90deg, ${[0, 0.25, 0.5, 0.75, 1].map((t) => heatColor(t)).join(", ")}); }
.hh-grid canvas { display: block; touch-action: none; cursor: crosshair; border-radius: 4px; }
.hh-grid .hh-message { height: ${MESSAGE_HEIGHT}px; overflow: hidden; line-height: 13px; color: var(--descrip-text);
  display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2; }
.hh-grid .hh-message.hh-error { color: var(--error-text, #ff4444); }
.hh-grid .hh-tip { position: absolute; z-index: 10; pointer-events: none; display: none; max-width: 320px;
  background: var(--comfy-menu-bg); color: var(--fg-color); border: 1px solid var(--border-color); border-radius: 4px;
  padding: 3px 6px; line-height: 1.35; white-space: pre; box-shadow: 0 2px 8px rgba(0, 0, 0, 0.35); }
`;

function injectStyle() {
  if (document.getElementById("headhunter-grid-style")) return;
  const style = document.createElement("style");
  style.id = "headhunter-grid-style";
  style.textContent = STYLE;
  document.head.append(style);
}

function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

export class GridView {
  constructor() {
    injectStyle();
    this.root = el("div", "hh-grid");
    const bar = el("div", "hh-bar");
    this.select = el("select");
    this.select.title = "Which model's grid to draw. auto: the model of the last run, else the connected preset's family, else a guess from the model file's name (replaced by the model's own layout once it runs).";
    this.status = el("span", "hh-status");
    this.legend = el("span", "hh-legend");
    this.legend.append(el("span", null, "low"), el("i"), el("span", null, "high"));
    this.legend.title = "Search score of each head (colour), scaled from the lowest to the highest score of the run";
    this.targetsLegend = el("span", "hh-targets");
    this.clear = el("button", null, "clear");
    this.clear.title = "Remove every head";
    this.fold = el("button");
    bar.append(this.fold, this.select, this.status, this.targetsLegend, this.legend, this.clear);
    const scroll = el("div", "hh-scroll");
    this.canvas = el("canvas");
    scroll.append(this.canvas);
    this.messageLine = el("div", "hh-message");
    this.tip = el("div", "hh-tip");
    this.root.append(bar, scroll, this.messageLine, this.tip);
  }

  /** Shows state; draws the canvas unless folded. g: the grid's geometry (null before a layout); scrolls: wider than the node. */
  show(state, g, { folded, scrolls, zoom }) {
    const status = state.status();
    this.status.textContent = status.text;
    this.status.title = status.title;
    this.legend.classList.toggle("hh-on", state.heat.size > 0);
    this.showTargets(state.targetLegend());
    this.root.classList.toggle("hh-linked", state.linked);
    const message = state.message(scrolls);
    this.messageLine.textContent = message.text;
    this.messageLine.classList.toggle("hh-error", message.error);
    this.messageLine.title = message.error ? message.text : "";
    if (g && !folded) drawGrid(this.canvas, g, state, zoom);
  }

  showTargets(used) {
    const legend = this.targetsLegend;
    legend.classList.toggle("hh-on", used.length > 0);
    legend.replaceChildren();
    used.forEach(([letter, target], i) => {
      if (i) legend.append(" \u00b7 ");
      legend.append(el("b", null, letter), ` ${target}`);
    });
    legend.title = used.length
      ? "Heads whose text names their own target carry its letter and a teal corner:\n" +
        used.map(([letter, target]) => `${letter}  ${target}`).join("\n") +
        "\nThe other heads take the node's target input."
      : "";
  }

  /** The grid picker: choices as GridState.choices() gives them. */
  showChoices({ auto, groups, value }) {
    const option = ({ value, label }) => Object.assign(el("option", null, label), { value });
    this.select.replaceChildren(option(auto));
    for (const { label, options } of groups) {
      const group = el("optgroup");
      group.label = label;
      group.append(...options.map(option));
      this.select.append(group);
    }
    this.select.value = value;
  }

  showFold(folded) {
    this.root.classList.toggle("hh-folded", folded);
    this.fold.textContent = folded ? "\u25b8 grid" : "\u25be";
    this.fold.title = folded ? "Show the head grid" : "Fold the head grid (the text field keeps the room)";
  }

  /** The tooltip at (x, y) in the grid's own coordinates; no lines hide it. */
  showTip(lines, x = 0, y = 0) {
    if (!lines) {
      this.tip.style.display = "none";
      return;
    }
    this.tip.textContent = lines.join("\n");
    this.tip.style.display = "block";
    const maxLeft = this.root.clientWidth - this.tip.offsetWidth - 2;
    this.tip.style.left = `${Math.max(0, Math.min(maxLeft, x + 12))}px`;
    this.tip.style.top = `${y + 16}px`;
  }

  /** A pointer event in the canvas's own pixels (it is CSS-scaled with the graph's zoom), and the canvas's offset in the grid. */
  pointIn(e) {
    const canvas = this.canvas;
    const r = canvas.getBoundingClientRect();
    const sx = r.width ? canvas.clientWidth / r.width : 1;
    const sy = r.height ? canvas.clientHeight / r.height : 1;
    return { x: (e.clientX - r.left) * sx, y: (e.clientY - r.top) * sy, ox: canvas.offsetLeft, oy: canvas.offsetTop };
  }

  /** Page coordinates of a cell's centre (head null: its layer number), for tests and tours. */
  cellCenter(g, layer, head) {
    const r = this.canvas.getBoundingClientRect();
    const s = this.canvas.clientWidth ? r.width / this.canvas.clientWidth : 1;
    const y = head === null ? g.top / 2 : g.top + (head + 0.5) * g.cell;
    return { x: r.left + (g.left + (layer + 0.5) * g.cell) * s, y: r.top + y * s };
  }
}
