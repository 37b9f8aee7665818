import assert from "node:assert/strict";
import { test } from "node:test";

import {
  GUTTER_BOTTOM, GUTTER_LEFT, GUTTER_TOP, MAX_CELL, MIN_CELL, PAD, cellsBetween, gridGeometry, heatColor, hitTest, labelMap, presetMarks,
  scoreHeat, setCells, toggleLayer,
} from "../js/head_grid_model.js";
import { canonicalText, readHeads } from "../js/head_text.js";
import { FLUX, SD3, SD35L, layout, names } from "./helpers.mjs";

test("geometry fits the width, within the cell size limits", () => {
  const g = gridGeometry(600, FLUX);
  assert.equal(g.cell, Math.floor((600 - GUTTER_LEFT - 2 * PAD) / 57));
  assert.ok(g.width <= 600);
  // Narrower, FLUX keeps cells that can be aimed at and grows wider than the node (it scrolls).
  assert.equal(gridGeometry(400, FLUX).cell, MIN_CELL);
  assert.ok(MIN_CELL >= 9 && gridGeometry(400, FLUX).width > 400);
  assert.equal(g.height, GUTTER_TOP + 2 * PAD + 24 * g.cell + GUTTER_BOTTOM); // room to name double | single
  assert.equal(gridGeometry(400, SD3).height, GUTTER_TOP + 2 * PAD + 24 * gridGeometry(400, SD3).cell);
  assert.equal(gridGeometry(10000, SD3).cell, MAX_CELL);
  assert.equal(gridGeometry(50, SD35L).cell, MIN_CELL);
});

test("hit testing cells, the layer strip and outside", () => {
  const g = gridGeometry(400, SD3);
  const at = (layer, head) => hitTest(g, g.left + layer * g.cell + g.cell / 2, g.top + head * g.cell + g.cell / 2);
  assert.deepEqual(at(0, 0), { layer: 0, head: 0 });
  assert.deepEqual(at(14, 13), { layer: 14, head: 13 });
  assert.deepEqual(at(23, 23), { layer: 23, head: 23 });
  assert.deepEqual(hitTest(g, g.left + 5 * g.cell + 1, 3), { layer: 5, head: null });
  assert.equal(hitTest(g, 2, g.top + 3), null); // head numbers
  assert.equal(hitTest(g, g.left + 24 * g.cell + 1, g.top + 3), null);
  assert.equal(hitTest(g, g.left + 3, g.top + 24 * g.cell + 1), null);
});

test("every one of FLUX's 1368 cells is reachable and distinct", () => {
  const g = gridGeometry(700, FLUX);
  const seen = new Set();
  for (let l = 0; l < 57; l++)
    for (let h = 0; h < 24; h++) {
      const hit = hitTest(g, g.left + l * g.cell + 1, g.top + h * g.cell + 1);
      assert.deepEqual(hit, { layer: l, head: h });
      seen.add(`${hit.layer},${hit.head}`);
    }
  assert.equal(seen.size, 1368);
});

test("a drag between two cells covers the line between them", () => {
  assert.deepEqual(cellsBetween({ layer: 0, head: 0 }, { layer: 3, head: 0 }).map((c) => c.layer), [0, 1, 2, 3]);
  assert.deepEqual(cellsBetween({ layer: 2, head: 2 }, { layer: 2, head: 2 }), [{ layer: 2, head: 2 }]);
  const diag = cellsBetween({ layer: 0, head: 0 }, { layer: 2, head: 4 });
  assert.equal(diag.length, 5);
  assert.deepEqual(diag.at(-1), { layer: 2, head: 4 });
});

test("toggling keeps other heads and their u; text follows in canonical form", () => {
  let sel = readHeads("L0H1@0.5, L3H2", SD3).selection;
  sel = setCells(sel, [{ layer: 3, head: 3 }, { layer: 3, head: 4 }], true);
  assert.equal(canonicalText(sel, SD3), "L0H1@0.5, L3H2-4");
  sel = setCells(sel, [{ layer: 0, head: 1 }], true); // already on: keeps u
  sel = setCells(sel, [{ layer: 3, head: 3 }], false);
  assert.equal(canonicalText(sel, SD3), "L0H1@0.5, L3H2, L3H4");
  assert.deepEqual(names(readHeads(canonicalText(sel, SD3), SD3).selection), names(sel));
});

