"""Preset nodes inside a real ComfyUI: presets through the engine on tiny SD3 / FLUX models, the user
folder (pointed at a tmp dir), broken files, saving, and ComfyUI's own prompt validation."""
import asyncio
import json
import logging

import pytest
import torch

TOKENS_ALL = "all tokens (paper)"
NODE_IDS = ("HeadHunterPreset", "HeadHunterHeads", "HeadHunterCombine", "HeadHunterSavePreset")


@pytest.fixture
def user_dir(host, tmp_path, monkeypatch):
    """The user preset folder, pointed at a tmp dir the way extra_model_paths.yaml would."""
    import folder_paths

    folder = tmp_path / "headhunter_presets"
    monkeypatch.setitem(folder_paths.folder_names_and_paths, "headhunter_presets", ([str(folder)], {".json"}))
    return folder


@pytest.fixture(scope="module")
def nodes_(host):
    class N:
        presets = host("nodes.preset_nodes")
        head_sets = host("nodes.head_sets")
        attention = host("nodes.perturbed_attention").HeadHunterPerturbedAttention
    return N


def write_preset(folder, pid, family, heads, **extra):
    arch = "flux" if family.startswith("flux") else "sd3"
    data = {"format": "headhunter-preset", "version": 1, "name": pid, "family": family, "architecture": arch,
            "heads": heads, **extra}
    path = folder / f"{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def perturb(hh, nodes_, model, heads="", head_set=None, scale=3.0, u=1.0):
    args = dict(model=model, heads=heads, scale=scale, softpag_u=u, start_percent=0.0, end_percent=1.0, rescale=0.0,
                perturb_tokens=TOKENS_ALL)
    if head_set is not None:
        args["head_set"] = head_set
    return hh.run_node(nodes_.attention, **args)[0]


def comfy_validate(node_id, inputs, **others):
    """ComfyUI's own prompt validation of node "1" (execution.validate_inputs); ``others``: linked nodes."""
    import execution

    prompt = {"1": {"class_type": node_id, "inputs": inputs}, **others}
    ok, errors, _ = asyncio.run(execution.validate_inputs("test", prompt, "1", {}))
    return ok, errors


def test_nodes_and_the_user_folder_are_registered(host):
    import os

    import folder_paths
    import nodes

    for node_id in NODE_IDS:
        assert node_id in nodes.NODE_CLASS_MAPPINGS, node_id
    paths, extensions = folder_paths.folder_names_and_paths["headhunter_presets"]
    assert os.path.join(folder_paths.models_dir, "headhunter_presets") in paths and ".json" in extensions


@pytest.mark.parametrize("kind", ["sd3", "flux"])
def test_a_preset_applies_through_the_engine_like_the_same_heads_typed(host, hh, sd3, flux, nodes_, user_dir, kind,
                                                                      caplog):
    model = sd3 if kind == "sd3" else flux
    family = "sd3-medium" if kind == "sd3" else "flux.1-dev"
    # FLUX: L1 is a double block, L3 a single block of the tiny model.
    heads = [{"head": "L1H0", "u": 0.5}, {"head": "L2H2"}] if kind == "sd3" else [{"head": "L1H3", "u": 0.5}, {"head": "L3H1"}]
    typed = "L1H0@0.5, L2H2" if kind == "sd3" else "L1H3@0.5, L3H1"
    write_preset(user_dir, f"tiny-{kind}", family, heads, recommended={"scale": 2.5, "softpag_u": 0.75})
    head_set, scale, u, steps, cfg, description = hh.run_node(nodes_.presets.HeadHunterPreset, preset=f"tiny-{kind}")
    assert (scale, u, steps, cfg) == (2.5, 0.75, 20, 1.0)  # steps and cfg fall back
    assert f"tiny-{kind}" in description and typed in description
    pos, neg = hh.conditioning(kind, seed=1), hh.conditioning(kind, seed=2)
    with caplog.at_level(logging.WARNING, logger="HeadHunter"):
        from_preset = hh.ksampler(perturb(hh, nodes_, model, head_set=head_set, scale=scale, u=u), pos, neg)
    assert f"preset 'tiny-{kind}' was found on {family}" in caplog.text and "Applying it anyway" in caplog.text
    from_text = hh.ksampler(perturb(hh, nodes_, model, heads=typed, scale=2.5, u=0.75), pos, neg)
    assert torch.equal(from_preset, from_text)
    assert not torch.allclose(from_preset, hh.ksampler(model, pos, neg), atol=1e-4)


