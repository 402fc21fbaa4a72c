"""A zip of photos as a source: listing members safely and reading one with bounded memory.

Members are never extracted to disk, so '../evil.png' cannot write anywhere; such names are still refused
because no honest photo archive has them. A member's declared size is checked before anything is
decompressed (a 1.5 GB member of zeros is a zip bomb, not a photo), and reads stop at the declared size.
"""

from __future__ import annotations

import os
import posixpath
import zipfile
import zlib
from collections.abc import Iterator

from .images import DEFAULT_MAX_PIXELS, ImageLoadError, probe_image
from .items import SourceError, SourceItem, display_name, skip_item
from .labels import parse_dataset_json, plural, summarise
from .side_files import VIDEO_EXTENSIONS, file_reason

# Bytes a member may decompress to: an uncompressed 8-bit RGBA image at the pixel limit, 1 GB by default.
BYTES_PER_PIXEL_LIMIT = 4
# Larger members are identified from their header (streamed) before their bytes are read into memory.
PROBE_ABOVE = 32 << 20


def member_byte_limit(max_pixels: int = DEFAULT_MAX_PIXELS) -> int:
    return max(BYTES_PER_PIXEL_LIMIT * max_pixels, 1 << 20)


# One open handle per zip and process: re-reading the central directory of a 70k-member zip for every
# image would cost more than decoding the image. Keyed by PID: a forked worker must not share its parent's
# handle (one file offset for all processes garbles the reads).
_ZIPS: dict[str, zipfile.ZipFile] = {}


def open_zip(path: str) -> zipfile.ZipFile:
    key = f"{os.getpid()}:{os.path.abspath(path)}"
    if key not in _ZIPS:
        _ZIPS[key] = zipfile.ZipFile(path)
    return _ZIPS[key]


def _unsafe(name: str) -> bool:
    """Absolute, drive-letter or '..' paths: the signature of a path-traversal archive."""
    norm = name.replace("\\", "/")
    return norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in norm.split("/")


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def scan_zip(path: str) -> Iterator[SourceItem]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            meta = next((i for i in infos if i.filename == "dataset.json"), None)
            raw_labels = zf.read(meta) if meta is not None and meta.file_size < (64 << 20) else None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise SourceError(f"{path} is not a readable zip ({exc}); re-create it or unpack it to a folder") from None
    labels, problems = parse_dataset_json(raw_labels) if raw_labels is not None else ({}, [])
    seen: set[str] = set()
    items: list[tuple[str, SourceItem]] = []
    for index, info in enumerate(infos):
        if info.is_dir():
            continue
        name = info.filename
        if name == "dataset.json" and name not in seen:  # the labels: listed below with what was read
            seen.add(name)
            continue
        shown = display_name(name)
        items.append((name, _member_item(path, index, info, shown, name in seen, labels)))
        seen.add(name)
    if meta is not None:
        note = f"the source's label file, not an image ({plural(len(labels), 'label')} read)"
        if raw_labels is None:
            note = f"label file too large ({_gb(meta.file_size)}), not read"
        items.append(("dataset.json", skip_item("dataset.json", path, note)))
        for problem in summarise(problems):
            items.append(("dataset.json", skip_item("dataset.json", path, f"label problem: {problem}")))
        missing = sorted(set(labels) - seen)
        if missing:
            items.append(("dataset.json", skip_item("dataset.json", path, f"it labels {plural(len(missing), 'name')} not in the zip (e.g. {missing[0]})")))
    for _, item in sorted(items, key=lambda x: x[0]):
        yield item


def _member_item(path: str, index: int, info: zipfile.ZipInfo, shown: str, duplicate: bool, labels: dict) -> SourceItem:
    name = info.filename
    if duplicate:
        return skip_item(shown, path, "another member of the zip has the same name; only the first is used")
    if _unsafe(name):
        return skip_item(shown, path, "unsafe name in the zip (absolute or '..' path, a path-traversal archive); not used")
    reason = file_reason(name.replace("\\", "/"))
    if reason is None and posixpath.splitext(name.lower())[1] in VIDEO_EXTENSIONS:
        reason = "a video inside a zip is not read; unpack the zip and pass the folder"
    if reason is None and info.flag_bits & 0x1:
        reason = "encrypted member (password-protected zip); not read"
    if reason is not None:
        return skip_item(shown, path, reason)
    return SourceItem(name=shown, kind="zip", path=path, member=name, offset=index, label_key=shown, label=labels.get(name))


def read_member(item: SourceItem, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes:
    """The member's bytes, or ImageLoadError; never more than the size limit in memory."""
    limit = member_byte_limit(max_pixels)
    try:
        zf = open_zip(item.path)
        infos = zf.infolist()
        info = infos[item.offset] if item.offset < len(infos) else None
        if info is None or info.filename != item.member:
            raise ImageLoadError("the zip changed while it was being read; run again")
        if info.file_size > limit:
            raise ImageLoadError(
                f"zip member declares {_gb(info.file_size)} uncompressed ({_gb(info.compress_size)} packed), over the "
                f"{_gb(limit)} limit for one photo (a zip bomb?); not decompressed"
            )
        if info.file_size > PROBE_ABOVE:
            with zf.open(info) as f:
                probe_image(f, max_pixels)  # not an image, or too many pixels: refused before reading it all
        with zf.open(info) as f:
            data = f.read(limit + 1)  # zipfile stops at the declared size; the cap is a second fence
    except ImageLoadError:
        raise
    except (zipfile.BadZipFile, zlib.error) as exc:
        raise ImageLoadError(f"damaged zip member ({exc})") from None
    except NotImplementedError as exc:
        raise ImageLoadError(f"zip member uses an unsupported compression ({exc})") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ImageLoadError(f"cannot read zip member: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    if len(data) > limit:
        raise ImageLoadError(f"zip member is larger than the {_gb(limit)} limit for one photo; not used")
    return data
