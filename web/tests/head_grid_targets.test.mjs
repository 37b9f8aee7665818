// The grid and per-head targets: clicks keep the targets the text names, the grid knows which
// letter to draw and what the legend says; one head-key helper in the whole widget (issue 14, 3).
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";

import { TARGET_LETTERS, setCells, targetLegend, targetLetter, toggleLayer } from "../js/head_grid_model.js";
import { TARGET_KINDS, canonicalText, headKey, headName, parseHeadName, parseKey, readHeads } from "../js/head_text.js";
import { SD3, layout } from "./helpers.mjs";

/** What the widget does on a click: read the text, change the cells, write the text back. */
function click(text, lay, cells, on) {
  const read = readHeads(text, lay);
  assert.equal(read.error, null);
  return canonicalText(setCells(read.selection, cells, on, lay), lay, read.targets);
}

test("a click elsewhere keeps every target the text names", () => {
  const text = "L14H7:uniform@0.5, L3-4:seg(4), L2H1:temperature(2), L0H3:mask(II), L20H0";
  const written = click(text, SD3, [{ layer: 10, head: 5 }], true);
  assert.equal(written, "L0H3:mask(II), L2H1:temperature(2), L3-4:seg(4), L10H5, L14H7:uniform@0.5, L20H0");
  // Read back, the same heads with the same targets, plus the new head without one.
  const before = readHeads(text, SD3), after = readHeads(written, SD3);
  assert.deepEqual([...after.targets].sort(), [...before.targets].sort());
  assert.equal(after.selection.size, before.selection.size + 1);
  assert.equal(after.targets.has(headKey(10, 5)), false);
});

test("switching one head of a whole-layer target off keeps the target on the rest", () => {
  const written = click("L3:seg(4)", SD3, [{ layer: 3, head: 5 }], false);
  assert.equal(written, "L3H0-4:seg(4), L3H6-23:seg(4)");
  // ...and back on, the text names the head without a target (the node's then applies).
  assert.equal(click(written, SD3, [{ layer: 3, head: 5 }], true), "L3H0-4:seg(4), L3H5, L3H6-23:seg(4)");
  // A switched-off head loses its target.
  assert.equal(click("L1H1:max, L1H2", SD3, [{ layer: 1, head: 1 }], false), "L1H2");
});

test("a whole layer clicked on keeps the other heads' targets; U-Net texts too", () => {
  const read = readHeads("L5H2:uniform", SD3);
  assert.equal(canonicalText(toggleLayer(read.selection, 7, SD3), SD3, read.targets), "L5H2:uniform, L7");
  const sdxl = layout("sdxl");
  const unet = readHeads("mid.1H3:slerp@0.5", sdxl);
  assert.equal(unet.error, null);
  const next = setCells(unet.selection, [{ layer: 0, head: 0 }], true, sdxl);
  assert.equal(canonicalText(next, sdxl, unet.targets), "L0H0, L25H3:slerp@0.5");
});

test("every target kind has its own letter", () => {
  assert.deepEqual(Object.keys(TARGET_LETTERS).sort(), [...TARGET_KINDS].sort());
  assert.equal(new Set(Object.values(TARGET_LETTERS)).size, TARGET_KINDS.length);
  assert.equal(targetLetter("seg(4)"), "S");
  assert.equal(targetLetter("mask(II)"), "K");
  assert.equal(targetLetter("temperature(0.5)"), "T");
  assert.equal(targetLetter("bogus"), "?");
});

test("the legend names each target once, in the grid's order", () => {
  const { targets } = readHeads("L9H0:uniform, L2H1:seg(4), L3:seg(4), L1H0:seg(2)", SD3);
  assert.deepEqual(targetLegend(targets), [["S", "seg(2)"], ["S", "seg(4)"], ["U", "uniform"]]);
  assert.deepEqual(targetLegend(new Map()), []);
});

test("head names and grid keys, each written and read by one helper", () => {
  assert.equal(headName(14, 13), "L14H13");
  assert.equal(headName(5), "L5");
  assert.deepEqual(parseHeadName("L14H13"), [14, 13]);
  assert.deepEqual(parseHeadName("l5"), [5, null]);
  assert.equal(parseHeadName("L5H"), null);
  assert.equal(parseHeadName("14,13"), null);
  assert.deepEqual(parseKey(headKey(3, 7)), [3, 7]);
  for (const [l, h] of [[0, 0], [56, 23], [69, 9]]) assert.deepEqual(parseHeadName(headName(l, h)), [l, h]);
});

test("no widget module spells or splits head keys by hand", () => {
  const dir = new URL("../js/", import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".js") && f !== "head_text.js")) {
    const source = readFileSync(new URL(file, dir), "utf8");
    assert.doesNotMatch(source, /split\(","\)/, `${file} splits a head key by hand`);
    assert.doesNotMatch(source, /L\(\\d\+\)H\(\\d\+\)/, `${file} parses head names by hand`);
    assert.doesNotMatch(source, /`L\$\{[^}]*\}H\$\{/, `${file} formats head names by hand`);
  }
  // That the grid hands the text's targets back when it rewrites the text is checked on the grid's
  // state itself, as a click does it (head_grid_state.test.mjs).
});
