"""ComfyUI workflows in the editor's (UI) format: building them, checking them, and turning them
into API prompts the way the frontend's graphToPrompt does (the browser test compares the two).

Node information comes from the loaded host exactly as ComfyUI's /object_info computes it.
Import only in host tests (after the ``host`` fixture loaded ComfyUI) or host-side scripts.
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = PACK_DIR / "example_workflows"
PACK_ID, PACK_VERSION = "headhunter-guidance", "0.1.0"  # pyproject.toml: the registry (cnr) id
CORE_ID, CORE_VERSION = "comfy-core", "0.3.64"
# Frontend-only nodes: never sent to the server, so they are not in /object_info.
FRONTEND_ONLY = {"Note", "MarkdownNote"}
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}


def object_info(class_type: str) -> dict:
    """What ComfyUI's /object_info says about one node class (server.py ``node_info``)."""
    import nodes
    from comfy_api.internal import _ComfyNodeInternal

    cls = nodes.NODE_CLASS_MAPPINGS[class_type]
    if issubclass(cls, _ComfyNodeInternal):
        return cls.GET_NODE_INFO_V1()
    inputs = cls.INPUT_TYPES()
    return {
        "input": inputs,
        "input_order": {k: list(v.keys()) for k, v in inputs.items()},
        "output": list(cls.RETURN_TYPES),
        "output_name": list(getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES),
    }


def input_specs(info: dict) -> list[tuple[str, str, dict]]:
    """(name, type, options) of every required and optional input, in the editor's order; a
    combo's choices are in options["options"] either way ComfyUI writes them."""
    out = []
    for group in ("required", "optional"):
        specs = info["input"].get(group, {})
        for name in info.get("input_order", {}).get(group, list(specs)):
            spec = specs[name]
            options = dict(spec[1]) if len(spec) > 1 else {}
            if isinstance(spec[0], (list, tuple)):
                kind, options["options"] = "COMBO", list(spec[0])
            else:
                kind = spec[0]
            options["optional"] = group == "optional"
            out.append((name, kind, options))
    return out


def is_widget(kind: str, options: dict) -> bool:
    return kind in WIDGET_TYPES and not options.get("forceInput")


def has_control_widget(name: str, kind: str, options: dict) -> bool:
    """The editor adds a 'control after generate' value after seeds (widgets.ts / useIntWidget.ts)."""
    if options.get("control_after_generate") is not None:
        return bool(options["control_after_generate"])
    return kind == "INT" and name in ("seed", "noise_seed")


# ---- checking ---------------------------------------------------------------------------------

def check_workflow(workflow: dict) -> list[str]:
    """Problems with a UI workflow: unknown node types, and links that do not agree with the nodes'
    input/output lists or with each other. Empty when all is well."""
    import nodes

    problems = []
    by_id = {n["id"]: n for n in workflow["nodes"]}
    for n in workflow["nodes"]:
        if n["type"] not in nodes.NODE_CLASS_MAPPINGS and n["type"] not in FRONTEND_ONLY:
            problems.append(f"node {n['id']}: type {n['type']} is not in the host's /object_info")
    links = {}
    for link in workflow["links"]:
        link_id, origin, origin_slot, target, target_slot, kind = link
        links[link_id] = link
        if origin not in by_id or target not in by_id:
            problems.append(f"link {link_id}: node missing")
            continue
        out = by_id[origin]["outputs"][origin_slot]
        inp = by_id[target]["inputs"][target_slot]
        if link_id not in (out.get("links") or []):
            problems.append(f"link {link_id}: not listed on output {out['name']} of node {origin}")
        if inp.get("link") != link_id:
            problems.append(f"link {link_id}: input {inp['name']} of node {target} says {inp.get('link')}")
        if not (out["type"] == inp["type"] == kind or "*" in (out["type"], inp["type"])):
            problems.append(f"link {link_id}: types {out['type']} -> {inp['type']} (link says {kind})")
    for n in workflow["nodes"]:
        for inp in n.get("inputs", []):
            if inp.get("link") is not None and inp["link"] not in links:
                problems.append(f"node {n['id']} input {inp['name']}: link {inp['link']} does not exist")
        for out in n.get("outputs", []):
            for link_id in out.get("links") or []:
                if link_id not in links:
                    problems.append(f"node {n['id']} output {out['name']}: link {link_id} does not exist")
    if workflow.get("last_link_id", 0) < max(links, default=0):
        problems.append("last_link_id is below a link id")
    if workflow.get("last_node_id", 0) < max(by_id, default=0):
        problems.append("last_node_id is below a node id")
    return problems


# ---- UI -> API ----------------------------------------------------------------------------------

def ui_to_api(workflow: dict) -> dict:
    """The API prompt the editor would queue for this workflow (no groups, subgraphs or bypass)."""
    links = {link[0]: link for link in workflow["links"]}
    prompt = {}
    for n in workflow["nodes"]:
        if n["type"] in FRONTEND_ONLY or n.get("mode", 0) != 0:
            continue
        info = object_info(n["type"])
        values = iter(n.get("widgets_values") or [])
        linked = {inp["name"]: inp["link"] for inp in n.get("inputs", []) if inp.get("link") is not None}
        inputs = {}
        for name, kind, options in input_specs(info):
            if is_widget(kind, options):
                inputs[name] = next(values)
                if has_control_widget(name, kind, options):
                    next(values)
            if name in linked:
                _, origin, origin_slot, _, _, _ = links[linked[name]]
                inputs[name] = [str(origin), origin_slot]
        prompt[str(n["id"])] = {"inputs": inputs, "class_type": n["type"],
                                "_meta": {"title": n.get("title") or info.get("display_name") or n["type"]}}
    return prompt