def test_preset_heads_join_the_typed_heads(host, hh, sd3, nodes_, user_dir):
    write_preset(user_dir, "one", "sd3-medium", [{"head": "L1H0"}])
    (head_set, *_), pos, neg = hh.run_node(nodes_.presets.HeadHunterPreset, preset="one"), hh.conditioning("sd3"), \
        hh.conditioning("sd3", seed=2)
    joined = hh.ksampler(perturb(hh, nodes_, sd3, heads="L2H2", head_set=head_set), pos, neg)
    assert torch.equal(joined, hh.ksampler(perturb(hh, nodes_, sd3, heads="L1H0, L2H2"), pos, neg))


def test_a_bad_typed_head_beside_a_good_preset_is_not_blamed_on_the_preset(host, hh, sd3, nodes_, user_dir):
    write_preset(user_dir, "fits", "sd3-medium", [{"head": "L1H0"}])
    (head_set, *_) = hh.run_node(nodes_.presets.HeadHunterPreset, preset="fits")
    with pytest.raises(ValueError) as error:
        perturb(hh, nodes_, sd3, heads="L9H0", head_set=head_set)
    assert str(error.value).startswith("L9H0: layer 9 is out of range for SD3: 3 layers") and "fits" not in str(error.value)


def test_a_flux_preset_on_sd3_fails_naming_preset_and_both_architectures(host, hh, sd3, nodes_, user_dir):
    (flux_set, *_) = hh.run_node(nodes_.presets.HeadHunterPreset, preset="flux.1-dev/heads/golden-hour-L38H18")
    with pytest.raises(ValueError, match=r"preset 'FLUX golden hour \(L38H18\)' was made for FLUX \(flux.1-dev\) but "
                       r"the model is SD3: 3 layers \(joint blocks 0-2\) x 3 heads"):
        perturb(hh, nodes_, sd3, head_set=flux_set)


def test_a_full_size_preset_on_the_tiny_model_names_its_family(host, hh, sd3, flux, nodes_, user_dir):
    (sd3_set, *_) = hh.run_node(nodes_.presets.HeadHunterPreset, preset="sd3-medium/styles/golden-hour-round3")
    with pytest.raises(ValueError, match=r"preset 'SD3 golden hour \(round-3 heads\)', made for SD3 \(sd3-medium\), has "
                       r"heads outside this model: L18H11: layer 18 is out of range for SD3: 3 layers"):
        perturb(hh, nodes_, sd3, head_set=sd3_set)
    (flux_set, *_) = hh.run_node(nodes_.presets.HeadHunterPreset, preset="flux.1-dev/heads/golden-hour-L38H18")
    with pytest.raises(ValueError, match=r"made for FLUX \(flux.1-dev\), has heads outside this model: L38H18"):
        perturb(hh, nodes_, flux, head_set=flux_set)


