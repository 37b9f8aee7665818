import assert from "node:assert/strict";
import { test } from "node:test";

import { HeadSet, HeadRangeError, HeadSyntaxError, canonicalText, formatG, parseFor, readHeads } from "../js/head_text.js";
import { FLUX, SD3, layout, names } from "./helpers.mjs";

const pairs = (text, layout = SD3) => parseFor(text, layout).resolve(layout).map(([l, h]) => [l, h]);
const range = (n) => [...Array(n).keys()];

test("single heads, case and separators", () => {
  assert.deepEqual(pairs("L14H13, l0h2;L1H10\nL13H17  L0H23"), [[14, 13], [0, 2], [1, 10], [13, 17], [0, 23]]);
});

test("whole layers: L5, L5H*, l5h*", () => {
  for (const text of ["L5", "L5H*", "l5h*"]) assert.deepEqual(pairs(text), range(24).map((h) => [5, h]));
});

test("ranges of layers and heads", () => {
  assert.deepEqual(pairs("L3-5H0-7"), [3, 4, 5].flatMap((l) => range(8).map((h) => [l, h])));
  assert.deepEqual(pairs("L2-3"), [2, 3].flatMap((l) => range(24).map((h) => [l, h])));
});

test("per-head u and the default u", () => {
  assert.deepEqual(HeadSet.parse("L14H13@0.5, L0H2").resolve(SD3, 0.75), [[14, 13, 0.5], [0, 2, 0.75]]);
  assert.deepEqual(HeadSet.parse("L1H1@.25, L1H2@1e-1").resolve(SD3), [[1, 1, 0.25], [1, 2, 0.1]]);
});

test("removal, from single heads and whole layers", () => {
  assert.deepEqual(pairs("L5, -L5H3, L6H1, -L6H1"), range(24).filter((h) => h !== 3).map((h) => [5, h]));
  assert.deepEqual(pairs("L5H3, -L5"), []);
  assert.deepEqual(pairs("L5, -L5H3, -L5"), []);
});

test("a whole layer joining keeps the u of heads named before (core/heads.py union)", () => {
  // Both whole: the earlier u wins for the head that came back.
  const s = HeadSet.parse("L5@0.3, -L5H2, L5@0.7").resolve(SD3);
  assert.equal(s.length, 24);
  assert.ok(s.every(([, , u]) => u === 0.3));
  assert.deepEqual(HeadSet.parse("L5H3@0.2, L5").resolve(SD3, 1).slice(0, 2), [[5, 3, 0.2], [5, 0, 1]]);
});

test("empty text", () => {
  for (const text of ["", "  ", ", ;\n", null, undefined]) assert.deepEqual(HeadSet.parse(text).resolve(SD3), []);
});

for (const [text, fragment] of [
  ["L14X3", "'L14X3' is not a head"],
  ["H13", "'H13' is not a head"],
  ["L14H", "'L14H' is not a head"],
  ["banana", "'banana' is not a head"],
  ["L5-3", "layer range 5-3 runs backwards; write L3-5."],
  ["L1H7-2", "head range 7-2 runs backwards; write H2-7."],
  ["L1H2@1.5", "u=1.5 is outside [0, 1]"],
  ["-L1H2@0.5", "a removed head takes no @u"],
]) {
  test(`syntax error names the token: ${text}`, () => {
    assert.throws(() => HeadSet.parse(`L0H0, ${text}`), (e) => e instanceof HeadSyntaxError && e.message.includes(fragment));
  });
}

test("range errors name the head and the valid range", () => {
  assert.throws(() => HeadSet.parse("L30H2").resolve(SD3), {
    name: "Error",
    message: "L30H2: layer 30 is out of range for SD3: 24 layers (joint blocks 0-23) x 24 heads (layers 0-23)",
  });
  assert.throws(() => HeadSet.parse("L3H24").resolve(SD3), (e) => e instanceof HeadRangeError && e.message.endsWith("(heads 0-23)"));
  assert.throws(() => HeadSet.parse("L57").resolve(FLUX), /L57: layer 57 .*single blocks 19-56.*\(layers 0-56\)/);
});

test("absurd ranges fail before anything is expanded, naming the token and the valid range", () => {
  for (const [text, message] of [
    ["L0-9999999H*", /'L0-9999999H\*': layer 9999999 is out of range: HeadHunter reads layers 0-1023/],
    ["L0-999999999H*", /layer 999999999 is out of range/],
    ["L0-999999H0-999999", /'L0-999999H0-999999': layer 999999 is out of range/],
    ["L3H999999", /'L3H999999': head 999999 is out of range: HeadHunter reads heads 0-511/],
    ["L" + "9".repeat(5000), /is not a head: 5001 characters, a head has at most 64/],
    ["L0H0@" + "1".repeat(50000) + "x", /a head has at most 64/],
    [Array(100).fill("L0-1023H0-511").join(", "), /names more than 131072 heads/],
  ]) {
    assert.throws(() => HeadSet.parse(text), (e) => e instanceof HeadRangeError || e instanceof HeadSyntaxError);
    assert.throws(() => HeadSet.parse(text), message);
    assert.ok(readHeads(text, SD3).error.length < 400);
  }
});

