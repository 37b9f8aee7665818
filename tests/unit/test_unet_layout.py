"""U-Net numbering and block aliases on the published layouts (host-free).

Expected numbers are issue 11's numbering, written out by hand: SD1.5 input 1, 2, 4, 5, 7, 8 -> L0-5,
middle -> L6, output 3-11 -> L7-15, 8 heads; SDXL input 4, 5 -> L0-3 (10 heads), input 7, 8 ->
L4-23 (20), middle -> L24-33 (20), output 0-2 -> L34-63 (20), output 3-5 -> L64-69 (10).
"""
import pytest

from hh_pack import architecture_modules


@pytest.fixture(scope="module")
def arch(pack):
    return architecture_modules(pack)


@pytest.fixture(scope="module")
def sd15(arch):
    return arch.layout.variant_layout("unet", "sd1.5")


@pytest.fixture(scope="module")
def sdxl(arch):
    return arch.layout.variant_layout("unet", "sdxl")


def read(pack, text, layout, u=1.0):
    heads, aliases = pack("core.heads"), pack("core.head_aliases")
    return heads.HeadSet.parse(aliases.expand(text, layout)).resolve(layout, default_u=u)


def test_sd15_numbering(sd15):
    keys = [("input", b, 0) for b in (1, 2, 4, 5, 7, 8)] + [("middle", 0, 0)] + [("output", b, 0) for b in range(3, 12)]
    assert [sd15.block_of(i) for i in range(sd15.layers)] == keys
    assert [sd15.heads_of(i) for i in range(16)] == [8] * 16 and sd15.group_sizes == (6, 1, 9)


def test_sdxl_numbering(sdxl):
    keys = ([("input", b, t) for b in (4, 5) for t in range(2)] + [("input", b, t) for b in (7, 8) for t in range(10)]
            + [("middle", 0, t) for t in range(10)] + [("output", b, t) for b in range(3) for t in range(10)]
            + [("output", b, t) for b in (3, 4, 5) for t in range(2)])
    assert [sdxl.block_of(i) for i in range(sdxl.layers)] == keys
    assert [sdxl.heads_of(i) for i in range(70)] == [10] * 4 + [20] * 60 + [10] * 6
    assert sdxl.group_sizes == (24, 10, 36) and sdxl.heads == 20
    assert sdxl.describe() == "U-Net: 70 layers (input blocks 0-23, middle block 24-33, output blocks 34-69) x 10-20 heads"


@pytest.mark.parametrize("family, alias, flat", [
    ("sd1.5", "mid", "L6"),
    ("sd1.5", "midH0-4", "L6H0-4"),
    ("sd1.5", "in4H2@0.5, -out11H0", "L2H2@0.5, -L15H0"),
    ("sdxl", "mid", "L24-33"),
    ("sdxl", "out1.2H5", "L46H5"),
    ("sdxl", "in5", "L2-3"),
    ("sdxl", "mid.9H19, in7.0", "L33H19, L4"),
])
def test_aliases_mean_exactly_the_flat_heads_they_name(pack, arch, family, alias, flat):
    layout = arch.layout.variant_layout("unet", family)
    assert read(pack, alias, layout, 0.7) == read(pack, flat, layout, 0.7)


@pytest.mark.parametrize("text, message", [
    ("in4H10", r"head 10 is out of range for L0 \(input block 4, transformer 0, heads 0-9\)"),
    ("L65H12", r"head 12 is out of range .*\(heads 0-9 in L65 \(output block 3, transformer 1\)\)"),
    ("out6", r"no such layer; its output blocks with attention are out0.0-9, out1.0-9, out2.0-9, out3.0-1"),
    ("mid.10", r"'mid' has transformer indices 0-9"),
])
def test_range_errors_name_the_layers_heads(pack, sdxl, text, message):
    with pytest.raises(ValueError, match=message):
        read(pack, text, sdxl)


@pytest.mark.parametrize("text", ["in" + "9" * 5000, "midH" + "9" * 5000, "out0@" + "1" * 50000])
def test_an_over_long_alias_is_refused_by_its_length(pack, sdxl, text):
    # Left to core.heads' length check (as the grid's head_text.js does): no 5000-digit block
    # number is converted (Python refuses int() of over 4300 digits with an unrelated ValueError).
    heads = pack("core.heads")
    with pytest.raises(heads.HeadSyntaxError, match=r"characters, a head has at most 64"):
        read(pack, text, sdxl)


def test_aliases_are_for_unets_only(pack, arch):
    with pytest.raises(ValueError, match=r"'mid': block aliases .* FLUX has none: write L<layer> \(layers 0-56\)"):
        read(pack, "mid", arch.layout.variant_layout("flux", "flux.1-dev"))
    aliases = pack("core.head_aliases")
    assert aliases.placeholder("out1.2H5@0.5, L3") == "L0H5@0.5, L3"


def test_payload_carries_heads_per_layer_and_group_labels(pack, sdxl):
    payload = pack("core.grid_payload").layout_payload(sdxl, "sdxl")
    assert payload["heads_per_layer"] == [10] * 4 + [20] * 60 + [10] * 6
    assert [(g["name"], g["key"], g["start"], g["layers"]) for g in payload["groups"]] == [
        ("input blocks", "input", 0, 24), ("middle block", "middle", 24, 10), ("output blocks", "output", 34, 36)]
    assert payload["layer_labels"][46] == "output block 1, transformer 2"
    parsed = pack("http_api.payloads").parse_payload("mid", None, "sdxl")
    assert parsed["count"] == 200 and parsed["heads"][0] == [24, 0, None] and parsed["heads"][-1] == [33, 19, None]


def test_families_are_told_apart_by_structure(pack, arch, sd15, sdxl):
    assert arch.layout.same_structure(sd15, "sd1.5") and not arch.layout.same_structure(sd15, "sdxl")
    guess = pack("core.search_preset").guess_family
    assert guess(sdxl, [(0, 0)]) == "sdxl"
    tiny = arch.layout.ModelLayout.of_layers(arch.table.architecture("unet"), sd15.layer_list[:3])
    assert guess(tiny, [(1, 7)]) == "sd1.5"
