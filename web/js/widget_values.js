// A node's saved widget values, kept in the right inputs although the head grid (a widget that is
// not saved) sits in the middle of node.widgets, right under the "heads" field.
//
// Both frontends checked (1.27.10 in ComfyUI v0.3.64, 1.45.21 in v0.28.1; LGraphNode.serialize and
// .configure) write widgets_values[i] for the i-th widget, leaving a hole (saved as null) for a
// widget with serialize === false, but on load they hand the values, in order, to the widgets with
// serialize !== false. A hole in the middle thus moves every later value one input up. We save the
// list without holes (what load expects) and read files saved with the hole by index.
// Pure functions of plain {serialize, value} widgets; headhunter.js hooks them into the node.

const saved = (w) => w && w.serialize !== false;

/** widgets_values as written by the frontend (indexed like `widgets`) -> the list load expects. */
export function compactValues(widgets, values) {
  if (!Array.isArray(values)) return values;
  if (values.length > widgets.length) return values; // not ours to read
  const out = [];
  widgets.forEach((w, i) => {
    if (saved(w) && i < values.length) out.push(values[i] === undefined ? null : values[i]);
  });
  return out;
}

/**
 * The values a file holds for each saved widget, in order, or null when the file is already in
 * the compact form load reads right. A file in the indexed form (from a release whose grid left a
 * hole) has one slot per widget and null in each unsaved widget's slot.
 */
export function valuesFromIndexedFile(widgets, values) {
  if (!Array.isArray(values)) return null;
  const savedCount = widgets.filter(saved).length;
  if (savedCount === widgets.length || values.length !== widgets.length) return null;
  if (!widgets.every((w, i) => saved(w) || values[i] == null)) return null;
  return compactValues(widgets, values);
}
