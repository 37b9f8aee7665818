import pytest

from hh_pack import find_host, load_host, pack_module

HOST_PATH, HOST_REASON = find_host()


def pytest_report_header(config):
    if HOST_PATH is None:
        return f"HeadHunter host tests: SKIPPED - {HOST_REASON}"
    return f"HeadHunter host tests: ComfyUI at {HOST_PATH} (found via {HOST_REASON})"


TIERS = ("unit", "host", "browser")


def pytest_collection_modifyitems(config, items):
    """Each test gets its folder's tier as a marker (``pytest -m unit``); the host and browser tiers
    are skipped, saying why, where no ComfyUI is found."""
    skip = pytest.mark.skip(reason=f"host tier: {HOST_REASON}")
    for item in items:
        tier = item.path.relative_to(config.rootpath).parts[0]
        if tier in TIERS:
            item.add_marker(tier)
        if HOST_PATH is None and ("host" in item.keywords or tier in ("host", "browser")):
            item.add_marker(skip)


def _listing(root):
    folders = pack_module("comfy_host.loading").WRITABLE_FOLDERS
    return {p for name in folders for p in (root / name).rglob("*")} if root else set()


@pytest.fixture(scope="session")
def host(tmp_path_factory):
    """The pack as loaded into a real ComfyUI: ``host("core.heads")`` returns that module.

    Every folder ComfyUI writes to points into the test's temporary folder, and the ComfyUI tree
    is checked at the end to hold nothing the tests wrote (a user's own ComfyUI may be the host)."""
    before = _listing(HOST_PATH)
    package = load_host(HOST_PATH, scratch=tmp_path_factory.mktemp("comfyui-folders"))
    yield lambda name: pack_module(name, package)
    left = sorted(str(p) for p in _listing(HOST_PATH) - before)
    assert not left, f"the tests left files in the ComfyUI tree: {left[:10]}"


@pytest.fixture(scope="session")
def pack():
    """The pack's host-free modules: ``pack("core.heads")``."""
    return pack_module


# Tiny real models for host tests, built once per session (nodes clone them; tests check they never change).
@pytest.fixture(scope="session")
def hh(host):
    """tests/support/hh_host.py, importable only once ComfyUI is loaded."""
    import hh_host

    return hh_host


@pytest.fixture(scope="session")
def sd3(host, hh, tmp_path_factory):
    """A 3-layer, 3-head SD3 loaded from a safetensors file by ComfyUI's UNETLoader."""
    return hh.load_with_unet_loader(hh.tiny_sd3_file(tmp_path_factory.mktemp("models")))


@pytest.fixture(scope="session")
def flux(host, hh):
    """A tiny FLUX: 2 double blocks + 3 single blocks (layers 0-4), 4 heads."""
    return hh.tiny_flux()
