"""Where images come from: a folder (recursive), a zip, a video (every Nth frame) or TF-era .tfrecords.

Every source is flattened into picklable `SourceItem`s so worker processes can decode them in parallel.
TFRecords are read without TensorFlow: the file framing and the tf.train.Example protobuf are parsed here.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import struct
import zipfile
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..atomic import atomic_write_bytes
from ..errors import UserError
from .images import ImageLoadError, LoadedImage, encode_png, load_image

VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
# Files that are certainly not photos: listed as skipped without even trying to decode them.
_SIDE_FILES = {"dataset.json", ".ds_store", "thumbs.db", "desktop.ini"}


class SourceError(UserError):
    """The source as a whole cannot be read; str() says what to do."""


@dataclass(frozen=True)
class SourceItem:
    name: str  # stable display name, e.g. 'cats/a.jpg', 'clip.mp4#frame000120', 'ffhq-r10.tfrecords#17'
    kind: str  # 'file', 'zip', 'tfrecord'
    path: str  # the file, zip or tfrecords file on disk
    member: str = ""  # zip member
    offset: int = 0  # tfrecord byte offset of the record
    label_key: str = ""  # relative path used for label look-ups (sub-folder, CSV, dataset.json)
    label: Any = None  # label carried by the source itself (dataset.json, -rxx.labels)
    origin: str = ""  # original file when the item was derived (video frame)


def load_item(
    item: SourceItem,
    background: tuple[int, int, int] = (255, 255, 255),
    max_pixels: int | None = None,
) -> LoadedImage:
    """Decode one item; raises ImageLoadError with a reason."""
    kwargs = {} if max_pixels is None else {"max_pixels": max_pixels}
    if item.kind == "file":
        return load_image(item.path, background, **kwargs)
    if item.kind == "zip":
        try:
            data = _open_zip(item.path).read(item.member)
        except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, EOFError) as exc:
            raise ImageLoadError(f"cannot read zip member: {exc}") from None
        return load_image(data, background, **kwargs)
    if item.kind == "tfrecord":
        pixels = read_tfrecord_image(item.path, item.offset)
        gray = pixels.shape[2] == 1
        rgb = np.repeat(pixels, 3, axis=2) if gray else pixels
        return LoadedImage(pixels=rgb, grayscale=gray, source_mode="L" if gray else "RGB", source_size=(rgb.shape[1], rgb.shape[0]))
    raise ImageLoadError(f"unknown source kind {item.kind!r}")


# One open handle per zip and process: re-reading the central directory of a 70k-member zip for every
# image would cost more than decoding the image.
_ZIPS: dict[str, zipfile.ZipFile] = {}


def _open_zip(path: str) -> zipfile.ZipFile:
    key = f"{os.getpid()}:{os.path.abspath(path)}"  # a forked worker must not share its parent's handle
    if key not in _ZIPS:
        _ZIPS[key] = zipfile.ZipFile(path)
    return _ZIPS[key]


# ----------------------------------------------------------------------------------------------------
# Folder and zip


def _read_dataset_json(text: bytes | str) -> dict[str, Any]:
    """NVIDIA dataset.json -> {relative name: label}; empty when labels are null."""
    try:
        labels = json.loads(text).get("labels")
    except (ValueError, AttributeError):
        return {}
    return {str(k).replace("\\", "/"): v for k, v in (labels or [])}


def _is_side_file(name: str) -> bool:
    base = os.path.basename(name).lower()
    return base in _SIDE_FILES or base.startswith("._") or "__macosx/" in name.lower()


def scan_folder(
    root: str,
    work_dir: str,
    every_nth_frame: int,
) -> Iterator[SourceItem]:
    labels: dict[str, Any] = {}
    meta = os.path.join(root, "dataset.json")
    if os.path.isfile(meta):
        with open(meta, "rb") as f:
            labels = _read_dataset_json(f.read())
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in filenames:
            if not fname.startswith("."):
                files.append(os.path.join(dirpath, fname))
    for path in sorted(files, key=lambda p: os.path.relpath(p, root).replace("\\", "/")):
        rel = os.path.relpath(path, root).replace("\\", "/")
        if _is_side_file(rel):
            continue
        ext = os.path.splitext(path)[1].lower()
        if ext in VIDEO_EXTENSIONS:
            yield from scan_video(path, work_dir, every_nth_frame, name_prefix=rel)
        elif ext == ".tfrecords" or ext == ".labels":
            continue  # handled by scan_tfrecords when the folder is a TF dataset
        else:
            yield SourceItem(name=rel, kind="file", path=path, label_key=rel, label=labels.get(rel))


def scan_zip(path: str) -> Iterator[SourceItem]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            labels = _read_dataset_json(zf.read("dataset.json")) if "dataset.json" in names else {}
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path} is not a readable zip ({exc}); re-create it or unpack it to a folder") from None
    for name in sorted(names):
        if _is_side_file(name):
            continue
        yield SourceItem(name=name, kind="zip", path=path, member=name, label_key=name, label=labels.get(name))


# ----------------------------------------------------------------------------------------------------
# Video


def scan_video(
    path: str,
    work_dir: str,
    every_nth_frame: int,
    name_prefix: str | None = None,
) -> Iterator[SourceItem]:
    """Extract every Nth frame once into the work folder (re-runs reuse them) and list them."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SourceError(f"reading video {path} needs imageio-ffmpeg: pip install imageio-ffmpeg") from None
    display = name_prefix or os.path.basename(path)
    stat = os.stat(path)
    key = hashlib.sha1(f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{every_nth_frame}".encode()).hexdigest()[:12]
    out_dir = os.path.join(work_dir, "frames", f"{re.sub(r'[^A-Za-z0-9_.-]', '_', os.path.basename(path))}-{key}")
    done = os.path.join(out_dir, "done.json")
    if not os.path.isfile(done):
        os.makedirs(out_dir, exist_ok=True)
        frames = []
        try:
            reader = imageio_ffmpeg.read_frames(path)
            meta = next(reader)
            width, height = meta["size"]
            for index, raw in enumerate(reader):
                if index % every_nth_frame:
                    continue
                pixels = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
                fname = f"frame{index:06d}.png"
                atomic_write_bytes(os.path.join(out_dir, fname), encode_png(pixels, compress_level=1), durable=False)
                frames.append(fname)
        except (OSError, RuntimeError, StopIteration, ValueError) as exc:
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SourceError(f"cannot decode video {path}: {msg}") from None
        atomic_write_bytes(done, json.dumps({"frames": frames}).encode("utf-8"), durable=False)
    with open(done) as f:
        frames = json.load(f)["frames"]
    for fname in frames:
        yield SourceItem(
            name=f"{display}#{fname[:-4]}",
            kind="file",
            path=os.path.join(out_dir, fname),
            label_key=display,
            origin=path,
        )


# ----------------------------------------------------------------------------------------------------
# TFRecords (TF-era StyleGAN datasets)

_CRC32C_TABLE: list[int] = []


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), table-driven; only used on short buffers (record lengths)."""
    if not _CRC32C_TABLE:
        for i in range(256):
            crc = i
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
            _CRC32C_TABLE.append(crc)
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def iter_tfrecord_offsets(path: str) -> Iterator[tuple[int, int]]:
    """(offset of data, length) for every record; the length's CRC is checked to catch a wrong file."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = 0
        while pos < size:
            header = f.read(12)
            if len(header) < 12:
                raise SourceError(f"{path}: truncated record header at byte {pos}; the file is incomplete")
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != length_crc:
                raise SourceError(f"{path}: bad record framing at byte {pos}; not a TFRecord file or corrupted")
            if pos + 12 + length + 4 > size:
                raise SourceError(f"{path}: truncated record at byte {pos}; the file is incomplete")
            yield pos + 12, length
            pos += 12 + length + 4
            f.seek(pos)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """Protobuf wire format -> (field number, wire type, value); length-delimited values are bytes."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _int64s(buf: bytes) -> list[int]:
    """Int64List: packed (wire 2) or repeated varints; negative values are two's complement."""
    values = []
    for number, wire, value in _fields(buf):
        if number != 1:
            continue
        if wire == 2:
            pos = 0
            while pos < len(value):
                v, pos = _varint(value, pos)
                values.append(v)
        else:
            values.append(value)
    return [v - (1 << 64) if v >= 1 << 63 else v for v in values]


