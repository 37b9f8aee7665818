// The head grid on a node: a DOM widget holding a small toolbar, one <canvas> with every head of
// the model (1368 cells for FLUX are drawn, not built as elements) and a hover tooltip. It keeps
// the node's "heads" text field and the grid in step both ways. The logic lives in the pure modules
// (head_text.js, head_layouts.js, head_grid_model.js); this file only reads events and draws.

import { canonicalText, headKey, headName, readHeads } from "./head_text.js";
import { AUTO, blockOf, chooseLayout, groupBoundaries, groupLabel, layoutLabel, normalizeLayout } from "./head_layouts.js";
import { cellsBetween, gridGeometry, heatColor, hitTest, labelMap, presetMarks, scoreHeat, scoreMap, setCells, toggleLayer } from "./head_grid_model.js";

export const GRID_WIDGET = "heads_grid";
export const PROPERTY = "headhunter_grid"; // node property: AUTO or the id of the grid picked
const TOOLBAR_HEIGHT = 24;
const MESSAGE_HEIGHT = 26; // two lines: range errors name the model's layout
const MARGIN = 8; // the DOM widget's margin, each side (ComfyUI sizes the element height - 2 margins)
const PRESET_MARK = "#f0a030"; // amber: visible on light and dark themes and on the heatmap
const HEAD_SET_TYPE = "HEADHUNTER_HEAD_SET";
const MODEL_FILE_WIDGETS = ["unet_name", "ckpt_name", "model_name"];

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

function themeColors() {
  const css = getComputedStyle(document.documentElement);
  const v = (name, fallback) => css.getPropertyValue(name).trim() || fallback;
  return {
    bg: v("--comfy-input-bg", "#222"),
    fg: v("--fg-color", "#fff"),
    border: v("--border-color", "#4e4e4e"),
    muted: v("--descrip-text", "#999"),
  };
}

/**
 * Adds the grid under the node's "heads" field. services: {app, layouts: Promise<layout[]>,
 * presets: () => Promise<preset[]>}. Returns the controller (also kept as node.headhunterGrid).
 */
