"""The browser tier's fixtures: one ComfyUI server (python main.py --cpu, temporary folders, the
tiny stand-in models) and one headless Chromium page per test module. Every test here is skipped,
saying why, where Chromium or the server's own requirements are missing."""
import asyncio
import importlib.util

import pytest

import hh_browser
from hh_editor import CHROMIUM, SETTINGS

SKIP = None
if CHROMIUM is None:
    SKIP = pytest.mark.skip(reason="browser test: no chromium found (tests/run.sh installs Debian's "
                                   "chromium with apt-get where it can)")
elif importlib.util.find_spec("requests") is None:
    SKIP = pytest.mark.skip(reason="browser test: ComfyUI's server needs the 'requests' package "
                                   "(tests/requirements.txt)")


def pytest_collection_modifyitems(config, items):
    if SKIP is None:
        return
    for item in items:
        if item.path.parent.name == "browser":
            item.add_marker(SKIP)


@pytest.fixture(scope="module")
def loop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def server(host):
    from hh_pack import find_host

    import hh_substitutes

    srv = hh_browser.ComfyServer(find_host()[0], settings=SETTINGS)
    srv.prepare()
    hh_substitutes.write_tiny_model_files(srv.models)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def page(server, loop):
    browser = hh_browser.Browser(CHROMIUM)

    async def open_editor():
        await browser.start()
        await browser.navigate(server.url)
        await browser.wait_for("window.app?.graph && window.comfyAPI && app.extensions?.some(e => e.name === 'HeadHunter.HeadGrid')",
                               timeout=120, what="the editor with the HeadHunter extension")

    loop.run_until_complete(open_editor())
    yield browser
    loop.run_until_complete(browser.close())
