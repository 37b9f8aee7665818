// The head grid on a node: a DOM widget right under the node's "heads" text field, keeping the two
// in step both ways. This file is the controller: it feeds the node's and the pointer's events to
// the grid's state (head_grid_state.js), writes the edits back into the text field, and asks the
// view (head_grid_view.js) to show the result. What the graph around says comes from
// head_grid_sources.js.

import { AUTO } from "./head_layouts.js";
import { gridGeometry, hitTest } from "./head_grid_model.js";
import { GridState } from "./head_grid_state.js";
import { GridView, MESSAGE_HEIGHT, TOOLBAR_HEIGHT } from "./head_grid_view.js";
import { connectedPresets, headsLinked, modelFileName } from "./head_grid_sources.js";

export const GRID_WIDGET = "heads_grid";
export const PROPERTY = "headhunter_grid"; // node property: AUTO or the id of the grid picked
export const FOLDED = "headhunter_grid_folded"; // node property: the grid alone is folded
const MARGIN = 8; // the DOM widget's margin, each side (ComfyUI sizes the element height - 2 margins)
const SCROLLBAR = 12; // room for the horizontal scrollbar when the grid is wider than the node
const CONFIRM_DELAY_MS = 400; // one question to the server per pause in typing
// Upstream changes (another preset picked, a model swapped) raise no event on this node, so the
// graph around it is read when the node is drawn: at most this often, not on every frame of a pan.
const SOURCES_EVERY_MS = 250;

/**
 * Adds the grid under the node's "heads" field. services: {app, layouts: Promise<layout[]>,
 * presets: () => Promise<preset[]>, parse?: (text, layout) => Promise<answer>}. Returns the
 * controller (also kept as node.headhunterGrid).
 */
export function attachHeadGrid(node, services) {
  const headsWidget = node.widgets?.find((w) => w.name === "heads");
  if (!headsWidget || node.widgets.some((w) => w.name === GRID_WIDGET)) return null;
  node.properties ??= {};
  node.properties[PROPERTY] ??= AUTO;
  node.properties[FOLDED] ??= false;
  return new HeadGrid(node, headsWidget, services);
}

class HeadGrid {
  constructor(node, headsWidget, services) {
    this.node = node;
    this.headsWidget = headsWidget;
    this.services = services;
    this.state = new GridState();
    this.view = new GridView();
    this.width = 0; // the grid element's width, once laid out
    this.zoom = 1; // the graph's scale the canvas was last drawn at
    this.sources = ""; // signature of the graph around, when last read
    this.sourcesAt = -Infinity;
    this.sourcesTimer = null; // a read put off by SOURCES_EVERY_MS, so the last change is never missed
    this.confirmTimer = null;
    this.addWidget();
    this.listen();
    node.headhunterGrid = this;
    this.load();
    this.render();
  }

  addWidget() {
    const { node } = this;
    const height = () => this.widgetHeight();
    this.widget = node.addDOMWidget(GRID_WIDGET, "headhunter_grid", this.view.root, {
      serialize: false, // the text field is the value; the grid is a view of it (widget_values.js)
      hideOnZoom: true, // like ComfyUI's own widgets, no detail when the graph is zoomed far out
      margin: MARGIN,
      getMinHeight: height,
      getMaxHeight: height,
    });
    this.widget.serialize = false;
    // Right under the text field it edits.
    node.widgets.splice(node.widgets.indexOf(this.widget), 1);
    node.widgets.splice(node.widgets.indexOf(this.headsWidget) + 1, 0, this.widget);
    this.widget.options.onDraw = () => this.onDraw();
  }

  get folded() {
    return Boolean(this.node.properties[FOLDED]);
  }

  available() {
    return Math.max(0, this.width || this.node.size[0] - 2 * MARGIN);
  }

  geometry() {
    return this.state.layout && gridGeometry(this.available(), this.state.layout);
  }

  widgetHeight() {
    if (this.folded) return TOOLBAR_HEIGHT + 2 * MARGIN;
    const g = this.geometry();
    const scrollbar = g && g.width > this.available() ? SCROLLBAR : 0;
    return TOOLBAR_HEIGHT + (g?.height ?? 40) + scrollbar + MESSAGE_HEIGHT + 6 + 2 * MARGIN;
  }