test("a long legal head list is read in one pass (the set is not rebuilt per token)", () => {
  // 83 kB of distinct heads: a quadratic fold takes many seconds here; one pass, milliseconds.
  const tokens = [];
  for (let l = 0; l < 300; l++) for (let h = 0; h < 40; h++) tokens.push(`L${l}H${h}`);
  const text = tokens.join(", ").slice(0, 83000).replace(/,[^,]*$/, "");
  const s = HeadSet.parse(text + ", -L0, L1, -L1H3");
  // -L0 drops its 40 heads; L1 joins as a whole layer (its listed heads stay); -L1H3 drops one, excludes it.
  assert.equal(s.entries.length, new Set(text.split(", ")).size - 40 + 1 - 1);
  assert.ok(s.excluded.has("1,3"));
});

test("formatG prints u like Python's %g", () => {
  const cases = [[0.5, "0.5"], [1, "1"], [0, "0"], [0.25, "0.25"], [0.1 + 0.2, "0.3"], [1e-5, "1e-05"],
    [0.0001, "0.0001"], [123456.7, "123457"], [1234567, "1.23457e+06"], [1.5, "1.5"], [0.333333333, "0.333333"]];
  for (const [x, want] of cases) assert.equal(formatG(x), want, String(x));
});

test("readHeads gives a selection, or the error and nothing", () => {
  const ok = readHeads("L1H2@0.5, L0H0", SD3);
  assert.equal(ok.error, null);
  assert.deepEqual(names(ok.selection), ["L0H0", "L1H2@0.5"]);
  const bad = readHeads("L0H0, L99H0", SD3);
  assert.match(bad.error, /layer 99 is out of range/);
  assert.equal(bad.selection.size, 0);
});

test("canonical text: runs, whole layers, u kept, sorted", () => {
  const sel = readHeads("L14H13, L3H2-5, L3H7, L0H1@0.5, L0H2@0.5, L0H3, L5, L6H0-22, L6H23@0.5", SD3).selection;
  assert.equal(canonicalText(sel, SD3), "L0H1-2@0.5, L0H3, L3H2-5, L3H7, L5, L6H0-22, L6H23@0.5, L14H13");
  assert.equal(canonicalText(readHeads("L2@0.75", SD3).selection, SD3), "L2@0.75");
  assert.equal(canonicalText(new Map(), SD3), "");
});

test("canonical text shares one token among consecutive layers with the same run of heads", () => {
  // The case: every FLUX head but head 3 was 1061 characters.
  const allBut3 = readHeads("L0-56, -L0-56H3", FLUX).selection;
  assert.equal(allBut3.size, 57 * 23);
  assert.equal(canonicalText(allBut3, FLUX), "L0-56H0-2, L0-56H4-23");
  // A run shared by fewer layers than its neighbour's still merges; whole layers merge too.
  const mixed = readHeads("L2-6H0-2, L2-4H5, L8, L9, L10H1@0.5, L11H1@0.5", SD3).selection;
  assert.equal(canonicalText(mixed, SD3), "L2-6H0-2, L2-4H5, L8-9, L10-11H1@0.5");
  assert.deepEqual(names(readHeads(canonicalText(mixed, SD3), SD3).selection), names(mixed));
});

test("canonical text reads back to the same selection (SD3 and FLUX)", () => {
  for (const [text, layout] of [["L5, -L5H3, L6H1-4@0.5, L0H0", SD3], ["L18H3-5, L19, L56H23@0.1, L34H0", FLUX]]) {
    const sel = readHeads(text, layout).selection;
    const back = readHeads(canonicalText(sel, layout), layout).selection;
    assert.deepEqual(names(back), names(sel));
  }
});

