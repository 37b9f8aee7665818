// The grid's state driven as a user drives the widget: a model upstream, text typed, clicks and
// drags, a link, a run's scores, the server's second opinion. The expected texts and selections are
// written out by hand or read back with head_text.js's parser, not taken from the state itself.
import assert from "node:assert/strict";
import { test } from "node:test";

import { AUTO } from "../js/head_layouts.js";
import { GridState } from "../js/head_grid_state.js";
import { readHeads } from "../js/head_text.js";
import { FLUX, LAYOUTS, SD3, layout, names } from "./helpers.mjs";

function stateWith(layouts = LAYOUTS) {
  const state = new GridState();
  state.layouts = layouts;
  return state;
}

/** The state after an edit's text is written to the field and read back, as the widget does. */
function apply(state, text) {
  assert.notEqual(text, null, state.flash);
  state.read(text, false);
  return text;
}

test("the layout follows the model file, a connected preset and the run, in that order of strength", () => {
  const state = stateWith();
  assert.equal(state.choose({ modelName: "flux1-dev.safetensors" }), true);
  assert.equal(state.layout, FLUX);
  assert.match(state.reason, /a guess from its name/);
  const preset = { id: "sd3-style", name: "SD3 style", family: "sd3-medium", heads: "L0H1, L2H3" };
  assert.equal(state.choose({ modelName: "flux1-dev.safetensors", connected: [preset] }), true);
  assert.equal(state.layout, SD3);
  assert.equal(state.reason, "preset 'SD3 style'");
  assert.deepEqual([...state.marks.keys()].sort(), ["0,1", "2,3"]);
  assert.equal(state.choose({ modelName: "flux1-dev.safetensors", connected: [preset] }), false); // unchanged
  state.takeRun({ headhunter_layout: [FLUX] });
  state.choose({ modelName: "sd3_medium.safetensors", connected: [preset] });
  assert.equal(state.layout.id, FLUX.id);
  assert.equal(state.reason, "the model of the last run");
  // Picked by hand, a layout wins over everything.
  state.choose({ choice: SD3.id });
  assert.equal(state.layout, SD3);
  assert.equal(state.reason, "chosen");
});

test("clicks and drags write the text a user would type", () => {
  const state = stateWith();
  state.choose({ choice: SD3.id });
  state.read("L14H7@0.5", false);
  assert.deepEqual(names(state.selection), ["L14H7@0.5"]);
  // A press switches one head on and starts a drag that switches on every cell it crosses.
  apply(state, state.press({ layer: 2, head: 0 }));
  assert.deepEqual(state.drag.on, true);
  apply(state, state.dragTo({ layer: 2, head: 3 }));
  assert.equal(state.text, "L2H0-3, L14H7@0.5");
  assert.equal(state.dragTo({ layer: 2, head: null }), null); // the layer strip is not a cell
  state.endDrag();
  assert.equal(state.dragTo({ layer: 5, head: 5 }), null); // no drag, no edit
  // Pressing a selected head starts a drag that switches heads off.
  apply(state, state.press({ layer: 2, head: 1 }));
  assert.equal(state.drag.on, false);
  apply(state, state.dragTo({ layer: 2, head: 2 }));
  assert.equal(state.text, "L2H0, L2H3, L14H7@0.5");
  state.endDrag();
  // A layer number toggles the whole layer, without a drag.
  apply(state, state.press({ layer: 9, head: null }));
  assert.equal(state.drag, null);
  assert.equal(readHeads(state.text, SD3).selection.size, 2 + 1 + 24);
  assert.equal(apply(state, state.clear()), "");
  assert.equal(state.selection.size, 0);
});

test("a head switched on by the grid takes the node's target; the text's own targets stay", () => {
  const state = stateWith();
  state.choose({ choice: SD3.id });
  state.read("L3:seg(4), L14H7:uniform", false);
  apply(state, state.press({ layer: 10, head: 5 }));
  assert.equal(state.text, "L3:seg(4), L10H5, L14H7:uniform");
  assert.deepEqual(state.targetLegend(), [["S", "seg(4)"], ["U", "uniform"]]);
  assert.deepEqual(state.tipLines({ layer: 10, head: 5 }), ["L10H5  \u00b7 on", "target: the node's"]);
  assert.deepEqual(state.tipLines({ layer: 14, head: 7 }), ["L14H7  \u00b7 on", "target uniform"]);
});

