// What one head grid knows, and every decision it makes, without a DOM or a graph: which layout it
// draws and why, the selection read from the node's "heads" text, the run's scores and labels,
// the preset marks, the pointer's drag, and the words the toolbar, message line and tooltip show.
// head_grid_widget.js feeds it events from the node; head_grid_view.js shows it. Pure, so that
// web/tests/head_grid_state.test.mjs can drive it as a user would.

import { canonicalText, headKey, headName, headsOf, readHeads } from "./head_text.js";
import { AUTO, blockOf, chooseLayout, layoutLabel, layoutSize, normalizeLayout } from "./head_layouts.js";
import { cellsBetween, labelMap, presetMarks, scoreHeat, scoreMap, setCells, targetLegend, toggleLayer } from "./head_grid_model.js";

const NO_HEADS = { selection: new Map(), targets: new Map(), error: null };

export class GridState {
  constructor() {
    this.layouts = []; // every layout the server knows (GET /headhunter/architectures)
    this.layout = null; // the one drawn
    this.reason = ""; // why it was chosen (the status line's tooltip)
    this.executed = null; // layout of the model of the last run (node UI message)
    this.presets = []; // every preset the server knows (GET /headhunter/presets)
    this.marks = new Map(); // "layer,head" -> labels of the connected presets naming that head
    this.text = ""; // the heads text the selection was read from
    this.linked = false; // the heads input comes from a link: the text field is not what runs
    this.selection = new Map(); // "layer,head" -> u (null: the node's)
    this.targets = new Map(); // "layer,head" -> the target the text names for that head (L14H7:uniform)
    this.error = null; // why the text could not be read for this layout
    this.flash = null; // a refused edit's answer, until the next edit or readable text
    this.heat = new Map(); // the run's search scores, 0..1
    this.scores = new Map(); // ... and as the search reported them
    this.runLabels = new Map(); // the run's words on single heads
    this.hover = null; // {layer, head} under the pointer (head null: the layer number)
    this.drag = null; // {on, last}: a drag switches every cell it crosses on, or every one off
  }

  get editable() {
    return !this.error && !this.linked;
  }

  /** Reads the node's text. True when the selection stands (worth asking the server to confirm). */
  read(text, linked) {
    this.text = text ?? "";
    this.linked = linked;
    if (!this.layout) return false;
    // With a link the text field is not what runs: show no selection rather than a stale one.
    const { selection, targets, error } = linked ? NO_HEADS : readHeads(this.text, this.layout);
    this.selection = selection;
    this.targets = targets;
    this.error = error;
    if (this.editable) this.flash = null; // "Fix the text first" is answered
    return this.editable;
  }

  /** The server's reading, for the text and layout it was asked about; ignored once either moved on. */
  confirm(text, layout, answer) {
    if (!answer?.error || text !== this.text || layout !== this.layout || this.error) return false;
    this.error = answer.error;
    return true;
  }

  /**
   * Picks the layout from what the graph says: the node's choice, the presets connected to it
   * (objects from this.presets) and the model file upstream. True when the grid changed shape.
   */
  choose({ choice = AUTO, connected = [], modelName = null }) {
    const preset = connected.find((p) => p.family) ?? null;
    const chosen = chooseLayout({
      choice,
      layouts: this.layouts,
      executed: this.executed,
      presetFamily: preset?.family,
      presetName: preset?.name,
      modelName,
    });
    const changed = chosen.layout?.id !== this.layout?.id || chosen.layout?.layers !== this.layout?.layers;
    this.layout = chosen.layout;
    this.reason = chosen.reason;
    this.marks = this.layout ? presetMarks(connected, this.layout) : new Map();
    return changed;
  }

  /** The node's UI message after a run: the model's grid, search scores, head labels. */
  takeRun(output) {
    const layout = output?.headhunter_layout?.[0];
    if (layout) this.executed = normalizeLayout(layout);
    const scores = output?.headhunter_scores ?? [];
    this.heat = scoreHeat(scores);
    this.scores = scoreMap(scores);
    this.runLabels = labelMap(output?.headhunter_labels ?? []);
  }

  // ---- edits: each returns the text to write, or null when refused (this.flash then says why) ----

  /** The text for a selection. Heads keep the targets their text named; new heads take the node's. */
  textFor(selection) {
    return canonicalText(selection, this.layout, this.targets);
  }

  refuse() {
    this.flash = this.linked ? "The heads come from a link: edit them at their source." : `Fix the text first: ${this.error}`;
    return null;
  }

  clear() {
    if (!this.layout) return null;
    return this.editable ? this.textFor(new Map()) : this.refuse();
  }

