"""Input a careless or hostile user can type or share: each gets a clear error, fast, with bounded
memory, and nothing else breaks (host-free; host-side cases are in test_web_api.py and
test_host_presets.py).

Time and memory are bounded structurally, not by timing: the work runs in a child process whose
address space is capped (``RLIMIT_AS``), with a generous timeout that only a hang reaches, and
the parsed representation's size is checked against the text's length.
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hh_pack import preset_modules

SUPPORT = Path(__file__).resolve().parents[1] / "support"
MEMORY_LIMIT = 1 << 30  # 1 GiB of address space for the child: torch is never imported there
HANG = 20  # seconds; a bounded parse takes a fraction of one

HUGE_RANGES = ["L0-9999999H*", "L0-999999999H*", "L0-999999H0-999999", "L0-1023H0-511", "L" + "9" * 5000,
               "L0H0@" + "1" * 50000 + "x", "-L0-999999999"]


def run_bounded(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` (with ``pack`` = tests/support/hh_pack.pack_module) in a child with capped memory."""
    prelude = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
        sys.path.insert(0, {str(SUPPORT)!r})
        from hh_pack import pack_module as pack, preset_modules
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=HANG, env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.parametrize("text", HUGE_RANGES)
def test_huge_numbers_fail_before_anything_is_expanded(text):
    out = run_bounded(f"""
        heads = pack("core.heads")
        try:
            heads.HeadSet.parse({text!r})
        except ValueError as e:
            print("ERROR", e)
        else:
            print("PARSED")
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ERROR "), out.stdout[:300]
    message = out.stdout[len("ERROR "):]
    assert len(message) < 400  # names the token, shortened if need be; never echoes 50 kB
    assert "out of range" in message or "characters" in message or "more than" in message, message


def test_huge_number_errors_name_token_and_valid_range(pack):
    heads = pack("core.heads")
    with pytest.raises(heads.HeadRangeError, match=r"'L0-9999999H\*': layer 9999999 is out of range.*layers 0-1023"):
        heads.HeadSet.parse("L1H1, L0-9999999H*")
    with pytest.raises(heads.HeadRangeError, match=r"'L0-999999H0-999999': layer 999999 .*0-1023"):
        heads.HeadSet.parse("L0-999999H0-999999")
    with pytest.raises(heads.HeadRangeError, match=r"'L3H999999': head 999999 is out of range.*heads 0-511"):
        heads.HeadSet.parse("L3H999999")
    # Within the global bounds, the model's own range is what resolve checks.
    sd3 = pack("core.model_layout").variant_layout("sd3", "sd3-medium")
    with pytest.raises(heads.HeadRangeError, match=r"L1000: layer 1000 is out of range .*\(layers 0-23\)"):
        heads.HeadSet.parse("L1000").resolve(sd3)


def test_heads_named_in_all_are_bounded(pack):
    heads = pack("core.heads")
    # Under every number bound, but 100 x 1024 x 512 heads: refused by the running count.
    with pytest.raises(heads.HeadRangeError, match=r"names more than 131072 heads"):
        heads.HeadSet.parse(", ".join(["L0-1023H0-511"] * 100))
    # Repeats of a whole-layer range count one per layer, so ordinary texts are far from it.
    assert len(heads.HeadSet.parse(", ".join(["L0-56"] * 100)).entries) == 57


def test_a_large_legal_head_list_parses_in_one_pass():
    # 83 kB of distinct single heads, ranges and removals. Parsing is one pass over the text (about
    # 0.03 s); the quadratic union it replaces (the set rebuilt per token) took 12 s of CPU here.
    # The child's CPU-time cap is 150 times the linear cost: only a quadratic parse reaches it.
    out = run_bounded("""
        import resource
        resource.setrlimit(resource.RLIMIT_CPU, (5, 5))
        heads = pack("core.heads")
        tokens = [f"L{l}H{h}" for l in range(300) for h in range(40)]
        tokens[::50] = [f"L{l}-{l + 2}H3-9" for l in range(len(tokens[::50]))]
        tokens[::70] = [f"-L{l}H5" for l in range(len(tokens[::70]))]
        text = ", ".join(tokens)[:83000].rsplit(",", 1)[0]
        s = heads.HeadSet.parse(text)
        a, b = heads.HeadSet.parse(text[:40000].rsplit(",", 1)[0]), heads.HeadSet.parse(text[40000:].split(",", 1)[1])
        sizes = [len(x.entries) for x in (a.union(b), a.intersection(b), a.difference(b), b.difference(a))]
        print(len(text), len(s.entries), *sizes)
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    size, entries, union, both, only_a, only_b = map(int, out.stdout.split())
    assert size > 82000 and 9000 < entries <= 300 * 40
    assert union == both + only_a + only_b and both > 0  # single heads only: |A u B| = |A n B| + |A - B| + |B - A|


# ---- preset files -------------------------------------------------------------------------------
MINIMAL = {"format": "headhunter-preset", "version": 1, "name": "mine", "family": "sd3-medium", "architecture": "sd3",
           "heads": [{"head": "L14H13"}]}


def _write_files(folder: Path, files: dict) -> None:
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))


