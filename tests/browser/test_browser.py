"""The head grid in a real editor: a ComfyUI server (python main.py --cpu, temporary folders) and
headless Chromium, driven with real mouse and keyboard input over the DevTools protocol.

It loads each example workflow, clicks and drags heads in the grid and checks the text follows,
types text and checks the grid follows, queues the prompt (with the tiny stand-ins of
hh_substitutes.py swapped in) and waits for ComfyUI to finish it. Screenshots go to
tests/.artifacts/browser/; with HEADHUNTER_UPDATE_SCREENSHOTS=1 they are also copied to
docs/images/ and to the example workflows' template thumbnails.
"""
import asyncio
import importlib.util
import json
import os
import shutil
from pathlib import Path

import pytest

import hh_browser

pytestmark = pytest.mark.host

CHROMIUM = hh_browser.find_chromium()
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts" / "browser"
DOCS_IMAGES = hh_browser.PACK_DIR / "docs" / "images"
UPDATE = os.environ.get("HEADHUNTER_UPDATE_SCREENSHOTS") == "1"
SETTINGS = {
    "Comfy.TutorialCompleted": True,
    "Comfy.Minimap.Visible": False,
    "Comfy.Graph.CanvasInfo": False,
    "Comfy.Graph.CanvasMenu": False,
    "Comfy.Workflow.ShowMissingModelsWarning": False,
    # A refresh with unsaved changes would wait on the browser's "leave page?" dialog.
    "Comfy.Window.UnloadConfirmation": False,
}

if CHROMIUM is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason="browser test: no chromium found (tests/run.sh installs Debian's "
                                                      "chromium with apt-get where it can)")]
elif importlib.util.find_spec("requests") is None:
    pytestmark = [pytestmark, pytest.mark.skip(reason="browser test: ComfyUI's server needs the 'requests' package "
                                                      "(tests/requirements.txt)")]


def keep(path: Path, *copies: Path) -> None:
    print(f"screenshot: {path}")
    if UPDATE:
        for copy in copies:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)


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


def run(loop, coro):
    return loop.run_until_complete(coro)


# ---- page helpers -----------------------------------------------------------------------------

async def load_workflow(page, name: str) -> None:
    workflow = json.loads((hh_browser.PACK_DIR / "example_workflows" / f"{name}.json").read_text())
    await page.evaluate(f"app.loadGraphData({json.dumps(workflow)}, true, true, {json.dumps(name)})")
    await page.wait_for("app.graph.nodes.filter(n => n.headhunterGrid).every(n => n.headhunterGrid.state.layout)",
                        what="the head grids")
    await fit_view(page)


async def fit_view(page, node_type: str | None = None, scale: float | None = None) -> dict:
    """Show the whole graph (or one node, at `scale`), nothing selected; returns the page box of
    what is shown, for screenshots."""
    box = await page.evaluate(f"""(() => {{
        const only = {json.dumps(node_type)};
        const nodes = app.graph.nodes.filter(n => only === null || n.type === only);
        let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        for (const n of nodes) {{
            x0 = Math.min(x0, n.pos[0]); y0 = Math.min(y0, n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT);
            x1 = Math.max(x1, n.pos[0] + n.size[0]); y1 = Math.max(y1, n.pos[1] + n.size[1]);
        }}
        const rect = app.canvas.canvas.getBoundingClientRect();
        // Newer frontends draw side and top bars over the canvas: start where the canvas is seen.
        const seen = (x, y) => document.elementFromPoint(x, y) === app.canvas.canvas;
        let seenLeft = rect.left, seenTop = rect.top;
        while (seenLeft < rect.left + 400 && !seen(seenLeft, innerHeight / 2)) seenLeft += 4;
        while (seenTop < rect.top + 300 && !seen(innerWidth / 2, seenTop)) seenTop += 4;
        const area = {{left: seenLeft - rect.left + 24, top: seenTop - rect.top + 24,
                       width: innerWidth - seenLeft - 48, height: innerHeight - seenTop - 48}};
        const scale = {json.dumps(scale)} ?? Math.min(area.width / (x1 - x0), area.height / (y1 - y0), 1.2);
        const ds = app.canvas.ds;
        ds.scale = scale;
        ds.offset[0] = area.left / scale - x0 + (only === null ? (area.width / scale - (x1 - x0)) / 2 : 0);
        ds.offset[1] = area.top / scale - y0;
        app.canvas.deselectAll?.();
        app.canvas.setDirty(true, true);
        const left = rect.left + (x0 + ds.offset[0]) * scale, top = rect.top + (y0 + ds.offset[1]) * scale;
        const x = Math.max(0, left - 12), y = Math.max(0, top - 12);
        return {{x, y, width: Math.min((x1 - x0) * scale + 24, innerWidth - x), height: Math.min((y1 - y0) * scale + 24, innerHeight - y)}};
    }})()""")
    await asyncio.sleep(0.8)  # DOM widgets follow the canvas on its next frames
    return box