export function attachHeadGrid(node, services) {
  const headsWidget = node.widgets?.find((w) => w.name === "heads");
  if (!headsWidget || node.widgets.some((w) => w.name === GRID_WIDGET)) return null;
  injectStyle();
  node.properties ??= {};
  node.properties[PROPERTY] ??= AUTO;

  const root = el("div", "hh-grid");
  const bar = el("div", "hh-bar");
  const select = el("select");
  select.title = "Which model's grid to draw. auto: the model of the last run, else the connected preset's family, else the model file's name.";
  const status = el("span", "hh-status");
  const clear = el("button", null, "clear");
  clear.title = "Remove every head";
  bar.append(select, status, clear);
  const canvas = el("canvas");
  const message = el("div", "hh-message");
  const tip = el("div", "hh-tip");
  root.append(bar, canvas, message, tip);

  const state = {
    layouts: [],
    layout: null,
    reason: "",
    selection: new Map(),
    text: "", // the heads text the selection was read from
    error: null,
    executed: null, // layout of the model of the last run (node UI message)
    heat: new Map(),
    scores: new Map(),
    runLabels: new Map(),
    presets: [],
    marks: new Map(),
    sources: "",
    hover: null,
    drag: null,
    flash: null,
    width: 0,
  };

  const geometry = () => state.layout && gridGeometry(Math.max(0, (state.width || node.size[0] - 2 * MARGIN)), state.layout);
  const widgetHeight = () => TOOLBAR_HEIGHT + (geometry()?.height ?? 40) + MESSAGE_HEIGHT + 6 + 2 * MARGIN;

  const widget = node.addDOMWidget(GRID_WIDGET, "headhunter_grid", root, {
    serialize: false, // the text field is the value; the grid is a view of it
    hideOnZoom: false,
    margin: MARGIN,
    getMinHeight: widgetHeight,
    getMaxHeight: widgetHeight,
  });
  widget.serialize = false;
  // Right under the text field it edits.
  node.widgets.splice(node.widgets.indexOf(widget), 1);
  node.widgets.splice(node.widgets.indexOf(headsWidget) + 1, 0, widget);

  // ---- text -> grid -------------------------------------------------------------------------
  const textLinked = () => node.inputs?.some((i) => i.widget?.name === "heads" && i.link != null);

  function readText() {
    if (!state.layout) return;
    state.text = headsWidget.value ?? "";
    const { selection, error } = readHeads(state.text, state.layout);
    state.selection = selection;
    state.error = error;
    render();
    if (!error) confirmWithServer();
  }

  // The server reads the text with the nodes' own parser (GET /headhunter/parse). The JavaScript
  // port agrees with it (tests/test_web_grammar.py); asking as well catches a page whose cached
  // scripts are older than the pack. Debounced: one question per pause in typing.
  let confirmTimer = null;
  function confirmWithServer() {
    clearTimeout(confirmTimer);
    const { text, layout } = state;
    if (!services.parse || !layout?.family || !text.trim()) return;
    confirmTimer = setTimeout(async () => {
      const answer = await services.parse(text, layout).catch(() => null);
      if (answer?.error && state.text === text && state.layout === layout && !state.error) {
        state.error = answer.error;
        render();
      }
    }, 400);
  }

  const setValue = headsWidget.options.setValue;
  headsWidget.options.setValue = function (v) {
    setValue?.call(this, v);
    readText();
  };
  const textarea = headsWidget.element ?? headsWidget.inputEl;
  textarea?.addEventListener("input", readText);

  // ---- grid -> text -------------------------------------------------------------------------
  function writeSelection(selection) {
    state.selection = selection;
    headsWidget.value = canonicalText(selection, state.layout); // runs readText through setValue
    node.setDirtyCanvas?.(true, false);
  }

  function refuseEdit() {
    state.flash = textLinked()
      ? "The heads come from a link: edit them at their source."
      : `Fix the text first: ${state.error}`;
    render();
    return true;
  }

  const editable = () => !state.error && !textLinked();

  // ---- layout and sources ---------------------------------------------------------------------
  function upstream(slotName) {
    const slot = node.inputs?.findIndex((i) => i.name === slotName) ?? -1;
    return slot >= 0 ? node.getInputNode?.(slot) : null;
  }

  // Presets feeding this node (through Combine and friends): upstream nodes whose widget value is a
  // preset id or name, following head-set inputs.
  function connectedPresets() {
    const found = [];
    const seen = new Set();
    const visit = (n, depth) => {
      if (!n || seen.has(n.id) || depth > 8) return;
      seen.add(n.id);
      for (const w of n.widgets ?? []) {
        const p = state.presets.find((p) => p.id === w.value || p.name === w.value);
        if (p && !found.includes(p)) found.push(p);
      }
      (n.inputs ?? []).forEach((input, slot) => {
        if (input.type === HEAD_SET_TYPE && input.link != null) visit(n.getInputNode(slot), depth + 1);
      });
    };
    (node.inputs ?? []).forEach((input, slot) => {
      if (input.type === HEAD_SET_TYPE && input.link != null) visit(node.getInputNode(slot), 0);
    });
    return found;
  }

  // The model file name upstream of the "model" input (through LoRA loaders, ModelSampling...).
  function modelFileName() {
    let n = upstream("model");
    for (let depth = 0; n && depth < 12; depth++) {
      const w = n.widgets?.find((w) => MODEL_FILE_WIDGETS.includes(w.name));
      if (w) return String(w.value ?? "");
      const slot = n.inputs?.findIndex((i) => i.type === "MODEL" && i.link != null) ?? -1;
      n = slot >= 0 ? n.getInputNode(slot) : null;
    }
    return null;
  }

  function chooseAndRead() {
    const presets = connectedPresets();
    const preset = presets.find((p) => p.family) ?? null;
    const chosen = chooseLayout({
      choice: node.properties[PROPERTY] ?? AUTO,
      layouts: state.layouts,
      executed: state.executed,
      presetFamily: preset?.family,
      presetName: preset?.name,
      modelName: modelFileName(),
    });
    const changed = chosen.layout?.id !== state.layout?.id || chosen.layout?.layers !== state.layout?.layers;
    state.layout = chosen.layout;
    state.reason = chosen.reason;
    state.marks = state.layout ? presetMarks(presets, state.layout) : new Map();
    fillSelect();
    readText();
    if (changed) resizeNode();
  }

  // Upstream changes (another preset picked, a model swapped) raise no event on this node: compare
  // a cheap signature when the canvas draws the node.
  function sourcesSignature() {
    return JSON.stringify([connectedPresets().map((p) => p.id), modelFileName(), node.properties[PROPERTY]]);
  }

  function syncSources() {
    if (!state.layouts.length) return;
    // A single-line text widget (e.g. HeadHunter Sweep's range) is edited in a dialog, with no
    // event for us: notice the new value when the node is drawn.
    if ((headsWidget.value ?? "") !== state.text) readText();
    const sig = sourcesSignature();
    if (sig !== state.sources) {
      state.sources = sig;
      chooseAndRead();
    }
  }
  widget.options.onDraw = syncSources;

  function fillSelect() {
    const choice = node.properties[PROPERTY] ?? AUTO;
    select.replaceChildren();
    const auto = el("option", null, `auto: ${state.layout && choice === AUTO ? layoutLabel(state.layout) : "from model / preset"}`);
    auto.value = AUTO;
    select.append(auto);
    const byArch = new Map();
    for (const l of state.layouts) {
      if (!byArch.has(l.archName)) byArch.set(l.archName, []);
      byArch.get(l.archName).push(l);
    }
    if (state.executed) byArch.set("last run", [state.executed]);
    for (const [arch, layouts] of byArch) {
      const group = el("optgroup");
      group.label = arch;
      for (const l of layouts) {
        const option = el("option", null, layoutLabel(l));
        option.value = l.id;
        group.append(option);
      }
      select.append(group);
    }
    select.value = [...select.options].some((o) => o.value === choice) ? choice : AUTO;
  }

  function resizeNode() {
    const size = node.computeSize?.();
    if (size) node.setSize([Math.max(node.size[0], size[0]), Math.max(node.size[1], size[1])]);
    node.setDirtyCanvas?.(true, true);
  }

  select.addEventListener("change", () => {
    node.properties[PROPERTY] = select.value;
    state.sources = "";
    syncSources();
  });
  clear.addEventListener("click", () => {
    if (!state.layout) return;
    if (!editable()) return refuseEdit();
    writeSelection(new Map());
  });

  // ---- drawing ------------------------------------------------------------------------------
  function render() {
    const g = geometry();
    const count = state.selection.size;
    status.textContent = state.layout
      ? `${state.error ? "text not read" : `${count} head${count === 1 ? "" : "s"}`} \u00b7 ${state.layout.layers}\u00d7${state.layout.heads}` +
        (state.heat.size ? " \u00b7 search scores" : "")
      : "loading grids\u2026";
    status.title = state.layout ? `${state.layout.description}\ngrid chosen by: ${state.reason}` : "";
    const msg = state.flash ?? state.error;
    message.textContent = msg ?? (state.layout ? "click or drag to toggle heads \u00b7 click a layer number for the whole layer" : "");
    message.classList.toggle("hh-error", Boolean(msg));
    message.title = msg ?? "";
    if (!g) return;

    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(g.width * dpr) || canvas.height !== Math.round(g.height * dpr)) {
      canvas.width = Math.round(g.width * dpr);
      canvas.height = Math.round(g.height * dpr);
      canvas.style.width = `${g.width}px`;
      canvas.style.height = `${g.height}px`;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const c = themeColors();
    const { left, top, cell, layers, heads } = g;
    ctx.clearRect(0, 0, g.width, g.height);
    ctx.fillStyle = c.bg;
    ctx.fillRect(left, top, layers * cell, heads * cell);

    // Heatmap, then selected heads (opacity = u where the text sets one).
    for (const [k, t] of state.heat) {
      const [l, h] = k.split(",").map(Number);
      if (l < layers && h < heads) {
        ctx.fillStyle = heatColor(t);
        ctx.fillRect(left + l * cell, top + h * cell, cell, cell);
      }
    }
    const inset = cell > 6 ? 1 : 0;
    for (const [k, u] of state.selection) {
      const [l, h] = k.split(",").map(Number);
      ctx.fillStyle = c.fg;
      ctx.globalAlpha = u === null ? 1 : 0.3 + 0.7 * u;
      ctx.fillRect(left + l * cell + inset, top + h * cell + inset, cell - 2 * inset, cell - 2 * inset);
      if (state.heat.has(k) && cell >= 7) {
        // Keep the score readable under a selected head: its heat colour as a centre dot.
        const d = Math.max(2, Math.round(cell * 0.3));
        ctx.globalAlpha = 1;
        ctx.fillStyle = heatColor(state.heat.get(k));
        ctx.fillRect(left + l * cell + (cell - d) / 2, top + h * cell + (cell - d) / 2, d, d);
      }
    }
    ctx.globalAlpha = 1;

    // Grid lines every cell when cells are large, every 4 heads / layers otherwise.
    ctx.strokeStyle = c.border;
    ctx.lineWidth = 1;
    ctx.beginPath();
    const every = cell >= 9 ? 1 : 4;
    for (let l = 0; l <= layers; l += every) {
      ctx.moveTo(left + l * cell + 0.5, top);
      ctx.lineTo(left + l * cell + 0.5, top + heads * cell);
    }
    for (let h = 0; h <= heads; h += every) {
      ctx.moveTo(left, top + h * cell + 0.5);
      ctx.lineTo(left + layers * cell, top + h * cell + 0.5);
    }
    ctx.stroke();
    ctx.strokeRect(left + 0.5, top + 0.5, layers * cell, heads * cell);

    // Preset heads: an amber frame over everything else, so it shows on the heatmap and on selected heads.
    if (state.marks.size) {
      ctx.strokeStyle = PRESET_MARK;
      ctx.lineWidth = cell >= 8 ? 2 : 1;
      const o = ctx.lineWidth / 2;
      for (const k of state.marks.keys()) {
        const [l, h] = k.split(",").map(Number);
        if (l < layers && h < heads) ctx.strokeRect(left + l * cell - o, top + h * cell - o, cell + 2 * o, cell + 2 * o);
      }
    }

    // FLUX: the double | single boundary, named under the grid.
    ctx.font = "9px sans-serif";
    ctx.textBaseline = "middle";
    const bounds = groupBoundaries(state.layout);
    if (bounds.length) {
      ctx.strokeStyle = c.fg;
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (const b of bounds) {
        ctx.moveTo(left + b * cell, top - 3);
        ctx.lineTo(left + b * cell, top + heads * cell + 3);
      }
      ctx.stroke();
      ctx.fillStyle = c.muted;
      ctx.textAlign = "center";
      for (const grp of state.layout.groups) {
        if (!grp.layers) continue;
        const name = `${groupLabel(grp)} blocks ${grp.start}\u2013${grp.start + grp.layers - 1}`;
        ctx.fillText(name, left + (grp.start + grp.layers / 2) * cell, top + heads * cell + 8);
      }
    }

    // Axis numbers: layers on top (click = whole layer), heads on the left.
    ctx.fillStyle = c.muted;
    ctx.textAlign = "center";
    const layerStep = cell >= 14 ? 2 : cell >= 8 ? 5 : 10;
    for (let l = 0; l < layers; l += layerStep) ctx.fillText(String(l), left + (l + 0.5) * cell, top / 2);
    ctx.textAlign = "right";
    const headStep = cell >= 12 ? 2 : cell >= 7 ? 4 : 8;
    for (let h = 0; h < heads; h += headStep) ctx.fillText(String(h), left - 3, top + (h + 0.5) * cell);

    if (state.hover) {
      const { layer, head } = state.hover;
      ctx.strokeStyle = c.fg;
      ctx.lineWidth = 1;
      if (head === null) ctx.strokeRect(left + layer * cell + 0.5, top + 0.5, cell - 1, heads * cell - 1);
      else ctx.strokeRect(left + layer * cell - 0.5, top + head * cell - 0.5, cell + 1, cell + 1);
    }
  }

  function showTip(hit, x, y) {
    if (!hit) {
      tip.style.display = "none";
      return;
    }
    const { layer, head } = hit;
    const block = blockOf(state.layout, layer);
    const where = block ? `${block.group} block ${block.index}` : null;
    const lines = [];
    if (head === null) {
      lines.push(`layer L${layer}${where ? ` (${where})` : ""}: click to toggle all ${state.layout.heads} heads`);
    } else {
      const k = headKey(layer, head);
      const on = state.selection.has(k);
      const u = state.selection.get(k);
      lines.push(`${headName(layer, head)}${where ? `  \u00b7 ${where}` : ""}${on ? `  \u00b7 on${u === null ? "" : `, u=${u}`}` : ""}`);
      if (state.scores.has(k)) lines.push(`search score ${Number(state.scores.get(k).toPrecision(4))}`);
      for (const label of state.marks.get(k) ?? []) lines.push(label);
      if (state.runLabels.has(k)) lines.push(state.runLabels.get(k));
    }
    tip.textContent = lines.join("\n");
    tip.style.display = "block";
    const maxLeft = root.clientWidth - tip.offsetWidth - 2;
    tip.style.left = `${Math.max(0, Math.min(maxLeft, x + 12))}px`;
    tip.style.top = `${y + 16}px`;
  }

  // ---- pointer ------------------------------------------------------------------------------
  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    // The canvas is CSS-scaled with the graph's zoom: map back to its own pixels.
    const sx = r.width ? canvas.clientWidth / r.width : 1;
    const sy = r.height ? canvas.clientHeight / r.height : 1;
    return { x: (e.clientX - r.left) * sx, y: (e.clientY - r.top) * sy, ox: canvas.offsetLeft, oy: canvas.offsetTop };
  };

  canvas.addEventListener("pointerdown", (e) => {
    if (e.button === 1) return services.app.canvas?.processMouseDown?.(e); // middle button pans the graph
    if (e.button !== 0 || !state.layout) return;
    const { x, y } = local(e);
    const hit = hitTest(geometry(), x, y);
    if (!hit) return;
    state.flash = null;
    if (!editable()) return refuseEdit();
    if (hit.head === null) return writeSelection(toggleLayer(state.selection, hit.layer, state.layout));
    const on = !state.selection.has(headKey(hit.layer, hit.head));
    state.drag = { on, last: hit };
    canvas.setPointerCapture(e.pointerId);
    writeSelection(setCells(state.selection, [hit], on));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!state.layout) return;
    const { x, y, ox, oy } = local(e);
    const hit = hitTest(geometry(), x, y);
    if (state.drag && hit && hit.head !== null) {
      const cells = cellsBetween(state.drag.last, hit);
      state.drag.last = hit;
      writeSelection(setCells(state.selection, cells, state.drag.on));
    }
    const same = hit && state.hover && hit.layer === state.hover.layer && hit.head === state.hover.head;
    if (!same) {
      state.hover = hit;
      render();
    }
    showTip(hit, x + ox, y + oy);
  });
  const endDrag = () => (state.drag = null);
  canvas.addEventListener("pointerup", endDrag);
  canvas.addEventListener("pointercancel", endDrag);
  canvas.addEventListener("pointerleave", () => {
    state.hover = null;
    showTip(null);
    render();
  });
  root.addEventListener("wheel", (e) => {
    // Zooming over the grid zooms the graph, as over any other widget.
    e.preventDefault();
    services.app.canvas?.processMouseWheel?.(e);
  });

  const resizeObserver = new ResizeObserver(() => {
    const w = root.clientWidth;
    if (w && w !== state.width) {
      state.width = w;
      render();
      // Wider cells make the grid taller: grow the node if it no longer fits.
      const needed = node.computeSize?.()[1];
      if (needed > node.size[1]) resizeNode();
    }
  });
  resizeObserver.observe(root);
  const onRemoved = node.onRemoved;
  node.onRemoved = function (...args) {
    resizeObserver.disconnect();
    return onRemoved?.apply(this, args);
  };

  // ---- data from the server and from runs ----------------------------------------------------
  const controller = {
    node,
    widget,
    state,
    readText,
    geometry,
    /** Page coordinates of a cell's centre (head null: its layer number), for tests and tours. */
    cellCenter(layer, head) {
      const g = geometry();
      const r = canvas.getBoundingClientRect();
      const s = canvas.clientWidth ? r.width / canvas.clientWidth : 1;
      const y = head === null ? g.top / 2 : g.top + (head + 0.5) * g.cell;
      return { x: r.left + (g.left + (layer + 0.5) * g.cell) * s, y: r.top + y * s };
    },
    refresh: () => {
      state.sources = "";
      syncSources();
    },
    /** The node's UI message after a run: the model's grid, search scores, head labels. */
    onExecuted(output) {
      const layout = output?.headhunter_layout?.[0];
      if (layout) state.executed = normalizeLayout(layout);
      const scores = output?.headhunter_scores ?? [];
      state.heat = scoreHeat(scores);
      state.scores = scoreMap(scores);
      state.runLabels = labelMap(output?.headhunter_labels ?? []);
      controller.refresh();
    },
  };
  node.headhunterGrid = controller;

  Promise.resolve(services.layouts)
    .then((layouts) => {
      state.layouts = layouts;
      controller.refresh();
    })
    .catch((e) => {
      state.flash = `HeadHunter grid unavailable: ${e.message ?? e}`;
      render();
    });
  Promise.resolve(services.presets?.())
    .then((presets) => {
      state.presets = presets ?? [];
      controller.refresh();
    })
    .catch(() => {}); // no presets (yet): the grid works without them
  render();
  return controller;
}
