"""Finding and loading the pack and, where there is one, a real ComfyUI host.

Host-free tests import the pack's modules under the package name ``headhunter_pack`` without
running its ``__init__`` (which needs ComfyUI). Host tests load the pack the way ComfyUI does,
with ``nodes.load_custom_node``, and reach its modules under the name ComfyUI gave it.
"""
from __future__ import annotations

import asyncio
import importlib
import os
import sys
import types
from pathlib import Path

PACK_DIR = Path(__file__).resolve().parents[1]
HOST_FREE_NAME = "headhunter_pack"


def pack_module(name: str, package: str = HOST_FREE_NAME):
    """``pack_module("core.heads")`` -> the pack's module, host-free unless a host package is given."""
    if package == HOST_FREE_NAME and HOST_FREE_NAME not in sys.modules:
        pkg = types.ModuleType(HOST_FREE_NAME)
        pkg.__path__ = [str(PACK_DIR)]
        sys.modules[HOST_FREE_NAME] = pkg
    return importlib.import_module(f"{package}.{name}")


def find_host() -> tuple[Path | None, str]:
    """(ComfyUI folder or None, how it was looked for), in the brief's order."""
    candidates = []
    if os.environ.get("COMFYUI_PATH"):
        candidates.append(("COMFYUI_PATH", Path(os.environ["COMFYUI_PATH"]).expanduser()))
    if PACK_DIR.parent.name == "custom_nodes":
        candidates.append(("the custom_nodes folder the pack sits in", PACK_DIR.parent.parent))
    candidates.append(("comfy-cli's default", Path("~/comfy/ComfyUI").expanduser()))
    for how, path in candidates:
        if (path / "comfy" / "samplers.py").is_file() and (path / "nodes.py").is_file():
            return path, how
    looked = "; ".join(f"{how} ({path})" for how, path in candidates)
    return None, f"no ComfyUI found (looked at: {looked}); set COMFYUI_PATH to run the host tests"


_HOST_PACKAGE: str | None = None


# The folders ComfyUI writes to (folder_paths.set_<name>_directory exists for each).
WRITABLE_FOLDERS = ("output", "temp", "input", "user")


def load_host(path: Path, cpu: bool = True, scratch: Path | None = None) -> str:
    """Import ComfyUI from ``path`` (on the CPU unless told), load the pack into it; returns the
    pack's module name. With ``scratch``, every folder ComfyUI writes to is a subfolder of it,
    set before any node is imported (some create folders when imported)."""
    global _HOST_PACKAGE
    if _HOST_PACKAGE is not None:
        return _HOST_PACKAGE
    sys.path.insert(0, str(path))
    import comfy.cli_args

    comfy.cli_args.args.cpu = cpu  # before comfy.model_management is imported
    if scratch is not None:
        import folder_paths

        for name in WRITABLE_FOLDERS:
            (scratch / name).mkdir(parents=True, exist_ok=True)
            getattr(folder_paths, f"set_{name}_directory")(str(scratch / name))
    # As ComfyUI's main.py does, before nodes.py puts comfy/ on sys.path (after which a bare
    # `import utils` would find comfy/utils.py instead of ComfyUI's utils package).
    import utils.extra_config  # noqa: F401
    import nodes  # ComfyUI's nodes.py

    async def load():
        await nodes.init_extra_nodes(init_custom_nodes=False, init_api_nodes=False)
        return await nodes.load_custom_node(str(PACK_DIR))

    if not asyncio.run(load()):
        raise RuntimeError(f"ComfyUI failed to import the pack from {PACK_DIR}; see the log above")
    _HOST_PACKAGE = str(PACK_DIR).replace(".", "_x_")
    return _HOST_PACKAGE


if __name__ == "__main__":  # used by tests/run.sh: print the host folder, or nothing
    found, _ = find_host()
    print(found or "")