def test_a_broken_file_beside_good_ones(host, hh, nodes_, user_dir, caplog):
    write_preset(user_dir, "good", "sd3-medium", [{"head": "L1H0"}])
    (user_dir / "broken.json").write_text('{"format": "headhunter-preset", "version": 1,', encoding="utf-8")
    write_preset(user_dir, "future", "sd3-medium", [{"head": "L1H0"}]).write_text(
        json.dumps({"format": "headhunter-preset", "version": 9}), encoding="utf-8")
    (user_dir / "nested.json").write_text("[" * 400_000, encoding="utf-8")  # used to remove the node itself
    write_preset(user_dir, "huge", "sd3-medium", ["L0-999999H0-999999"])  # used to hang start-up
    node = nodes_.presets.HeadHunterPreset
    with caplog.at_level(logging.WARNING, logger="HeadHunter"):
        schema = node.define_schema()
    (combo,) = schema.inputs
    assert "good" in combo.options and "broken" not in combo.options and "future" not in combo.options
    assert "sd3-medium/heads/dark-L1H10" in combo.options and "flux.1-dev/heads/golden-hour-L38H18" in combo.options
    assert "4 preset file(s) could not be read" in combo.tooltip
    assert "nested.json: invalid preset: its JSON is nested too deeply" in caplog.text
    assert "huge.json: \"heads\"[0]: 'L0-999999H0-999999': layer 999999 is out of range" in caplog.text
    assert "broken.json: invalid JSON at line 1" in caplog.text
    assert "future.json: written for preset format version 9" in caplog.text
    assert hh.run_node(node, preset="good")[0].to_text() == "L1H0"
    # ComfyUI's own validation shows why a preset cannot be used.
    ok, errors = comfy_validate("HeadHunterPreset", {"preset": "broken"})
    assert not ok and "'broken' cannot be read" in errors[0]["details"] and "invalid JSON" in errors[0]["details"]
    ok, errors = comfy_validate("HeadHunterPreset", {"preset": "good"})
    assert ok, errors


def test_a_preset_that_disappears_after_listing_gives_a_clear_error(host, hh, nodes_, user_dir):
    path = write_preset(user_dir, "soon-gone", "sd3-medium", [{"head": "L1H0"}])
    node = nodes_.presets.HeadHunterPreset
    assert "soon-gone" in node.define_schema().inputs[0].options
    path.unlink()
    with pytest.raises(ValueError, match=r"preset 'soon-gone' was not found in the shipped presets or the user preset "
                       r"folder\(s\) .*renamed or deleted"):
        node.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(preset="soon-gone")
    ok, errors = comfy_validate("HeadHunterPreset", {"preset": "soon-gone"})
    assert not ok and "was not found" in errors[0]["details"]


def test_an_edited_preset_file_is_not_served_from_cache(host, nodes_, user_dir):
    path = write_preset(user_dir, "edited", "sd3-medium", [{"head": "L1H0"}])
    node = nodes_.presets.HeadHunterPreset
    before = node.fingerprint_inputs(preset="edited")
    write_preset(user_dir, "edited", "sd3-medium", [{"head": "L1H0"}, {"head": "L2H1"}])
    import os
    os.utime(path, ns=(1, 1))  # a different mtime whatever the file system's clock resolution
    assert node.fingerprint_inputs(preset="edited") != before


def test_save_then_reload_gives_the_same_head_set(host, hh, nodes_, user_dir):
    preset = nodes_.presets.HeadHunterPreset
    layer, *_ = hh.run_node(preset, preset="sd3-medium/layers/layer13-diffusers-pag")
    shadow, *_ = hh.run_node(preset, preset="sd3-medium/heads/shadow-L13H17")
    (combined,) = hh.run_node(nodes_.head_sets.HeadHunterCombine, a=layer, b=shadow, operation="difference (a - b)")
    save = nodes_.presets.HeadHunterSavePreset
    settings = dict(description="layer 13 without the shadow head", family="from head set", scale=1.5, softpag_u=0.5,
                    steps=30, cfg=4.0, tags="quality, layer-level", notes="compared on 10 prompts", overwrite=False)
    out = save.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(head_set=combined, name="mine/layer 13 - shadow", **settings)
    assert out.result == ("mine/layer 13 - shadow",)
    assert "Saved preset 'mine/layer 13 - shadow'" in out.ui.as_dict()["text"][0]
    assert (user_dir / "mine/layer 13 - shadow.json").is_file()
    assert "mine/layer 13 - shadow" in preset.define_schema().inputs[0].options
    back, scale, u, steps, cfg, description = hh.run_node(preset, preset="mine/layer 13 - shadow")
    assert (back.entries, back.excluded, back.arch, back.family) == (
        combined.entries, combined.excluded, combined.arch, combined.family)
    assert back.to_text() == "L13, -L13H17"
    assert (scale, u, steps, cfg) == (1.5, 0.5, 30, 4.0)
    assert "layer 13 without the shadow head" in description
    saved = json.loads((user_dir / "mine/layer 13 - shadow.json").read_text(encoding="utf-8"))
    assert saved["provenance"] == {"source": "user", "based_on": combined.name, "notes": "compared on 10 prompts"}
    assert saved["tags"] == ["quality", "layer-level"]