def grid_js(node_type: str, body: str) -> str:
    return f"(() => {{ const node = app.graph.nodes.find(n => n.type === {json.dumps(node_type)}); " \
           f"const grid = node.headhunterGrid; const text = () => node.widgets.find(w => w.name === 'heads').value; {body} }})()"


async def heads_text(page, node_type):
    return await page.evaluate(grid_js(node_type, "return text();"))


async def cell(page, node_type, layer, head):
    c = await page.evaluate(grid_js(node_type, f"return grid.cellCenter({layer}, {json.dumps(head)});"))
    return c["x"], c["y"]


async def type_heads(page, node_type, text):
    await page.evaluate(grid_js(node_type, "const t = node.widgets.find(w => w.name === 'heads').element; t.focus(); t.select(); return true;"))
    await page.send("Input.insertText", text=text)
    await page.evaluate("document.activeElement.blur(), true")


async def queue_and_wait(page, server_prompt_fix) -> dict:
    """graphToPrompt in the page, stand-ins swapped in by the test, queued with the page's own
    api.queuePrompt (its client id), then wait for ComfyUI's execution_success / _error."""
    prompt = await page.evaluate("app.graphToPrompt().then(p => (window.__hhWorkflow = p.workflow, p.output))")
    substituted, notes = server_prompt_fix(prompt)
    print("substituted:\n  " + "\n  ".join(notes))
    result = await page.evaluate(f"""new Promise(async (resolve) => {{
        const api = window.comfyAPI.api.api;
        let id = null;
        const done = (kind) => (e) => {{ if (!id || e.detail.prompt_id === id) resolve({{kind, detail: e.detail}}); }};
        api.addEventListener('execution_success', done('success'));
        api.addEventListener('execution_error', done('error'));
        try {{
            id = (await api.queuePrompt(0, {{output: {json.dumps(substituted)}, workflow: window.__hhWorkflow}})).prompt_id;
        }} catch (e) {{ resolve({{kind: 'rejected', detail: e.response ?? String(e)}}); }}
    }})""")
    return {"prompt": prompt, **result}


# ---- tests --------------------------------------------------------------------------------------

def test_routes_and_help_pages_are_served_by_the_real_server(page, loop):
    out = run(loop, page.evaluate("""(async () => {
        const api = window.comfyAPI.api.api;
        const archs = await (await api.fetchApi('/headhunter/architectures')).json();
        const bad = await api.fetchApi('/headhunter/parse?arch=sd3&text=L99H0');
        const templates = await (await api.fetchApi('/workflow_templates')).json();
        const help = await fetch('/extensions/ComfyUI-HeadHunter/docs/HeadHunterGuider.md');
        return {archs: archs.architectures.map(a => a.id), badStatus: bad.status, bad: await bad.json(),
                templates, helpStatus: help.status, help: (await help.text()).slice(0, 200)};
    })()"""))
    assert out["archs"] == ["sd3", "flux", "flux2", "chroma", "qwen-image", "auraflow", "hunyuan-video", "wan", "unet"]
    assert out["badStatus"] == 422 and "layer 99 is out of range" in out["bad"]["error"]
    assert {"sd3_perturbed_attention_ksampler", "flux_guider_sampler_custom_advanced"} <= set(out["templates"][hh_browser.PACK_FOLDER_NAME])
    assert out["helpStatus"] == 200 and "HeadHunter Guider" in out["help"]


