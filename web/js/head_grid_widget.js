// The head grid on a node: a DOM widget holding a small toolbar, one <canvas> with every head of
// the model (1368 cells for FLUX are drawn, not built as elements) and a hover tooltip. It keeps
// the node's "heads" text field and the grid in step both ways. The logic lives in the pure modules
// (head_text.js, head_layouts.js, head_grid_model.js); drawing in head_grid_render.js, what the
// graph around says in head_grid_sources.js; this file is the controller: events and state.

import { canonicalText, headKey, headName, headsOf, readHeads } from "./head_text.js";
import { AUTO, blockOf, chooseLayout, layoutLabel, layoutSize, normalizeLayout } from "./head_layouts.js";
import { cellsBetween, gridGeometry, heatColor, hitTest, labelMap, presetMarks, scoreHeat, scoreMap, setCells, targetLegend, toggleLayer } from "./head_grid_model.js";
import { TARGET_MARK, drawGrid } from "./head_grid_render.js";
import { connectedPresets, headsLinked, modelFileName } from "./head_grid_sources.js";

export const GRID_WIDGET = "heads_grid";
export const PROPERTY = "headhunter_grid"; // node property: AUTO or the id of the grid picked
export const FOLDED = "headhunter_grid_folded"; // node property: the grid alone is folded
const TOOLBAR_HEIGHT = 24;
const MESSAGE_HEIGHT = 26; // two lines: range errors name the model's layout
const MARGIN = 8; // the DOM widget's margin, each side (ComfyUI sizes the element height - 2 margins)
const SCROLLBAR = 12; // room for the horizontal scrollbar when the grid is wider than the node

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
  node.properties[FOLDED] ??= false;

  const root = el("div", "hh-grid");
  const bar = el("div", "hh-bar");
  const select = el("select");
  select.title = "Which model's grid to draw. auto: the model of the last run, else the connected preset's family, else a guess from the model file's name (replaced by the model's own layout once it runs).";
  const status = el("span", "hh-status");
  const legend = el("span", "hh-legend");
  legend.append(el("span", null, "low"), el("i"), el("span", null, "high"));
  legend.title = "Search score of each head (colour), scaled from the lowest to the highest score of the run";
  const targetsLegend = el("span", "hh-targets");
  const clear = el("button", null, "clear");
  clear.title = "Remove every head";
  const fold = el("button");
  bar.append(fold, select, status, targetsLegend, legend, clear);
  const scroll = el("div", "hh-scroll");
  const canvas = el("canvas");
  scroll.append(canvas);
  const message = el("div", "hh-message");
  const tip = el("div", "hh-tip");
  root.append(bar, scroll, message, tip);

  const state = {
    layouts: [],
    layout: null,
    reason: "",
    selection: new Map(),
    targets: new Map(), // "layer,head" -> the target the text names for that head (L14H7:uniform)
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
    linked: false,
    width: 0,
    zoom: 1,
  };

  const available = () => Math.max(0, state.width || node.size[0] - 2 * MARGIN);
  const geometry = () => state.layout && gridGeometry(available(), state.layout);
  function widgetHeight() {
    if (node.properties[FOLDED]) return TOOLBAR_HEIGHT + 2 * MARGIN;
    const g = geometry();
    const scrollbar = g && g.width > available() ? SCROLLBAR : 0;
    return TOOLBAR_HEIGHT + (g?.height ?? 40) + scrollbar + MESSAGE_HEIGHT + 6 + 2 * MARGIN;
  }

  const widget = node.addDOMWidget(GRID_WIDGET, "headhunter_grid", root, {
    serialize: false, // the text field is the value; the grid is a view of it (widget_values.js)
    hideOnZoom: true, // like ComfyUI's own widgets, no detail when the graph is zoomed far out
    margin: MARGIN,
    getMinHeight: widgetHeight,
    getMaxHeight: widgetHeight,
  });
  widget.serialize = false;
  // Right under the text field it edits.
  node.widgets.splice(node.widgets.indexOf(widget), 1);
  node.widgets.splice(node.widgets.indexOf(headsWidget) + 1, 0, widget);

  // ---- text -> grid -------------------------------------------------------------------------
  function readText() {
    if (!state.layout) return;
    state.text = headsWidget.value ?? "";
    state.linked = headsLinked(node);
    // With a link the text field is not what runs: show no selection rather than a stale one.
    const { selection, targets, error } = state.linked
      ? { selection: new Map(), targets: new Map(), error: null }
      : readHeads(state.text, state.layout);
    state.selection = selection;
    state.targets = targets;
    state.error = error;
    if (!error && !state.linked) state.flash = null; // "Fix the text first" is answered
    render();
    if (!error && !state.linked) confirmWithServer();
  }

  // The server reads the text with the nodes' own parser (GET /headhunter/parse). The JavaScript
  // port agrees with it (tests/unit/test_web_grammar.py); asking as well catches a page whose cached
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
    // Heads keep the targets their text named; a head switched on by the grid takes the node's target.
    headsWidget.value = canonicalText(selection, state.layout, state.targets); // runs readText through setValue
    node.setDirtyCanvas?.(true, false);
  }

  function refuseEdit() {
    state.flash = state.linked
      ? "The heads come from a link: edit them at their source."
      : `Fix the text first: ${state.error}`;
    render();
    return true;
  }

  const editable = () => !state.error && !state.linked;

  // ---- layout and sources ---------------------------------------------------------------------
  function chooseAndRead() {
    const presets = connectedPresets(node, state.presets);
    const preset = presets.find((p) => p.family) ?? null;
    const chosen = chooseLayout({
      choice: node.properties[PROPERTY] ?? AUTO,
      layouts: state.layouts,
      executed: state.executed,
      presetFamily: preset?.family,
      presetName: preset?.name,
      modelName: modelFileName(node),
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
    return JSON.stringify([connectedPresets(node, state.presets).map((p) => p.id), modelFileName(node), node.properties[PROPERTY], headsLinked(node)]);
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
  widget.options.onDraw = () => {
    syncSources();
    // Redraw at the graph's zoom, so the grid stays sharp when zoomed in.
    const zoom = services.app.canvas?.ds?.scale ?? 1;
    if (Math.abs(zoom - state.zoom) > 0.05) {
      state.zoom = zoom;
      render();
    }
  };

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

  function showFold() {
    const folded = Boolean(node.properties[FOLDED]);
    root.classList.toggle("hh-folded", folded);
    fold.textContent = folded ? "\u25b8 grid" : "\u25be";
    fold.title = folded ? "Show the head grid" : "Fold the head grid (the text field keeps the room)";
  }
  fold.addEventListener("click", () => {
    node.properties[FOLDED] = !node.properties[FOLDED];
    showFold();
    render();
    // Unfolded, the node grows if the grid does not fit; folded, it keeps its size and the
    // multiline text field takes the freed height.
    if (!node.properties[FOLDED]) resizeNode();
    else node.setSize?.([...node.size]);
    node.setDirtyCanvas?.(true, true);
  });
  showFold();

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
    const fromPresets = state.marks.size ? ` + ${state.marks.size} from presets` : "";
    const heads = state.linked ? "heads from a link" : state.error ? "text not read" : `${count} head${count === 1 ? "" : "s"}${fromPresets}`;
    status.textContent = state.layout ? `${heads} \u00b7 ${layoutSize(state.layout)}` : "loading grids\u2026";
    status.title = state.layout ? `${state.layout.description}\ngrid chosen by: ${state.reason}` : "";
    legend.classList.toggle("hh-on", state.heat.size > 0);
    showTargetsLegend();
    root.classList.toggle("hh-linked", state.linked);
    const msg = state.flash ?? state.error;
    const hint = state.linked
      ? "the heads come from the linked input: the grid shows no selection (presets and scores still show)"
      : "click or drag to toggle heads \u00b7 click a layer number for the whole layer" +
        (g && g.width > available() ? " \u00b7 scroll sideways for more layers" : "");
    message.textContent = msg ?? (state.layout ? hint : "");
    message.classList.toggle("hh-error", Boolean(msg));
    message.title = msg ?? "";
    if (!g || node.properties[FOLDED]) return;
    drawGrid(canvas, g, state, state.zoom);
  }

  function showTargetsLegend() {
    const used = state.linked || state.error ? [] : targetLegend(state.targets);
    targetsLegend.classList.toggle("hh-on", used.length > 0);
    targetsLegend.replaceChildren();
    used.forEach(([letter, target], i) => {
      if (i) targetsLegend.append(" \u00b7 ");
      targetsLegend.append(el("b", null, letter), ` ${target}`);
    });
    targetsLegend.title = used.length
      ? "Heads whose text names their own target carry its letter and a teal corner:\n" +
        used.map(([letter, target]) => `${letter}  ${target}`).join("\n") +
        "\nThe other heads take the node's target input."
      : "";
  }

  function showTip(hit, x, y) {
    if (!hit) {
      tip.style.display = "none";
      return;
    }
    const { layer, head } = hit;
    const block = blockOf(state.layout, layer);
    // U-Nets: the server's own label ("output block 3, transformer 1"); DiTs: "single block 0".
    const where = state.layout.layerKeys?.[layer]?.length > 2 ? state.layout.layerLabels[layer]
      : block ? `${block.group} block ${block.index}` : null;
    const lines = [];
    if (head === null) {
      lines.push(`layer L${layer}${where ? ` (${where})` : ""}: click to toggle all ${headsOf(state.layout, layer)} heads`);
    } else {
      const k = headKey(layer, head);
      const on = state.selection.has(k);
      const u = state.selection.get(k);
      lines.push(`${headName(layer, head)}${where ? `  \u00b7 ${where}` : ""}${on ? `  \u00b7 on${u === null ? "" : `, u=${u}`}` : ""}`);
      if (on) lines.push(state.targets.has(k) ? `target ${state.targets.get(k)}` : "target: the node's");
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
    writeSelection(setCells(state.selection, [hit], on, state.layout));
  });
  canvas.addEventListener("pointermove", (e) => {
    if (!state.layout) return;
    const { x, y, ox, oy } = local(e);
    const hit = hitTest(geometry(), x, y);
    if (state.drag && hit && hit.head !== null) {
      const cells = cellsBetween(state.drag.last, hit);
      state.drag.last = hit;
      writeSelection(setCells(state.selection, cells, state.drag.on, state.layout));
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
  root.addEventListener("contextmenu", (e) => {
    // The node's menu, as anywhere else on the node, not the browser's image menu.
    e.preventDefault();
    const graphCanvas = services.app.canvas;
    if (!graphCanvas?.processContextMenu) return;
    // LiteGraph keeps the canvas the pointer last went down on; none yet on a fresh page.
    graphCanvas.constructor.active_canvas ??= graphCanvas;
    graphCanvas.adjustMouseEvent?.(e);
    graphCanvas.processContextMenu(node, e);
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
