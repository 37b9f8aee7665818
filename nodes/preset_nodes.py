"""Preset nodes: pick a shipped or user preset, and save a head set as a user preset."""
from __future__ import annotations

from comfy_api.latest import io, ui

from ..core.preset_format import FAMILIES, preset_from_head_set
from ..core.preset_checks import SETTINGS, PresetError
from ..core.preset_files import SHIPPED_DIR, load_presets, sanitize_preset_id, save_preset
from ..comfy_host import preset_store
from ..core.setting_ranges import CFG, SCALE, SOFTPAG_U, STEPS
from .ranged_inputs import ranged_input
from .types import CATEGORY, HeadSetType

DEFAULT_PRESET = "sd3-medium/styles/golden-hour-round3"
FROM_HEAD_SET = "from head set"


class HeadHunterPreset(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        presets, errors = preset_store.load_all()  # re-read whenever the node list is requested
        options = [p.id for p in presets]
        broken = f" {len(errors)} preset file(s) could not be read and are left out: see the ComfyUI log." if errors else ""
        return io.Schema(
            node_id="HeadHunterPreset",
            display_name="HeadHunter Preset",
            category=CATEGORY,
            description=(
                "A precomputed head set: heads the paper names for SD3-medium and FLUX.1-dev (single concepts such as "
                "lighting, colour or texture, their compositions, the style-search rounds), layer-level PAG / SLG "
                "layers for comparison, and your own saved presets. Outputs the heads and their recommended settings; "
                "connect head_set to a HeadHunter guidance node."
            ),
            inputs=[
                io.Combo.Input(
                    "preset", options=options, default=DEFAULT_PRESET if DEFAULT_PRESET in options else None,
                    tooltip="<family>/<kind>/<name>. Shipped presets come from the pack's presets/ folder; yours from "
                    "models/headhunter_presets (HeadHunter Save Preset writes there). The description output says "
                    "where the heads come from and how sure each head's label is." + broken,
                ),
            ],
            outputs=[
                HeadSetType.Output("head_set", display_name="head_set",
                                   tooltip="The preset's heads (with their per-head u, if any)."),
                io.Float.Output("scale", display_name="scale", tooltip="Recommended perturbation guidance scale w."),
                io.Float.Output("softpag_u", display_name="softpag_u", tooltip="Recommended SoftPAG u (1 = PAG)."),
                io.Int.Output("steps", display_name="steps", tooltip="Recommended sampling steps."),
                io.Float.Output("cfg", display_name="cfg", tooltip="Recommended CFG scale (1 = CFG off)."),
                io.String.Output("description", display_name="description",
                                 tooltip="What the preset does, where its heads come from, settings."),
            ],
        )

    @classmethod
    def validate_inputs(cls, preset) -> bool | str:
        # Replaces ComfyUI's "value not in list" with why: renamed, deleted or broken file.
        try:
            preset_store.get_preset(preset)
        except PresetError as e:
            return str(e)
        return True

    @classmethod
    def fingerprint_inputs(cls, preset):
        # An edited preset file must not be served from ComfyUI's cache.
        try:
            stat = preset_store.get_preset(preset).path.stat()
        except (PresetError, OSError):
            return preset
        return preset, stat.st_mtime_ns, stat.st_size

    @classmethod
    def execute(cls, preset) -> io.NodeOutput:
        p = preset_store.get_preset(preset)
        summary = p.summary()
        return io.NodeOutput(p.head_set(), *(p.setting(k) for k in SETTINGS), summary, ui=ui.PreviewText(summary))


class HeadHunterSavePreset(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="HeadHunterSavePreset",
            display_name="HeadHunter Save Preset",
            category=CATEGORY,
            description=(
                "Saves a head set, its settings and where it came from as a preset JSON file in the user preset "
                "folder (models/headhunter_presets), so it appears in HeadHunter Preset (refresh the page). Never "
                "writes over a shipped preset or outside that folder."
            ),
            is_output_node=True,
            inputs=[
                HeadSetType.Input("head_set", tooltip="Heads to save: from a preset, HeadHunter Heads, Combine or a search."),
                io.String.Input("name", default="my preset",
                                tooltip="Preset name, also its file name. Letters, digits, spaces and - _ . ( ) + , are "
                                "kept, other characters become _; 'folder/name' saves into a sub-folder; '..' is refused."),
                io.String.Input("description", multiline=True, default="",
                                tooltip="What the preset does to the image; shown by HeadHunter Preset."),
                io.Combo.Input("family", options=[FROM_HEAD_SET, *FAMILIES], default=FROM_HEAD_SET,
                               tooltip="Model the heads were found on. 'from head set' keeps the family of the preset or "
                               "search the heads came from; typed heads need a family chosen here."),
                ranged_input("scale", SCALE, 3.0,
                             tooltip="Recommended perturbation guidance scale w (wire the preset's scale to keep it)."),
                ranged_input("softpag_u", SOFTPAG_U, 1.0, tooltip="Recommended SoftPAG u."),
                ranged_input("steps", STEPS, 20, tooltip="Recommended sampling steps."),
                ranged_input("cfg", CFG, 1.0,
                             tooltip="Recommended CFG scale (1 = CFG off)."),
                io.String.Input("tags", default="", tooltip="Comma-separated, e.g. 'style, lighting' (quality, style, "
                                "concept are the usual ones)."),
                io.String.Input("notes", multiline=True, default="",
                                tooltip="Provenance: how the heads were found (search objective, prompts, your tests)."),
                io.Boolean.Input("overwrite", default=False,
                                 tooltip="Replace your own preset of the same name. Shipped presets are never replaced."),
            ],
            outputs=[io.String.Output("preset", display_name="preset",
                                      tooltip="The saved preset's name in HeadHunter Preset's list.")],
        )

    @classmethod
    def validate_inputs(cls, name=None) -> bool | str:
        if name is None:  # wired from another node: checked when the node runs
            return True
        try:
            _check_name(name)
        except PresetError as e:
            return str(e)
        return True

    @classmethod
    def fingerprint_inputs(cls, name=None, **inputs):
        # ComfyUI serves an unchanged node from its cache: a preset file deleted (or edited) since
        # the last run must be written again, so the file's stamp is part of the fingerprint, and
        # with no file (or no readable name) it is NaN, never equal to itself: the node always runs.
        try:
            stat = (preset_store.save_folder() / f"{sanitize_preset_id(name)}.json").stat()
        except (PresetError, OSError, TypeError, AttributeError):
            return float("nan")
        return name, stat.st_mtime_ns, stat.st_size

    @classmethod
    def execute(cls, head_set, name, description, family, scale, softpag_u, steps, cfg, tags, notes,
                overwrite) -> io.NodeOutput:
        pid = _check_name(name)
        provenance = dict(head_set.notes.provenance) or {"source": "user"}
        if head_set.name:
            provenance.setdefault("based_on", head_set.name)
        if notes.strip():
            provenance["notes"] = notes.strip()
        preset = preset_from_head_set(
            head_set, pid, pid.rsplit("/", 1)[-1], family=None if family == FROM_HEAD_SET else family,
            description=description.strip(),
            recommended={"scale": scale, "softpag_u": softpag_u, "steps": steps, "cfg": cfg},
            tags=[t.strip() for t in tags.split(",") if t.strip()], provenance=provenance,
        )
        path = save_preset(preset_store.save_folder(), preset, overwrite=overwrite, reserved=_shipped_ids())
        message = f"Saved preset '{pid}' to {path}. Refresh the page (R) to pick it in HeadHunter Preset."
        return io.NodeOutput(pid, ui=ui.PreviewText(message))


def _shipped_ids() -> set[str]:
    presets, _ = load_presets([(SHIPPED_DIR, True)])
    return {p.id for p in presets}


def _check_name(name: str) -> str:
    pid = sanitize_preset_id(name)
    if pid in _shipped_ids():
        raise PresetError(f"'{pid}' is the name of a shipped preset, which is never overwritten: choose another name")
    return pid
