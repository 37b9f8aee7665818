"""The example workflows (example_workflows/*.json) are sound and run in ComfyUI.

Each one: every node type is in the host's /object_info (frontend-only notes aside), links agree
with the nodes, the pack's nodes carry the registry id ComfyUI-Manager looks up; then the workflow
is turned into an API prompt, tiny stand-ins replace the model files it names (listed in
hh_substitutes.py and printed by the test), and ComfyUI's own validate_prompt and PromptExecutor
run it, with a message sink in place of the websocket server.
"""
import asyncio
import json
import tomllib
import uuid

import pytest


@pytest.fixture(scope="module")
def hw(host):
    import ui_workflows

    return ui_workflows


@pytest.fixture(scope="module")
def examples(hw):
    found = hw.load_examples()
    assert found, f"no workflows in {hw.EXAMPLES_DIR}"
    return found


def example_names():
    from ui_workflows import load_examples

    return sorted(load_examples())


def test_the_required_examples_exist(examples):
    assert set(examples) == {"sd3_perturbed_attention_ksampler", "flux_guider_sampler_custom_advanced",
                             "flux_two_style_presets_combined", "sd3_head_sweep", "sd3_head_search_golden_hour"}


@pytest.mark.parametrize("name", example_names())
def test_nodes_exist_and_links_agree(hw, examples, name):
    assert hw.check_workflow(examples[name]) == []


@pytest.mark.parametrize("name", example_names())
def test_pack_nodes_carry_the_registry_id(hw, examples, name):
    version = tomllib.loads((hw.PACK_DIR / "pyproject.toml").read_text())["project"]["version"]
    project = tomllib.loads((hw.PACK_DIR / "pyproject.toml").read_text())["project"]["name"]
    pack_nodes = [n for n in examples[name]["nodes"] if n["type"].startswith("HeadHunter")]
    assert pack_nodes
    for n in pack_nodes:
        assert (n["properties"]["cnr_id"], n["properties"]["ver"]) == (project, version), n["type"]


def test_node_list_json_names_every_registered_node(host, hw):
    from hh_pack import load_host

    listed = json.loads((hw.PACK_DIR / "node_list.json").read_text())
    assert isinstance(listed, dict)  # ComfyUI-Manager's scanner reads it with .items()
    assert listed == hw.pack_node_list(load_host(None))


class MessageSink:
    """What PromptExecutor needs of ComfyUI's PromptServer: it records the messages it is sent."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.sockets_metadata = {}
        self.messages = []

    def send_sync(self, event, data, sid=None):
        self.messages.append((event, data))

    def queue_updated(self):
        pass


@pytest.fixture(scope="module")
def tiny_models(host, tmp_path_factory):
    """Model folders with the tiny files, an output folder, and the stand-in nodes registered."""
    import folder_paths
    import hh_substitutes
    import nodes

    models = tmp_path_factory.mktemp("models")
    hh_substitutes.write_tiny_model_files(models)
    folder_paths.add_model_folder_path("diffusion_models", str(models / "diffusion_models"))
    folder_paths.add_model_folder_path("vae", str(models / "vae"))
    # The search reads objectives from, and writes its preset into, these folders: tmp ones only.
    saved = {key: folder_paths.folder_names_and_paths.get(key) for key in ("headhunter_objectives", "headhunter_presets")}
    folder_paths.folder_names_and_paths["headhunter_objectives"] = ([str(models / "headhunter_objectives")], set())
    folder_paths.folder_names_and_paths["headhunter_presets"] = ([str(models / "headhunter_presets")], {".json"})
    output = tmp_path_factory.mktemp("output")
    previous_output = folder_paths.get_output_directory()
    folder_paths.set_output_directory(str(output))
    added = {k: v for k, v in hh_substitutes.NODE_CLASS_MAPPINGS.items() if k not in nodes.NODE_CLASS_MAPPINGS}
    nodes.NODE_CLASS_MAPPINGS.update(added)
    yield output
    for k in added:
        del nodes.NODE_CLASS_MAPPINGS[k]
    folder_paths.set_output_directory(previous_output)
    for key, value in saved.items():
        if value is None:
            folder_paths.folder_names_and_paths.pop(key, None)
        else:
            folder_paths.folder_names_and_paths[key] = value


@pytest.mark.parametrize("name", example_names())
def test_example_runs_through_comfyui_executor(host, hw, examples, tiny_models, name):
    import execution
    import hh_releases
    import hh_substitutes
    import numpy as np
    from PIL import Image

    prompt, notes = hh_substitutes.substitute(hw.ui_to_api(examples[name]), host("core.heads").HeadSet)
    print(f"\n{name}: substituted\n  " + "\n  ".join(notes))
    prompt_id = str(uuid.uuid4())
    valid, error, outputs, node_errors = asyncio.run(execution.validate_prompt(prompt_id, prompt, None))
    assert valid, (error, node_errors)

    sink = MessageSink()
    executor = hh_releases.prompt_executor(sink)
    before = set(tiny_models.rglob("*.png"))
    executor.execute(prompt, prompt_id, {"client_id": "test"}, outputs)
    events = [e for e, _ in sink.messages]
    errors = [d for e, d in sink.messages if e == "execution_error"]
    assert executor.success and not errors, errors[0]["exception_message"] if errors else events
    assert events[0] == "execution_start" and "execution_success" in events

    executed = {d["node"]: d["output"] for e, d in sink.messages if e == "executed"}
    saves = [k for k, v in prompt.items() if v["class_type"] == "SaveImage"]
    for k in saves:  # what SaveImage reports it wrote is there: a real, non-blank picture
        (picture,) = executed[k]["images"]
        image = np.asarray(Image.open(tiny_models / picture["subfolder"] / picture["filename"]), dtype=np.float32)
        assert image.ndim == 3 and image.std() > 0
    assert saves and len(set(tiny_models.rglob("*.png")) - before) >= len(saves)
    # The pack's nodes told the head-grid widget which grid the model has.
    engines = [k for k, v in prompt.items() if v["class_type"] in ("HeadHunterPerturbedAttention", "HeadHunterGuider")]
    searched = any(v["class_type"] == "HeadHunterSearch" for v in prompt.values())
    for k in engines:
        (layout,) = executed[k]["headhunter_layout"]
        uses_flux = any(v["class_type"] == "HHTestTinyFlux" for v in prompt.values())
        assert (layout["layers"], layout["heads"]) == ((57, 24) if uses_flux else (3, 3))
        # Fed a search result, the engine passes the search's scores on for the heatmap
        # (HeadSet.notes.scores: every head the search evaluated, i.e. its candidate pool).
        scores = executed[k]["headhunter_scores"]
        if searched:
            (search,) = [v for v in prompt.values() if v["class_type"] == "HeadHunterSearch"]
            heads = host("core.heads")
            layout = host("core.model_layout").ModelLayout(host("core.architectures").architecture("sd3"), (3,), 3)
            pool = {f"L{l}H{h}" for l, h, _ in heads.HeadSet.parse(search["inputs"]["candidates"] or "L0-2").resolve(layout)}
            assert {s["head"] for s in scores} == pool and all(isinstance(s["score"], float) for s in scores)
        else:
            assert scores == []
