// Head text for the head-grid widget: the grammar of core/heads.py, ported line by line so the
// grid reads typed text exactly as the nodes will (tests/unit/test_web_grammar.py runs both on the same
// texts), plus the canonical text the grid writes back. Pure logic: no DOM, no ComfyUI imports.
//
//   L14H13        one head              L5  or  L5H*   a whole layer (layer-level PAG)
//   L3-5H0-7      ranges, inclusive     L14H13@0.5     a per-head SoftPAG strength u in [0, 1]
//   -L5H3         remove heads named earlier (works on whole layers too)
//   L14H7:uniform@0.5, L3-5:seg(4), L2H1:temperature(2)   a per-head target (core/target_spec.py)
//   mid, in4, out1.2, midH0-4, -out0@...   U-Net block aliases (core/head_aliases.py), rewritten
//                 into the flat L tokens they name once the layout is known (expandAliases)

export const SYNTAX_HELP =
  "write heads as L<layer>H<head> (0-based, e.g. L14H13), L5 or L5H* for a whole layer, " +
  "ranges like L3-5H0-7, an optional target (L14H13:uniform, L3:seg(4), L2H1:temperature(2)), " +
  "an optional @u in [0, 1] (L14H13@0.5), and -L5H3 to remove heads";

const TOKEN = /^(-)?L(\d+)(?:-(\d+))?(?:H(?:(\*)|(\d+)(?:-(\d+))?))?(?::([a-z_]+(?:\([^()]*\))?))?(?:@(\d*\.?\d+(?:e-?\d+)?))?$/i;
const SEPARATORS = /[\s,;]+/;
// The bounds of core/heads.py: parsing costs time and memory in the text's length only, never in
// the numbers written in it (a tab must not freeze on "L0-999999999"). Checked before expanding.
export const MAX_LAYERS = 1024; // layer numbers 0-1023
export const MAX_HEADS = 512; // head numbers 0-511
export const MAX_NAMED = 1 << 17; // (layer, head) entries one text may name in all, repeats counted
export const MAX_TOKEN = 64; // characters in one token; also keeps the regular expression linear

export class HeadSyntaxError extends Error {}
export class HeadRangeError extends Error {}
export class TargetError extends Error {}

// Targets, as core/target_spec.py reads them.
export const TARGET_KINDS = ["identity", "uniform", "mean_query", "seg", "temperature", "max", "mask", "fisher_rao", "slerp"];
const BLOCKS = ["II", "IT", "TI", "TT"];
const IDENTITY_BLOCKS = ["II", "TT"];
const TARGET_PARAMS = {
  seg: ["sigma", 0, Infinity, "the blur's standard deviation in image tokens; inf = mean_query"],
  temperature: ["t", 0.01, 100, "the softmax temperature; >1 flattens toward uniform, <1 sharpens toward max"],
};
const MAX_TARGET_TEXT = 32;
const SEG_INFINITE = 9999;
const TARGET_HELP =
  "targets: identity, uniform, mean_query, max, seg(<sigma>) e.g. seg(4) or seg(inf), " +
  "temperature(<t>) with t in [0.01, 100] e.g. temperature(2), mask(<block>) with block II, IT, TI or TT, " +
  "identity(<block>) with block II or TT, fisher_rao, slerp";
const TARGET = /^([a-z_]+)(?:\((inf|\d*\.?\d+(?:e-?\d+)?|[a-z]{2})\))?$/i;