async def open_example(page, name: str, ready: str | None = None) -> None:
    """Load an example in the editor and, once `ready` (JS) holds, photograph it for the docs and
    the template thumbnail."""
    await load_workflow(page, name)
    if ready:
        await page.wait_for(ready, what=f"{name}: {ready}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"workflow_{name}.png"
    await page.screenshot(shot)
    keep(shot, DOCS_IMAGES / shot.name)
    # The template browser's thumbnail: the graph alone (no menus, tabs or side bar), about 640 px wide.
    box = await fit_view(page)
    thumb = ARTIFACTS / f"{name}.jpg"
    await page.screenshot(thumb, fmt="jpeg", clip=box, scale=min(1.0, 640 / box["width"]))
    keep(thumb, hh_browser.PACK_DIR / "example_workflows" / thumb.name)


async def photograph(page, box: dict, name: str) -> None:
    shot = ARTIFACTS / name
    await page.screenshot(shot, clip=box)
    keep(shot, DOCS_IMAGES / name)


async def tooltip(page, node_type: str, layer: int, head) -> str:
    await page.mouse("mouseMoved", *await cell(page, node_type, layer, head))
    return await page.evaluate(grid_js(node_type, "const t = grid.widget.element.querySelector('.hh-tip'); "
                                                  "return t.style.display === 'block' ? t.textContent : '';"))


def queue_example(host, page, loop, name: str, node_type: str | None = None, heads: str | None = None) -> dict:
    """Queue the open example; the frontend's prompt must be the Python conversion of the file
    (with `heads` typed into `node_type`): the grid adds nothing to what is sent."""
    result = run(loop, queue_and_wait(page, stand_ins(host)))
    expected = python_prompt(name)
    for v in expected.values():
        if v["class_type"] == node_type:
            v["inputs"]["heads"] = heads
    assert_same_prompt(result["prompt"], expected)
    assert result["kind"] == "success", result
    return result


def python_prompt(name):
    import ui_workflows

    return ui_workflows.ui_to_api(ui_workflows.load_examples()[name])


def stand_ins(host):
    import hh_substitutes

    return lambda prompt: hh_substitutes.substitute(prompt, host("core.heads").HeadSet)


def assert_same_prompt(frontend: dict, ours: dict):
    """The frontend's graphToPrompt and ui_workflows.ui_to_api agree (class types and inputs)."""
    assert {k: (v["class_type"], v["inputs"]) for k, v in frontend.items()} == \
           {k: (v["class_type"], v["inputs"]) for k, v in ours.items()}


def test_sd3_example_grid_and_text_agree_and_the_prompt_runs(host, server, page, loop):
    node = "HeadHunterPerturbedAttention"
    name = "sd3_perturbed_attention_ksampler"
    run(loop, open_example(page, name))
    state = run(loop, page.evaluate(grid_js(node, "return {layout: grid.state.layout.id, n: grid.state.selection.size, error: grid.state.error};")))
    assert state == {"layout": "sd3/sd3-medium", "n": 1, "error": None}

    # Close-up, then real clicks: a click adds a head, the text follows in canonical form.
    box = run(loop, fit_view(page, node, scale=1.0))
    run(loop, page.click(*run(loop, cell(page, node, 14, 13))))
    assert run(loop, heads_text(page, node)) == "L14H7, L14H13"
    # A drag paints a run of heads (the pointer passes over the cells in between).
    start, end = run(loop, cell(page, node, 5, 0)), run(loop, cell(page, node, 5, 3))
    run(loop, page.drag([start, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), end]))
    assert run(loop, heads_text(page, node)) == "L5H0-3, L14H7, L14H13"
    # Clicking a selected head removes it; a layer number toggles the whole layer.
    run(loop, page.click(*run(loop, cell(page, node, 14, 13))))
    run(loop, page.click(*run(loop, cell(page, node, 7, None))))
    assert run(loop, heads_text(page, node)) == "L5H0-3, L7, L14H7"
    # Hovering names the head.
    tip = run(loop, tooltip(page, node, 14, 7))
    assert tip.startswith("L14H7") and "on" in tip
    run(loop, photograph(page, box, "head_grid_sd3.png"))

    # Typing updates the grid: ranges, whole layers, removals, u.
    run(loop, type_heads(page, node, "L3-4H0-1, L10, -L10H5, L20H2@0.5"))
    state = run(loop, page.evaluate(grid_js(node, "return {n: grid.state.selection.size, u: grid.state.selection.get('20,2'), has: grid.state.selection.has('10,5'), error: grid.state.error};")))
    assert state == {"n": 4 + 23 + 1, "u": 0.5, "has": False, "error": None}
    # A head outside the model is reported, and the grid will not overwrite the text.
    run(loop, type_heads(page, node, "L14H13, L30H2"))
    run(loop, page.click(*run(loop, cell(page, node, 1, 1))))
    state = run(loop, page.evaluate(grid_js(node, "return {text: text(), message: grid.widget.element.querySelector('.hh-message').textContent};")))
    assert state["text"] == "L14H13, L30H2"
    assert "L30H2: layer 30 is out of range for SD3" in state["message"]
    run(loop, photograph(page, box, "head_grid_error.png"))

    # Text the page reads as valid is also read by the server (GET /headhunter/parse), whose answer
    # wins: a page with stale scripts shows the nodes' own verdict.
    run(loop, page.evaluate("""(() => { const api = window.comfyAPI.api.api; window.__hhFetch = api.fetchApi;
        window.__hhParse = []; window.__hhFake = null;
        api.fetchApi = async function (route, options) {
            if (!route.startsWith('/headhunter/parse')) return window.__hhFetch.call(api, route, options);
            if (window.__hhFake) return new Response(JSON.stringify({error: window.__hhFake}), {status: 422});
            const r = await window.__hhFetch.call(api, route, options);
            window.__hhParse.push([route, r.status]); return r;
        }; return true; })()"""))
    run(loop, type_heads(page, node, "L14H7, L14H13, L1H10"))
    calls = run(loop, page.wait_for("window.__hhParse.length && window.__hhParse", what="the server's reading"))
    assert calls[-1][1] == 200 and "family=sd3-medium" in calls[-1][0] and "L14H7" in calls[-1][0].replace("%2C", ",")
    run(loop, page.evaluate("window.__hhFake = 'L2H2: the server says no', true"))
    run(loop, type_heads(page, node, "L2H2"))
    run(loop, page.wait_for(grid_js(node, "return grid.state.error === 'L2H2: the server says no';"),
                            what="the server's verdict shown"))
    run(loop, page.evaluate("window.comfyAPI.api.api.fetchApi = window.__hhFetch, true"))
    run(loop, type_heads(page, node, "L14H7, L14H13, L1H10"))

    queue_example(host, page, loop, name, node, "L14H7, L14H13, L1H10")
    # The run told the grid the real (tiny, 3 x 3) model; the 24 x 24 heads now do not fit it.
    after = run(loop, page.wait_for(grid_js(node, "return grid.state.executed && {layout: grid.state.layout.id, reason: grid.state.reason, error: grid.state.error};"),
                                    what="the executed message"))
    assert after["layout"] == "sd3/model-3x3" and after["reason"] == "the model of the last run"
    assert "out of range" in after["error"]


