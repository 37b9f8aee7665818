"""The head-grid widget reads head text exactly as the nodes do (host-free; needs `node`).

web/js/head_text.js is a port of core/heads.py; here both read the same texts, hand-picked and
random, and must agree on every head, every u and every error message. The canonical text the
grid writes back must read, in Python, as the same heads.
"""
import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from hh_pack import architecture_modules

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node (Node.js) not found: the widget's JS is not checked")
PROBE = Path(__file__).resolve().parents[1] / "support" / "web_grammar_probe.mjs"

HAND_PICKED = [
    "L14H13", "L14H13, l0h2;L1H10\nL13H17  L0H23", "L5", "L5H*", "L3-5H0-7", "L2-3", "L14H13@0.5, L0H2",
    "L5, -L5H3, L6H1, -L6H1", "L5H3, -L5", "L5, -L5H3, -L5", "L5@0.3, -L5H2, L5@0.7", "L5H3@0.2, L5",
    "L5, -L5H3, L5H3@0.2", "L1H1@.25, L1H2@1e-1", "L1H1@1E-1", "", " , ; ", "L14X3", "H13", "L14H", "L5-3", "L1H7-2",
    "L1H2@1.5", "-L1H2@0.5", "L30H2", "L3H24", "L0-23H23", "-L5", "L4, L4H2@0.5", "L4H2@0.5, L4, -L4H2, L4",
    "L1-2, -L1-2H3-4, L2H4", "L0H0@0", "L0H0@1", "L0H0@1.0000001", "L007H01", "L4, -L4H1, L5, L5",
    "L4, -L4H1, L4H2, -L4, L4H1", "L3H1@0.5, L3, -L3H1, L3@0.2",
    # Hostile: numbers no model has, over-long tokens, too many heads named (test_hostile_inputs.py).
    "L0-9999999H*", "L0-999999999H*", "L0-999999H0-999999", "L3H999999", "L0007H0511", "L1023H511", "L1024",
    "L" + "9" * 300, "L0H0@" + "1" * 300, ", ".join(["L0-1023H0-511"] * 3),
    # Targets (core/target_spec.py): every kind, parameters at and past their bounds, bad ones.
    "L14H7:uniform@0.5", "L3-5:seg(4)", "L2H1:temperature(2)", "L1:MEAN_QUERY, L1H3:max@0.25", "L0H0:seg(inf)",
    "L0H0:seg(9999)", "L0H0:seg(1e-3)", "L0H0:seg(0)", "L0H0:temperature(0.01)", "L0H0:temperature(100)",
    "L0H0:temperature(100.5)", "L0H0:temperature", "L0H0:seg", "L0H0:uniform(2)", "L0H0:blur", "-L0H0:uniform",
    "L0H0:seg(((1)))", "L0H0:temperature(" + "1" * 30 + ")", "L0H0:identity", "L4:uniform, -L4H1, L4H1:max",
    "L4H0-3:uniform, L4H4-7:uniform@0.5", "L2:seg(2), L2H3", "L0H0:Temperature(.5)@1",
    "L1:mask(ii)", "L1H2:MASK(Tt)@0.5", "L1H2:mask", "L1H2:mask(XI)", "L1H2:mask(2)", "L1H2:seg(ab)",
    "L1H2:uniform(ii)", "L1H2:temperature(inf)", "L1H2:seg(INF)",
    "L1H2:fisher_rao@0.5", "L1:SLERP", "L1H2:slerp(2)", "L1H2:identity(TT)", "L3:Identity(ii)@0.5",
    "L1H2:identity(IT)", "L1H2:identity(2)", "L1H2:identity()",
    # U-Net block aliases (core/head_aliases.py); on a DiT they are refused by name.
    "mid", "MID", "midH0-4", "mid.3", "mid.3H9@0.5", "in4", "in4.1H2", "out1.2", "out1.2H5@0.5", "-in4", "in4, -in4H3",
    "mid, -midH0", "in1", "in9", "out12", "mid.10", "in7H19", "in4H19", "out0H15-19", "in0", "mid0", "-mid@0.5",
    "in007.01H0", "in4H*", "out5H*@0.2", "L0, -in4", "mid" + "H" + "9" * 300, "in" + "9" * 300, "inn4", "in4.",
    "L65H15", "L0-69H19", "L3H9", "L4H19", "L64H10",
]


def random_alias(rng: random.Random, keys: list) -> str:
    """A U-Net block alias, mostly of a block the model has: mid, in4, out1.2, in4.9 (no such)."""
    name, block, index = rng.choice(keys)
    alias = {"input": "in", "middle": "mid", "output": "out"}[name]
    tok = alias if alias == "mid" and rng.random() < 0.7 else f"{alias}{block + (rng.random() < 0.1)}"
    return tok + (f".{index + (rng.random() < 0.1)}" if rng.random() < 0.4 else "")