def parse_example(buf: bytes) -> dict[str, Any]:
    """tf.train.Example -> {feature name: list of bytes | list of int | list of float}."""
    out: dict[str, Any] = {}
    for number, _, features in _fields(buf):
        if number != 1:  # Example.features
            continue
        for fnum, _, entry in _fields(features):
            if fnum != 1:  # Features.feature (map entry)
                continue
            key, feature = "", b""
            for enum, _, value in _fields(entry):
                if enum == 1:
                    key = value.decode("utf-8")
                elif enum == 2:
                    feature = value
            for kind, _, payload in _fields(feature):
                if kind == 1:  # BytesList
                    out[key] = [v for n, _, v in _fields(payload) if n == 1]
                elif kind == 2:  # FloatList (packed or not)
                    floats: list[float] = []
                    for n, w, v in _fields(payload):
                        if n == 1:
                            floats.extend(struct.unpack(f"<{len(v) // 4}f", v) if w == 2 else struct.unpack("<f", v))
                    out[key] = floats
                elif kind == 3:  # Int64List
                    out[key] = _int64s(payload)
    return out


def read_tfrecord_image(path: str, offset: int) -> np.ndarray:
    """One TF-era StyleGAN record -> HxWxC uint8 (records store CHW)."""
    with open(path, "rb") as f:
        f.seek(offset - 12)
        (length,) = struct.unpack("<Q", f.read(8))
        f.seek(offset)
        data = f.read(length)
    try:
        example = parse_example(data)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        raise ImageLoadError(f"record is not a valid tf.train.Example ({exc})") from None
    if "shape" not in example or "data" not in example:
        raise ImageLoadError(f"record has no 'shape'/'data' features (found {sorted(example)})")
    shape = [int(v) for v in example["shape"]]
    raw = example["data"][0]
    if len(shape) != 3 or int(np.prod(shape)) != len(raw):
        raise ImageLoadError(f"record shape {shape} does not match {len(raw)} data bytes")
    return np.frombuffer(raw, np.uint8).reshape(shape).transpose(1, 2, 0).copy()