test("targets per head are read, kept through the algebra and written back", () => {
  const layout = { layers: 24, heads: 24, description: "SD3" };
  const read = readHeads("L14H7:uniform@0.5, L3:seg(4), L2H1:Temperature(.5), L0H0", layout);
  assert.equal(read.error, null);
  assert.equal(read.targets.get("14,7"), "uniform");
  assert.equal(read.targets.get("3,5"), "seg(4)");
  assert.equal(read.targets.get("2,1"), "temperature(0.5)");
  assert.equal(read.targets.has("0,0"), false);
  assert.equal(canonicalText(read.selection, layout, read.targets), "L0H0, L2H1:temperature(0.5), L3:seg(4), L14H7:uniform@0.5");
  const union = HeadSet.parse("L1:max").union(HeadSet.parse("L1H2:uniform, L2H0:seg(inf)"));
  assert.deepEqual(union.resolveTargets(layout).filter(([l, h]) => (l === 1 && h === 2) || l === 2), [[1, 2, null, "max"], [2, 0, null, "seg(inf)"]]);
  assert.match(readHeads("L1H2:blur", layout).error, /'blur' is not a target/);
});

// ---- U-Nets: block aliases and heads per layer (core/head_aliases.py) -------------------------
const SDXL = layout("sdxl");
const SD15 = layout("sd1.5");

test("SDXL and SD1.5 layouts: 70 layers of 10 or 20 heads, 16 layers of 8", () => {
  // The architecture table's SDXL: input blocks 4, 5 (2 transformers, 10 heads), 7, 8 (10, 20);
  // middle (10, 20); output 0-2 (10, 20), 3-5 (2, 10).
  assert.deepEqual(SDXL.headsPerLayer, [...Array(4).fill(10), ...Array(60).fill(20), ...Array(6).fill(10)]);
  assert.equal(SD15.layers, 16);
  assert.ok(SD15.headsPerLayer.every((n) => n === 8));
});

test("block aliases name the layers of their blocks (SDXL)", () => {
  assert.deepEqual(pairs("in4", SDXL), [0, 1].flatMap((l) => range(10).map((h) => [l, h])));
  assert.deepEqual(pairs("mid.3H0-1", SDXL), [[27, 0], [27, 1]]); // middle block = layers 24-33
  assert.deepEqual(pairs("out3.1", SDXL), range(10).map((h) => [65, h]));
  assert.deepEqual(pairs("MIDh2", SDXL).length, 10);
  assert.deepEqual(pairs("in4, -in4H3", SDXL).length, 18);
  assert.deepEqual(readHeads("out5H1@0.5", SDXL).selection.get("69,1"), 0.5);
  assert.deepEqual(pairs("in1, mid, out11", SD15).length, 24);
});

test("range errors name the layer's own heads, as the server does", () => {
  assert.equal(
    readHeads("L65H15", SDXL).error,
    "L65H15: head 15 is out of range for U-Net: 70 layers (input blocks 0-23, middle block 24-33, output blocks " +
      "34-69) x 10-20 heads (heads 0-9 in L65 (output block 3, transformer 1))",
  );
  assert.match(readHeads("in4H19", SDXL).error, /^'in4H19': head 19 is out of range for L0 \(input block 4, transformer 0, heads 0-9\)/);
  assert.match(readHeads("in9", SDXL).error, /has no such layer; its input blocks with attention are in4.0-1, in5.0-1, in7.0-9, in8.0-9\.$/);
  assert.match(readHeads("mid.10", SDXL).error, /'mid' has transformer indices 0-9\.$/);
  assert.equal(readHeads("L4H19", SDXL).error, null); // input block 7 has 20 heads
  assert.match(readHeads("mid", FLUX).error, /^'mid': block aliases \(mid, in<N>, out<N>\) name U-Net blocks; FLUX has none/);
});

test("aliases keep the bounded cost: long alias tokens are refused by length, many are read in one pass", () => {
  for (const text of ["midH" + "9".repeat(5000), "in" + "9".repeat(5000), "out0@" + "1".repeat(50000)]) {
    const { error } = readHeads(text, SDXL);
    assert.match(error, /a head has at most 64/);
    assert.ok(error.length < 400);
  }
  // 20000 alias tokens (each 200 heads): the named-heads bound refuses them before any is expanded into heads.
  assert.match(readHeads(Array(20000).fill("mid").join(", "), SDXL).error, /names more than 131072 heads/);
  assert.equal(readHeads(Array(600).fill("mid").join(", "), SDXL).selection.size, 200);
});

test("canonical text with rows of different lengths: a whole 10-head layer is L<n>", () => {
  const sel = readHeads("in4, in5, in7.0, mid.0H0-9, L34H0-9", SDXL).selection;
  assert.equal(canonicalText(sel, SDXL), "L0-4, L24H0-9, L34H0-9");
  assert.deepEqual(names(readHeads(canonicalText(sel, SDXL), SDXL).selection), names(sel));
  const out = readHeads("out3-5", SDXL); // no such alias form: a range of blocks is written L
  assert.ok(out.error);
  assert.equal(canonicalText(readHeads("L64-69", SDXL).selection, SDXL), "L64-69");
});
