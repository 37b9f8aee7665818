"""Head-text grammar, its errors, and head-set algebra (host-free)."""
import pytest


@pytest.fixture
def heads(pack):
    return pack("core.heads")


@pytest.fixture
def sd3(pack):
    return pack("core.model_layout").variant_layout("sd3", "sd3-medium")


@pytest.fixture
def flux(pack):
    return pack("core.model_layout").variant_layout("flux", "flux.1-dev")


def pairs(head_set, layout):
    return [(l, h) for l, h, _ in head_set.resolve(layout)]


def test_single_heads_case_and_separators(heads, sd3):
    s = heads.HeadSet.parse("L14H13, l0h2;L1H10\nL13H17  L0H23")
    assert pairs(s, sd3) == [(14, 13), (0, 2), (1, 10), (13, 17), (0, 23)]


def test_whole_layer_and_star(heads, sd3):
    for text in ("L5", "L5H*", "l5h*"):
        assert pairs(heads.HeadSet.parse(text), sd3) == [(5, h) for h in range(24)]


def test_ranges(heads, sd3):
    s = heads.HeadSet.parse("L3-5H0-7")
    assert pairs(s, sd3) == [(l, h) for l in (3, 4, 5) for h in range(8)]
    assert pairs(heads.HeadSet.parse("L2-3"), sd3) == [(l, h) for l in (2, 3) for h in range(24)]


def test_per_head_u_and_default_u(heads, sd3):
    s = heads.HeadSet.parse("L14H13@0.5, L0H2")
    assert s.resolve(sd3, default_u=0.75) == [(14, 13, 0.5), (0, 2, 0.75)]


def test_removal(heads, sd3):
    s = heads.HeadSet.parse("L5, -L5H3, L6H1, -L6H1")
    assert pairs(s, sd3) == [(5, h) for h in range(24) if h != 3]


def test_empty_text(heads, sd3):
    for text in ("", "  ", ", ;\n"):
        s = heads.HeadSet.parse(text)
        assert not s and s.resolve(sd3) == []


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("L14X3", "'L14X3' is not a head"),
        ("H13", "'H13' is not a head"),
        ("L14H", "'L14H' is not a head"),
        ("banana", "'banana' is not a head"),
        ("L5-3", "runs backwards"),
        ("L1H7-2", "runs backwards"),
        ("L1H2@1.5", "u=1.5 is outside [0, 1]"),
        ("-L1H2@0.5", "removed head takes no @u"),
    ],
)
def test_syntax_errors_name_the_token(heads, text, fragment):
    with pytest.raises(heads.HeadSyntaxError, match=fragment.replace("[", r"\[").replace("]", r"\]")) as e:
        heads.HeadSet.parse(f"L0H0, {text}")
    assert "L<layer>H<head>" in str(e.value) or "backwards" in str(e.value) or "u" in str(e.value)


def test_range_errors_name_head_and_valid_range(heads, sd3, flux):
    with pytest.raises(heads.HeadRangeError, match=r"L30H2: layer 30 is out of range for SD3.*\(layers 0-23\)"):
        heads.HeadSet.parse("L30H2").resolve(sd3)
    with pytest.raises(heads.HeadRangeError, match=r"L3H24: head 24 is out of range .*\(heads 0-23\)"):
        heads.HeadSet.parse("L3H24").resolve(sd3)
    with pytest.raises(heads.HeadRangeError, match=r"L57: layer 57 .*FLUX.*single blocks 19-56.*\(layers 0-56\)"):
        heads.HeadSet.parse("L57").resolve(flux)
    with pytest.raises(heads.HeadRangeError, match="from preset 'golden'"):
        heads.HeadSet.parse("L99H0", name="golden").resolve(sd3)


def test_text_round_trip(heads, sd3):
    for text in ("L14H13, L0H2-4@0.5, L5, -L5H3", "L3-5H0-7", "L1H1@0.25, L1H2@0.75"):
        s = heads.HeadSet.parse(text)
        again = heads.HeadSet.parse(s.to_text())
        assert again.resolve(sd3, 0.9) == s.resolve(sd3, 0.9)
    assert heads.HeadSet.parse("L3H0, L3H1, L3H2, L4").to_text() == "L3H0-2, L4"


def _as_set(s, layout):
    return set(pairs(s, layout))


