// The saved-values fix against the real file: the Perturbed Attention node (heads, grid,
// scale, softpag_u, start, end, rescale, perturb_tokens) saved by the release whose grid left a
// null. The browser test (tests/browser/test_browser.py) checks the same against both real frontends.
import { test } from "node:test";
import assert from "node:assert/strict";

import { compactValues, valuesFromIndexedFile } from "../js/widget_values.js";

const widget = (serialize = true) => ({ serialize: serialize ? undefined : false });
const NODE = [widget(), widget(false), widget(), widget(), widget(), widget(), widget(), widget()];
const OLD_FILE = ["L3H0-5, L14H7", null, 3, 1, 0, 1, 0, "all tokens (paper)"];
const VALUES = ["L3H0-5, L14H7", 3, 1, 0, 1, 0, "all tokens (paper)"];

test("a file with the grid's null slot is read by index", () => {
  assert.deepEqual(valuesFromIndexedFile(NODE, OLD_FILE), VALUES);
});

test("a compact file is left to the frontend", () => {
  assert.equal(valuesFromIndexedFile(NODE, VALUES), null);
  assert.equal(valuesFromIndexedFile(NODE, undefined), null);
  // Not the indexed form: a value where the grid's null would be.
  assert.equal(valuesFromIndexedFile(NODE, ["L1", 5, 3, 1, 0, 1, 0, "x"]), null);
});

test("saving drops the hole the frontend leaves for the grid", () => {
  const written = [];
  NODE.forEach((w, i) => { if (w.serialize !== false) written[i] = VALUES[i < 1 ? i : i - 1]; });
  assert.equal(written.length, 8);
  assert.deepEqual(compactValues(NODE, written), VALUES);
});

test("a grid placed anywhere (Guider: cfg before heads) is handled alike", () => {
  const guider = [widget(), widget(), widget(false), widget(), widget()];
  assert.deepEqual(valuesFromIndexedFile(guider, [1, "L35H8", null, 8, "batched"]), [1, "L35H8", 8, "batched"]);
});
