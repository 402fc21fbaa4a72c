"""What a file really is, by its first bytes, so a wrong file gets a message naming it, not a pickle error.

A JPEG renamed .safetensors, the .json beside a snapshot, an HTML error page saved instead of a download,
a Git LFS pointer, an empty or half-copied file: each is named here before any parser sees it, and the
message says what --network expects instead.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

EXPECTED = (
    "expected one of our .safetensors snapshots, an NVIDIA network .pkl (PyTorch or TensorFlow), a known name "
    "(ffhq256, stylegan2-ffhq-1024x1024, ...) or a URL"
)
SAFETENSORS, PICKLE, TORCH_ZIP, OTHER = "safetensors", "pickle", "torch-zip", "other"
_HEAD_BYTES = 512

# Magic numbers, checked before anything else (some start with a byte that is also a pickle opcode).
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"\x1f\x8b", "a gzip-compressed file (unpack it first)"),
    (0, b"BZh", "a bzip2-compressed file (unpack it first)"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file (unpack it first)"),
    (0, b"(\xb5/\xfd", "a zstd-compressed file (unpack it first)"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (unpack it first)"),
    (0, b"Rar!\x1a\x07", "a RAR archive (unpack it first)"),
    (0, b"%PDF", "a PDF document"),
    (0, b"\x93NUMPY", "a NumPy .npy array"),
    (0, b"\x89HDF\r\n\x1a\n", "an HDF5 file (a Keras/TensorFlow .h5 model?)"),
    (0, b"\x7fELF", "a program (ELF executable)"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM video"),
    (257, b"ustar", "a tar archive (unpack it first)"),
    (4, b"ftyp", "an MP4/MOV video or HEIC/AVIF image"),
    (0, b"version https://git-lfs", "a Git LFS pointer, not the file itself (run `git lfs pull` or download it)"),
)


@dataclass(frozen=True)
class FileKind:
    kind: str  # SAFETENSORS, PICKLE, TORCH_ZIP or OTHER
    description: str  # what it is, in words ("a JPEG image")


def _zip_kind(path: Path) -> FileKind:
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()[:10_000]
    except (zipfile.BadZipFile, OSError, ValueError):
        return FileKind(OTHER, "a damaged zip archive")
    if any(n.endswith("data.pkl") for n in names):
        return FileKind(TORCH_ZIP, "a torch.save/zip archive")
    if any(n.endswith(".npy") for n in names):
        return FileKind(OTHER, "a NumPy .npz archive (projected ws are read with --projected-w)")
    if "dataset.json" in names or any(n.lower().endswith((".png", ".jpg", ".jpeg")) for n in names):
        return FileKind(OTHER, "a zip of images (a training dataset?)")
    return FileKind(OTHER, "a zip archive")


def _text_kind(head: bytes) -> str | None:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:200]:
        return "an HTML page (an error or login page saved instead of the download?)"
    if text.startswith(b"<"):
        return "an XML/HTML document"
    if text.startswith((b"{", b"[")):
        return "a JSON file (for a snapshot, pass the .safetensors beside its .json)"
    return None


def _looks_like_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head[:-3].decode("utf-8", "ignore") if len(head) > 3 else ""
        if not text:
            return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)


# Opcodes a pickle can start with (protocols 0 and 1 have no PROTO header); a persistent id never starts one.
_OPCODES = frozenset(
    op[0] for name, op in vars(pickle).items() if name.isupper() and isinstance(op, bytes) and len(op) == 1
) - {pickle.PERSID[0], pickle.BINPERSID[0]}


def _is_pickle_start(head: bytes) -> bool:
    if head[0] == pickle.PROTO[0]:
        return len(head) == 1 or 2 <= head[1] <= 5  # a lone PROTO byte: a truncated pickle
    return head[0] in _OPCODES


def sniff(path: str | Path) -> FileKind:
    """What the file at `path` is, from its first bytes (and its size)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if not head:
        return FileKind(OTHER, "an empty file (an interrupted download or copy?)")
    for offset, magic, description in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return FileKind(OTHER, description)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _zip_kind(path)
    # safetensors: an 8-byte little-endian header length (never near 2**48), then the JSON header.
    if len(head) > 8 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 1 << 48:
        return FileKind(SAFETENSORS, "a safetensors file")
    text = _text_kind(head)
    if text is not None:
        return FileKind(OTHER, text)
    if _is_pickle_start(head):
        return FileKind(PICKLE, "a pickle")
    if _looks_like_text(head):
        return FileKind(OTHER, f"a text file (it starts {head[:24].decode('utf-8', 'replace')!r})")
    return FileKind(OTHER, f"a file of an unknown kind (it starts with bytes {head[:8].hex(' ')})")


def first_words(path: str | Path) -> str:
    """How the file starts, for a message about a file that failed to parse as what it seemed."""
    with open(path, "rb") as f:
        head = f.read(_HEAD_BYTES)
    if _looks_like_text(head):
        return f"it starts like text: {head[:24].decode('utf-8', 'replace')!r}"
    return f"it starts with bytes {head[:8].hex(' ')}"
