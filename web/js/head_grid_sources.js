// What the head grid reads from the graph around its node: presets feeding it, the model file
// upstream, and whether its "heads" text comes from a link. Plain reads of LiteGraph nodes.

export const HEAD_SET_TYPE = "HEADHUNTER_HEAD_SET";
const MODEL_FILE_WIDGETS = ["unet_name", "ckpt_name", "model_name"];

/** True when the node's "heads" input is fed by a link (its text field then is not the value). */
export function headsLinked(node) {
  return Boolean(node.inputs?.some((i) => i.widget?.name === "heads" && i.link != null));
}

/**
 * Presets feeding this node (through Combine and friends): upstream nodes whose widget value is a
 * preset id or name, following head-set inputs. presets: as served by /headhunter/presets.
 */
export function connectedPresets(node, presets) {
  const found = [];
  const seen = new Set();
  const visit = (n, depth) => {
    if (!n || seen.has(n.id) || depth > 8) return;
    seen.add(n.id);
    for (const w of n.widgets ?? []) {
      const p = presets.find((p) => p.id === w.value || p.name === w.value);
      if (p && !found.includes(p)) found.push(p);
    }
    (n.inputs ?? []).forEach((input, slot) => {
      if (input.type === HEAD_SET_TYPE && input.link != null) visit(n.getInputNode(slot), depth + 1);
    });
  };
  (node.inputs ?? []).forEach((input, slot) => {
    if (input.type === HEAD_SET_TYPE && input.link != null) visit(node.getInputNode(slot), 0);
  });
  return found;
}

/** The model file name upstream of the "model" input (through LoRA loaders, ModelSampling...). */
export function modelFileName(node) {
  const slot0 = node.inputs?.findIndex((i) => i.name === "model") ?? -1;
  let n = slot0 >= 0 ? node.getInputNode?.(slot0) : null;
  for (let depth = 0; n && depth < 12; depth++) {
    const w = n.widgets?.find((w) => MODEL_FILE_WIDGETS.includes(w.name));
    if (w) return String(w.value ?? "");
    const slot = n.inputs?.findIndex((i) => i.type === "MODEL" && i.link != null) ?? -1;
    n = slot >= 0 ? n.getInputNode(slot) : null;
  }
  return null;
}
