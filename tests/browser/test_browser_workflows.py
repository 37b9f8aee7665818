"""Every input of every node survives what users do with a workflow, in the real editor: save and
reopen, switching workflow tabs, undo / redo, copy / paste, clone and a page refresh each give the
prompt (app.graphToPrompt) that the example file converts to; so does a file saved by the release
whose head grid left a null slot in widgets_values. Run with the classic canvas and with the
frontend's Vue node renderer (setting Comfy.VueNodes.Enabled, stored through ComfyUI's settings route
before the page loads, as a user's choice is). Screenshots after the round trips go to
tests/.artifacts/browser/.
"""
import asyncio
import copy
import json
import urllib.request

import pytest

import ui_workflows
from hh_editor import ARTIFACTS, fit_view, load_graph, load_workflow, python_prompt, run

EXAMPLES = sorted(ui_workflows.EXAMPLE_FILES)
VUE = "Comfy.VueNodes.Enabled"
GRIDS_READY = "app.graph.nodes.filter(n => n.headhunterGrid).every(n => n.headhunterGrid.state.layout)"


async def prompt(page) -> dict:
    out = await page.evaluate("app.graphToPrompt().then(p => p.output)")
    return {k: (v["class_type"], v["inputs"]) for k, v in out.items()}


async def prompt_once_settled(page, want: dict, timeout: float = 20.0) -> dict:
    """The prompt once undo / redo has reloaded the graph: the first that equals `want`, or the last
    seen after `timeout` s (an undo reloads the whole graph, with Vue nodes more slowly)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await prompt(page) if await page.evaluate(GRIDS_READY) else None
        if got == want or asyncio.get_running_loop().time() > deadline:
            return got
        await asyncio.sleep(0.25)


def expected(name: str) -> dict:
    return {k: (v["class_type"], v["inputs"]) for k, v in python_prompt(name).items()}


async def reopen_saved(page, name: str) -> None:
    """What Save then Open do: the workflow graphToPrompt hands to the file, through JSON."""
    saved = await page.evaluate("app.graphToPrompt().then(p => JSON.stringify(p.workflow))")
    await load_graph(page, f"JSON.parse({json.dumps(saved)})", ui_workflows.EXAMPLE_FILES[name])
    await page.wait_for(GRIDS_READY, what="the head grids")


async def key(page, k: str, code: str, ctrl: bool = True) -> None:
    vk = ord(k.upper())
    for kind in ("rawKeyDown", "keyUp"):
        await page.send("Input.dispatchKeyEvent", type=kind, key=k, code=code, windowsVirtualKeyCode=vk,
                        modifiers=2 if ctrl else 0)
    await asyncio.sleep(0.5)


def own_inputs(entry):
    """A node's prompt inputs that are values, not links (a pasted node has no links)."""
    class_type, inputs = entry
    return class_type, {k: v for k, v in inputs.items() if not isinstance(v, list)}


EDITOR_READY = ("window.app?.graph && window.comfyAPI && app.extensions?.some(e => e.name === 'HeadHunter.HeadGrid') "
                "&& app.extensionManager?.setting")


