"""Names a user types that become file or folder names (preset names, search run names).

Checked when typed, not when the file is written: a name that works on one system but not on the
one where a shared workflow runs (Windows' reserved device names, over-long UTF-8 names) is
refused everywhere, before any work is done.
"""
from __future__ import annotations

# Windows refuses these as file names, with or without an extension ("con", "aux.v2", "LPT1.txt").
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                              *(f"LPT{i}" for i in range(10)), "COM¹", "COM²", "COM³", "LPT¹", "LPT²", "LPT³"})
MAX_NAME_BYTES = 255  # one path component on ext4, NTFS, APFS


def name_problem(part: str, suffix: str = "") -> str | None:
    """Why ``part`` (+ ``suffix``, e.g. ".json") cannot be a portable file name, or None."""
    stem = part.split(".")[0].strip().upper()
    if stem in WINDOWS_RESERVED:
        return f"'{part}' is a reserved file name on Windows ({stem})"
    size = len((part + suffix).encode("utf-8"))
    if size > MAX_NAME_BYTES:
        return (f"'{part[:24]}...' is {size} bytes long in UTF-8 (with '{suffix}'); a file name holds at most "
                f"{MAX_NAME_BYTES} bytes") if suffix else (
                f"'{part[:24]}...' is {size} bytes long in UTF-8; a file name holds at most {MAX_NAME_BYTES} bytes")
    return None
