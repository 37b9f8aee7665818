"""Preset format, shipped presets, user folder, composition and model checks (host-free)."""
import copy
import json
import os

import pytest

from hh_pack import architecture_modules, preset_modules


@pytest.fixture
def presets(pack):
    return preset_modules(pack)


@pytest.fixture
def heads(pack):
    return pack("core.heads")


@pytest.fixture
def arch(pack):
    return architecture_modules(pack)


@pytest.fixture(scope="module")
def shipped(pack):
    mod = preset_modules(pack)
    found, errors = mod.files.load_presets([(mod.files.SHIPPED_DIR, True)])
    assert errors == []
    return {p.id: p for p in found}


MINIMAL = {"format": "headhunter-preset", "version": 1, "name": "mine", "family": "sd3-medium", "architecture": "sd3",
           "heads": [{"head": "L14H13"}]}


def pairs(head_set, layout, u=1.0):
    return {(l, h): v for l, h, v in head_set.resolve(layout, default_u=u)}


# ---- format -----------------------------------------------------------------------------------
def test_minimal_preset_loads_and_missing_settings_fall_back(presets, arch):
    p = presets.fmt.preset_from_dict(copy.deepcopy(MINIMAL), "mine")
    assert (p.name, p.family, p.arch, p.description, p.tags, p.provenance) == ("mine", "sd3-medium", "sd3", "", [], {})
    assert [p.setting(k) for k in ("scale", "softpag_u", "steps", "cfg")] == [3.0, 1.0, 20, 1.0]
    assert "not given" in p.summary()
    hs = p.head_set()
    assert (hs.name, hs.arch, hs.family, hs.notes.preset) == ("mine", "sd3", "sd3-medium", "mine")


def test_round_trip_through_json_keeps_everything(presets, heads, arch):
    d = {**MINIMAL, "description": "d", "tags": ["style"], "future_key": {"kept": True},
         "heads": [{"head": "L18H11", "u": 0.5, "label": "golden", "confidence": "medium", "note": "why",
                    "score": 21.5, "extra": 1},
                   {"head": "L5"}, {"head": "-L5H3"}, {"head": "L7-8H0-1"}],
         "recommended": {"scale": 3, "softpag_u": 0.75, "steps": 20, "cfg": 3.0, "notes": "n", "later": 1},
         "provenance": {"source": "search", "reference": "run 1", "prompts": ["a", "b"]}}
    p = presets.fmt.preset_from_dict(copy.deepcopy(d), "x/y")
    text = presets.fmt.dumps_preset(p)
    again = presets.fmt.preset_from_dict(json.loads(text), "x/y")
    assert presets.fmt.preset_to_dict(again) == presets.fmt.preset_to_dict(p)
    assert again.head_set() == p.head_set()
    assert presets.fmt.preset_to_dict(p)["future_key"] == {"kept": True}
    assert p.recommended["scale"] == 3.0 and isinstance(p.recommended["scale"], float)
    layout = arch.layout.variant_layout("sd3", "sd3-medium")
    got = pairs(p.head_set(), layout, u=1.0)
    want = {(18, 11): 0.5, **{(5, h): 1.0 for h in range(24) if h != 3},
            **{(l, h): 1.0 for l in (7, 8) for h in (0, 1)}}
    assert got == want
    assert p.head_set().notes.labels == {"L18H11": "golden"}
    assert p.head_set().notes.scores == {"L18H11": 21.5}


def test_head_set_to_preset_and_back(presets, heads, arch):
    hs = heads.HeadSet.parse("L14H13@0.5, L5, -L5H3, L1-2H0-3, L9H2@0.25", name="typed")
    hs = type(hs)(hs.entries, hs.excluded, notes=heads.HeadNotes(labels={"L14H13": "3D"}, scores={"L9H2": 1.5}))
    p = presets.fmt.preset_from_head_set(hs, "saved", "Saved", family="sd3-medium", recommended={"scale": 2.0})
    back = p.head_set()
    assert (back.entries, back.excluded) == (hs.entries, hs.excluded)
    assert back.to_text() == hs.to_text()
    assert back.notes.labels == {"L14H13": "3D"} and back.notes.scores == {"L9H2": 1.5}
    layout = arch.layout.variant_layout("sd3", "sd3-medium")
    assert pairs(back, layout) == pairs(hs, layout)