def test_flux_example_marks_double_and_single_blocks_and_runs(host, server, page, loop):
    node = "HeadHunterGuider"
    name = "flux_guider_sampler_custom_advanced"
    run(loop, open_example(page, name))
    state = run(loop, page.evaluate(grid_js(node, "return {layout: grid.state.layout.id, reason: grid.state.reason, cells: grid.state.layout.layers * grid.state.layout.heads, canvases: grid.widget.element.querySelectorAll('canvas').length, nodes: grid.widget.element.querySelectorAll('*:not(option)').length};")))
    # Picked from the UNETLoader's file name; 1368 heads drawn on one canvas, not 1368 elements
    # (the layout menu's options, one per published family, aside).
    assert state["layout"] == "flux/flux.1-dev" and state["reason"].startswith("model file")
    assert state["cells"] == 1368 and state["canvases"] == 1 and state["nodes"] < 30

    box = run(loop, fit_view(page, node, scale=1.0))
    run(loop, page.click(*run(loop, cell(page, node, 19, 0))))  # the first single block
    run(loop, page.click(*run(loop, cell(page, node, 18, 23))))  # the last double block
    assert run(loop, heads_text(page, node)) == "L18H23, L19H0, L35H8"
    assert "single block 0" in run(loop, tooltip(page, node, 19, 0))
    run(loop, photograph(page, box, "head_grid_flux.png"))

    queue_example(host, page, loop, name, node, "L18H23, L19H0, L35H8")
    after = run(loop, page.wait_for(grid_js(node, "return grid.state.executed && [grid.state.layout.layers, grid.state.layout.heads, grid.state.error];"),
                                    what="the executed message"))
    assert after == [57, 24, None]


