"""The head-grid widget's server side in a real ComfyUI: the routes on a real aiohttp server and the UI
message the engine nodes send. The payloads alone are tests/unit/test_http_payloads.py."""
import asyncio
import json

import pytest


def test_routes_answer_json_and_4xx_json_errors(host):
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    routes_mod = host("http_api.routes")

    async def run():
        routes = web.RouteTableDef()
        routes_mod.register_routes(routes)
        app = web.Application()
        app.add_routes(routes)
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            r = await client.get("/headhunter/architectures")
            archs = await r.json()
            ok = await client.get("/headhunter/parse", params={"text": "L3-5H0-7", "family": "flux.1-dev"})
            bad = await client.get("/headhunter/parse", params={"text": "L1H99", "arch": "sd3"})
            nothing = await client.get("/headhunter/parse")
            presets = await client.get("/headhunter/presets")
            return (r.status, archs, ok.status, await ok.json(), bad.status, await bad.json(), nothing.status,
                    await nothing.json(), presets.status, await presets.json())

    status, archs, ok_status, ok, bad_status, bad, none_status, none, presets_status, presets = asyncio.run(run())
    assert presets_status == 200 and any(p["id"] == "flux.1-dev/heads/golden-hour-L38H18" for p in presets["presets"])
    assert status == 200 and [a["id"] for a in archs["architectures"]] == ["sd3", "flux", "flux2", "chroma", "qwen-image", "auraflow", "hunyuan-video", "wan", "hidream", "lumina2", "unet"]
    assert ok_status == 200 and ok["count"] == 24
    assert bad_status == 422 and bad == {"error": "L1H99: head 99 is out of range for SD3: 24 layers "
                                         "(joint blocks 0-23) x 24 heads (heads 0-23)"}
    assert none_status == 400 and "missing 'text'" in none["error"]


def test_routes_register_only_with_a_server(host):
    import types

    from aiohttp import web

    routes_mod = host("http_api.routes")
    assert routes_mod.register_with_comfyui(None) is False
    assert routes_mod.register_with_comfyui(types.SimpleNamespace(PromptServer=object)) is False
    server = types.SimpleNamespace(routes=web.RouteTableDef())
    assert routes_mod.register_with_comfyui(types.SimpleNamespace(PromptServer=types.SimpleNamespace(instance=server)))
    assert {r.path for r in server.routes} == {"/headhunter/architectures", "/headhunter/presets", "/headhunter/parse"}


@pytest.mark.parametrize("node_name", ["HeadHunterPerturbedAttention", "HeadHunterGuider"])
def test_engine_nodes_send_scores_labels_and_layout_to_the_widget(host, tmp_path_factory, node_name):
    import hh_host
    import nodes

    model = hh_host.load_with_unet_loader(hh_host.tiny_sd3_file(tmp_path_factory.mktemp("m")))
    head_set = host("core.heads").HeadSet.parse(
        "L1H2, L0H0", notes=host("core.heads").HeadNotes(scores={"L1H2": 0.75, "L0H0": 0.25}, labels={"L1H2": "golden hour"}))
    inputs = dict(model=model, heads="L2H1", scale=3.0, softpag_u=1.0, start_percent=0.0, end_percent=1.0, rescale=0.0,
                  perturb_tokens="all tokens (paper)", head_set=head_set)
    if node_name == "HeadHunterGuider":
        inputs.update(positive=hh_host.conditioning("sd3"), negative=hh_host.conditioning("sd3", seed=2), cfg=2.0,
                      mode="batched (one forward)")
    out = nodes.NODE_CLASS_MAPPINGS[node_name].PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(**inputs)
    assert out.ui["headhunter_scores"] == [{"head": "L1H2", "score": 0.75}, {"head": "L0H0", "score": 0.25}]
    assert out.ui["headhunter_labels"] == [{"head": "L1H2", "label": "golden hour"}]
    (layout,) = out.ui["headhunter_layout"]
    assert (layout["arch"], layout["layers"], layout["heads"], layout["family"]) == ("sd3", 3, 3, None)
    # Typed heads alone: no scores, no labels, still the layout.
    inputs.pop("head_set")
    out = nodes.NODE_CLASS_MAPPINGS[node_name].PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(**inputs)
    assert out.ui["headhunter_scores"] == [] and out.ui["headhunter_labels"] == []