def test_head_set_to_preset_needs_a_family_matching_its_architecture(presets, heads):
    hs = heads.HeadSet.parse("L1H2")
    with pytest.raises(presets.checks.PresetError, match="choose a family"):
        presets.fmt.preset_from_head_set(hs, "a", "a")
    flux = heads.HeadSet.parse("L40H2", arch="flux", family="flux.1-dev")
    with pytest.raises(presets.checks.PresetError, match="made for FLUX but family 'sd3-medium' is SD3"):
        presets.fmt.preset_from_head_set(flux, "a", "a", family="sd3-medium")
    with pytest.raises(presets.checks.PresetError, match="empty"):
        presets.fmt.preset_from_head_set(heads.HeadSet(), "a", "a", family="sd3-medium")


def _with(**changes):
    d = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is _DROP:
            d.pop(key)
        else:
            d[key] = value
    return d


_DROP = object()


@pytest.mark.parametrize("data, message", [
    ([1, 2], r"a preset is a JSON object, not a list"),
    (_with(format="other"), r'not a HeadHunter preset: "format" must be "headhunter-preset" \(got "other"\)'),
    (_with(format=_DROP), r'"format" must be "headhunter-preset" \(got nothing\)'),
    (_with(version=2), r"format version 2, but this HeadHunter reads versions up to 1: update the HeadHunter"),
    (_with(version="1"), r'"version" must be a whole number >= 1 \(got "1"\)'),
    (_with(version=True), r'"version" must be a whole number'),
    (_with(name=""), r'"name" must be non-empty text'),
    (_with(architecture="sdxl"), r"unknown architecture 'sdxl' \(known: sd3, flux, flux2, chroma, qwen-image, auraflow, hunyuan-video, wan, hidream, lumina2, unet\)"),
    (_with(family="sd3-meduim"), r"unknown model family 'sd3-meduim' \(known: sd3-medium, "),
    (_with(family="flux.1-dev"), r"\"family\" 'flux.1-dev' is a flux model, but \"architecture\" is 'sd3'"),
    (_with(heads=[]), r'"heads" must be a non-empty list'),
    (_with(heads="L1H2"), r'"heads" must be a non-empty list'),
    (_with(heads=[{"u": 0.5}]), r'"heads"\[0\] needs "head": a head like "L14H13" \(got nothing\)'),
    (_with(heads=[{"head": "L1X"}]), r"\"heads\"\[0\]: 'L1X' is not a head"),
    (_with(heads=[{"head": "L1H2@0.5"}]), r'write the strength as "u": 0.5'),
    (_with(heads=[{"head": "L1H2, L3H4"}]), r"one head per entry"),
    (_with(heads=[{"head": "L1H2"}, {"head": "L1H3", "u": 1.5}]), r'"heads"\[1\] \("L1H3"\): "u" must be a number in \[0, 1\]'),
    (_with(heads=[{"head": "-L1H3", "u": 0.5}]), r"a removed head takes no \"u\""),
    (_with(heads=[{"head": "L1H2", "confidence": "sure"}]), r'"confidence" must be one of high, medium, low'),
    (_with(heads=[{"head": "L1H2", "label": 3}]), r'"label" must be text \(got 3\)'),
    (_with(heads=[{"head": "L30H2"}]), r'"heads" do not fit sd3-medium.*L30H2: layer 30 is out of range'),
    (_with(heads=[{"head": "L3H24"}]), r"L3H24: head 24 is out of range .*\(heads 0-23\)"),
    (_with(recommended={"steps": 2.5}), r'"recommended"."steps" must be a whole number in \[1, 10000\] or null'),
    (_with(recommended={"softpag_u": 2}), r'"recommended"."softpag_u" must be a number in \[0, 1\]'),
    (_with(recommended={"scale": "3"}), r'"recommended"."scale" must be a number'),
    (_with(recommended=[3]), r'"recommended" must be an object'),
    (_with(tags="style"), r'"tags" must be a list of text'),
    (_with(provenance={"source": "internet"}), r'"provenance"."source" must be one of paper, search, user, layer-level'),
])
def test_schema_errors_say_what_is_wrong(presets, data, message):
    with pytest.raises(presets.checks.PresetError, match=message):
        presets.fmt.preset_from_dict(data, "x")