test("a click on the layer numbers toggles the whole layer", () => {
  let sel = readHeads("L5H3", SD3).selection;
  sel = toggleLayer(sel, 5, SD3);
  assert.equal(canonicalText(sel, SD3), "L5");
  sel = toggleLayer(sel, 5, SD3);
  assert.equal(canonicalText(sel, SD3), "");
  assert.equal(canonicalText(toggleLayer(new Map(), 40, FLUX), FLUX), "L40");
});

test("score heat: min-max normalised, both payload shapes, junk skipped", () => {
  const heat = scoreHeat([{ head: "L1H2", score: 2 }, { head: "L0H0", score: 4 }, { head: "L3H3", score: 3 }, { head: "x", score: 9 }]);
  assert.deepEqual([...heat], [["1,2", 0], ["0,0", 1], ["3,3", 0.5]]);
  assert.deepEqual([...scoreHeat({ L14H13: 0.7 })], [["14,13", 1]]);
  assert.equal(scoreHeat(null).size, 0);
  assert.equal(heatColor(0), "rgba(68, 1, 84, 1)");
  assert.equal(heatColor(1, 0.5), "rgba(253, 231, 37, 0.5)");
  assert.equal(heatColor(2), heatColor(1));
});

test("labels and preset marks", () => {
  assert.deepEqual([...labelMap({ L18H11: "golden hour", bogus: "x" })], [["18,11", "golden hour"]]);
  const marks = presetMarks(
    [
      { name: "Golden", heads: "L18H11, L0H17, L2H3", labels: { L18H11: "golden hour" } },
      { name: "Bloom", heads: "L0H2, L18H11", labels: {} },
      { name: "Big", heads: "L1H1, L37H37", labels: { L1H1: "x" } },
    ],
    SD3,
  );
  assert.deepEqual(marks.get("18,11"), ["golden hour (Golden)", "Bloom"]);
  assert.deepEqual(marks.get("0,17"), ["Golden"]);
  assert.deepEqual(marks.get("0,2"), ["Bloom"]);
  // Big's text does not fit SD3 (an SD3.5-large head): only its in-range labelled head is drawn.
  assert.deepEqual(marks.get("1,1"), ["x (Big)"]);
  assert.equal(marks.size, 5);
});

test("SDXL: columns as long as each layer's heads; the cells below are absent, not clickable", () => {
  const SDXL = layout("sdxl");
  const g = gridGeometry(900, SDXL);
  assert.equal(g.heads, 20);
  const at = (l, h) => hitTest(g, g.left + l * g.cell + g.cell / 2, g.top + h * g.cell + g.cell / 2);
  let cells = 0;
  for (let l = 0; l < 70; l++) for (let h = 0; h < 20; h++) if (at(l, h)) cells++;
  // The table's SDXL: 4 + 6 layers of 10 heads, 60 of 20.
  assert.equal(cells, 10 * 10 + 60 * 20);
  assert.deepEqual(at(3, 9), { layer: 3, head: 9 });
  assert.equal(at(3, 10), null); // input block 5, transformer 1 has 10 heads
  assert.deepEqual(at(4, 19), { layer: 4, head: 19 });
  assert.equal(at(69, 12), null);
  // A whole layer is its own heads; a drag across the step keeps to heads that exist.
  const whole = toggleLayer(new Map(), 65, SDXL);
  assert.equal(whole.size, 10);
  assert.equal(canonicalText(whole, SDXL), "L65");
  const dragged = setCells(new Map(), cellsBetween({ layer: 62, head: 15 }, { layer: 66, head: 15 }), true, SDXL);
  assert.deepEqual(names(dragged), ["L62H15", "L63H15"]);
  // L63 (output block 2, 20 heads) and L64-65 (output block 3, 10 heads each): three whole layers.
  assert.equal(canonicalText(toggleLayer(toggleLayer(whole, 64, SDXL), 63, SDXL), SDXL), "L63-65");
});
