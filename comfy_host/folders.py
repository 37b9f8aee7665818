"""The pack's model folders in ComfyUI's ``folder_paths`` (models/headhunter_presets,
models/headhunter_objectives), so that extra_model_paths.yaml can add more of them."""
from __future__ import annotations

import os


def register_model_folder(key: str, extensions: set[str]) -> None:
    """models/<key> as a ComfyUI model folder; idempotent, and folders an extra_model_paths.yaml
    entry registered first are kept (ours is added after them). Empty ``extensions``: any file."""
    import folder_paths

    default = os.path.join(folder_paths.models_dir, key)
    if key in folder_paths.folder_names_and_paths:
        paths, known = folder_paths.folder_names_and_paths[key]
        if default not in paths:
            paths.append(default)
        if isinstance(known, set):
            known.update(extensions)
    else:
        folder_paths.folder_names_and_paths[key] = ([default], set(extensions))