# ---- shipped presets --------------------------------------------------------------------------
def test_every_shipped_preset_loads_and_fits_its_family(presets, arch, shipped):
    assert len(shipped) >= 40
    names = [p.name for p in shipped.values()]
    assert len(set(names)) == len(names)
    for p in shipped.values():
        assert p.shipped and p.id.split("/")[0] == p.family
        layout = arch.layout.variant_layout(p.arch, p.family)
        assert p.head_set().resolve(layout), p.id  # raises if a head is outside its family
        assert p.description and p.provenance["source"] in presets.checks.SOURCES
        assert all(p.recommended.get(k) is not None for k in presets.checks.SETTINGS), p.id  # every setting given
        assert p.recommended.get("notes"), p.id  # where each number comes from
        if p.provenance["source"] == "paper":
            assert "paper" in p.provenance and all(h.get("confidence") in presets.checks.CONFIDENCE for h in p.heads), p.id


def test_shipped_files_are_written_in_the_canonical_layout(presets, shipped):
    # Hand edits stay reviewable: each file is exactly what dumps_preset writes for it.
    for p in shipped.values():
        assert p.path.read_text(encoding="utf-8") == presets.fmt.dumps_preset(p), (
            f"{p.id}: rewrite it with core.presets.fmt.dumps_preset (one line per head, two-space indents)")


@pytest.mark.parametrize("pid, heads_text, family", [
    ("sd3-medium/heads/dark-L1H10", "L1H10", "sd3-medium"),
    ("sd3-medium/styles/golden-hour-round3", "L18H11, L0H17, L2H3", "sd3-medium"),
    ("sd3-medium/styles/spring-bloom-round2", "L0H2, L13H19, L5H12", "sd3-medium"),
    ("sd3-medium/layers/layer13-diffusers-pag", "L13", "sd3-medium"),
    ("sd3.5-medium/layers/layers7-9-slg", "L7, L8, L9", "sd3.5-medium"),
    ("flux.1-dev/heads/golden-hour-L38H18", "L38H18", "flux.1-dev"),
    ("flux.1-dev/layers/single-blocks7-9", "L26, L27, L28", "flux.1-dev"),
    ("sd1.5/layers/middle-block-pag", "L6", "sd1.5"),
    ("sdxl/layers/middle-block-pag", ", ".join(f"L{layer}" for layer in range(24, 34)), "sdxl"),
])
def test_shipped_presets_hold_the_heads_the_sources_name(shipped, pid, heads_text, family):
    p = shipped[pid]
    assert p.head_set().to_text() == heads_text and p.family == family


def test_flux_layer_numbers_reach_single_blocks(arch, shipped):
    layout = arch.layout.variant_layout("flux", "flux.1-dev")
    for p in shipped.values():
        if p.family == "flux.1-dev" and p.provenance["source"] == "paper":
            for layer, _, _ in p.head_set().resolve(layout):
                assert layout.block_of(layer)[0] == "single_block"  # all published FLUX heads are L >= 34


# ---- composition ------------------------------------------------------------------------------
COMBOS = [
    ("sd3-medium/heads/dark-L1H10", "sd3-medium/heads/shearing-L11H15"),
    ("sd3-medium/combos/darker-fig36", "sd3-medium/combos/dark-shearing-fig3"),
    ("sd3-medium/layers/layer13-diffusers-pag", "sd3-medium/heads/shadow-L13H17"),
    ("sd3-medium/layers/layer9-paper-softpag", "sd3-medium/layers/layer13-diffusers-pag"),
    ("flux.1-dev/combos/golden-hour-glossy-fig35", "flux.1-dev/combos/golden-hour-green-filter-fig35"),
]


@pytest.mark.parametrize("a_id, b_id", COMBOS)
@pytest.mark.parametrize("op", ["union", "intersection", "difference"])
def test_combine_presets_matches_set_algebra_of_their_heads(presets, arch, shipped, a_id, b_id, op):
    a, b = shipped[a_id].head_set(), shipped[b_id].head_set()
    layout = arch.layout.variant_layout(a.arch, a.family)
    sa, sb = set(pairs(a, layout)), set(pairs(b, layout))
    want = {"union": sa | sb, "intersection": sa & sb, "difference": sa - sb}[op]
    result = presets.algebra.combine(a, b, op)
    assert set(pairs(result, layout)) == want
    assert result.arch == a.arch and result.family == a.family
    assert result.name == f"{a.name} {presets.algebra.OPERATIONS[op][0]} {b.name}"
    # Labels follow the heads that are left.
    for key in result.notes.labels:
        assert key in a.notes.labels or key in b.notes.labels