  /** A press on a cell (or a layer number, head null): starts a drag that sets what the first cell flips to. */
  press(hit) {
    this.flash = null;
    this.drag = null;
    if (!this.editable) return this.refuse();
    if (hit.head === null) return this.textFor(toggleLayer(this.selection, hit.layer, this.layout));
    const on = !this.selection.has(headKey(hit.layer, hit.head));
    this.drag = { on, last: hit };
    return this.textFor(setCells(this.selection, [hit], on, this.layout));
  }

  /** The pointer moved onto hit while dragging: every cell on the way takes the drag's state. */
  dragTo(hit) {
    if (!this.drag || !hit || hit.head === null) return null;
    const cells = cellsBetween(this.drag.last, hit);
    this.drag.last = hit;
    return this.textFor(setCells(this.selection, cells, this.drag.on, this.layout));
  }

  endDrag() {
    this.drag = null;
  }

  /** True when the hovered cell changed (the grid redraws its frame). */
  hoverAt(hit) {
    const same = hit === this.hover || (hit && this.hover && hit.layer === this.hover.layer && hit.head === this.hover.head);
    this.hover = hit;
    return !same;
  }

  // ---- words ---------------------------------------------------------------------------------

  /** The toolbar's status: {text, title}. */
  status() {
    if (!this.layout) return { text: "loading grids\u2026", title: "" };
    const count = this.selection.size;
    const fromPresets = this.marks.size ? ` + ${this.marks.size} from presets` : "";
    const heads = this.linked ? "heads from a link" : this.error ? "text not read" : `${count} head${count === 1 ? "" : "s"}${fromPresets}`;
    return { text: `${heads} \u00b7 ${layoutSize(this.layout)}`, title: `${this.layout.description}\ngrid chosen by: ${this.reason}` };
  }

  /** The line under the grid: {text, error}. scrolls: the grid is wider than the node. */
  message(scrolls = false) {
    const error = this.flash ?? this.error;
    if (error) return { text: error, error: true };
    if (!this.layout) return { text: "", error: false };
    const hint = this.linked
      ? "the heads come from the linked input: the grid shows no selection (presets and scores still show)"
      : "click or drag to toggle heads \u00b7 click a layer number for the whole layer" + (scrolls ? " \u00b7 scroll sideways for more layers" : "");
    return { text: hint, error: false };
  }

  /** [letter, target] for each target the text gives its own heads (none while it shows no selection). */
  targetLegend() {
    return this.linked || this.error ? [] : targetLegend(this.targets);
  }

  /** The tooltip's lines for a cell or a layer number. */
  tipLines({ layer, head }) {
    const block = blockOf(this.layout, layer);
    // U-Nets: the server's own label ("output block 3, transformer 1"); DiTs: "single block 0".
    const where = this.layout.layerKeys?.[layer]?.length > 2 ? this.layout.layerLabels[layer]
      : block ? `${block.group} block ${block.index}` : null;
    if (head === null) return [`layer L${layer}${where ? ` (${where})` : ""}: click to toggle all ${headsOf(this.layout, layer)} heads`];
    const k = headKey(layer, head);
    const on = this.selection.has(k);
    const u = this.selection.get(k);
    const lines = [`${headName(layer, head)}${where ? `  \u00b7 ${where}` : ""}${on ? `  \u00b7 on${u === null ? "" : `, u=${u}`}` : ""}`];
    if (on) lines.push(this.targets.has(k) ? `target ${this.targets.get(k)}` : "target: the node's");
    if (this.scores.has(k)) lines.push(`search score ${Number(this.scores.get(k).toPrecision(4))}`);
    lines.push(...(this.marks.get(k) ?? []));
    if (this.runLabels.has(k)) lines.push(this.runLabels.get(k));
    return lines;
  }

  /**
   * The grid picker's entries: {value, label} for auto, then groups {label, options} by
   * architecture (and "last run"), and the value to show (auto where the choice is not offered).
   */
  choices(choice = AUTO) {
    const auto = { value: AUTO, label: `auto: ${this.layout && choice === AUTO ? layoutLabel(this.layout) : "from model / preset"}` };
    const byArch = new Map();
    for (const l of this.layouts) {
      if (!byArch.has(l.archName)) byArch.set(l.archName, []);
      byArch.get(l.archName).push(l);
    }
    if (this.executed) byArch.set("last run", [this.executed]);
    const groups = [...byArch].map(([label, layouts]) => ({ label, options: layouts.map((l) => ({ value: l.id, label: layoutLabel(l) })) }));
    const offered = groups.some((g) => g.options.some((o) => o.value === choice));
    return { auto, groups, value: offered ? choice : AUTO };
  }
}
