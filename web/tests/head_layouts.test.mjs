import assert from "node:assert/strict";
import { test } from "node:test";

import { AUTO, blockOf, chooseLayout, familyFromModelName, groupBoundaries, layoutLabel, normalizeLayout } from "../js/head_layouts.js";
import { FLUX, LAYOUTS, PAYLOAD, SD3, SD35L } from "./helpers.mjs";

test("the published grids: SD3 24x24, SD3.5-large 38x38, FLUX 57x24", () => {
  assert.deepEqual([SD3.layers, SD3.heads], [24, 24]);
  assert.deepEqual([SD35L.layers, SD35L.heads], [38, 38]);
  assert.deepEqual([FLUX.layers, FLUX.heads], [57, 24]);
  assert.equal(FLUX.layers * FLUX.heads, 1368);
});

test("FLUX marks the double/single boundary at layer 19; SD3 has none", () => {
  assert.deepEqual(groupBoundaries(FLUX), [19]);
  assert.deepEqual(groupBoundaries(SD3), []);
  assert.deepEqual(blockOf(FLUX, 18), { group: "double", index: 18 });
  assert.deepEqual(blockOf(FLUX, 19), { group: "single", index: 0 });
  assert.deepEqual(blockOf(FLUX, 56), { group: "single", index: 37 });
  assert.equal(blockOf(SD3, 5), null);
});

test("labels", () => {
  assert.equal(layoutLabel(FLUX), "flux.1-dev (57\u00d724)");
  assert.equal(layoutLabel(LAYOUTS.find((l) => l.family === "sdxl")), "sdxl (70\u00d710\u201320)");
  assert.equal(layoutLabel(LAYOUTS.find((l) => l.family === "sd1.5")), "sd1.5 (16\u00d78)");
  const model = normalizeLayout({ arch: "sd3", arch_name: "SD3", family: null, layers: 3, heads: 3, groups: [], description: "" });
  assert.equal(layoutLabel(model), "this model: SD3 3\u00d73");
  assert.equal(model.id, "sd3/model-3x3");
});

test("families guessed from model file names", () => {
  assert.equal(familyFromModelName("flux1-dev-fp8.safetensors"), "flux.1-dev");
  assert.equal(familyFromModelName("FLUX.1-schnell.safetensors"), "flux.1-schnell");
  assert.equal(familyFromModelName("sd3.5_large.safetensors"), "sd3.5-large");
  assert.equal(familyFromModelName("sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors"), "sd3.5-medium");
  assert.equal(familyFromModelName("sd3_medium_incl_clips.safetensors"), "sd3-medium");
  assert.equal(familyFromModelName("flux2_dev_fp8mixed.safetensors"), "flux.2-dev");
  assert.equal(familyFromModelName("flux-2-klein-4b.safetensors"), "flux.2-klein-4b");
  assert.equal(familyFromModelName("flux-2-klein-9b-fp8.safetensors"), "flux.2-klein-9b");
  assert.equal(familyFromModelName("flux-2-klein.safetensors"), "flux.2-klein-4b"); // the open one, until it runs
  assert.equal(familyFromModelName("Chroma1-HD.safetensors"), "chroma");
  assert.equal(familyFromModelName("chroma-radiance-x0.safetensors"), "chroma-radiance");
  assert.equal(familyFromModelName("qwen_image_fp8_e4m3fn.safetensors"), "qwen-image");
  assert.equal(familyFromModelName("aura_flow_0.3.safetensors"), "auraflow");
  assert.equal(familyFromModelName("wan2.1_t2v_1.3B_fp16.safetensors"), "wan2.1-1.3b");
  assert.equal(familyFromModelName("wan2.2_ti2v_5B_fp16.safetensors"), "wan2.2-5b");
  assert.equal(familyFromModelName("wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors"), "wan-14b");
  assert.equal(familyFromModelName("hunyuan_video_t2v_720p_bf16.safetensors"), "hunyuan-video");
  assert.equal(familyFromModelName("hidream_i1_dev_fp8.safetensors"), "hidream-i1");
  assert.equal(familyFromModelName("lumina_2_model_bf16.safetensors"), "lumina-image-2");
  assert.equal(familyFromModelName("z_image_turbo_bf16.safetensors"), "z-image");
  assert.equal(familyFromModelName("v1-5-pruned.ckpt"), "sd1.5");
  assert.equal(familyFromModelName("sd_xl_base_1.0.safetensors"), "sdxl");
  assert.equal(familyFromModelName("juggernautXL_v9.safetensors"), "sdxl");
  assert.equal(familyFromModelName("sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors"), "sd3.5-medium");
  assert.equal(familyFromModelName("t5xxl_fp16.safetensors"), null);
  assert.equal(familyFromModelName("dreamshaper_8.safetensors"), null);
  assert.equal(familyFromModelName(undefined), null);
});