def test_union_of_two_figure_heads_is_the_figure_combination(presets, shipped):
    dark, shear = shipped["sd3-medium/heads/dark-L1H10"], shipped["sd3-medium/heads/shearing-L11H15"]
    union = presets.algebra.combine(dark.head_set(), shear.head_set(), "union")
    fig3 = shipped["sd3-medium/combos/dark-shearing-fig3"].head_set()
    assert (union.entries, union.excluded) == (fig3.entries, fig3.excluded)
    assert union.notes.labels == fig3.notes.labels
    inter = presets.algebra.combine(shipped["sd3-medium/combos/darker-fig36"].head_set(), fig3, "intersection")
    assert inter.to_text() == "L1H10" and inter.notes.labels == {"L1H10": "dark / lighting"}


def test_layer_minus_a_head_saves_and_reloads(presets, arch, shipped, tmp_path):
    result = presets.algebra.combine(shipped["sd3-medium/layers/layer13-diffusers-pag"].head_set(),
                             shipped["sd3-medium/heads/shadow-L13H17"].head_set(), "difference")
    assert result.to_text() == "L13, -L13H17"
    p = presets.fmt.preset_from_head_set(result, "layer13-no-shadow", "layer 13 without shadow")
    presets.files.save_preset(tmp_path, p)
    (back,), errors = presets.files.load_presets([(tmp_path, False)])
    assert errors == [] and back.head_set() == p.head_set()
    layout = arch.layout.variant_layout("sd3", "sd3-medium")
    assert set(pairs(back.head_set(), layout)) == {(13, h) for h in range(24) if h != 17}


def test_combining_different_architectures_fails_naming_both(presets, shipped):
    sd3 = shipped["sd3-medium/heads/dark-L1H10"].head_set()
    flux = shipped["flux.1-dev/heads/golden-hour-L38H18"].head_set()
    with pytest.raises(presets.algebra.HeadSetError, match=r"cannot combine preset 'SD3 dark / lighting \(L1H10\)' \(made for "
                       r"SD3 \(sd3-medium\)\) with preset 'FLUX golden hour \(L38H18\)' \(made for FLUX \(flux.1-dev\)\)"):
        presets.algebra.combine(sd3, flux, "union")


def test_typed_heads_combine_with_anything_and_mixed_families_drop_the_family(presets, heads, shipped):
    typed = heads.HeadSet.parse("L2H2")
    result = presets.algebra.combine(shipped["sd3-medium/heads/dark-L1H10"].head_set(), typed, "union")
    assert (result.arch, result.family, result.to_text()) == ("sd3", "sd3-medium", "L1H10, L2H2")
    mixed = presets.algebra.combine(shipped["sd3-medium/heads/dark-L1H10"].head_set(),
                            shipped["sd3.5-medium/layers/layers7-9-slg"].head_set(), "union")
    assert (mixed.arch, mixed.family) == ("sd3", None)
    with pytest.raises(ValueError, match="unknown operation 'xor'"):
        presets.algebra.combine(typed, typed, "xor")


# ---- against a model --------------------------------------------------------------------------
def test_wrong_architecture_names_preset_its_architecture_and_the_model(presets, arch, shipped):
    flux = shipped["flux.1-dev/heads/golden-hour-L38H18"].head_set()
    with pytest.raises(presets.algebra.HeadSetError, match=r"preset 'FLUX golden hour \(L38H18\)' was made for FLUX "
                       r"\(flux.1-dev\) but the model is SD3: 24 layers"):
        presets.algebra.check_against_layout(flux, arch.layout.variant_layout("sd3", "sd3-medium"))


def test_heads_outside_the_model_name_the_preset_and_its_family(presets, arch, shipped):
    tiny = arch.layout.ModelLayout(arch.table.architecture("sd3"), (3,), 3)
    p = shipped["sd3-medium/heads/high-res-detail-L14H7"].head_set()
    with pytest.raises(presets.algebra.HeadSetError, match=r"preset 'SD3 high resolution, fine detailed \(L14H7\)', made for "
                       r"SD3 \(sd3-medium\), has heads outside this model: L14H7: layer 14 is out of range for SD3: "
                       r"3 layers"):
        presets.algebra.check_against_layout(p, tiny)