def _tfrecord_lod(path: str) -> int:
    match = re.search(r"-r(\d+)\.tfrecords$", path)
    return int(match.group(1)) if match else -1


def scan_tfrecords(path: str) -> Iterator[SourceItem]:
    """A .tfrecords file, or a TF dataset folder (pick the highest -rNN resolution), + -rxx.labels."""
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "*.tfrecords")))
        if not files:
            raise SourceError(f"{path} has no .tfrecords files")
        chosen = max(files, key=lambda p: (_tfrecord_lod(p), p))
        folder = path
    else:
        chosen, folder = path, os.path.dirname(path) or "."
    labels = None
    label_files = sorted(glob.glob(os.path.join(folder, "*-rxx.labels")))
    if label_files:
        try:
            labels = np.load(label_files[0], allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SourceError(f"cannot read labels {label_files[0]} ({exc}); remove it to import without labels") from None
    base = os.path.basename(chosen)
    for index, (offset, _) in enumerate(iter_tfrecord_offsets(chosen)):
        label = None
        if labels is not None and index < len(labels):
            label = _label_to_json(labels[index])
        name = f"{base}#{index:08d}"
        yield SourceItem(name=name, kind="tfrecord", path=chosen, offset=offset, label_key=name, label=label)


def _label_to_json(value: np.ndarray) -> Any:
    """One-hot rows become the class index (NVIDIA's int labels); other vectors stay float lists."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return int(arr) if np.issubdtype(arr.dtype, np.integer) else float(arr)
    flat = arr.reshape(-1).astype(np.float64)
    if flat.size > 1 and np.all((flat == 0) | (flat == 1)) and flat.sum() == 1:
        return int(np.argmax(flat))
    return [float(v) for v in flat]


# ----------------------------------------------------------------------------------------------------


def is_tfrecords_source(path: str) -> bool:
    if os.path.isdir(path):
        return bool(glob.glob(os.path.join(path, "*.tfrecords")))
    return path.lower().endswith(".tfrecords")


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
    if ext in VIDEO_EXTENSIONS:
        return scan_video(path, work_dir, every_nth_frame)
    # A single image file.
    return iter([SourceItem(name=os.path.basename(path), kind="file", path=path, label_key=os.path.basename(path))])
