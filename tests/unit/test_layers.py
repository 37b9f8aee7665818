"""The folders are layers, and each imports only those below it (host-free: reads the source).

core/ is plain torch and never imports ComfyUI; comfy_host/ is ComfyUI glue outside the forward
pass (loading, folders, the preset store); patches/ touches the forward pass; search/ is the
search's glue; nodes/ and http_api/ are the two faces ComfyUI sees and never import each other.
"""
from __future__ import annotations

import ast
from pathlib import Path

from hh_pack import PACK_DIR

BELOW = {
    "core": set(),
    "comfy_host": {"core"},
    "patches": {"core"},
    "search": {"core", "patches", "comfy_host"},
    "nodes": {"core", "patches", "search", "comfy_host"},
    "http_api": {"core", "comfy_host"},
}
HOST_MODULES = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "nodes", "server", "execution", "utils",
                "latent_preview", "node_helpers"}


def imports(path: Path) -> tuple[set[str], set[str]]:
    """(pack folders imported through relative imports, top-level absolute modules)."""
    folders, absolute = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level >= 1:
            if node.level == 1:
                folders.add(path.parent.name)
            elif node.module:
                folders.add(node.module.split(".")[0])
            else:
                folders.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            absolute.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            absolute.update(alias.name.split(".")[0] for alias in node.names)
    return folders, absolute


def test_each_folder_imports_only_the_layers_below_it():
    wrong = []
    for folder, allowed in BELOW.items():
        for path in sorted((PACK_DIR / folder).glob("*.py")):
            folders, absolute = imports(path)
            for other in sorted(folders - allowed - {folder}):
                wrong.append(f"{folder}/{path.name} imports {other}/")
            if folder == "core" and absolute & HOST_MODULES:
                wrong.append(f"core/{path.name} imports ComfyUI ({', '.join(sorted(absolute & HOST_MODULES))})")
    assert not wrong, "\n".join(wrong)
