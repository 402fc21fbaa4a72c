"""What a source is flattened into: picklable `SourceItem`s, one per image to decode or per thing skipped.

A scanner never raises for one bad file: it yields a 'skip' item carrying the reason, which flows through
the same pipeline as the images and lands in the report in source order. Only a source that cannot be read
at all (not a zip, no TFRecords in it) raises SourceError.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UserError


class SourceError(UserError):
    """The source as a whole cannot be read; str() says what to do."""


@dataclass(frozen=True)
class SourceItem:
    name: str  # stable display name, e.g. 'cats/a.jpg', 'clip.mp4#frame000120', 'ffhq-r10.tfrecords#17'
    kind: str  # 'file', 'zip', 'tfrecord' or 'skip'
    path: str  # the file, zip or tfrecords file on disk (may hold undecodable bytes as surrogates)
    member: str = ""  # zip member
    offset: int = 0  # tfrecord byte offset of the record; zip: the member's index in the central directory
    label_key: str = ""  # relative path used for label look-ups (sub-folder, CSV, dataset.json)
    label: Any = None  # label carried by the source itself (dataset.json, -rxx.labels)
    origin: str = ""  # original file when the item was derived (video frame)
    reason: str = ""  # kind 'skip': why nothing comes out of it


def skip_item(name: str, path: str, reason: str) -> SourceItem:
    return SourceItem(name=name, kind="skip", path=path, label_key=name, reason=reason)


def display_name(text: str) -> str:
    """A name that can be printed and stored as UTF-8 JSON/HTML.

    os.walk gives bytes that are not UTF-8 as lone surrogates (PEP 383); they, and control characters,
    become visible escapes (caf\\xe9.jpg), while the real path is kept for opening the file.
    """
    try:
        text.encode("utf-8")
        clean = text
    except UnicodeEncodeError:
        clean = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if any(ord(c) < 32 or ord(c) == 127 for c in clean):
        clean = "".join(f"\\x{ord(c):02x}" if ord(c) < 32 or ord(c) == 127 else c for c in clean)
    return clean