def test_hostile_preset_files_each_fail_alone_with_name_and_reason(tmp_path):
    # Huge ranges, 400 kB of nesting, a BOM, other encodings: every good file still loads, fast,
    # in a child with capped memory (one bad file used to hang start-up or break every preset).
    good = json.dumps(MINIMAL)
    _write_files(tmp_path, {
        "good.json": good,
        "bom.json": b"\xef\xbb\xbf" + good.encode(),
        "range.json": good.replace('"L14H13"', '"L0-999999H0-999999"'),
        "fits-cap.json": good.replace('{"head": "L14H13"}', ", ".join(['{"head": "L0-255H0-127"}'] * 30)),
        "nested.json": "[" * 400_000,
        "nested-value.json": good.replace('"mine"', "[" * 5000 + "]" * 5000),
        "latin1.json": good.replace("mine", "caf\xe9").encode("latin-1"),
        "utf16.json": good.encode("utf-16"),
    })
    out = run_bounded(f"""
        import json, os
        presets = preset_modules(pack)
        found, errors = presets.files.load_presets([({str(tmp_path)!r}, False)])
        print(json.dumps({{"found": [p.id for p in found], "errors": {{os.path.basename(e.path): str(e) for e in errors}}}}))
    """)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["found"] == ["bom", "good"]
    errors = result["errors"]
    assert set(errors) == {"range.json", "fits-cap.json", "nested.json", "nested-value.json", "latin1.json",
                           "utf16.json"}
    assert all(message.startswith(str(tmp_path / name)) for name, message in errors.items())
    assert "layer 999999 is out of range" in errors["range.json"]
    assert "L0H24: head 24 is out of range" in errors["fits-cap.json"]
    assert "nested too deeply" in errors["nested.json"]
    assert "nested too deeply" in errors["nested-value.json"] or "must be non-empty text" in errors["nested-value.json"]
    assert "not UTF-8 text" in errors["latin1.json"] and "not UTF-8 text" in errors["utf16.json"]


def test_preset_names_too_long_in_utf8_or_reserved_on_windows_are_refused(pack, tmp_path):
    presets = preset_modules(pack)
    for name, message in [("字" * 84, r"is 257 bytes long in UTF-8 .*at most 255 bytes"),
                          ("aux.v2", r"reserved file name on Windows \(AUX\)"), ("x/LPT1.txt", r"reserved"),
                          ("con", "reserved")]:
        with pytest.raises(presets.checks.PresetError, match=message):
            presets.files.sanitize_preset_id(name)
    assert presets.files.sanitize_preset_id("字" * 83) == "字" * 83  # 249 + 5 bytes: fits


def test_saving_over_unreadable_or_odd_files_gives_a_preset_error(pack, tmp_path):
    presets = preset_modules(pack)
    p = presets.fmt.preset_from_dict(dict(MINIMAL), "a/b")
    (tmp_path / "a").write_text("a file where the folder would be")
    with pytest.raises(presets.checks.PresetError, match=r"cannot write preset 'a/b' to .*a/b.json"):
        presets.files.save_preset(tmp_path, p)
    (tmp_path / "a").unlink()
    (tmp_path / "a").mkdir()
    (tmp_path / "a/b.json").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(presets.checks.PresetError, match=r"a preset named 'a/b' already exists .*turn on overwrite"):
        presets.files.save_preset(tmp_path, p)
    (tmp_path / "a/b.json").unlink()
    (tmp_path / "a/b.json").mkdir()
    with pytest.raises(presets.checks.PresetError, match=r"exists and is not a file"):
        presets.files.save_preset(tmp_path, p, overwrite=True)


def test_preset_files_are_parsed_again_only_when_they_change(pack, tmp_path):
    presets = preset_modules(pack)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(MINIMAL))
    first, _ = presets.files.load_presets([(tmp_path, False)])
    again, _ = presets.files.load_presets([(tmp_path, False)])
    assert again[0] is first[0]  # the same object: read from the cache, not the disk
    path.write_text(json.dumps({**MINIMAL, "name": "changed"}))
    os.utime(path, ns=(1, 1))
    changed, _ = presets.files.load_presets([(tmp_path, False)])
    assert changed[0].name == "changed"


# ---- run folders --------------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"[" * 100_000, b'{"params": {}}', b"\xff\xfe", b'{"params": 1, "pool": 2}'])
def test_a_broken_checkpoint_is_named_with_its_reason(pack, tmp_path, content):
    search = pack("core.greedy_search")
    path = tmp_path / "checkpoint.json"
    path.write_bytes(content)
    with pytest.raises(search.CheckpointMismatch, match=r"checkpoint.json is not a readable search checkpoint \(.+\); "
                       r"delete it to start over"):
        search.load_checkpoint(path, {"k": 1})


def test_a_run_folder_that_cannot_be_written_names_the_file(pack, tmp_path):
    search = pack("core.greedy_search")
    (tmp_path / "run").write_text("a file where the run folder would be")
    with pytest.raises(OSError, match=r"HeadHunter could not write .*run/checkpoint.json"):
        search.atomic_write_bytes(tmp_path / "run" / "checkpoint.json", b"{}")