def test_sdxl_grid_has_columns_of_two_lengths_and_marks_input_middle_output(server, page, loop):
    """A U-Net grid (SDXL, picked in the grid's menu as a user would before a run): 70 layers of 10
    or 20 heads; cells a layer does not have are not drawn and not clickable; the input | middle |
    output boundaries are drawn; block aliases typed in the text are read as the server reads them."""
    node = "HeadHunterPerturbedAttention"
    run(loop, load_workflow(page, "sd3_perturbed_attention_ksampler"))
    run(loop, page.evaluate(grid_js(node, """
        node.setSize([940, node.size[1]]);
        const select = grid.widget.element.querySelector('select');
        select.value = 'unet/sdxl'; select.dispatchEvent(new Event('change')); return true;""")))
    run(loop, page.wait_for(grid_js(node, "return grid.state.layout?.id === 'unet/sdxl';"), what="the SDXL grid"))
    state = run(loop, page.evaluate(grid_js(node, """const l = grid.state.layout;
        return {layers: l.layers, lengths: [...new Set(l.headsPerLayer)].sort((a, b) => a - b),
                groups: l.groups.map(g => [g.name, g.start, g.layers]), cell: grid.geometry().cell};""")))
    assert state["layers"] == 70 and state["lengths"] == [10, 20]
    assert state["groups"] == [["input blocks", 0, 24], ["middle block", 24, 10], ["output blocks", 34, 36]]

    run(loop, type_heads(page, node, "in4, mid.3H0-9, out3.1"))
    box = run(loop, fit_view(page, node, scale=1.0))
    px = run(loop, page.evaluate(grid_js(node, """
        const g = grid.geometry(), c = grid.widget.element.querySelector('canvas'), dpr = c.width / c.clientWidth;
        const at = (x, y) => Array.from(c.getContext('2d').getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data);
        const cellAt = (l, h) => at(g.left + (l + 0.3) * g.cell, g.top + (h + 0.3) * g.cell);
        // The boundary lines run through the grid at the first middle and the first output layer.
        const line = (l) => at(g.left + l * g.cell, g.top + 15.5 * g.cell);
        return {absent: cellAt(3, 15), present: cellAt(4, 15), selected: cellAt(65, 3), boundaries: [line(24), line(34)],
                hit: [grid.state.layout && JSON.stringify(grid.geometry().headsPerLayer.slice(2, 6))]};
    """)))
    assert px["absent"][3] == 0  # below a 10-head layer: nothing drawn (transparent)
    assert px["present"][3] == 255 and px["selected"][3] == 255
    magenta = [0xd6, 0x40, 0x9f]
    assert all(sum(abs(a - b) for a, b in zip(p[:3], magenta)) < 60 for p in px["boundaries"]), px["boundaries"]
    assert px["hit"] == ["[10,10,20,20]"]

    # A click below a 10-head layer does nothing; a click on a head that exists is written in the
    # shortest text, whole layers of 10 heads as L<n>.
    before = run(loop, heads_text(page, node))
    run(loop, page.click(*run(loop, cell(page, node, 65, 15))))
    assert run(loop, heads_text(page, node)) == before == "in4, mid.3H0-9, out3.1"
    run(loop, page.click(*run(loop, cell(page, node, 64, 5))))
    assert run(loop, heads_text(page, node)) == "L0-1, L27H0-9, L64H5, L65"
    assert "output block 3, transformer 1" in run(loop, tooltip(page, node, 65, None))
    run(loop, type_heads(page, node, "L65H15"))
    error = run(loop, page.evaluate(grid_js(node, "return grid.state.error;")))
    assert "heads 0-9 in L65 (output block 3, transformer 1)" in error
    run(loop, type_heads(page, node, "in4, mid.3H0-9, out3.1, L64H5, L14H0-19"))
    run(loop, page.mouse("mouseMoved", box["x"] + 4, box["y"] + 4))  # no hover box or tip in the picture
    run(loop, asyncio.sleep(0.3))
    run(loop, photograph(page, box, "head_grid_sdxl.png"))


