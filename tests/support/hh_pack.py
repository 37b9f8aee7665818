"""Finding and loading the pack and, where there is one, a real ComfyUI host.

Host-free tests import the pack's modules under the package name ``headhunter_pack`` without
running its ``__init__`` (which needs ComfyUI). Host tests load the pack the way ComfyUI does,
with ``nodes.load_custom_node``, and reach its modules under the name ComfyUI gave it.
"""
from __future__ import annotations

import importlib
import os
import sys
import types
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[2]
HOST_FREE_NAME = "headhunter_pack"


def pack_module(name: str, package: str = HOST_FREE_NAME):
    """``pack_module("core.heads")`` -> the pack's module, host-free unless a host package is given."""
    if package == HOST_FREE_NAME and HOST_FREE_NAME not in sys.modules:
        pkg = types.ModuleType(HOST_FREE_NAME)
        pkg.__path__ = [str(PACK_DIR)]
        sys.modules[HOST_FREE_NAME] = pkg
    return importlib.import_module(f"{package}.{name}")


def preset_modules(get=pack_module) -> types.SimpleNamespace:
    """The preset layer's four modules, by role, from ``get`` (``pack_module`` or the ``host`` fixture):
    ``algebra`` (head-set algebra on a model), ``checks`` (field checks, PresetError), ``fmt`` (the
    JSON format, Preset) and ``files`` (reading, listing and saving files)."""
    return types.SimpleNamespace(algebra=get("core.head_set_algebra"), checks=get("core.preset_checks"),
                                 fmt=get("core.preset_format"), files=get("core.preset_files"))


def find_host() -> tuple[Path | None, str]:
    """(ComfyUI folder or None, how it was looked for), in the brief's order."""
    candidates = []
    if os.environ.get("COMFYUI_PATH"):
        candidates.append(("COMFYUI_PATH", Path(os.environ["COMFYUI_PATH"]).expanduser()))
    if PACK_DIR.parent.name == "custom_nodes":
        candidates.append(("the custom_nodes folder the pack sits in", PACK_DIR.parent.parent))
    candidates.append(("comfy-cli's default", Path("~/comfy/ComfyUI").expanduser()))
    for how, path in candidates:
        if pack_module("comfy_host.loading").is_comfyui(path):
            return path, how
    looked = "; ".join(f"{how} ({path})" for how, path in candidates)
    return None, f"no ComfyUI found (looked at: {looked}); set COMFYUI_PATH to run the host tests"


_HOST_PACKAGE: str | None = None


def load_host(path: Path, cpu: bool = True, scratch: Path | None = None) -> str:
    """Import ComfyUI from ``path`` (on the CPU unless told) with its core nodes, load the pack into
    it; returns the pack's module name. With ``scratch``, every folder ComfyUI writes to is a
    subfolder of it."""
    global _HOST_PACKAGE
    if _HOST_PACKAGE is None:
        loading = pack_module("comfy_host.loading")
        folders = {name: scratch / name for name in loading.WRITABLE_FOLDERS} if scratch is not None else {}
        for folder in folders.values():
            folder.mkdir(parents=True, exist_ok=True)
        _HOST_PACKAGE = loading.load_comfyui(path, cpu=cpu, folders=folders, core_nodes=True)
    return _HOST_PACKAGE



def architecture_modules(get=pack_module) -> types.SimpleNamespace:
    """The architecture layer's three modules, by role: ``rows`` (what a row says), ``table`` (the
    rows and lookups) and ``layout`` (a model's layout, built or detected)."""
    return types.SimpleNamespace(rows=get("core.architecture_rows"), table=get("core.architectures"),
                                 layout=get("core.model_layout"))

if __name__ == "__main__":  # used by tests/run.sh: print the host folder, or nothing
    found, _ = find_host()
    print(found or "")
