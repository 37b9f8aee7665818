// Shared by the widget's unit tests: the real architecture payload (kept equal to
// core/architectures.py by tests/host/test_web_api.py) and a few short-hands.
import { readFileSync } from "node:fs";

import { layoutsFromPayload } from "../js/head_layouts.js";

export const PAYLOAD = JSON.parse(readFileSync(new URL("./fixtures/architectures.json", import.meta.url), "utf8"));
export const LAYOUTS = layoutsFromPayload(PAYLOAD);
export const layout = (family) => LAYOUTS.find((l) => l.family === family);
export const SD3 = layout("sd3-medium");
export const SD35L = layout("sd3.5-large");
export const FLUX = layout("flux.1-dev");
/** A selection as sorted "LxHy@u" strings, easy to compare. */
export const names = (selection) =>
  [...selection].map(([k, u]) => {
    const [l, h] = k.split(",").map(Number);
    return [l, h, `L${l}H${h}${u === null ? "" : `@${u}`}`];
  }).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map((x) => x[2]);
