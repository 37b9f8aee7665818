// Which layers x heads grid to draw. The layouts themselves come from the server
// (GET /headhunter/architectures, i.e. core/architectures.py): nothing here knows how many layers a
// model has. Pure logic: no DOM, no ComfyUI imports.

export const AUTO = "auto";

/** Flat list of layouts from the /headhunter/architectures payload, one per published variant. */
export function layoutsFromPayload(payload) {
  const out = [];
  for (const arch of payload?.architectures ?? []) {
    for (const v of arch.variants ?? []) out.push(normalizeLayout(v, arch.display_name));
  }
  return out;
}

/** A layout payload (a variant, or the model of the last run) in the shape the grid uses. */
export function normalizeLayout(v, archName = v.arch_name) {
  return {
    id: v.family ? `${v.arch}/${v.family}` : `${v.arch}/model-${v.layers}x${v.heads}`,
    arch: v.arch,
    archName: archName ?? v.arch,
    family: v.family ?? null,
    layers: v.layers,
    heads: v.heads,
    // U-Nets: heads differ per layer (SDXL: 10 or 20); the grid is v.heads tall and a layer's
    // column stops at its own heads.
    headsPerLayer: v.heads_per_layer ?? Array(v.layers).fill(v.heads),
    // "output block 3, transformer 1": named in range errors, as the server names them.
    layerLabels: v.layer_labels ?? [],
    // ComfyUI's patch key per layer (U-Nets: [block name, block id, transformer index]): the
    // block aliases of head text (in4, mid, out1.2) are read from these (head_text.js).
    layerKeys: v.layer_keys ?? [],
    groups: (v.groups ?? []).map((g) => ({
      name: g.name, key: g.key ?? null, start: g.start, layers: g.layers, alias: g.alias ?? "", oneBlock: !!g.one_block,
    })),
    aliasWords: v.alias_words ?? [],
    description: v.description,
    // The text is part of the attended sequence (false: U-Nets, Wan): mask(...) targets need it.
    jointText: v.joint_text ?? true,
  };
}

/** "70\u00d710\u201320" where heads differ per layer (SDXL), else "57\u00d724". */
export function layoutSize(layout) {
  const counts = layout.headsPerLayer?.length ? layout.headsPerLayer : [layout.heads];
  const lo = Math.min(...counts), hi = Math.max(...counts);
  return `${layout.layers}\u00d7${lo === hi ? hi : `${lo}\u2013${hi}`}`;
}

export function layoutLabel(layout) {
  const size = layoutSize(layout);
  return layout.family ? `${layout.family} (${size})` : `this model: ${layout.archName} ${size}`;
}

/** Layer indices where a new block group starts (FLUX: 19, the first single block). */
export function groupBoundaries(layout) {
  return layout.groups.filter((g) => g.start > 0 && g.layers > 0).map((g) => g.start);
}

/** A block group's name for people: "double", "single", "input", "middle". */
export const groupLabel = (group) => group.name.replace(/(_block| blocks?)$/, "");

/**
 * Where a layer sits when a model has several block groups: {group: "single", index: 0} for FLUX's
 * layer 19; null for one-group models (SD3's layer is its joint block).
 */
export function blockOf(layout, layer) {
  if (layout.groups.length < 2) return null;
  const g = layout.groups.find((g) => layer >= g.start && layer < g.start + g.layers);
  return g ? { group: groupLabel(g), index: layer - g.start } : null;
}

/** A family guessed from a model file name ("flux1-dev.safetensors" -> "flux.1-dev"), or null. */
export function familyFromModelName(name) {
  const n = String(name ?? "").toLowerCase();
  // Only a first guess for the grid before the model has run: the server tells FLUX.2 from FLUX.1
  // by the model's parameters once it runs.
  if (/flux[._-]?2/.test(n)) {
    if (!n.includes("klein")) return "flux.2-dev";
    return n.includes("9b") ? "flux.2-klein-9b" : "flux.2-klein-4b";
  }
  if (n.includes("flux")) return n.includes("schnell") ? "flux.1-schnell" : "flux.1-dev";
  if (n.includes("chroma")) return n.includes("radiance") ? "chroma-radiance" : "chroma";
  if (n.includes("qwen")) return "qwen-image";
  if (n.includes("aura")) return "auraflow";
  if (n.includes("hunyuan") && n.includes("video")) return "hunyuan-video";
  if (/wan2[._]?1.*1[._]3b/.test(n)) return "wan2.1-1.3b";
  if (/wan2[._]?2.*5b/.test(n)) return "wan2.2-5b";
  if (/wan2[._]?[12]/.test(n)) return "wan-14b";
  if (n.includes("hidream")) return "hidream-i1";
  if (/z[-_]?image/.test(n)) return "z-image";
  if (n.includes("lumina")) return "lumina-image-2";
  const sd35 = /sd3\.?5|sd35|stable-diffusion-3\.5/.test(n);
  if (sd35 && n.includes("large")) return "sd3.5-large";
  if (sd35) return "sd3.5-medium";
  if (/sd3|stable-diffusion-3/.test(n)) return "sd3-medium";
  // U-Nets: most SDXL / SD1.5 files are fine-tunes with names of their own ("juggernautXL_v9"),
  // so these are weaker guesses still; the layout of the model that ran replaces them.
  if (/sd[-_]?xl|(^|[^x])xl[-_.]/.test(n)) return "sdxl";
  if (/v1[-_.]?5|sd[-_]?1[-_.]?5|sd15/.test(n)) return "sd1.5";
  return null;
}

/**
 * The layout to draw and why. choice: AUTO or a layout id picked on the widget. In auto mode the
 * model of the last run wins (it is what the heads were applied to), then the family of a connected
 * preset, then a family guessed from the model loader's file name, then the first layout.
 */
export function chooseLayout({ choice = AUTO, layouts, executed = null, presetFamily = null, presetName = null, modelName = null }) {
  const byFamily = (family) => layouts.find((l) => l.family === family) ?? null;
  if (choice !== AUTO) {
    const picked = layouts.find((l) => l.id === choice) ?? (executed && executed.id === choice ? executed : null);
    if (picked) return { layout: picked, reason: "chosen" };
  }
  if (executed) return { layout: executed, reason: "the model of the last run" };
  const fromPreset = presetFamily && byFamily(presetFamily);
  if (fromPreset) return { layout: fromPreset, reason: presetName ? `preset '${presetName}'` : "the connected preset" };
  const guessed = familyFromModelName(modelName);
  // Only a hint: the file name can mislead (a renamed file, a fine-tune); the run's layout wins.
  if (guessed && byFamily(guessed)) {
    return { layout: byFamily(guessed), reason: `model file '${modelName}' (a guess from its name, until the model runs)` };
  }
  return { layout: layouts[0] ?? null, reason: "default" };
}