def test_save_refuses_traversal_shipped_names_and_typed_heads_without_family(host, hh, nodes_, user_dir):
    save = nodes_.presets.HeadHunterSavePreset
    assert "is not allowed: presets are saved inside the user preset folder" in save.validate_inputs(name="../x")
    assert "shipped preset, which is never overwritten" in save.validate_inputs(name="sd3-medium/heads/dark-L1H10")
    assert save.validate_inputs(name="fine name") is True
    ok, errors = comfy_validate("HeadHunterSavePreset", {
        "head_set": ["2", 0], "name": "../../evil", "description": "", "family": "from head set", "scale": 3.0,
        "softpag_u": 1.0, "steps": 20, "cfg": 1.0, "tags": "", "notes": "", "overwrite": False},
        **{"2": {"class_type": "HeadHunterHeads", "inputs": {"heads": "L1H0"}}})
    assert not ok and any("is not allowed" in e.get("details", "") for e in errors)
    (typed,) = hh.run_node(nodes_.head_sets.HeadHunterHeads, heads="L1H0")
    settings = dict(description="", scale=3.0, softpag_u=1.0, steps=20, cfg=1.0, tags="", notes="", overwrite=False)
    run = save.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED
    with pytest.raises(ValueError, match="choose a family"):
        run(head_set=typed, name="typed", family="from head set", **settings)
    with pytest.raises(ValueError, match=r"'\.\./x' is not allowed"):
        run(head_set=typed, name="../x", family="sd3-medium", **settings)
    assert not user_dir.exists()
    run(head_set=typed, name="typed", family="sd3.5-medium", **settings)
    assert json.loads((user_dir / "typed.json").read_text())["family"] == "sd3.5-medium"


def test_heads_node_checks_syntax_and_applies_a_default_u(host, hh, nodes_):
    heads = nodes_.head_sets.HeadHunterHeads
    assert "'L1X' is not a head" in heads.validate_inputs(heads="L1H0, L1X")
    (hs,) = hh.run_node(heads, heads="L1H0, L2H2@0.25", default_u=0.5)
    assert hs.entries == ((1, 0, 0.5), (2, 2, 0.25)) and hs.arch is None
    (hs,) = hh.run_node(heads, heads="L1H0")
    assert hs.entries == ((1, 0, None),)


def test_combine_node_refuses_sets_of_different_architectures(host, hh, nodes_):
    preset = nodes_.presets.HeadHunterPreset
    sd3_set, *_ = hh.run_node(preset, preset="sd3-medium/heads/dark-L1H10")
    flux_set, *_ = hh.run_node(preset, preset="flux.1-dev/heads/golden-hour-L38H18")
    with pytest.raises(ValueError, match=r"cannot combine .*made for SD3 \(sd3-medium\).*made for FLUX \(flux.1-dev\)"):
        hh.run_node(nodes_.head_sets.HeadHunterCombine, a=sd3_set, b=flux_set, operation="union (a + b)")


class _Sink:
    """What ComfyUI's PromptExecutor needs of its PromptServer: records the messages."""

    def __init__(self):
        self.client_id, self.last_node_id, self.sockets_metadata, self.messages = None, None, {}, []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