def test_every_node_has_a_help_page_naming_each_input(host):
    """web/docs/<NodeId>.md is what ComfyUI's help panel shows for a custom node."""
    import ui_workflows

    docs = ui_workflows.PACK_DIR / "web" / "docs"
    node_ids = json.loads((ui_workflows.PACK_DIR / "node_list.json").read_text())
    assert node_ids
    for node_id in node_ids:
        page = docs / f"{node_id}.md"
        assert page.is_file(), f"no help page {page}"
        text = page.read_text()
        for name, _, _ in ui_workflows.input_specs(ui_workflows.object_info(node_id)):
            assert f"**{name}**" in text, f"{page.name} does not explain input '{name}'"


def test_hostile_head_text_gets_a_422_and_the_server_keeps_answering(host):
    # These held a real server for 16 s at 5 GB, or until killed; now each is refused before anything
    # is expanded (memory bounds: test_hostile_inputs.py), and the next request is answered.
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    routes_mod = host("http_api.routes")
    texts = ["L0-9999999H*", "L0-999999999H*", "L0-999999H0-999999", "L" + "9" * 5000,
             ", ".join(["L0-1023H0-511"] * 200), ", ".join(f"L{i % 24}H{i % 24}" for i in range(600))]

    async def run():
        routes = web.RouteTableDef()
        routes_mod.register_routes(routes)
        app = web.Application()
        app.add_routes(routes)
        answers = []
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            for text in texts:
                r = await client.get("/headhunter/parse", params={"text": text, "family": "sd3-medium"})
                answers.append((r.status, await r.json()))
            r = await client.get("/headhunter/parse", params={"text": "L1H2", "arch": "sd3"})
            answers.append((r.status, await r.json()))
        return answers

    *hostile, (big_status, big), (last_status, last) = asyncio.run(run())
    assert [status for status, _ in hostile] == [422] * 5
    assert "'L0-9999999H*': layer 9999999 is out of range: HeadHunter reads layers 0-1023" in hostile[0][1]["error"]
    assert "layer 999999999 is out of range" in hostile[1][1]["error"]
    assert "'L0-999999H0-999999': layer 999999 is out of range" in hostile[2][1]["error"]
    assert "5001 characters, a head has at most 64" in hostile[3][1]["error"] and len(hostile[3][1]["error"]) < 300
    assert "names more than 131072 heads" in hostile[4][1]["error"]
    assert big_status == 200 and big["count"] == 24  # 600 legal tokens naming the diagonal: fine
    assert last_status == 200 and last["heads"] == [[1, 2, None]]


def test_every_output_is_named_and_every_input_has_a_tooltip(host):
    """The editor labels outputs by /object_info's output_name: a node with several outputs of one
    type (Preset: scale, softpag_u and cfg are FLOATs) needs names. A lone output of an evident type
    (MODEL, GUIDER) keeps ComfyUI's type label."""
    import ui_workflows

    for node_id in json.loads((ui_workflows.PACK_DIR / "node_list.json").read_text()):
        info = ui_workflows.object_info(node_id)
        names, types = info["output_name"], info["output"]
        if len(types) > 1 or types[0].startswith("HEADHUNTER") or types[0] in ("STRING", "FLOAT", "INT", "IMAGE"):
            unnamed = [t for n, t in zip(names, types) if n == t]
            assert not unnamed, f"{node_id}: outputs labelled only by type {unnamed}"
        for name, _, options in ui_workflows.input_specs(info):
            assert options.get("tooltip"), f"{node_id}: input '{name}' has no tooltip"
    sweep = ui_workflows.object_info("HeadHunterSweep")["input"]
    assert not [k for group in sweep.values() for k, spec in group.items()
                if len(spec) > 1 and "objective" in str(spec[1].get("tooltip", "")).lower()], "Sweep has no objective"
