"""The head grid in a real editor: a ComfyUI server (python main.py --cpu, temporary folders) and
headless Chromium, driven with real mouse and keyboard input over the DevTools protocol.

It loads each example workflow, clicks and drags heads in the grid and checks the text follows,
types text and checks the grid follows, queues the prompt (with the tiny stand-ins of
hh_substitutes.py swapped in) and waits for ComfyUI to finish it. Screenshots go to
tests/.artifacts/browser/; with HEADHUNTER_UPDATE_SCREENSHOTS=1 they are also copied to
docs/images/ and to the example workflows' template thumbnails.
"""
import asyncio
import json
from pathlib import Path

import hh_browser
from hh_editor import (ARTIFACTS, DOCS_IMAGES, PIXELS, cell, fit_view, grid_js, heads_text, keep, load_workflow, python_prompt,
                       queue_and_wait, run, type_heads)


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
    assert out["archs"] == ["sd3", "flux", "flux2", "chroma", "qwen-image", "auraflow", "hunyuan-video", "wan", "hidream",
                           "lumina2", "unet"]
    assert out["badStatus"] == 422 and "layer 99 is out of range" in out["bad"]["error"]
    import ui_workflows

    assert sorted(out["templates"][hh_browser.PACK_FOLDER_NAME]) == sorted(ui_workflows.EXAMPLE_FILES.values())
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
    await template_picture(page, name)


async def template_picture(page, name: str) -> Path:
    """The picture the templates browser shows for the example: its graph alone (canvas and nodes;
    no menu, tab, side bar or title), square as both frontends' cards are, 512 px."""
    import ui_workflows

    # A window large enough for the whole graph near full size: zoomed out below about 0.6, the
    # editor draws nodes as bare boxes, without text or widgets (the grid hides with them).
    await page.send("Emulation.setDeviceMetricsOverride", width=2600, height=2400, deviceScaleFactor=1, mobile=False)
    try:
        await asyncio.sleep(1)
        return await _template_picture(page, name, ui_workflows.example_path(name, ".jpg"))
    finally:
        await page.send("Emulation.setDeviceMetricsOverride", width=page.width, height=page.height,
                        deviceScaleFactor=1, mobile=False)
        await asyncio.sleep(1)


async def _template_picture(page, name: str, target: Path) -> Path:
    box = await fit_view(page, square=True)
    assert await page.evaluate("app.canvas.ds.scale") >= 0.8
    # The pointer rests on bare canvas beside the square: no hover highlight, no tab preview.
    await page.mouse("mouseMoved", box["x"] + box["width"] + 40, box["y"] + box["height"] - 40)
    await asyncio.sleep(0.5)
    covered = await page.evaluate(f"""(() => {{
        const box = {json.dumps(box)}, out = [];
        for (let i = 0; i <= 10; i++) for (let j = 0; j <= 10; j++) {{
            const x = box.x + box.width * i / 10 - (i === 10), y = box.y + box.height * j / 10 - (j === 10);
            const e = document.elementFromPoint(x, y);
            if (e !== app.canvas.canvas && !e.closest('.dom-widget, .dom-widget-container, [data-node-id], .graph-canvas-container'))
                out.push([Math.round(x), Math.round(y), e.tagName + '.' + e.className]);
        }}
        return out; }})()""")
    assert covered == [], f"the template picture of {name} would show editor parts: {covered[:5]}"
    shot = ARTIFACTS / f"template_{name}.jpg"
    await page.screenshot(shot, fmt="jpeg", clip=box, scale=512 / box["width"], quality=88)
    keep(shot, target)
    return shot


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


CARDS = """[...document.querySelectorAll('[data-testid^="template-workflow-"]')].map(card => {
    const img = card.querySelector('img');
    return {name: card.dataset.testid.slice('template-workflow-'.length), title: card.querySelector('h3')?.textContent.trim(),
            description: card.querySelector('p')?.textContent.trim(), src: img?.getAttribute('src'),
            picture: img && img.complete ? [img.naturalWidth, img.naturalHeight] : null};
})"""


def test_templates_browser_lists_the_examples_by_title_with_their_pictures(page, loop):
    """Templates (the side bar's button, i.e. Comfy.BrowseTemplates), then the pack's section: one
    card per example, titled and described by its file name, with its picture (the .jpg beside it)."""
    import ui_workflows

    run(loop, page.evaluate("app.extensionManager.command.execute('Comfy.BrowseTemplates').then(() => true)"))
    # The section is named after the pack's folder: under "Custom Nodes" (1.27) or "Extensions" (1.45),
    # low in a list that may have to scroll first.
    titles = set(ui_workflows.EXAMPLE_FILES.values())
    label = f"""[...document.querySelectorAll('.p-dialog *')].filter(e => e.children.length === 0
        && e.textContent.trim() === {json.dumps(hh_browser.PACK_FOLDER_NAME)}).at(-1)"""
    ours = f"(() => {{ const cards = {CARDS}; return cards.length > 0 && cards.every(c => {json.dumps(sorted(titles))}.includes(c.name)); }})()"
    run(loop, page.wait_for(f"(() => {{ const e = {label}; e?.scrollIntoView({{block: 'center'}}); return !!e; }})()",
                            what="the pack's section in the templates browser"))
    for _ in range(3):  # a click while the list still scrolls misses it
        run(loop, asyncio.sleep(1))
        section = run(loop, page.evaluate(f"(() => {{ const r = {label}.getBoundingClientRect(); "
                                          "return [r.x + r.width / 2, r.y + r.height / 2]; })()"))
        run(loop, page.click(*section))
        run(loop, asyncio.sleep(2))
        if run(loop, page.evaluate(ours)):
            break
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        cards = run(loop, page.wait_for(f"""(() => {{ const cards = {CARDS};
            return cards.length === {len(titles)} && cards.every(c => c.picture && c.picture[0] > 0) && cards; }})()""",
                                        what="the pack's five cards with their pictures"))
    finally:
        run(loop, asyncio.sleep(0.5))
        run(loop, page.screenshot(ARTIFACTS / "templates_browser.png"))
    print(f"screenshot: {ARTIFACTS / 'templates_browser.png'}")
    assert {c["title"] for c in cards} == titles
    assert {c["name"] for c in cards} == titles  # what a click loads: the file of that name
    assert all(c["description"] == c["title"] for c in cards)  # the frontend's only description
    for c in cards:
        assert c["picture"] == [512, 512], c  # the graph alone, square as the card
    # A click on a card loads that example.
    sweep = ui_workflows.EXAMPLE_FILES["sd3_head_sweep"]
    where = run(loop, page.evaluate(f"""(() => {{ const r = document.querySelector('[data-testid="template-workflow-{sweep}"] img')
        .getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""))
    run(loop, page.click(*where))
    run(loop, page.wait_for("app.graph.nodes.some(n => n.type === 'HeadHunterSweep') && !document.querySelector('.p-dialog')",
                            what="the sweep example loaded from its card"))


def test_no_errors_from_the_pack_in_the_console(page):
    ours = [line for line in page.console if "headhunter" in line.lower() and ("exception" in line or "error" in line)]
    assert ours == []