def random_text(rng: random.Random, layers: int, heads: int, keys: list | None = None) -> str:
    tokens = []
    # Half the texts keep to three layers, so that tokens meet and the set algebra is exercised.
    pool = rng.sample(range(layers), 3) if rng.random() < 0.5 else None
    for _ in range(rng.randint(1, 7)):
        l0 = rng.choice(pool) if pool else rng.randrange(layers + 1)  # sometimes one past the end
        if keys and rng.random() < 0.4:
            tok = random_alias(rng, keys)
        else:
            tok = f"L{l0}" + (f"-{min(layers, l0 + rng.randint(0, 2))}" if rng.random() < 0.2 else "")
        r = rng.random()
        if r < 0.5:
            h0 = rng.randrange(heads + (1 if rng.random() < 0.05 else 0))
            tok += f"H{h0}" + (f"-{h0 + rng.randint(0, 3)}" if rng.random() < 0.3 else "")
        elif r < 0.6:
            tok += "H*"
        neg = rng.random() < 0.3
        if not neg and rng.random() < 0.2:
            tok += ":" + rng.choice(["uniform", "mean_query", "max", "seg(2)", "seg(inf)", "temperature(0.5)", "identity",
                                    "mask(II)", "mask(ti)", "identity(TT)", "fisher_rao", "slerp"])
        if not neg and rng.random() < 0.3:
            tok += "@" + rng.choice(["0.5", "0.25", ".75", "1", "0", "0.3", "1e-1"])
        tokens.append(("-" if neg else "") + tok)
    return rng.choice([", ", " ", ";", "\n"]).join(tokens)


def node_read(layout_payload: dict, texts: list[str]) -> list[dict]:
    out = subprocess.run([NODE, str(PROBE)], input=json.dumps({"layout": layout_payload, "texts": texts}),
                         capture_output=True, text=True, check=True, timeout=60)
    return json.loads(out.stdout)


@pytest.mark.parametrize("family", ["sd3-medium", "sd3.5-large", "flux.1-dev", "sd1.5", "sdxl"])
def test_js_and_python_read_head_text_alike(pack, family):
    """U-Nets: block aliases and heads that differ per layer (SDXL: 10 or 20) are read alike too."""
    heads_mod = pack("core.heads")
    aliases = pack("core.head_aliases")
    arch = architecture_modules(pack)
    grid_payload = pack("core.grid_payload")
    arch_id = arch.table.family_architecture(family).id
    layout = arch.layout.variant_layout(arch_id, family)
    payload = grid_payload.layout_payload(layout, family)
    keys = payload["layer_keys"] if layout.arch.aliases else None
    rng = random.Random(family)
    texts = HAND_PICKED + [random_text(rng, layout.layers, layout.heads, keys) for _ in range(600)]
    js = node_read(payload, texts)
    agreed_errors = 0
    for text, got in zip(texts, js):
        try:
            want = heads_mod.HeadSet.parse(aliases.expand(text, layout)).resolve(layout, default_u=None)
        except heads_mod.HeadSyntaxError as e:
            assert got.get("kind") == "syntax" and got["error"] == str(e), text
            agreed_errors += 1
            continue
        except heads_mod.HeadRangeError as e:
            assert got.get("kind") == "range" and got["error"] == str(e), text
            agreed_errors += 1
            continue
        assert "error" not in got, (text, got)
        assert [tuple(x) for x in got["resolved"]] == want, text
        targets = [None if t is None else t.text
                   for *_, t in heads_mod.HeadSet.parse(aliases.expand(text, layout)).resolve_targets(layout, None, None)]
        assert got["targets"] == targets, text
        # The grid's canonical text reads back, in Python, as the same heads with the same u and target.
        back = heads_mod.HeadSet.parse(got["canonical"]).resolve_targets(layout, None, None)
        assert sorted((l, h, u, None if t is None else t.text) for l, h, u, t in back) == sorted(
            (l, h, u, t) for (l, h, u), t in zip(want, targets)), (text, got["canonical"])
    assert 0 < agreed_errors < len(texts)  # both kinds of text were exercised


def test_widget_fixture_is_the_architecture_table(pack):
    fixture = Path(__file__).resolve().parents[2] / "web" / "tests" / "fixtures" / "architectures.json"
    assert json.loads(fixture.read_text()) == pack("http_api.payloads").architectures_payload()