@pytest.mark.parametrize(
    "a, b",
    [
        ("L1H1, L2H3", "L2H3, L4H0"),
        ("L5", "L5H3, L6H0"),
        ("L5, -L5H3", "L5, -L5H4"),
        ("L5, -L5H3, -L5H4", "L5H3, L6"),
        ("L0-2H0-5", "L1, -L1H2"),
        ("", "L3H3"),
    ],
)
def test_algebra_matches_set_semantics(heads, sd3, a, b):
    A, B = heads.HeadSet.parse(a), heads.HeadSet.parse(b)
    sa, sb = _as_set(A, sd3), _as_set(B, sd3)
    assert _as_set(A.union(B), sd3) == sa | sb
    assert _as_set(A.intersection(B), sd3) == sa & sb
    assert _as_set(A.difference(B), sd3) == sa - sb
    # contains() agrees with resolution
    for l in range(8):
        for h in range(24):
            assert A.contains(l, h) == ((l, h) in sa)


def test_union_keeps_order_and_left_u(heads, sd3):
    a = heads.HeadSet.parse("L2H1@0.5, L0H0")
    b = heads.HeadSet.parse("L2H1@0.9, L1H1")
    assert a.union(b).resolve(sd3) == [(2, 1, 0.5), (0, 0, 1.0), (1, 1, 1.0)]


def test_flux_layer_numbering(pack, flux):
    assert flux.block_of(0) == ("double_block", 0)
    assert flux.block_of(18) == ("double_block", 18)
    assert flux.block_of(19) == ("single_block", 0)
    assert flux.block_of(56) == ("single_block", 37)
    assert flux.layers == 57 and flux.heads == 24


# ---- per-head targets (core/targets.py) ----------------------------------------------------------
def with_targets(head_set, layout, default=None):
    return [(l, h, u, None if t is None else str(t)) for l, h, u, t in head_set.resolve_targets(layout, None, default)]


def test_targets_per_head(heads, sd3):
    s = heads.HeadSet.parse("L14H7:uniform@0.5, L3-4:seg(4), L2H1:Temperature(2), L0H0")
    got = with_targets(s, sd3, default="identity")
    assert got[0] == (14, 7, 0.5, "uniform")
    assert {t for l, _, _, t in got if l in (3, 4)} == {"seg(4)"} and len([1 for l, *_ in got if l in (3, 4)]) == 48
    assert got[-2:] == [(2, 1, None, "temperature(2)"), (0, 0, None, "identity")]
    # Plain resolve keeps its (layer, head, u) triples.
    assert s.resolve(sd3, default_u=1.0)[0] == (14, 7, 0.5)


def test_target_text_round_trip(heads, sd3):
    s = heads.HeadSet.parse("L14H7-9:uniform@0.5, L14H10:uniform, L3:seg(inf), L2H1:temperature(0.5), L5, -L3H2")
    text = s.to_text()
    assert text == "L14H7-9:uniform@0.5, L14H10:uniform, L3:seg(inf), L2H1:temperature(0.5), L5, -L3H2"
    back = heads.HeadSet.parse(text)
    assert with_targets(back, sd3) == with_targets(s, sd3)


def test_targets_follow_their_heads_through_the_algebra(heads, sd3):
    a = heads.HeadSet.parse("L1:uniform, L2H3:max")
    b = heads.HeadSet.parse("L1H4:seg(2), L2H3:mean_query, L6H0:temperature(3)")
    union = dict(((l, h), t) for l, h, _, t in with_targets(a.union(b), sd3))
    assert union[(1, 4)] == "uniform" and union[(2, 3)] == "max" and union[(6, 0)] == "temperature(3)"
    both = with_targets(a.intersection(b), sd3)
    assert [(l, h, t) for l, h, _, t in both] == [(1, 4, "uniform"), (2, 3, "max")]
    only_a = dict(((l, h), t) for l, h, _, t in with_targets(a.difference(b), sd3))
    assert (1, 4) not in only_a and only_a[(1, 5)] == "uniform" and (2, 3) not in only_a
    removed = heads.HeadSet.parse("L2H3:max, -L2H3, L2H3")
    assert with_targets(removed, sd3) == [(2, 3, None, None)]


@pytest.mark.parametrize("text,fragment", [
    ("L1H2:blur", "'L1H2:blur': 'blur' is not a target"), ("L1H2:seg", "needs its sigma"),
    ("-L1H2:uniform", "a removed head takes no target"), ("L1H2:temperature(0)", "outside"),
    ("L1H2@0.5:uniform", "is not a head"), ("L1H2:seg(((4)))", "is not a head"),
])
def test_target_errors_name_the_token(heads, text, fragment):
    with pytest.raises(heads.HeadSyntaxError, match=fragment.replace("(", r"\(")):
        heads.HeadSet.parse(text)
