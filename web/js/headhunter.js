// HeadHunter's frontend extension: puts the head grid on every HeadHunter node that has a "heads"
// text field (HeadHunterPerturbedAttention, HeadHunterGuider, HeadHunterHeads, and nodes to come),
// and passes each run's UI message (model grid, search scores, head labels) to it.

import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

import { attachHeadGrid } from "./head_grid_widget.js";
import { layoutsFromPayload } from "./head_layouts.js";
import { compactValues, valuesFromIndexedFile } from "./widget_values.js";

const NODE_PREFIX = "HeadHunter";
const HEADS_INPUT = "heads";

async function getJson(route) {
  const response = await api.fetchApi(route, { cache: "no-store" });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ?? `${route}: HTTP ${response.status}`);
  return body;
}

let layouts = null;
let presets = null;
const services = {
  app,
  // Fetched once per page; a failed fetch is forgotten so that the next grid asks again.
  get layouts() {
    layouts ??= getJson("/headhunter/architectures").then(layoutsFromPayload).catch((e) => {
      layouts = null;
      throw e;
    });
    return layouts;
  },
  /** The server's reading of head text for a layout: {valid, ...} or {error}. */
  async parse(text, layout) {
    const query = new URLSearchParams({ text, arch: layout.arch, family: layout.family });
    const response = await api.fetchApi(`/headhunter/parse?${query}`, { cache: "no-store" });
    return response.json();
  },
  presets() {
    presets ??= getJson("/headhunter/presets").then((body) => body.presets ?? []).catch((e) => {
      presets = null;
      throw e;
    });
    return presets;
  },
};

function chain(proto, name, after) {
  const before = proto[name];
  proto[name] = function (...args) {
    const result = before?.apply(this, args);
    after.apply(this, args);
    return result;
  };
}

function takesHeadText(nodeData) {
  if (!nodeData?.name?.startsWith(NODE_PREFIX)) return false;
  const spec = nodeData.input?.required?.[HEADS_INPUT] ?? nodeData.input?.optional?.[HEADS_INPUT];
  return spec?.[0] === "STRING";
}

app.registerExtension({
  name: "HeadHunter.HeadGrid",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!takesHeadText(nodeData)) return;
    chain(nodeType.prototype, "onNodeCreated", function () {
      attachHeadGrid(this, services);
    });
    chain(nodeType.prototype, "onExecuted", function (output) {
      this.headhunterGrid?.onExecuted(output);
    });
    chain(nodeType.prototype, "onConnectionsChange", function () {
      this.headhunterGrid?.refresh();
    });
    // Saving, copying, cloning and undo all go through serialize / configure (widget_values.js).
    chain(nodeType.prototype, "onSerialize", function (o) {
      if (this.headhunterGrid) o.widgets_values = compactValues(this.widgets, o.widgets_values);
    });
    chain(nodeType.prototype, "onConfigure", function (info) {
      if (!this.headhunterGrid) return;
      const values = valuesFromIndexedFile(this.widgets, info?.widgets_values);
      if (!values) return;
      this.widgets.filter((w) => w.serialize !== false).forEach((w, i) => (w.value = values[i]));
      info.widgets_values = values;
      this.headhunterGrid.readText();
    });
  },
  async refreshComboInNodes() {
    // ComfyUI's "refresh node definitions" (R): presets may have been saved since.
    presets = null;
    const list = await services.presets().catch(() => []);
    for (const node of app.graph?.nodes ?? []) {
      if (node.headhunterGrid) {
        node.headhunterGrid.state.presets = list;
        node.headhunterGrid.refresh();
      }
    }
  },
});