test("unreadable text and linked heads refuse edits and say why", () => {
  const state = stateWith();
  state.choose({ choice: SD3.id });
  assert.equal(state.read("L99H0", false), false); // SD3 has 24 layers
  assert.ok(state.error);
  assert.equal(state.status().text, "text not read \u00b7 24\u00d724");
  assert.equal(state.press({ layer: 0, head: 0 }), null);
  assert.equal(state.flash, `Fix the text first: ${state.error}`);
  assert.deepEqual(state.message(), { text: state.flash, error: true });
  assert.equal(state.clear(), null);
  assert.equal(state.read("L1H1", false), true); // fixed: the refusal is answered
  assert.equal(state.flash, null);
  assert.deepEqual(state.message(), { text: "click or drag to toggle heads \u00b7 click a layer number for the whole layer", error: false });
  assert.match(state.message(true).text, /scroll sideways/);

  assert.equal(state.read("L1H1", true), false);
  assert.equal(state.selection.size, 0); // the text field is not what runs: no stale selection
  assert.equal(state.status().text, "heads from a link \u00b7 24\u00d724");
  assert.equal(state.press({ layer: 0, head: 0 }), null);
  assert.equal(state.flash, "The heads come from a link: edit them at their source.");
  assert.equal(state.drag, null);
});

test("the server's reading counts only for the text and layout it was asked about", () => {
  const state = stateWith();
  state.choose({ choice: SD3.id });
  state.read("L1H1", false);
  const asked = [state.text, state.layout];
  state.read("L1H2", false); // typed on while the question was out
  assert.equal(state.confirm(...asked, { error: "old" }), false);
  assert.equal(state.error, null);
  assert.equal(state.confirm(state.text, state.layout, { valid: true }), false);
  assert.equal(state.confirm(state.text, state.layout, { error: "the server says no" }), true);
  assert.equal(state.error, "the server says no");
});

test("a run's scores and labels reach the tooltip; status and picker name the grid", () => {
  const state = stateWith();
  state.choose({ choice: AUTO, modelName: "sd3_medium.safetensors" });
  state.read("L0H1", false);
  state.takeRun({
    headhunter_scores: [{ head: "L0H1", score: 0.5 }, { head: "L3H4", score: 0.123456 }],
    headhunter_labels: [{ head: "L3H4", label: "picked in round 2" }],
  });
  assert.equal(state.heat.size, 2);
  assert.deepEqual(state.tipLines({ layer: 3, head: 4 }), ["L3H4", "search score 0.1235", "picked in round 2"]);
  assert.deepEqual(state.tipLines({ layer: 3, head: null }), ["layer L3: click to toggle all 24 heads"]);
  assert.equal(state.status().text, "1 head \u00b7 24\u00d724");
  const { auto, groups, value } = state.choices(AUTO);
  assert.equal(value, AUTO);
  assert.match(auto.label, /^auto: /);
  assert.ok(groups.some((g) => g.options.some((o) => o.value === SD3.id)));
  assert.equal(state.choices("no-such-grid").value, AUTO);
  assert.equal(state.choices(SD3.id).value, SD3.id);
  state.takeRun({ headhunter_layout: [layout("sd3-medium")] });
  assert.deepEqual(state.choices().groups.at(-1).label, "last run");
});

test("FLUX's tooltip names the block group of a layer", () => {
  const state = stateWith();
  state.choose({ choice: FLUX.id });
  state.read("", false);
  assert.deepEqual(state.tipLines({ layer: 19, head: 0 }), ["L19H0  \u00b7 single block 0"]);
  assert.equal(state.hoverAt({ layer: 19, head: 0 }), true);
  assert.equal(state.hoverAt({ layer: 19, head: 0 }), false);
  assert.equal(state.hoverAt(null), true);
});