/** Target text -> its canonical text ("uniform", "seg(4)", "seg(inf)"); throws TargetError. */
export function parseTarget(text) {
  text = (text ?? "").trim();
  if (!text) return "identity";
  if (text.length > MAX_TARGET_TEXT) {
    throw new TargetError(`'${text.slice(0, 29)}...' is not a target: ${text.length} characters (at most ${MAX_TARGET_TEXT}); ${TARGET_HELP}.`);
  }
  const m = TARGET.exec(text);
  const kind = m ? m[1].toLowerCase() : null;
  if (!TARGET_KINDS.includes(kind)) throw new TargetError(`'${text}' is not a target; ${TARGET_HELP}.`);
  if (kind === "mask") {
    const block = (m[2] ?? "").toUpperCase();
    if (!BLOCKS.includes(block)) {
      throw new TargetError(
        `'${text}': mask needs a block: II, IT, TI or TT (the query part, then the key part it ` +
          "no longer sees; I image, T text), e.g. mask(II).",
      );
    }
    return `mask(${block})`;
  }
  if (kind === "identity" && m[2] !== undefined) {
    const block = m[2].toUpperCase();
    if (!IDENTITY_BLOCKS.includes(block)) {
      throw new TargetError(
        `'${text}': identity takes no parameter, or a block: II or TT (that part's queries ` +
          "attend to themselves among their own part and still see the other part), e.g. identity(TT).",
      );
    }
    return `identity(${block})`;
  }
  if (!(kind in TARGET_PARAMS)) {
    if (m[2] !== undefined) throw new TargetError(`'${text}': ${kind} takes no parameter; ${TARGET_HELP}.`);
    return kind;
  }
  const [name, low, high, meaning] = TARGET_PARAMS[kind];
  if (m[2] === undefined || (/^[a-z]/i.test(m[2]) && m[2].toLowerCase() !== "inf")) {
    throw new TargetError(`'${text}': ${kind} needs its ${name} (${meaning}), e.g. ${kind}(2).`);
  }
  let value = m[2].toLowerCase() === "inf" ? Infinity : Number(m[2]);
  if (kind === "seg" && value >= SEG_INFINITE) value = Infinity;
  if (!(value >= low && value <= high) || (kind === "seg" && value === 0)) {
    const shown = high === Infinity ? "inf" : formatG(high);
    throw new TargetError(`'${text}': ${name}=${formatG(value)} is outside ${kind === "seg" ? "(" : "["}${formatG(low)}, ${shown}]; ${meaning}.`);
  }
  return `${kind}(${formatG(value)})`;
}

// Two spellings of one head, each written and read in one place only (issue 14: no hand-split keys):
// the grid's map key "14,13" (key / unkey, exported as headKey / parseKey) and the paper's name
// "L14H13" (headName / parseHeadName, the twins of core/heads.py's head_key / parse_head_key).
const key = (layer, head) => `${layer},${head}`;
const unkey = (k) => k.split(",").map(Number);
const HEAD_NAME = /^L(\d+)(?:H(\d+))?$/i;

/** "L14H13" for a head, "L5" for a whole layer (head null): core/heads.py's head_key. */
export function headName(layer, head = null) {
  return head === null || head === undefined ? `L${layer}` : `L${layer}H${head}`;
}

/** headName's inverse: [layer, head] ("L5": head null), or null for anything else. */
export function parseHeadName(name) {
  const m = HEAD_NAME.exec(String(name ?? ""));
  return m ? [Number(m[1]), m[2] === undefined ? null : Number(m[2])] : null;
}

