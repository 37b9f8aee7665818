// Reads {layout, texts} as JSON on stdin; prints, per text, what the widget's port of the grammar
// makes of it: the resolved heads or the error, and the canonical text the grid would write.
// Used by test_web_grammar.py to hold web/js/head_text.js to core/heads.py.
import { HeadRangeError, HeadSyntaxError, canonicalText, parseFor, readHeads } from "../../web/js/head_text.js";
import { normalizeLayout } from "../../web/js/head_layouts.js";

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const { layout: payload, texts } = JSON.parse(input);
  const layout = normalizeLayout(payload);
  const out = texts.map((text) => {
    try {
      const parsed = parseFor(text, layout);
      const resolved = parsed.resolve(layout);
      const targets = parsed.resolveTargets(layout).map(([, , , t]) => t);
      const read = readHeads(text, layout);
      return { resolved, targets, canonical: canonicalText(read.selection, layout, read.targets) };
    } catch (e) {
      const kind = e instanceof HeadSyntaxError ? "syntax" : e instanceof HeadRangeError ? "range" : "other";
      return { error: e.message, kind };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