def store_setting(server, setting: str, value) -> None:
    """A setting written through ComfyUI's own route (POST /settings/<id>), as the settings dialog does."""
    request = urllib.request.Request(f"{server.url}/settings/{setting}", data=json.dumps(value).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200


async def start_editor_with(page, server, vue: bool) -> None:
    """The editor as a user who chose this renderer finds it: the setting is stored, then the page
    loads. Switching at runtime rebuilds frontend 1.45's editor, and a page evaluation in flight is
    lost with it ("Promise was collected")."""
    store_setting(server, VUE, vue)
    await page.send("Page.reload")
    await asyncio.sleep(1)
    await page.wait_for(EDITOR_READY, timeout=120, what="the editor after the reload")
    assert await page.evaluate(f"app.extensionManager.setting.get({json.dumps(VUE)}) === {json.dumps(vue)}")
    # The editor reopens the workflow that was open, after it is ready: a graph loaded meanwhile
    # would be replaced. Wait until the restored workflow has been there for 2 s.
    seen, since = None, asyncio.get_running_loop().time()
    deadline = since + 60
    while asyncio.get_running_loop().time() - since < 2 and asyncio.get_running_loop().time() < deadline:
        now = await page.evaluate("[app.extensionManager.workflow.activeWorkflow?.path ?? null, app.graph.nodes.length, "
                                  f"{GRIDS_READY}]")
        if now != seen or not now[1] or not now[2]:
            seen, since = now, asyncio.get_running_loop().time()
        await asyncio.sleep(0.25)


@pytest.fixture(scope="module", params=[False, True], ids=["canvas", "vue-nodes"])
def renderer(request, server, page, loop):
    known = run(loop, page.evaluate(f"app.extensionManager.setting.get({json.dumps(VUE)}) !== undefined"))
    if request.param and not known:
        pytest.skip(f"this frontend has no {VUE}")
    if request.param:
        run(loop, start_editor_with(page, server, True))
    yield "vue" if request.param else "canvas"
    if request.param:
        run(loop, start_editor_with(page, server, False))


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_round_trip_keeps_every_input(name, renderer, page, loop):
    want = expected(name)
    run(loop, load_workflow(page, name))
    assert run(loop, prompt(page)) == want, "as loaded"
    vue_nodes = run(loop, page.evaluate("document.querySelectorAll('[data-node-id]').length"))
    assert (vue_nodes > 0) == (renderer == "vue"), f"{vue_nodes} nodes drawn by Vue"

    # Save and reopen, three times: an off-by-one slot grows with each round.
    for _ in range(3):
        run(loop, reopen_saved(page, name))
        assert run(loop, prompt(page)) == want, "saved and reopened"

    # Another tab and back (the frontend keeps each tab's serialized graph and reloads it).
    mine = run(loop, page.evaluate("app.extensionManager.workflow.activeWorkflow.filename"))
    run(loop, load_graph(page, "{nodes: [], links: [], version: 0.4}", "other tab"))
    run(loop, page.wait_for("app.graph.nodes.length === 0", what="the other tab"))
    tab = run(loop, page.evaluate(f"""(() => {{
        const tab = [...document.querySelectorAll('.workflow-tab')].find(t => t.querySelector('.workflow-label')?.textContent.trim() === {json.dumps(mine)});
        const r = tab.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""))
    run(loop, page.click(*tab))
    run(loop, page.wait_for(f"app.graph.nodes.length > 0 && {GRIDS_READY}", what="the first tab again"))
    assert run(loop, prompt_once_settled(page, want)) == want, "after switching tabs"

    # Undo and redo an edit of the heads text.
    node = run(loop, page.evaluate("app.graph.nodes.find(n => n.headhunterGrid).id"))
    edit = f"""(() => {{ const n = app.graph.getNodeById({json.dumps(node)}); const w = n.widgets.find(w => w.name === 'heads');
        w.value = 'L1H1'; app.extensionManager.workflow.activeWorkflow.changeTracker.checkState(); return true; }})()"""
    run(loop, page.evaluate(edit))
    edited = copy.deepcopy(want)
    edited[str(node)][1]["heads"] = "L1H1"
    assert run(loop, prompt(page)) == edited
    run(loop, fit_view(page))
    run(loop, key(page, "z", "KeyZ"))
    assert run(loop, prompt_once_settled(page, want)) == want, "after undo"
    run(loop, key(page, "y", "KeyY"))
    assert run(loop, prompt_once_settled(page, edited)) == edited, "after redo"
    run(loop, key(page, "z", "KeyZ"))
    assert run(loop, prompt_once_settled(page, want)) == want, "after undo again"

    # Copy / paste and clone every HeadHunter node: the new nodes hold the same values.
    ids = run(loop, page.evaluate("app.graph.nodes.filter(n => n.type.startsWith('HeadHunter')).map(n => n.id)"))
    for original in ids:
        new = run(loop, page.evaluate(f"""(() => {{
            const before = new Set(app.graph.nodes.map(n => n.id)), n = app.graph.getNodeById({json.dumps(original)});
            app.canvas.deselectAll?.(); app.canvas.selectNode(n); app.canvas.copyToClipboard(); app.canvas.pasteFromClipboard();
            const pasted = app.graph.nodes.find(m => !before.has(m.id)).id;
            const clone = n.clone(); clone.pos = [n.pos[0] + 40, n.pos[1] + 40]; app.graph.add(clone);
            return [pasted, clone.id]; }})()"""))
        got = run(loop, prompt(page))
        for duplicate in new:
            assert own_inputs(got[str(duplicate)]) == own_inputs(want[str(original)]), f"copy of node {original}"
        run(loop, page.evaluate(f"[{', '.join(map(str, new))}].forEach(id => app.graph.remove(app.graph.getNodeById(id))), true"))
    assert run(loop, prompt(page)) == want

    # A page refresh restores the open workflow from the browser's storage.
    run(loop, page.evaluate("app.extensionManager.workflow.activeWorkflow.changeTracker.checkState(), true"))
    run(loop, asyncio.sleep(3))  # newer frontends store the open workflow's draft a moment after a change
    run(loop, page.send("Page.reload"))
    run(loop, asyncio.sleep(1))
    run(loop, page.wait_for("window.app?.graph && app.extensions?.some(e => e.name === 'HeadHunter.HeadGrid') && "
                            f"app.graph.nodes.length > 0 && {GRIDS_READY}", timeout=120, what="the editor after a refresh"))
    assert run(loop, prompt_once_settled(page, want)) == want, "after a page refresh"
    run(loop, fit_view(page))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run(loop, page.screenshot(ARTIFACTS / f"round_trips_{renderer}_{name}.png"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_file_saved_with_the_grids_null_slot_loads_right(name, renderer, page, loop):
    """The previous release saved ["L3H0-5, L14H7", null, 3, ...]: a null for the grid after heads."""
    want = expected(name)
    run(loop, load_workflow(page, name))
    old = run(loop, page.evaluate(f"""(() => {{
        const file = {json.dumps(json.loads(ui_workflows.example_path(name).read_text()))};
        let changed = 0;
        for (const saved of file.nodes) {{
            const live = app.graph.getNodeById(saved.id);
            if (!live?.headhunterGrid) continue;
            const at = live.widgets.filter(w => w.serialize !== false).findIndex(w => w.name === 'heads');
            saved.widgets_values.splice(at + 1, 0, null);
            changed++;
        }}
        return {{file, changed}}; }})()"""))
    if not old["changed"]:
        pytest.skip("no node with a head grid in this example")
    run(loop, load_graph(page, json.dumps(old["file"]), ui_workflows.EXAMPLE_FILES[name] + " (old)"))
    run(loop, page.wait_for(GRIDS_READY, what="the head grids"))
    assert run(loop, prompt(page)) == want
    # Saved again, it is in the form both frontends read.
    saved = run(loop, page.evaluate("app.graphToPrompt().then(p => p.workflow.nodes.filter(n => n.type.startsWith('HeadHunter')).map(n => n.widgets_values))"))
    assert all(None not in values for values in saved), saved
    run(loop, reopen_saved(page, name))
    assert run(loop, prompt(page)) == want