  render() {
    const g = this.geometry();
    this.view.show(this.state, g, { folded: this.folded, scrolls: Boolean(g && g.width > this.available()), zoom: this.zoom });
  }

  resizeNode() {
    const { node } = this;
    const size = node.computeSize?.();
    if (size) node.setSize([Math.max(node.size[0], size[0]), Math.max(node.size[1], size[1])]);
    node.setDirtyCanvas?.(true, true);
  }

  // ---- text -> grid -------------------------------------------------------------------------

  /** Reads the text field into the grid (also after a load, paste or undo sets it). */
  readText() {
    const readable = this.state.read(this.headsWidget.value, headsLinked(this.node));
    this.render();
    if (readable) this.confirmWithServer();
  }

  // The server reads the text with the nodes' own parser (GET /headhunter/parse). The JavaScript
  // port agrees with it (tests/unit/test_web_grammar.py); asking as well catches a page whose cached
  // scripts are older than the pack.
  confirmWithServer() {
    clearTimeout(this.confirmTimer);
    const { text, layout } = this.state;
    if (!this.services.parse || !layout?.family || !text.trim()) return;
    this.confirmTimer = setTimeout(async () => {
      const answer = await this.services.parse(text, layout).catch(() => null);
      if (this.state.confirm(text, layout, answer)) this.render();
    }, CONFIRM_DELAY_MS);
  }

  // ---- grid -> text -------------------------------------------------------------------------

  /** An edit's outcome: the new text (runs readText through the widget's setValue), or a refusal to show. */
  write(text) {
    if (text === null) return this.render();
    this.headsWidget.value = text;
    // A multiline field reads itself back through setValue; a single-line one may not.
    if ((this.headsWidget.value ?? "") !== this.state.text) this.readText();
    this.node.setDirtyCanvas?.(true, false);
  }

  // ---- the graph around -----------------------------------------------------------------------

  /** What the graph around says: the presets feeding the node, the model file upstream, the choice. */
  readSources() {
    const { node } = this;
    const connected = connectedPresets(node, this.state.presets);
    const modelName = modelFileName(node);
    const choice = node.properties[PROPERTY] ?? AUTO;
    const signature = JSON.stringify([connected.map((p) => p.id), modelName, choice, headsLinked(node)]);
    return { connected, modelName, choice, signature };
  }

  chooseAndRead({ connected, modelName, choice }) {
    const changed = this.state.choose({ choice, connected, modelName });
    this.view.showChoices(this.state.choices(choice));
    this.readText();
    if (changed) this.resizeNode();
  }

  /** Re-reads the graph around; force: now, not at the next allowed time (a known change). */
  syncSources(force = false) {
    if (!this.state.layouts.length) return;
    // A single-line text widget (e.g. HeadHunter Sweep's range) is edited in a dialog, with no
    // event for us: notice the new value when the node is drawn.
    if ((this.headsWidget.value ?? "") !== this.state.text) this.readText();
    const wait = this.sourcesAt + SOURCES_EVERY_MS - performance.now();
    if (!force && wait > 0) {
      // The canvas may not draw again after this frame: read once more when the time comes.
      this.sourcesTimer ??= setTimeout(() => {
        this.sourcesTimer = null;
        this.syncSources(true);
      }, wait);
      return;
    }
    this.sourcesAt = performance.now();
    const sources = this.readSources();
    if (sources.signature !== this.sources) {
      this.sources = sources.signature;
      this.chooseAndRead(sources);
    }
  }

  /** Something around the node changed (a link, presets, a run): read it now. */
  refresh() {
    this.sources = "";
    this.syncSources(true);
  }

  onDraw() {
    this.syncSources();
    // Redraw at the graph's zoom, so the grid stays sharp when zoomed in.
    const zoom = this.services.app.canvas?.ds?.scale ?? 1;
    if (Math.abs(zoom - this.zoom) > 0.05) {
      this.zoom = zoom;
      this.render();
    }
  }

  /** The node's UI message after a run: the model's grid, search scores, head labels. */
  onExecuted(output) {
    this.state.takeRun(output);
    this.refresh();
  }

  /** Page coordinates of a cell's centre (head null: its layer number), for tests and tours. */
  cellCenter(layer, head) {
    return this.view.cellCenter(this.geometry(), layer, head);
  }

  // ---- events -------------------------------------------------------------------------------

