"""Files that come along with photos but are not photos (system metadata, hidden files, archives, ...).

Each gets a reason for the report instead of a decoding attempt: nothing in a source vanishes silently.
"""

from __future__ import annotations

import posixpath

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}

_SYSTEM_FILES = {
    ".ds_store": "macOS Finder metadata (.DS_Store), not a photo",
    "thumbs.db": "Windows thumbnail cache (Thumbs.db), not a photo",
    "ehthumbs.db": "Windows thumbnail cache (ehthumbs.db), not a photo",
    "desktop.ini": "Windows folder settings (desktop.ini), not a photo",
    ".localized": "macOS folder-name file (.localized), not a photo",
    "icon\r": "macOS folder icon file, not a photo",
}
_SYSTEM_FOLDERS = {
    "__macosx": "macOS archive metadata folder (__MACOSX), not read",
    ".git": "version-control folder (.git), not read",
    "@eadir": "Synology thumbnail folder (@eaDir), not read",
    "$recycle.bin": "Windows recycle bin, not read",
    ".trash": "trash folder, not read",
    ".trashes": "macOS trash folder, not read",
}
_ARCHIVES = {".zip", ".7z", ".rar", ".tar", ".gz", ".tgz", ".bz2", ".xz"}


def folder_reason(name: str) -> str | None:
    """Why a folder (by its own name) is not scanned, or None to scan it."""
    lower = name.lower()
    if lower in _SYSTEM_FOLDERS:
        return _SYSTEM_FOLDERS[lower]
    if name.startswith("."):
        return "hidden folder (name starts with '.'), not read"
    return None


def file_reason(rel: str) -> str | None:
    """Why a file (by its relative path, '/'-separated) is not an image to decode, or None to decode it.

    dataset.json and videos are not handled here: their callers read them.
    """
    base = posixpath.basename(rel)
    lower = base.lower()
    parts = [p.lower() for p in rel.split("/")[:-1]]
    for part in parts:
        if part in _SYSTEM_FOLDERS:
            return _SYSTEM_FOLDERS[part]
    if lower in _SYSTEM_FILES:
        return _SYSTEM_FILES[lower]
    if base.startswith("._"):
        return "macOS resource fork (AppleDouble '._' file), not a photo"
    if base.startswith("."):
        return "hidden file (name starts with '.'), not used"
    ext = posixpath.splitext(lower)[1]
    if ext in _ARCHIVES:
        return "an archive inside the source is not opened; unpack it or pass it as its own --source"
    if ext in (".tfrecords", ".labels"):
        return "a TFRecords dataset file inside a photo source; pass the file (or its folder) as its own --source"
    return None
