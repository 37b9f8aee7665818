"""The head-grid widget's server side without a server: the route payloads (host-free).
The routes on a real aiohttp server are tests/host/test_web_api.py."""
import json

import pytest

from hh_pack import preset_modules


@pytest.fixture
def payloads(pack):
    return pack("http_api.payloads")


def test_architectures_list_every_variant_with_groups(payloads):
    archs = {a["id"]: a for a in payloads.architectures_payload()["architectures"]}
    flux = {v["family"]: v for v in archs["flux"]["variants"]}["flux.1-dev"]
    assert (flux["layers"], flux["heads"]) == (57, 24)
    assert flux["groups"] == [
        {"name": "double blocks", "key": "double_block", "start": 0, "layers": 19, "alias": "", "one_block": False},
        {"name": "single blocks", "key": "single_block", "start": 19, "layers": 38, "alias": "", "one_block": False}]
    # Every alias word of head text, so that the grid refuses `mid` on FLUX as the server does.
    assert flux["alias_words"] == ["mid", "out", "in"]
    sdxl = {v["family"]: v for v in archs["unet"]["variants"]}["sdxl"]
    assert [(g["alias"], g["one_block"]) for g in sdxl["groups"]] == [("in", False), ("mid", True), ("out", False)]
    assert flux["heads_per_layer"] == [24] * 57
    sd35 = {v["family"]: v for v in archs["sd3"]["variants"]}["sd3.5-large"]
    assert (sd35["layers"], sd35["heads"], len(sd35["groups"])) == (38, 38, 1)


def test_parse_reads_like_the_nodes(payloads):
    out = payloads.parse_payload("L14H13@0.5, L5, -L5H3", "sd3", None)
    assert out["valid"] and out["count"] == 24 and out["layout"]["family"] == "sd3-medium"
    assert out["heads"][0] == [14, 13, 0.5] and [5, 3, None] not in out["heads"]
    assert payloads.parse_payload("L56H23", None, "flux.1-dev")["count"] == 1


@pytest.mark.parametrize(
    "text, arch, family, status, fragment",
    [
        ("L1H1", None, None, 400, "give arch"),
        (None, "sd3", None, 400, "missing 'text'"),
        ("L1H1", "sdxl", None, 400, "unknown architecture 'sdxl' (known: sd3, flux, flux2, chroma, qwen-image, auraflow, hunyuan-video, wan, hidream, lumina2, unet)"),
        ("L1H1", None, "sd4", 400, "unknown family 'sd4' (known: sd3-medium"),
        ("L1H1", "sd3", "flux.1-dev", 400, "family 'flux.1-dev' is flux, not 'sd3'"),
        ("L1X", "sd3", None, 422, "'L1X' is not a head"),
        ("L30H2", "sd3", None, 422, "layer 30 is out of range for SD3"),
        ("L37H37", None, "sd3-medium", 422, "(layers 0-23)"),
    ],
)
def test_parse_rejects_bad_requests_with_a_message(payloads, text, arch, family, status, fragment):
    with pytest.raises(payloads.BadRequest) as e:
        payloads.parse_payload(text, arch, family)
    assert e.value.status == status and fragment in str(e.value)


def test_presets_payload_follows_the_contract(pack, payloads):
    presets_mod = preset_modules(pack)
    presets, errors = presets_mod.files.load_presets([(presets_mod.files.SHIPPED_DIR, True)])
    out = payloads.presets_payload(presets, ["broken.json: not JSON"])
    assert errors == [] and out["errors"] == ["broken.json: not JSON"]
    by_id = {p["id"]: p for p in out["presets"]}
    golden = by_id["sd3-medium/styles/golden-hour-round3"]
    assert {k: golden[k] for k in ("name", "family", "architecture", "heads", "shipped")} == {
        "name": "SD3 golden hour (round-3 heads)", "family": "sd3-medium", "architecture": "sd3",
        "heads": "L18H11, L0H17, L2H3", "shipped": True}
    assert golden["labels"] == {h: "golden hour (round 3)" for h in ("L18H11", "L0H17", "L2H3")}
    assert set(golden) == {"id", "name", "description", "family", "architecture", "heads", "labels", "recommended",
                           "tags", "shipped"}
    assert json.loads(json.dumps(out)) == out  # plain JSON