def test_presets_combined_are_outlined_with_their_labels_and_run(host, server, page, loop):
    node = "HeadHunterPerturbedAttention"
    name = "flux_two_style_presets_combined"
    run(loop, open_example(page, name, ready=grid_js(node, "return grid.state.marks.size === 2;")))

    # The grid comes from the connected presets' family (served by /headhunter/presets).
    state = run(loop, page.evaluate(grid_js(node, "return {layout: grid.state.layout.id, reason: grid.state.reason, marks: [...grid.state.marks.keys()].sort(), n: grid.state.selection.size};")))
    assert state["layout"] == "flux/flux.1-dev" and state["reason"].startswith("preset '")
    assert state["marks"] == ["38,18", "52,12"] and state["n"] == 0
    box = run(loop, fit_view(page, node, scale=1.0))
    assert "golden hour" in run(loop, tooltip(page, node, 38, 18))
    run(loop, photograph(page, box, "head_grid_presets.png"))
    # Another preset picked upstream: the outline follows without touching this node.
    pick = """(() => {{ const p = app.graph.nodes.find(n => n.title === 'Preset: green filter');
        p.widgets.find(w => w.name === 'preset').value = 'flux.1-dev/heads/{}';
        app.canvas.setDirty(true, true); return true; }})()"""
    run(loop, page.evaluate(pick.format("vintage-film-L51H23")))
    run(loop, page.wait_for(grid_js(node, "return grid.state.marks.has('51,23') && !grid.state.marks.has('52,12');"),
                            what="the outline to follow the preset"))
    run(loop, page.evaluate(pick.format("green-filter-L52H12")))
    run(loop, page.wait_for(grid_js(node, "return grid.state.marks.has('52,12');"), what="the outline to come back"))

    queue_example(host, page, loop, name, node, "")
    after = run(loop, page.wait_for(grid_js(node, "return grid.state.executed && {labels: [...grid.state.runLabels.values()].sort(), error: grid.state.error};"),
                                    what="the executed message"))
    assert after["error"] is None and any("golden hour" in label for label in after["labels"])


def test_sweep_range_is_picked_on_the_grid_and_the_sweep_runs(host, server, page, loop):
    node = "HeadHunterSweep"
    name = "sd3_head_sweep"
    run(loop, open_example(page, name))
    state = run(loop, page.evaluate(grid_js(node, "return {layout: grid.state.layout.id, n: grid.state.selection.size};")))
    assert state == {"layout": "sd3/sd3-medium", "n": 24}  # 'L14': a whole layer
    box = run(loop, fit_view(page, node, scale=1.0))
    run(loop, page.click(*run(loop, cell(page, node, 15, None))))
    assert run(loop, heads_text(page, node)) == "L14-15"  # one token for both layers
    run(loop, photograph(page, box, "head_grid_sweep.png"))
    # The sweep's range is a one-line field, edited in a dialog that sends no input event: the grid
    # still follows (it compares the value when the node is drawn).
    run(loop, page.evaluate(grid_js(node, "node.widgets.find(w => w.name === 'heads').value = 'L3H0-3'; app.canvas.setDirty(true, true); return true;")))
    run(loop, page.wait_for(grid_js(node, "return grid.state.selection.size === 4 && grid.state.selection.has('3,3');"),
                            what="the grid to follow the one-line field"))
    queue_example(host, page, loop, name, node, "L3H0-3")


