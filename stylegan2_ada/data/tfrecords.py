"""TF-era StyleGAN datasets (.tfrecords) as a source, read without TensorFlow.

TFRecord framing: uint64 length, masked CRC-32C of the length, the data, masked CRC-32C of the data. One
damaged record costs only itself: a record whose data CRC fails is a skip, and where the framing itself
is broken the reader searches forward for the next valid header, reports the damaged byte range and keeps
the records on both sides. Records of one file all have the same size (one resolution), which lets labels
(-rxx.labels, by record index) stay matched across a damaged range that holds a whole number of records.
"""

from __future__ import annotations

import glob
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .crc32c import masked_crc32c
from .images import ImageLoadError
from .items import SourceError, SourceItem, skip_item
from .tf_example import parse_example

_CHUNK = 1 << 20  # bytes searched per step when looking for the next valid record header


@dataclass(frozen=True)
class Damage:
    start: int
    end: int
    reason: str


def _header_ok(header: bytes) -> bool:
    return len(header) == 12 and masked_crc32c(header[:8]) == struct.unpack("<I", header[8:])[0]


def _resync(f: Any, start: int, size: int) -> int:
    """Offset of the next plausible record header at or after start (its length fits and its CRC matches)."""
    pos = start
    while pos + 12 <= size:
        f.seek(pos)
        buf = f.read(_CHUNK + 11)
        count = len(buf) - 11
        if count <= 0:
            break
        lengths = np.ndarray((count,), dtype="<u8", buffer=buf, offset=0, strides=(1,))
        offsets = np.arange(count, dtype=np.uint64) + np.uint64(pos)
        room = np.uint64(size) - offsets  # bytes left from each candidate
        fits = np.nonzero((lengths <= room - np.minimum(room, np.uint64(16))) & (room >= 16))[0]
        for i in fits.tolist():
            if _header_ok(buf[i : i + 12]):
                return pos + i
        pos += count
    return size


def iter_records(path: str) -> Iterator[tuple[int, int] | Damage]:
    """(data offset, length) for each framed record, and Damage for byte ranges that are not records."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            f.seek(pos)
            header = f.read(12)
            if len(header) < 12:
                yield Damage(pos, size, "the file ends inside a record header (incomplete copy)")
                return
            if _header_ok(header):
                (length,) = struct.unpack("<Q", header[:8])
                if pos + 16 + length > size:
                    yield Damage(pos, size, "the file ends inside this record (incomplete copy)")
                    return
                yield pos + 12, length
                pos += 16 + length
                continue
            nxt = _resync(f, pos + 1, size)
            yield Damage(pos, nxt, "broken record framing (corrupted bytes)")
            pos = nxt


def read_tfrecord_image(path: str, offset: int) -> np.ndarray:
    """One TF-era StyleGAN record -> HxWxC uint8 (records store CHW); ImageLoadError when damaged."""
    try:
        with open(path, "rb") as f:
            f.seek(offset - 12)
            header = f.read(12)
            if not _header_ok(header):
                raise ImageLoadError("record header changed since the file was scanned; run again")
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            tail = f.read(4)
    except OSError as exc:
        raise ImageLoadError(f"cannot read the record ({exc.strerror or exc})") from None
    if len(data) < length or len(tail) < 4:
        raise ImageLoadError("the file ends inside this record")
    if masked_crc32c(data) != struct.unpack("<I", tail)[0]:
        raise ImageLoadError("record data is corrupted (CRC-32C mismatch)")
    try:
        example = parse_example(data)
    except (ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise ImageLoadError(f"record is not a valid tf.train.Example ({exc})") from None
    if "shape" not in example or "data" not in example or not example["data"]:
        raise ImageLoadError(f"record has no 'shape'/'data' features (found {sorted(example)})")
    shape = [int(v) for v in example["shape"]]
    raw = example["data"][0]
    if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != len(raw) or shape[0] not in (1, 3):
        raise ImageLoadError(f"record shape {shape} does not match {len(raw)} data bytes of a 1- or 3-channel image")
    return np.frombuffer(raw, np.uint8).reshape(shape).transpose(1, 2, 0).copy()


def _tfrecord_lod(path: str) -> int:
    match = re.search(r"-r(\d+)\.tfrecords$", path)
    return int(match.group(1)) if match else -1


def _label_to_json(value: np.ndarray) -> Any:
    """One-hot rows become the class index (NVIDIA's int labels); other vectors stay float lists."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return int(arr) if np.issubdtype(arr.dtype, np.integer) else float(arr)
    flat = arr.reshape(-1).astype(np.float64)
    if flat.size > 1 and np.all((flat == 0) | (flat == 1)) and flat.sum() == 1:
        return int(np.argmax(flat))
    return [float(v) for v in flat]


def is_tfrecords_source(path: str) -> bool:
    if os.path.isdir(path):
        return bool(glob.glob(os.path.join(glob.escape(path), "*.tfrecords")))
    return path.lower().endswith(".tfrecords")


def scan_tfrecords(path: str) -> Iterator[SourceItem]:
    """A .tfrecords file, or a TF dataset folder (pick the highest -rNN resolution), + -rxx.labels."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(glob.escape(path), "*.tfrecords")))
        if not files:
            raise SourceError(f"{path} has no .tfrecords files")
        chosen = max(files, key=lambda p: (_tfrecord_lod(p), p))
        folder = path
    else:
        chosen, folder = path, os.path.dirname(path) or "."
    labels = None
    label_files = sorted(glob.glob(os.path.join(glob.escape(folder), "*-rxx.labels")))
    if label_files:
        try:
            labels = np.load(label_files[0], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read labels {label_files[0]} ({exc}); remove it to import without labels") from None
    try:
        entries = list(iter_records(chosen))
    except OSError as exc:
        raise SourceError(f"cannot read {chosen} ({exc.strerror or exc})") from None
    if not any(isinstance(e, tuple) for e in entries):
        raise SourceError(f"{chosen}: no valid record found; not a TFRecord file or corrupted")
    yield from _items(chosen, entries, labels)


def _items(chosen: str, entries: list[tuple[int, int] | Damage], labels: np.ndarray | None) -> Iterator[SourceItem]:
    base = os.path.basename(chosen)
    lengths = [e[1] for e in entries if isinstance(e, tuple)]
    stride = 16 + max(set(lengths), key=lengths.count)  # the common record size of this file
    index = 0
    labels_matched = True
    for entry in entries:
        if isinstance(entry, Damage):
            span = entry.end - entry.start
            lost = span // stride if span % stride == 0 else None
            note = ""
            if lost is None and labels is not None and labels_matched:
                labels_matched = False
                note = "; the records after it cannot be matched to their labels"
            yield skip_item(f"{base}@{entry.start}-{entry.end}", chosen,
                            f"damaged bytes {entry.start}..{entry.end} ({span} bytes): {entry.reason}; "
                            f"the records around them are used{note}")
            index += lost if lost is not None else 1
            continue
        offset, _ = entry
        label = None
        if labels is not None and labels_matched and index < len(labels):
            label = _label_to_json(labels[index])
        name = f"{base}#{index:08d}"
        yield SourceItem(name=name, kind="tfrecord", path=chosen, offset=offset, label_key=name, label=label)
        index += 1