def test_other_family_same_architecture_warns_but_applies(presets, heads, arch):
    tiny = arch.layout.ModelLayout(arch.table.architecture("sd3"), (3,), 3)
    hs = heads.HeadSet.parse("L1H2", name="mine", arch="sd3", family="sd3-medium", notes=heads.HeadNotes(preset="mine"))
    (warning,) = presets.algebra.check_against_layout(hs, tiny)
    assert warning.startswith("preset 'mine' was found on sd3-medium (SD3: 24 layers (joint blocks 0-23) x 24 heads); this model is SD3: 3 layers")
    assert presets.algebra.check_against_layout(hs, arch.layout.variant_layout("sd3", "sd3-medium")) == []
    assert presets.algebra.check_against_layout(heads.HeadSet.parse("L1H2"), tiny) == []  # typed heads: nothing to compare
    with pytest.raises(heads.HeadRangeError, match=r"^L1H5: head 5 is out of range for SD3: 3 layers .*\(heads 0-2\)$"):
        presets.algebra.check_against_layout(heads.HeadSet.parse("L1H5"), tiny)


# ---- files: loading, broken files, saving -----------------------------------------------------
def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))


def test_broken_files_are_reported_and_skipped(presets, tmp_path):
    good = json.dumps(MINIMAL)
    _write(tmp_path / "good.json", good)
    _write(tmp_path / "sub/also-good.json", good)
    _write(tmp_path / "syntax.json", '{"format": "headhunter-preset",')
    _write(tmp_path / "nan.json", good.replace('"version": 1', '"version": 1, "x": NaN'))
    _write(tmp_path / "future.json", good.replace('"version": 1', '"version": 7'))
    _write(tmp_path / "latin1.json", b'{"name": "caf\xe9"}')
    _write(tmp_path / "big.json", " " * (presets.files.MAX_FILE_BYTES + 1))
    _write(tmp_path / "notes.txt", "not a preset")
    _write(tmp_path / ".hidden/x.json", "{")
    found, errors = presets.files.load_presets([(tmp_path, False)])
    assert [p.id for p in found] == ["good", "sub/also-good"]
    by_file = {os.path.basename(e.path): str(e) for e in errors}
    assert set(by_file) == {"syntax.json", "nan.json", "future.json", "latin1.json", "big.json"}
    assert "invalid JSON at line 1, column 32" in by_file["syntax.json"]
    assert "NaN is not allowed" in by_file["nan.json"]
    assert "format version 7" in by_file["future.json"]
    assert "not UTF-8" in by_file["latin1.json"]
    assert "bytes; a preset is at most" in by_file["big.json"]
    assert all(str(tmp_path) in e for e in errors)  # each message names its file
    with pytest.raises(presets.checks.PresetError, match=r"'future' cannot be read: .*future.json: written for preset format version 7"):
        presets.files.find_preset(found, errors, "future", "the test folder")
    with pytest.raises(presets.checks.PresetError, match=r"'gone' was not found in the test folder. It may have been renamed"):
        presets.files.find_preset(found, errors, "gone", "the test folder")


def test_user_file_cannot_stand_in_for_a_shipped_preset(presets, tmp_path):
    shipped_dir, user_dir = tmp_path / "shipped", tmp_path / "user"
    _write(shipped_dir / "a/b.json", json.dumps(MINIMAL))
    _write(user_dir / "a/b.json", json.dumps({**MINIMAL, "name": "impostor"}))
    found, errors = presets.files.load_presets([(shipped_dir, True), (user_dir, False), (tmp_path / "missing", False)])
    assert [(p.id, p.name, p.shipped) for p in found] == [("a/b", "mine", True)]
    (error,) = errors
    assert "has the same name 'a/b' as a shipped preset and is ignored" in error


def _preset(presets, pid="my/look", **kw):
    return presets.fmt.preset_from_dict({**copy.deepcopy(MINIMAL), **kw}, pid)


def test_save_then_load_gives_the_same_preset(presets, tmp_path):
    p = _preset(presets, description="warm", tags=["style"], recommended={"scale": 2.5})
    path = presets.files.save_preset(tmp_path / "user", p)
    assert path == (tmp_path / "user/my/look.json").resolve()
    (back,), errors = presets.files.load_presets([(tmp_path / "user", False)])
    assert errors == [] and presets.fmt.preset_to_dict(back) == presets.fmt.preset_to_dict(p)
    assert presets.files.save_preset(tmp_path / "user", p) == path  # same content again: fine
    changed = _preset(presets, description="colder")
    with pytest.raises(presets.checks.PresetError, match=r"a preset named 'my/look' already exists .*turn on overwrite"):
        presets.files.save_preset(tmp_path / "user", changed)
    presets.files.save_preset(tmp_path / "user", changed, overwrite=True)
    (back,), _ = presets.files.load_presets([(tmp_path / "user", False)])
    assert back.description == "colder"
    assert not list((tmp_path / "user").rglob("*.tmp"))