  listen() {
    const { node, headsWidget, view, state } = this;
    const grid = this;
    const setValue = headsWidget.options.setValue;
    headsWidget.options.setValue = function (v) {
      setValue?.call(this, v);
      grid.readText();
    };
    (headsWidget.element ?? headsWidget.inputEl)?.addEventListener("input", () => this.readText());

    view.showFold(this.folded);
    view.fold.addEventListener("click", () => {
      node.properties[FOLDED] = !this.folded;
      view.showFold(this.folded);
      this.render();
      // Unfolded, the node grows if the grid does not fit; folded, it keeps its size and the
      // multiline text field takes the freed height.
      if (!this.folded) this.resizeNode();
      else node.setSize?.([...node.size]);
      node.setDirtyCanvas?.(true, true);
    });
    view.select.addEventListener("change", () => {
      node.properties[PROPERTY] = view.select.value;
      this.refresh();
    });
    view.clear.addEventListener("click", () => this.write(state.clear()));
    this.listenPointer();
    this.listenGraphGestures();

    const resizeObserver = new ResizeObserver(() => {
      const w = view.root.clientWidth;
      if (!w || w === this.width) return;
      this.width = w;
      this.render();
      // Wider cells make the grid taller: grow the node if it no longer fits.
      if (node.computeSize?.()[1] > node.size[1]) this.resizeNode();
    });
    resizeObserver.observe(view.root);
    const onRemoved = node.onRemoved;
    node.onRemoved = function (...args) {
      resizeObserver.disconnect();
      clearTimeout(grid.confirmTimer);
      clearTimeout(grid.sourcesTimer);
      return onRemoved?.apply(this, args);
    };
  }

  listenPointer() {
    const { view, state, services } = this;
    const canvas = view.canvas;
    const hitAt = (e) => {
      const p = view.pointIn(e);
      return { p, hit: hitTest(this.geometry(), p.x, p.y) };
    };
    canvas.addEventListener("pointerdown", (e) => {
      if (e.button === 1) return services.app.canvas?.processMouseDown?.(e); // middle button pans the graph
      if (e.button !== 0 || !state.layout) return;
      const { hit } = hitAt(e);
      if (!hit) return;
      const text = state.press(hit);
      if (state.drag) canvas.setPointerCapture(e.pointerId);
      this.write(text);
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!state.layout) return;
      const { p, hit } = hitAt(e);
      const text = state.dragTo(hit);
      if (text !== null) this.write(text);
      if (state.hoverAt(hit)) this.render();
      view.showTip(hit && state.tipLines(hit), p.x + p.ox, p.y + p.oy);
    });
    const endDrag = () => state.endDrag();
    canvas.addEventListener("pointerup", endDrag);
    canvas.addEventListener("pointercancel", endDrag);
    canvas.addEventListener("pointerleave", () => {
      state.hoverAt(null);
      view.showTip(null);
      this.render();
    });
  }

  /** Right-click and the wheel over the grid do what they do anywhere else on the graph. */
  listenGraphGestures() {
    const { node, view, services } = this;
    view.root.addEventListener("contextmenu", (e) => {
      // The node's menu, as anywhere else on the node, not the browser's image menu.
      e.preventDefault();
      const graphCanvas = services.app.canvas;
      if (!graphCanvas?.processContextMenu) return;
      // LiteGraph keeps the canvas the pointer last went down on; none yet on a fresh page.
      graphCanvas.constructor.active_canvas ??= graphCanvas;
      graphCanvas.adjustMouseEvent?.(e);
      graphCanvas.processContextMenu(node, e);
    });
    view.root.addEventListener("wheel", (e) => {
      // Zooming over the grid zooms the graph, as over any other widget.
      e.preventDefault();
      services.app.canvas?.processMouseWheel?.(e);
    });
  }

  /** The layouts and presets from the server; the grid works without presets. */
  load() {
    const { state, services } = this;
    Promise.resolve(services.layouts)
      .then((layouts) => {
        state.layouts = layouts;
        this.refresh();
      })
      .catch((e) => {
        state.flash = `HeadHunter grid unavailable: ${e.message ?? e}`;
        this.render();
      });
    Promise.resolve(services.presets?.())
      .then((presets) => {
        state.presets = presets ?? [];
        this.refresh();
      })
      .catch(() => {}); // no presets (yet)
  }
}