test("choosing the grid: picked > last run's model > preset > model file > default", () => {
  const executed = normalizeLayout({ arch: "flux", family: null, layers: 5, heads: 4, groups: [] });
  const base = { layouts: LAYOUTS };
  assert.equal(chooseLayout({ ...base }).layout, SD3);
  assert.equal(chooseLayout({ ...base }).reason, "default");
  assert.equal(chooseLayout({ ...base, modelName: "flux1-dev.safetensors" }).layout, FLUX);
  const preset = chooseLayout({ ...base, modelName: "flux1-dev.safetensors", presetFamily: "sd3.5-large", presetName: "P" });
  assert.deepEqual([preset.layout, preset.reason], [SD35L, "preset 'P'"]);
  assert.equal(chooseLayout({ ...base, presetFamily: "sd3.5-large", executed }).layout, executed);
  assert.equal(chooseLayout({ ...base, choice: FLUX.id, executed }).layout, FLUX);
  assert.equal(chooseLayout({ ...base, choice: executed.id, executed }).layout, executed);
  // A picked grid that no longer exists falls back to auto.
  assert.equal(chooseLayout({ ...base, choice: "gone/x" }).layout, SD3);
  assert.equal(chooseLayout({ layouts: [], choice: AUTO }).layout, null);
});

test("the file name is only a hint: the layout of the model that ran wins over it", () => {
  // An SDXL fine-tune saved under a FLUX-looking name: after the run the grid is the run's SDXL.
  const SDXL = LAYOUTS.find((l) => l.family === "sdxl");
  const ran = normalizeLayout(PAYLOAD.architectures.find((a) => a.id === "unet").variants.find((v) => v.family === "sdxl"));
  const before = chooseLayout({ layouts: LAYOUTS, modelName: "flux-style-merge.safetensors" });
  assert.equal(before.layout, FLUX);
  assert.match(before.reason, /a guess from its name, until the model runs/);
  const after = chooseLayout({ layouts: LAYOUTS, modelName: "flux-style-merge.safetensors", executed: ran });
  assert.deepEqual([after.layout.family, after.layout.layers, after.reason], ["sdxl", 70, "the model of the last run"]);
  assert.deepEqual(after.layout.headsPerLayer, SDXL.headsPerLayer);
  // A name that says nothing: the default until the run.
  assert.equal(chooseLayout({ layouts: LAYOUTS, modelName: "dreamshaper_8.safetensors" }).reason, "default");
});

test("U-Net groups: input | middle | output boundaries, block labels from the server", () => {
  const SDXL = LAYOUTS.find((l) => l.family === "sdxl");
  assert.deepEqual(groupBoundaries(SDXL), [24, 34]);
  assert.equal(SDXL.layerLabels[65], "output block 3, transformer 1");
  assert.deepEqual(SDXL.layerKeys[24], ["middle", 0, 0]);
  assert.deepEqual(SDXL.groups.map((g) => [g.alias, g.oneBlock]), [["in", false], ["mid", true], ["out", false]]);
});
