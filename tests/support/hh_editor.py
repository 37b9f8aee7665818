"""Driving the graph editor in browser tests: the settings the test server starts with, where
screenshots go, and page helpers (loading graphs, fitting the view, reading and clicking the
grid). The server and the browser are tests/support/hh_browser.py; the fixtures that start them are
tests/browser/conftest.py."""
import asyncio
import json
import os
import shutil
from pathlib import Path

import hh_browser


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


def keep(path: Path, *copies: Path) -> None:
    print(f"screenshot: {path}")
    if UPDATE:
        for copy in copies:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, copy)


def run(loop, coro):
    return loop.run_until_complete(coro)


# ---- page helpers -----------------------------------------------------------------------------

async def load_graph(page, workflow_js: str, title: str) -> None:
    """app.loadGraphData(workflow, ...) as the editor calls it to open a file, and wait until it has
    finished. Its promise is kept on the page and polled rather than awaited by the protocol:
    Chromium reports "Promise was collected" for an awaited evaluation it dropped."""
    await page.evaluate(f"""(() => {{
        const load = window.__hhLoad = {{settled: false, error: null}};
        load.promise = app.loadGraphData({workflow_js}, true, true, {json.dumps(title)})
            .then(() => {{ load.settled = true; }}, (e) => {{ load.error = String(e); load.settled = true; }});
        return true; }})()""")
    await page.wait_for("window.__hhLoad.settled", what=f"app.loadGraphData of {title}")
    error = await page.evaluate("window.__hhLoad.error")
    assert error is None, f"loading {title}: {error}"


async def load_workflow(page, name: str) -> None:
    import ui_workflows

    workflow = json.loads(ui_workflows.example_path(name).read_text())
    # Named as the templates browser names it: by its file name, the template's title.
    title = ui_workflows.EXAMPLE_FILES[name]
    await load_graph(page, json.dumps(workflow), title)
    await page.wait_for("app.graph.nodes.filter(n => n.headhunterGrid).every(n => n.headhunterGrid.state.layout)",
                        what="the head grids")
    await fit_view(page)


async def fit_view(page, node_type: str | None = None, scale: float | None = None, square: bool = False) -> dict:
    """Show the whole graph (or one node, at `scale`), nothing selected; returns the page box of
    what is shown, for screenshots. `square`: the graph centred in the largest square of canvas
    that no menu, tab or side bar covers, and that square's box."""
    box = await page.evaluate(f"""(() => {{
        const only = {json.dumps(node_type)}, square = {json.dumps(square)};
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
        if (square) area.width = area.height = Math.min(area.width, area.height);
        const margin = square ? 0.94 : 1;
        const scale = {json.dumps(scale)} ?? margin * Math.min(area.width / (x1 - x0), area.height / (y1 - y0), 1.2);
        const ds = app.canvas.ds;
        ds.scale = scale;
        ds.offset[0] = area.left / scale - x0 + (only === null ? (area.width / scale - (x1 - x0)) / 2 : 0);
        ds.offset[1] = area.top / scale - y0 + (square ? (area.height / scale - (y1 - y0)) / 2 : 0);
        app.canvas.deselectAll?.();
        app.canvas.setDirty(true, true);
        if (square) return {{x: rect.left + area.left, y: rect.top + area.top, width: area.width, height: area.height}};
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


def python_prompt(name):
    import ui_workflows

    return ui_workflows.ui_to_api(ui_workflows.load_examples()[name])


PIXELS = """
    const g = grid.geometry(), c = grid.widget.element.querySelector('canvas'), dpr = c.width / c.clientWidth;
    const at = (l, h) => Array.from(c.getContext("2d").getImageData(Math.floor((g.left + (l + 0.3) * g.cell) * dpr),
                                                                   Math.floor((g.top + (h + 0.3) * g.cell) * dpr), 1, 1).data).slice(0, 3);
    const rgb = (css) => { const d = document.createElement('div'); d.style.color = css; document.body.append(d);
                           const v = getComputedStyle(d).color.match(/[\\d.]+/g).slice(0, 3).map(Number); d.remove(); return v; };
    const theme = (name) => rgb(getComputedStyle(document.documentElement).getPropertyValue(name).trim());
"""
