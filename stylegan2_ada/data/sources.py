"""Where images come from: a folder (recursive), a zip, a video (every Nth frame) or TF-era .tfrecords.

Every source is flattened into picklable `SourceItem`s (items.py) so worker processes can decode them in
parallel; each kind of source has its own module (folders, zips, videos, tfrecords).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from .folders import scan_folder
from .images import DEFAULT_MAX_PIXELS, ImageLoadError, LoadedImage, load_image
from .items import SourceError, SourceItem, display_name
from .side_files import VIDEO_EXTENSIONS
from .tfrecords import is_tfrecords_source, read_tfrecord_image, scan_tfrecords
from .videos import scan_video
from .zips import read_member, scan_zip

__all__ = ["VIDEO_EXTENSIONS", "SourceError", "SourceItem", "load_item", "scan_source"]


def load_item(
    item: SourceItem,
    background: tuple[int, int, int] = (255, 255, 255),
    max_pixels: int | None = None,
) -> LoadedImage:
    """Decode one item; raises ImageLoadError with a reason."""
    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if item.kind == "skip":
        raise ImageLoadError(item.reason)
    if item.kind == "file":
        return load_image(item.path, background, limit)
    if item.kind == "zip":
        return load_image(read_member(item, limit), background, limit)
    if item.kind == "tfrecord":
        pixels = read_tfrecord_image(item.path, item.offset)
        gray = pixels.shape[2] == 1
        rgb = np.repeat(pixels, 3, axis=2) if gray else pixels
        return LoadedImage(pixels=rgb, grayscale=gray, source_mode="L" if gray else "RGB", source_size=(rgb.shape[1], rgb.shape[0]))
    raise ImageLoadError(f"unknown source kind {item.kind!r}")


def scan_source(
    path: str,
    work_dir: str,
    every_nth_frame: int = 1,
) -> Iterator[SourceItem]:
    """Dispatch on what `path` is. Raises SourceError for a missing or unreadable source."""
    if not os.path.exists(path):
        raise SourceError(f"source {path} does not exist; pass a folder, zip, video or .tfrecords file")
    if is_tfrecords_source(path):
        return scan_tfrecords(path)
    if os.path.isdir(path):
        return scan_folder(path, work_dir, every_nth_frame)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".zip":
        return scan_zip(path)
    name = display_name(os.path.basename(path))
    if ext in VIDEO_EXTENSIONS:
        return scan_video(path, work_dir, every_nth_frame, display=name)
    # A single image file.
    return iter([SourceItem(name=name, kind="file", path=path, label_key=name)])
