"""Per-head targets in the head grid, in the real editor: a click on a cell rewrites the heads text
and keeps the targets it named; the grid marks those heads (teal corner, the target's letter) and
the toolbar's legend names the targets. Screenshot: tests/.artifacts/browser/grid_targets.png.
"""
import json

from hh_editor import ARTIFACTS, cell, fit_view, grid_js, heads_text, load_workflow, run, type_heads


NODE = "HeadHunterPerturbedAttention"


def _corner_pixel(page, loop, layer, head):
    """RGBA of the canvas just inside the top-right corner of a cell (where the target mark goes)."""
    return run(loop, page.evaluate(grid_js(NODE, f"""
        const g = grid.geometry(); const c = grid.widget.element.querySelector('canvas');
        const r = c.width / g.width;
        const x = Math.floor((g.left + ({layer} + 1) * g.cell - 2) * r), y = Math.floor((g.top + {head} * g.cell + 2) * r);
        return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);""")))


def test_a_click_keeps_the_targets_and_the_grid_shows_them(page, loop):
    run(loop, load_workflow(page, "sd3_perturbed_attention_ksampler"))
    run(loop, fit_view(page, NODE, scale=1.0))
    run(loop, type_heads(page, NODE, "L14H7:uniform@0.5, L3H0-3:seg(4), L20H20"))
    run(loop, page.click(*run(loop, cell(page, NODE, 10, 5))))  # switch L10H5 on
    assert run(loop, heads_text(page, NODE)) == "L3H0-3:seg(4), L10H5, L14H7:uniform@0.5, L20H20"
    run(loop, page.click(*run(loop, cell(page, NODE, 3, 1))))  # switch L3H1 off: the rest keep seg(4)
    assert run(loop, heads_text(page, NODE)) == "L3H0:seg(4), L3H2-3:seg(4), L10H5, L14H7:uniform@0.5, L20H20"

    seen = run(loop, page.evaluate(grid_js(NODE, """
        const legend = grid.widget.element.querySelector('.hh-targets');
        return {legend: legend.textContent, shown: getComputedStyle(legend).display !== 'none', title: legend.title,
                targets: [...grid.state.targets].sort()};""")))
    assert seen["shown"] and seen["legend"] == "S seg(4) \u00b7 U uniform", seen
    assert "their own target" in seen["title"] and "node's target" in seen["title"]
    assert seen["targets"] == [["14,7", "uniform"], ["3,0", "seg(4)"], ["3,2", "seg(4)"], ["3,3", "seg(4)"]]
    teal = (0x1F, 0xB5, 0xA3)
    for layer, head in ((14, 7), (3, 0), (3, 3)):
        assert tuple(_corner_pixel(page, loop, layer, head)[:3]) == teal, (layer, head)
    for layer, head in ((10, 5), (20, 20)):  # selected, no target of their own: no mark
        assert tuple(_corner_pixel(page, loop, layer, head)[:3]) != teal, (layer, head)

    # The hover names the head's target.
    run(loop, page.mouse("mouseMoved", *run(loop, cell(page, NODE, 14, 7))))
    tip = run(loop, page.evaluate(grid_js(NODE, "return grid.widget.element.querySelector('.hh-tip').textContent;")))
    assert "L14H7" in tip and "target uniform" in tip

    box = run(loop, page.evaluate(grid_js(NODE, """
        const r = grid.widget.element.getBoundingClientRect();
        return {x: Math.max(0, r.left - 8), y: Math.max(0, r.top - 40), width: r.width + 16, height: r.height + 48};""")))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "grid_targets.png"
    run(loop, page.screenshot(path, clip=box))
    print(f"screenshot: {path}")
    # Typed over with a text without targets, the legend goes away.
    run(loop, type_heads(page, NODE, "L1H1"))
    assert not run(loop, page.evaluate(grid_js(NODE, "return grid.widget.element.querySelector('.hh-targets').classList.contains('hh-on');")))
    assert json.dumps(run(loop, heads_text(page, NODE))) == '"L1H1"'