def test_save_never_writes_over_a_shipped_preset(presets, tmp_path):
    p = _preset(presets, pid="sd3-medium/heads/dark-L1H10")
    with pytest.raises(presets.checks.PresetError, match="is the name of a shipped preset, which is never overwritten"):
        presets.files.save_preset(tmp_path, p, overwrite=True, reserved={"sd3-medium/heads/dark-L1H10"})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("name, message", [
    ("../x", r"'\.\./x' is not allowed: presets are saved inside the user preset folder"),
    ("a/../../x", r"is not allowed"),
    ("a//b", r"is not allowed"),
    ("/etc/passwd", r"is an absolute path"),
    ("C:\\temp\\x", r"is an absolute path"),
    ("..\\x", r"is not allowed"),
    (".hidden", r"names starting with '\.' are hidden"),
    ("   ", r"the preset name is empty"),
    ("con", r"reserved file name on Windows"),
    ("x" * 101, r"1 to 100 characters"),
])
def test_unsafe_names_are_refused(presets, tmp_path, name, message):
    with pytest.raises(presets.checks.PresetError, match=message):
        presets.files.sanitize_preset_id(name)
    with pytest.raises(presets.checks.PresetError, match=message):
        presets.files.save_preset(tmp_path / "user", _preset(presets, pid=name))
    assert not (tmp_path / "user").exists()


@pytest.mark.parametrize("name, pid", [
    ("My warm look", "My warm look"),
    ("styles/warm: v2?", "styles/warm_ v2_"),
    ("looks\\warm.json", "looks/warm"),
    ("  spaced / out  ", "spaced/out"),
])
def test_names_are_sanitized(presets, name, pid):
    assert presets.files.sanitize_preset_id(name) == pid


def test_save_refuses_a_path_that_leaves_the_folder_through_a_link(presets, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "user").mkdir()
    (tmp_path / "user/link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(presets.checks.PresetError, match="would be written outside the preset folder"):
        presets.files.save_preset(tmp_path / "user", _preset(presets, pid="link/x"))
    assert not list(outside.iterdir())


# ---- targets -------------------------------------------------------------------------------------
def test_targets_are_recorded_and_read_back(presets, heads, arch):
    hs = heads.HeadSet.parse("L14H7:uniform@0.5, L3:seg(4), L2H1:temperature(2), L0H0", name="typed")
    p = presets.fmt.preset_from_head_set(hs, "saved", "Saved", family="sd3-medium")
    d = presets.fmt.preset_to_dict(p)
    assert [h.get("target") for h in d["heads"]] == ["uniform", "seg(4)", "temperature(2)", None]
    back = presets.fmt.preset_from_dict(json.loads(presets.fmt.dumps_preset(p)), "saved").head_set()
    layout = arch.layout.variant_layout("sd3", "sd3-medium")
    as_text = lambda s: [(l, h, u, None if t is None else t.text) for l, h, u, t in s.resolve_targets(layout, 1.0)]
    assert as_text(back) == as_text(hs)
    assert back.to_text() == hs.to_text()


def test_files_without_targets_read_as_before(presets, arch):
    p = presets.fmt.preset_from_dict(copy.deepcopy(MINIMAL), "mine")
    layout = arch.layout.variant_layout("sd3", "sd3-medium")
    assert p.head_set().resolve_targets(layout, 1.0, "uniform")[0][3] == "uniform"  # the node's target applies
    assert "target" not in presets.fmt.preset_to_dict(p)["heads"][0]


@pytest.mark.parametrize("entry,message", [
    ({"head": "L1H2", "target": "blur"}, "'blur' is not a target"),
    ({"head": "L1H2", "target": 3}, "must be text"),
    ({"head": "-L1H2", "target": "uniform"}, "a removed head takes no"),
    ({"head": "L1H2:uniform"}, "write the target as"),
])
def test_bad_targets_in_files_say_what_is_wrong(presets, entry, message):
    with pytest.raises(presets.checks.PresetError, match=message):
        presets.fmt.preset_from_dict({**copy.deepcopy(MINIMAL), "heads": [entry]}, "bad")