def test_requeueing_save_preset_after_its_file_was_deleted_writes_it_again(host, user_dir):
    # ComfyUI's own executor and cache: the second run must not answer "Saved" from the cache.
    import execution

    prompt = {"1": {"class_type": "HeadHunterHeads", "inputs": {"heads": "L1H0, L2"}},
              "2": {"class_type": "HeadHunterSavePreset", "inputs": {
                  "head_set": ["1", 0], "name": "requeued", "description": "", "family": "sd3-medium", "scale": 3.0,
                  "softpag_u": 1.0, "steps": 20, "cfg": 1.0, "tags": "", "notes": "", "overwrite": False}}}
    import hh_releases

    executor = hh_releases.prompt_executor(_Sink())  # ComfyUI's default (classic) output cache
    path = user_dir / "requeued.json"
    for attempt in range(2):
        queued = json.loads(json.dumps(prompt))  # a fresh prompt each time, as the server gets from the page
        valid, error, outputs, node_errors = asyncio.run(execution.validate_prompt(str(attempt), queued, None))
        assert valid, (error, node_errors)
        executor.execute(queued, str(attempt), {"client_id": "test"}, outputs)
        assert executor.success
        assert path.is_file(), f"run {attempt + 1}: Save Preset reported success but wrote nothing"
        path.unlink()


def test_official_search_result_imports_and_saves_with_provenance(host, hh, nodes_, user_dir):
    """final_perturb_heads.txt of the paper's code: 'layer,head' lines, in selection order."""
    node = nodes_.head_sets.HeadHunterImportOfficialHeads
    text = "\ufeff14,13\n0,2\n\n# a comment\n 1 , 10 \n0,2\n"
    (head_set,) = hh.run_node(node, text=text, source="runs/golden/final_perturb_heads.txt", family="sd3-medium", u=0.5)
    assert head_set.to_text() == "L14H13@0.5, L0H2@0.5, L1H10@0.5"
    assert (head_set.arch, head_set.family) == ("sd3", "sd3-medium")
    save = nodes_.presets.HeadHunterSavePreset
    settings = dict(description="", family="from head set", scale=3.0, softpag_u=1.0, steps=20, cfg=1.0, tags="",
                    notes="", overwrite=False)
    save.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(head_set=head_set, name="imported/golden", **settings)
    saved = json.loads((user_dir / "imported/golden.json").read_text(encoding="utf-8"))
    assert saved["provenance"]["source"] == "search"
    assert saved["provenance"]["file"] == "runs/golden/final_perturb_heads.txt"
    assert "cvlab-kaist/HeadHunter" in saved["provenance"]["reference"]
    assert [h["head"] for h in saved["heads"]] == ["L14H13", "L0H2", "L1H10"]
    for bad, says in (("14;13", "line 1: '14;13' is not 'layer,head'"), ("1,2\n3,x", "line 2"),
                      ("2000,1", "out of range"), ("", "no heads"), ("1,1\n" * 20000, "too large")):
        with pytest.raises(ValueError, match=says):
            hh.run_node(node, text=bad, source="f.txt", family="unknown", u=1.0)


@pytest.mark.parametrize("text", ["L0-9999999H*", "L0-999999999H*", "L0-999999H0-999999"])
def test_a_queued_prompt_with_huge_head_ranges_is_refused_at_validation(host, text):
    # ComfyUI's own prompt validation, as when the prompt is queued: an error naming the token,
    # before any node runs (these held the server for 16 s at 5 GB, or until killed).
    for node_id, inputs in (("HeadHunterHeads", {"heads": text}),
                            ("HeadHunterSearch", {"candidates": text, "run_name": "x", "seeds": ""})):
        ok, errors = comfy_validate(node_id, inputs)
        assert not ok
        assert any(f"'{text}': layer" in e["details"] and "out of range" in e["details"] for e in errors), errors