def test_search_result_feeds_the_grid_its_scores(host, server, page, loop):
    node = "HeadHunterPerturbedAttention"
    name = "sd3_head_search_golden_hour"
    run(loop, open_example(page, name))
    queue_example(host, page, loop, name)
    after = run(loop, page.wait_for(grid_js(node, "return grid.state.executed && {heat: grid.state.heat.size, scores: [...grid.state.scores.values()], layout: grid.state.layout.id};"),
                                    what="the search result's scores"))
    # The search evaluated every head of the tiny 3 x 3 stand-in; their scores are drawn on its grid.
    assert after["layout"] == "sd3/model-3x3" and after["heat"] == 9 and all(isinstance(x, float) for x in after["scores"])


PIXELS = """
    const g = grid.geometry(), c = grid.widget.element.querySelector('canvas'), dpr = c.width / c.clientWidth;
    const at = (l, h) => Array.from(c.getContext("2d").getImageData(Math.floor((g.left + (l + 0.3) * g.cell) * dpr),
                                                                   Math.floor((g.top + (h + 0.3) * g.cell) * dpr), 1, 1).data).slice(0, 3);
    const rgb = (css) => { const d = document.createElement('div'); d.style.color = css; document.body.append(d);
                           const v = getComputedStyle(d).color.match(/[\\d.]+/g).slice(0, 3).map(Number); d.remove(); return v; };
    const theme = (name) => rgb(getComputedStyle(document.documentElement).getPropertyValue(name).trim());
"""


def test_search_scores_draw_a_heatmap_with_labels_in_both_themes(page, loop):
    """The UI message a search result brings (headhunter_scores / _labels, as the engine nodes send
    them) is drawn as a heatmap in the theme's colours; the scores here are made up for the test."""
    node = "HeadHunterGuider"
    run(loop, load_workflow(page, "flux_guider_sampler_custom_advanced"))
    box = run(loop, fit_view(page, node, scale=1.0))
    out = run(loop, page.evaluate(grid_js(node, PIXELS + """
        const scores = [];
        for (let l = 19; l < 57; l++) for (let h = 0; h < 24; h++) scores.push({head: `L${l}H${h}`, score: Math.sin(l * 0.37) * Math.cos(h * 0.61) + l / 57});
        node.onExecuted({headhunter_scores: scores, headhunter_labels: [{head: 'L52H12', label: 'golden hour'}]});
        const best = scores.reduce((a, b) => (b.score > a.score ? b : a));
        const [bl, bh] = best.head.slice(1).split('H').map(Number);
        return {scored: grid.state.heat.size, empty: at(3, 1), bg: theme('--comfy-input-bg'), best: at(bl, bh), selected: at(35, 8), fg: theme('--fg-color')};
    """)))
    assert out["scored"] == 38 * 24
    assert out["empty"] == out["bg"]  # an unscored, unselected head shows the theme's input background
    assert out["best"] == [253, 231, 37]  # the top score is the ramp's bright end
    assert out["selected"] == out["fg"]  # a selected head is filled with the theme's text colour
    tip = run(loop, tooltip(page, node, 52, 12))
    assert "search score" in tip and "golden hour" in tip
    run(loop, photograph(page, box, "head_grid_heatmap.png"))

    run(loop, page.evaluate("app.extensionManager.setting.set('Comfy.ColorPalette', 'light')"))
    run(loop, asyncio.sleep(0.8))
    light = run(loop, page.evaluate(grid_js(node, PIXELS + "grid.refresh(); return {empty: at(3, 1), bg: theme('--comfy-input-bg'), selected: at(35, 8), fg: theme('--fg-color')};")))
    assert light["bg"] != out["bg"] and light["empty"] == light["bg"] and light["selected"] == light["fg"]
    run(loop, photograph(page, box, "head_grid_light.png"))
    run(loop, page.evaluate("app.extensionManager.setting.set('Comfy.ColorPalette', 'dark')"))


def test_no_errors_from_the_pack_in_the_console(page):
    ours = [line for line in page.console if "headhunter" in line.lower() and ("exception" in line or "error" in line)]
    assert ours == []