# ---- building (used by build_example_workflows.py) --------------------------------------------------

class Node:
    def __init__(self, workflow: "Workflow", node_id: int, class_type: str):
        self.workflow, self.id, self.type = workflow, node_id, class_type

    def __getitem__(self, output: str | int) -> tuple["Node", int]:
        """An output by name or index, to connect: ``loader["CLIP"]``."""
        if isinstance(output, int):
            return self, output
        names = self.workflow.data_of(self)["outputs"]
        return self, next(i for i, o in enumerate(names) if o["name"] == output or o["type"] == output)


class Workflow:
    """A UI-format workflow (version 0.4) built from node classes; values by input name."""

    def __init__(self):
        self.nodes: list[dict] = []
        self.links: list[list] = []

    def data_of(self, node: Node) -> dict:
        return next(n for n in self.nodes if n["id"] == node.id)

    def note(self, text: str, pos, size=(380, 220), title="Read me") -> Node:
        node_id = len(self.nodes) + 1
        self.nodes.append({"id": node_id, "type": "MarkdownNote", "pos": list(pos), "size": list(size), "flags": {},
                           "order": 0, "mode": 0, "inputs": [], "outputs": [], "title": title,
                           "properties": {}, "widgets_values": [text], "color": "#432", "bgcolor": "#653"})
        return Node(self, node_id, "MarkdownNote")

    def add(self, class_type: str, pos, size=None, title=None, properties=None, **values) -> Node:
        info = object_info(class_type)
        node_id = len(self.nodes) + 1
        inputs, widgets_values = [], []
        for name, kind, options in input_specs(info):
            if is_widget(kind, options):
                value = values.pop(name, options.get("default"))
                if value is None and kind == "COMBO" and options["options"]:
                    value = options["options"][0]
                widgets_values.append(value)
                if has_control_widget(name, kind, options):
                    widgets_values.append("fixed")
                continue
            source = values.pop(name, None)
            # shape 7: the hollow dot the editor draws for optional inputs
            inputs.append({"name": name, "type": kind, "link": None, **({"shape": 7} if options["optional"] else {})})
            if source is not None:
                self._connect(source, node_id, len(inputs) - 1, inputs[-1])
        if values:
            raise ValueError(f"{class_type} has no inputs {sorted(values)}")
        is_pack = class_type.startswith("HeadHunter")
        node = {
            "id": node_id, "type": class_type, "pos": list(pos), "size": list(size or (320, 130)), "flags": {},
            "order": node_id - 1, "mode": 0, "inputs": inputs,
            "outputs": [{"name": n, "type": t, "links": []} for n, t in zip(info["output_name"], info["output"])],
            "properties": {"Node name for S&R": class_type, "cnr_id": PACK_ID if is_pack else CORE_ID,
                           "ver": PACK_VERSION if is_pack else CORE_VERSION, **(properties or {})},
            "widgets_values": widgets_values,
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return Node(self, node_id, class_type)

    def _connect(self, source: tuple[Node, int], target_id: int, target_slot: int, target_input: dict) -> None:
        origin, slot = source
        kind = self.data_of(origin)["outputs"][slot]["type"]
        if kind != target_input["type"]:
            raise ValueError(f"{origin.type} output {slot} is {kind}, input {target_input['name']} wants {target_input['type']}")
        link_id = len(self.links) + 1
        self.links.append([link_id, origin.id, slot, target_id, target_slot, kind])
        target_input["link"] = link_id
        self.data_of(origin)["outputs"][slot]["links"].append(link_id)

    def to_json(self) -> dict:
        for n in self.nodes:  # the editor writes null, not [], for unconnected outputs
            for out in n["outputs"]:
                out["links"] = out["links"] or None
        order = _execution_order(self.nodes, self.links)
        for n in self.nodes:
            n["order"] = order[n["id"]]
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([n["type"] for n in self.nodes]))),
            "revision": 0, "last_node_id": len(self.nodes), "last_link_id": len(self.links),
            "nodes": self.nodes, "links": self.links, "groups": [], "config": {},
            "extra": {"ds": {"scale": 0.75, "offset": [20, 20]}, "frontendVersion": "1.27.10"},
            "version": 0.4,
        }


def _execution_order(nodes: list[dict], links: list[list]) -> dict[int, int]:
    """Topological order, as the editor stores it in "order"."""
    deps = {n["id"]: {link[1] for link in links if link[3] == n["id"]} for n in nodes}
    order, done = {}, set()
    while len(done) < len(nodes):
        ready = sorted(i for i, d in deps.items() if i not in done and d <= done)
        for i in ready:
            order[i] = len(order)
            done.add(i)
    return order


def pack_node_list(package: str) -> dict[str, str]:
    """{node id: display name} of every node the loaded pack registered, sorted by id."""
    import nodes

    ids = sorted(k for k, cls in nodes.NODE_CLASS_MAPPINGS.items() if cls.__module__.startswith(package + "."))
    return {k: nodes.NODE_DISPLAY_NAME_MAPPINGS.get(k, k) for k in ids}


def load_examples() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(EXAMPLES_DIR.glob("*.json"))}