/** Python's "%g": what the nodes print for a u value. */
export function formatG(x) {
  if (x === 0) return "0";
  if (!Number.isFinite(x)) return Number.isNaN(x) ? "nan" : x > 0 ? "inf" : "-inf";
  const [mantissa, e] = x.toExponential(5).split("e");
  const exp = Number(e);
  if (exp < -4 || exp >= 6) {
    const m = mantissa.includes(".") ? mantissa.replace(/0+$/, "").replace(/\.$/, "") : mantissa;
    return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return String(Number(x.toFixed(Math.max(0, 5 - exp))));
}

/**
 * An ordered head set; entries are [layer, head|null, u|null, target|null] as core/heads.py's
 * (layer, head, u) entries with their targets (canonical target text; null = the node's target).
 */
export class HeadSet {
  constructor(entries = [], excluded = new Set()) {
    this.entries = entries;
    this.excluded = excluded; // "layer,head" keys removed from whole-layer entries
  }

  static parse(text) {
    const build = new Builder();
    let named = 0;
    for (const token of (text ?? "").trim().split(SEPARATORS)) {
      if (!token) continue;
      if (token.length > MAX_TOKEN) {
        throw new HeadSyntaxError(`'${shorten(token)}' is not a head: ${token.length} characters, a head has at most ${MAX_TOKEN}.`);
      }
      const m = TOKEN.exec(token);
      if (m === null) throw new HeadSyntaxError(`'${token}' is not a head: ${SYNTAX_HELP}.`);
      const [, neg, l0s, l1s, , h0s, h1s, targetText, us] = m;
      const l0 = bounded(token, "layer", l0s, MAX_LAYERS);
      const l1 = l1s !== undefined ? bounded(token, "layer", l1s, MAX_LAYERS) : l0;
      if (l1 < l0) throw new HeadSyntaxError(`'${token}': layer range ${l0}-${l1} runs backwards; write L${l1}-${l0}.`);
      let heads = [null];
      if (h0s !== undefined) {
        const h0 = bounded(token, "head", h0s, MAX_HEADS);
        const h1 = h1s !== undefined ? bounded(token, "head", h1s, MAX_HEADS) : h0;
        if (h1 < h0) throw new HeadSyntaxError(`'${token}': head range ${h0}-${h1} runs backwards; write H${h1}-${h0}.`);
        heads = Array.from({ length: h1 - h0 + 1 }, (_, i) => h0 + i);
      }
      named += (l1 - l0 + 1) * heads.length;
      if (named > MAX_NAMED) {
        throw new HeadRangeError(
          `'${token}': the text names more than ${MAX_NAMED} heads (repeats counted); no model has that ` +
            "many: name each head once, or a whole layer as L5.",
        );
      }
      let target = null;
      if (targetText !== undefined) {
        if (neg) throw new HeadSyntaxError(`'${token}': a removed head takes no target.`);
        try {
          target = parseTarget(targetText);
        } catch (e) {
          if (e instanceof TargetError) throw new HeadSyntaxError(`'${token}': ${e.message}`);
          throw e;
        }
      }
      let u = null;
      if (us !== undefined) {
        if (neg) throw new HeadSyntaxError(`'${token}': a removed head takes no @u.`);
        u = Number(us);
        if (!(u >= 0 && u <= 1)) throw new HeadSyntaxError(`'${token}': u=${formatG(u)} is outside [0, 1].`);
      }
      for (let layer = l0; layer <= l1; layer++) {
        for (const h of heads) {
          if (neg) build.remove(layer, h);
          else build.add(layer, h, u, new Set(), target);
        }
      }
    }
    return build.done();
  }

  layerEntries() {
    const byLayer = new Map();
    for (const [layer, head, u] of this.entries) {
      if (!byLayer.has(layer)) byLayer.set(layer, new Map());
      byLayer.get(layer).set(head, u);
    }
    return byLayer;
  }

  contains(layer, head) {
    const heads = this.layerEntries().get(layer) ?? new Map();
    return heads.has(head) || (heads.has(null) && !this.excluded.has(key(layer, head)));
  }

  union(other) {
    const build = new Builder(this.entries, this.excluded);
    const theirs = groupExcluded(other.excluded);
    for (const [layer, head, u, target] of other.entries) build.add(layer, head, u, theirs.get(layer) ?? new Set(), target ?? null);
    return build.done();
  }

  difference(other) {
    const entries = [];
    let excluded = new Set(this.excluded);
    const theirs = other.layerEntries();
    for (const [layer, head, u, target = null] of this.entries) {
      const otherHeads = theirs.get(layer) ?? new Map();
      if (head !== null) {
        if (!other.contains(layer, head)) entries.push([layer, head, u, target]);
        continue;
      }
      if (otherHeads.has(null)) {
        // Whole minus whole: only what the other excluded survives, as single heads.
        const survivors = [...other.excluded].map(unkey).filter(([l, h]) => l === layer && !this.excluded.has(key(l, h)));
        survivors.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        for (const [l, h] of survivors) entries.push([l, h, u, target]);
        excluded = new Set([...excluded].filter((k) => unkey(k)[0] !== layer));
        continue;
      }
      entries.push([layer, null, u, target]);
      for (const h of otherHeads.keys()) if (h !== null) excluded.add(key(layer, h));
    }
    return new HeadSet(dedupe(entries), excluded);
  }

  /**
   * Concrete, ordered [layer, head, u] triples for a layout ({layers, heads, description});
   * u stays null where the text gave none unless defaultU is given. Throws HeadRangeError.
   */
  resolve(layout, defaultU = null) {
    return this.resolveTargets(layout, defaultU).map(([l, h, u]) => [l, h, u]);
  }

  /** [layer, head, u, target] for a layout; target stays null where the text gave none unless defaultTarget is given. */
  resolveTargets(layout, defaultU = null, defaultTarget = null) {
    const last = layout.layers - 1;
    const out = [];
    const seen = new Set();
    for (const [layer, head, u, target = null] of this.entries) {
      const token = headName(layer, head);
      if (layer > last) {
        throw new HeadRangeError(`${token}: layer ${layer} is out of range for ${layout.description} (layers 0-${last})`);
      }
      // U-Nets: each layer has its own heads (SDXL: 10 or 20); the error names the layer then.
      const count = headsOf(layout, layer);
      if (head !== null && head >= count) {
        const where = uniformHeads(layout) ? "" : ` in L${layer} (${layout.layerLabels?.[layer]})`;
        throw new HeadRangeError(
          `${token}: head ${head} is out of range for ${layout.description} (heads 0-${count - 1}${where})`,
        );
      }
      const heads = head === null ? [...Array(count).keys()] : [head];
      checkTargetFits(token, target === null ? defaultTarget : target, layout);
      for (const h of heads) {
        const k = key(layer, h);
        if (seen.has(k) || (head === null && this.excluded.has(k))) continue;
        seen.add(k);
        out.push([layer, h, u === null ? defaultU : u, target === null ? defaultTarget : target]);
      }
    }
    return out;
  }
}

/** core/heads.py's check_target_fits: mask(...) and identity(XX) need text in the self-attention (not U-Nets, Wan). */
function checkTargetFits(token, target, layout) {
  if (target !== null && /^(mask|identity)\(/i.test(target) && layout.jointText === false) {
    throw new HeadRangeError(
      `${token}:${target}: ${layout.archName} has no text in its self-attention (the text enters through cross-attention), ` +
        "so there is no text block to tell apart; use identity, uniform, mean_query, seg, temperature, max, fisher_rao or slerp",
    );
  }
}

/** How many heads a layer has (layouts without heads_per_layer: the same for all). */
export const headsOf = (layout, layer) => layout.headsPerLayer?.[layer] ?? layout.heads;
const uniformHeads = (layout) => (layout.headsPerLayer ?? []).every((n) => n === layout.heads);

// ---- block aliases (core/head_aliases.py, ported line by line) ---------------------------------
const ALIAS_SEPARATORS = /([\s,;]+)/;
const HEADS_OF_ALIAS = /^H(\d+)(?:-(\d+))?/i;

function aliasPattern(words) {
  return new RegExp(
    `^(-)?(${words.join("|")})(\\d+)?(?:\\.(\\d+))?((?:H(?:\\*|\\d+(?:-\\d+)?))?(?::[a-z_]+(?:\\([^()]*\\))?)?(?:@[^@]*)?)$`,
    "i",
  );
}

/**
 * The text with every block alias (mid, in4, out1.2H0-4@0.5, -mid) replaced by the flat L tokens
 * of the layout it names, as the server does before reading head text. Aliases are read from the
 * layout's layer_keys ([block name, block id, transformer index]). A token longer than MAX_TOKEN is
 * left as it is (HeadSet.parse refuses it), so the cost stays linear in the text.
 */
export function expandAliases(text, layout) {
  const words = layout.aliasWords ?? [];
  if (!words.length) return text ?? "";
  const pattern = aliasPattern(words);
  const parts = (text ?? "").split(ALIAS_SEPARATORS);
  for (let i = 0; i < parts.length; i++) {
    const token = parts[i];
    if (!token || token.length > MAX_TOKEN || /^[\s,;]+$/.test(token)) continue;
    const m = pattern.exec(token);
    if (m !== null) parts[i] = flatAlias(m, token, layout);
  }
  return parts.join("");
}

function groupOfLayer(layout, layer) {
  return layout.groups.find((g) => layer >= g.start && layer < g.start + g.layers) ?? null;
}

function flatAlias(m, token, layout) {
  const [, neg, word, blockS, indexS, rest] = m;
  const alias = word.toLowerCase();
  if (!layout.groups.some((g) => g.alias)) {
    throw new HeadSyntaxError(
      `'${token}': block aliases (mid, in<N>, out<N>) name U-Net blocks; ${layout.archName} has none: ` +
        `write L<layer> (layers 0-${layout.layers - 1}).`,
    );
  }
  const group = layout.groups.find((g) => g.alias === alias);
  const block = blockS === undefined ? null : Number(blockS);
  const index = indexS === undefined ? null : Number(indexS);
  const layers = [];
  for (let l = 0; l < layout.layers; l++) {
    const k = layout.layerKeys[l] ?? [];
    if (groupOfLayer(layout, l)?.alias === alias && (block === null || k[1] === block) && (index === null || k[2] === index)) {
      layers.push(l);
    }
  }
  if (!layers.length) throw new HeadRangeError(`'${token}': ${layout.description} has no such layer; ${validBlocks(layout, group)}.`);
  const heads = HEADS_OF_ALIAS.exec(rest);
  if (heads !== null) {
    const top = BigInt(heads[2] ?? heads[1]); // exact, as Python's int (the token is short)
    for (const layer of layers) {
      const n = headsOf(layout, layer);
      if (top >= BigInt(n)) {
        throw new HeadRangeError(
          `'${token}': head ${top} is out of range for L${layer} (${layout.layerLabels[layer]}, heads ` +
            `0-${n - 1}) of ${layout.description}.`,
        );
      }
    }
  }
  // A block's layers are consecutive in the flat numbering.
  const span = layers.length === 1 ? `L${layers[0]}` : `L${layers[0]}-${layers[layers.length - 1]}`;
  return `${neg ?? ""}${span}${rest}`;
}

function validBlocks(layout, group) {
  const blocks = new Map(); // block id -> transformer indices, in layer order
  for (let l = 0; l < layout.layers; l++) {
    if (groupOfLayer(layout, l) !== group) continue;
    const [, b, t] = layout.layerKeys[l];
    if (!blocks.has(b)) blocks.set(b, []);
    blocks.get(b).push(t);
  }
  if (group.oneBlock) {
    return blocks.size ? `'${group.alias}' has transformer indices 0-${(blocks.get(0) ?? []).length - 1}` : `it has no ${group.name}`;
  }
  const names = [...blocks].map(([b, ts]) => `${group.alias}${b}` + (ts.length > 1 ? `.0-${ts.length - 1}` : "")).join(", ");
  return names ? `its ${group.name} with attention are ${names}` : `it has no ${group.name} with attention`;
}

/** Head text read against a layout, block aliases included (what the nodes read). */
export const parseFor = (text, layout) => HeadSet.parse(expandAliases(text, layout));

/**
 * A head set being folded token by token, in place (core/heads.py _Builder): union with one entry
 * and difference with one head, each in O(1), so parsing is linear in the text.
 */
class Builder {
  constructor(entries = [], excluded = new Set()) {
    this.entries = new Map(); // "layer,head" (head "null" for a whole layer) -> [layer, head, u]
    this.heads = new Map(); // layer -> Set of the single heads listed
    for (const [layer, head, u, target = null] of entries) this.put(layer, head, u, target);
    this.excluded = groupExcluded(excluded);
  }

  put(layer, head, u, target = null) {
    const k = key(layer, head);
    if (this.entries.has(k)) return;
    this.entries.set(k, [layer, head, u, target]);
    if (head !== null) {
      if (!this.heads.has(layer)) this.heads.set(layer, new Set());
      this.heads.get(layer).add(head);
    }
  }

  add(layer, head, u, theirExcluded = new Set(), target = null) {
    const out = this.excluded.get(layer) ?? new Set();
    if (head === null) {
      if (this.entries.has(key(layer, null))) {
        // Both whole: a head stays out only if both removed it.
        this.excluded.set(layer, new Set([...out].filter((h) => theirExcluded.has(h))));
        return;
      }
      // Whole layer joins: specific heads already listed stay (they may carry a u).
      this.excluded.set(layer, new Set([...theirExcluded].filter((h) => !this.entries.has(key(layer, h)))));
      this.put(layer, null, u, target);
    } else if (this.entries.has(key(layer, head))) {
      return;
    } else if (this.entries.has(key(layer, null)) && !out.has(head)) {
      return;
    } else {
      this.put(layer, head, u, target);
      out.delete(head);
    }
  }

  remove(layer, head) {
    if (head === null) {
      this.entries.delete(key(layer, null));
      for (const h of this.heads.get(layer) ?? []) this.entries.delete(key(layer, h));
      this.heads.delete(layer);
      this.excluded.delete(layer);
      return;
    }
    this.entries.delete(key(layer, head));
    this.heads.get(layer)?.delete(head);
    if (this.entries.has(key(layer, null))) {
      if (!this.excluded.has(layer)) this.excluded.set(layer, new Set());
      this.excluded.get(layer).add(head);
    }
  }

  done() {
    const excluded = new Set();
    for (const [layer, heads] of this.excluded) for (const h of heads) excluded.add(key(layer, h));
    return new HeadSet([...this.entries.values()], excluded);
  }
}

function groupExcluded(excluded) {
  const byLayer = new Map();
  for (const k of excluded) {
    const [layer, head] = unkey(k);
    if (!byLayer.has(layer)) byLayer.set(layer, new Set());
    byLayer.get(layer).add(head);
  }
  return byLayer;
}

/** A layer or head number, refused before use when no model could have it (core/heads.py). */
function bounded(token, what, digits, limit) {
  const shown = digits.replace(/^0+/, "") || "0";
  if (shown.length > String(limit).length || Number(shown) >= limit) {
    throw new HeadRangeError(
      `'${token}': ${what} ${shown} is out of range: HeadHunter reads ${what}s 0-${limit - 1} ` +
        "(no published model has more); a model's own range is checked when it is known.",
    );
  }
  return Number(shown);
}

const shorten = (token) => (token.length <= 40 ? token : token.slice(0, 37) + "...");

function dedupe(entries) {
  const seen = new Set();
  return entries.filter(([layer, head]) => {
    const k = `${layer},${head}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Read text against a layout: {selection: Map "layer,head" -> u|null, targets: Map "layer,head" ->
 * target text (only heads that name one), error: string|null}. On an error the selection holds
 * what could be read (nothing for a syntax error).
 */
export function readHeads(text, layout) {
  try {
    const resolved = parseFor(text, layout).resolveTargets(layout);
    const targets = new Map(resolved.filter(([, , , t]) => t !== null).map(([l, h, , t]) => [key(l, h), t]));
    return { selection: new Map(resolved.map(([l, h, u]) => [key(l, h), u])), targets, error: null };
  } catch (e) {
    if (e instanceof HeadSyntaxError || e instanceof HeadRangeError) {
      return { selection: new Map(), targets: new Map(), error: e.message };
    }
    throw e;
  }
}

/**
 * The text the grid writes: a layer whose heads are all selected with one u (and one target) is
 * "L5"; otherwise runs of consecutive heads sharing a u and a target, "L5H0-7:uniform@0.5";
 * consecutive layers with the same run share one token, "L3-5H0-7". ``targets`` (optional, as
 * readHeads returns it) keeps the heads' targets. Parsing it gives back the same selection
 * (core/heads.py reads it the same way: tests/unit/test_web_grammar.py).
 */
export function canonicalText(selection, layout, targets = new Map()) {
  const byLayer = new Map();
  for (const [k, u] of selection) {
    const [layer, head] = unkey(k);
    if (!byLayer.has(layer)) byLayer.set(layer, []);
    byLayer.get(layer).push([head, `${targets.get(k) ?? ""}|${u ?? ""}`, u ?? null, targets.get(k) ?? null]);
  }
  const suffix = (u, target) => (target === null ? "" : `:${target}`) + (u === null ? "" : `@${formatG(u)}`);
  // Each layer as its spans of heads ("H0-2:uniform@0.5"; "" for the whole layer), then each span
  // written once per run of consecutive layers that have it: "all but head 3" of FLUX is
  // "L0-56H0-2, L0-56H4-23", not 114 tokens. (Shortest among texts without removals.)
  const spansOf = (layer, heads) => {
    heads.sort((a, b) => a[0] - b[0]);
    if (heads.length === headsOf(layout, layer) && heads.every(([, same]) => same === heads[0][1])) {
      return [[-1, suffix(heads[0][2], heads[0][3])]];
    }
    const spans = [];
    for (let i = 0; i < heads.length; ) {
      let j = i;
      while (j + 1 < heads.length && heads[j + 1][0] === heads[j][0] + 1 && heads[j + 1][1] === heads[i][1]) j++;
      const span = j === i ? `H${heads[i][0]}` : `H${heads[i][0]}-${heads[j][0]}`;
      spans.push([heads[i][0], span + suffix(heads[i][2], heads[i][3])]);
      i = j + 1;
    }
    return spans;
  };
  const runs = new Map(); // span text -> {first head, [[first layer, last layer], ...]}
  for (const layer of [...byLayer.keys()].sort((a, b) => a - b)) {
    for (const [head, span] of spansOf(layer, byLayer.get(layer))) {
      if (!runs.has(span)) runs.set(span, { head, layers: [] });
      const list = runs.get(span).layers;
      const last = list[list.length - 1];
      if (last && last[1] === layer - 1) last[1] = layer;
      else list.push([layer, layer]);
    }
  }
  const tokens = [];
  for (const [span, { head, layers }] of runs) {
    for (const [a, b] of layers) tokens.push({ a, head, text: `L${a}${b > a ? `-${b}` : ""}${span}` });
  }
  tokens.sort((x, y) => x.a - y.a || x.head - y.head);
  return tokens.map((t) => t.text).join(", ");
}

/** The grid's map key of a head, "14,13" (selection, targets, scores, marks). */
export const headKey = key;
/** headKey's inverse: [layer, head]. */
export const parseKey = unkey;
