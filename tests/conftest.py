import pytest

from hh_pack import find_host, load_host, pack_module

HOST_PATH, HOST_REASON = find_host()


def pytest_report_header(config):
    if HOST_PATH is None:
        return f"HeadHunter host tests: SKIPPED - {HOST_REASON}"
    return f"HeadHunter host tests: ComfyUI at {HOST_PATH} (found via {HOST_REASON})"


def pytest_collection_modifyitems(config, items):
    if HOST_PATH is not None:
        return
    skip = pytest.mark.skip(reason=f"host tier: {HOST_REASON}")
    for item in items:
        if "host" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def host():
    """The pack as loaded into a real ComfyUI: ``host("core.heads")`` returns that module."""
    package = load_host(HOST_PATH)
    return lambda name: pack_module(name, package)


@pytest.fixture(scope="session")
def pack():
    """The pack's host-free modules: ``pack("core.heads")``."""
    return pack_module
