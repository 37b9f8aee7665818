"""Loading ComfyUI headless from its folder, as its main.py does, and this pack into it, as
ComfyUI does. The one way the command line, the tests and the benchmarks start a ComfyUI.

Standalone (no imports from the pack), so that a script can load it by path before any ComfyUI
module exists. ComfyUI itself never calls it: inside ComfyUI the pack is already loaded.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1]
# The folders ComfyUI writes to; folder_paths has set_<name>_directory for each.
WRITABLE_FOLDERS = ("output", "temp", "input", "user")


class ComfyUILoadError(RuntimeError):
    """ComfyUI or the pack could not be loaded; the message says which folder and why."""


def is_comfyui(root: Path) -> bool:
    return (root / "comfy" / "samplers.py").is_file() and (root / "nodes.py").is_file()


def pack_module_name() -> str:
    """The module name ComfyUI's ``load_custom_node`` gives this pack's folder."""
    return str(PACK_DIR).replace(".", "_x_")


def load_comfyui(root: Path, *, cpu: bool = True, extra_model_paths: Path | None = None,
                 folders: dict[str, Path] | None = None, core_nodes: bool = False) -> str:
    """Import ComfyUI from ``root`` and load this pack into it; returns the pack's module name.

    ``folders`` points ComfyUI's writable folders (``WRITABLE_FOLDERS``) elsewhere before any node is
    imported (some create folders when imported). ``core_nodes`` also loads comfy_extras' nodes.
    """
    root = Path(root).expanduser().resolve()
    if not is_comfyui(root):
        raise ComfyUILoadError(f"{root} is not a ComfyUI folder (no comfy/samplers.py and nodes.py); "
                               "give the folder that holds ComfyUI's main.py")
    sys.path.insert(0, str(root))
    try:
        # First, as main.py does: importing comfy's modules puts ComfyUI/comfy first on sys.path,
        # where comfy/utils.py would hide ComfyUI's utils package ("No module named 'utils.extra_config'").
        import utils.extra_config

        import comfy.cli_args

        comfy.cli_args.args.cpu = cpu  # before comfy.model_management is imported
        import folder_paths

        for name, path in (folders or {}).items():
            getattr(folder_paths, f"set_{name}_directory")(str(path))
        import nodes
    except Exception as e:  # an old, partial or broken ComfyUI: say which, not a traceback
        raise ComfyUILoadError(f"could not import ComfyUI from {root}: {type(e).__name__}: {e}") from None
    if extra_model_paths is not None:
        try:
            utils.extra_config.load_extra_path_config(str(Path(extra_model_paths).expanduser()))
        except Exception as e:  # YAML syntax, a wrong layout
            raise ComfyUILoadError(f"extra model paths {extra_model_paths}: {type(e).__name__}: {e}") from None

    async def load() -> bool:
        if core_nodes:
            await nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False)
        return await nodes.load_custom_node(str(PACK_DIR))

    if not asyncio.run(load()):
        raise ComfyUILoadError(f"ComfyUI failed to import the HeadHunter pack from {PACK_DIR}; see the log above")
    return pack_module_name()
