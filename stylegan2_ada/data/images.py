"""Robust image decoding: whatever a photo folder contains becomes an RGB uint8 array or a clear reason.

Everything that can go wrong with a real-world file is turned into `ImageLoadError` with a one-line,
human-readable reason, so the batch can skip the file and report why.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import PIL.Image
import PIL.ImageFile
import PIL.ImageOps

from ..errors import UserError

# Refuse absurd images early (decompression bombs); 250 MP is far above any camera photo.
DEFAULT_MAX_PIXELS = 250_000_000


class ImageLoadError(UserError):
    """A file that cannot be used as an image; `str(err)` is the reason shown to the user."""


@dataclass
class LoadedImage:
    pixels: np.ndarray  # HxWx3 uint8, RGB
    grayscale: bool  # the source had no colour (L, LA, I;16, 1 ...), so 1 channel output is lossless
    source_mode: str  # PIL mode of the file, for the manifest
    source_size: tuple[int, int]  # (width, height) after EXIF orientation


def parse_color(text: str | Sequence[int]) -> tuple[int, int, int]:
    """'white', '#ff8800', '255,136,0' or a 3-sequence -> (r, g, b)."""
    problem = f"colour {text!r} is not valid: use a name (white, black, gray), #rrggbb or r,g,b"
    try:
        if not isinstance(text, str):
            values = [int(v) for v in text]
        else:
            value = text.strip().lower()
            named = {"white": (255, 255, 255), "black": (0, 0, 0), "gray": (128, 128, 128), "grey": (128, 128, 128)}
            if value in named:
                return named[value]
            if value.startswith("#") and len(value) == 7:
                values = [int(value[i : i + 2], 16) for i in (1, 3, 5)]
            else:
                values = [int(v) for v in value.split(",")]
    except ValueError:
        raise ValueError(problem) from None
    if len(values) != 3 or any(not 0 <= v <= 255 for v in values):
        raise ValueError(problem)
    return values[0], values[1], values[2]


def _to_8bit(img: PIL.Image.Image) -> PIL.Image.Image:
    """16-bit and float modes: scale to 0..255 instead of letting PIL clip (which makes them white)."""
    arr = np.asarray(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        arr = arr.astype(np.float64) / 257.0
    elif img.mode == "I":
        # 32-bit int PNGs are usually 16-bit data stored wide; scale by the real range.
        top = 65535.0 if arr.max() > 255 else 255.0
        arr = arr.astype(np.float64) * (255.0 / top)
    else:  # 'F'
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scale = 255.0 if hi <= 1.0 and lo >= 0.0 else 255.0 / max(hi - lo, 1e-12)
        arr = (np.nan_to_num(arr) - (0.0 if scale == 255.0 else lo)) * scale
    return PIL.Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "L")


def _composite(img: PIL.Image.Image, background: tuple[int, int, int]) -> PIL.Image.Image:
    """Put a transparent image on a solid background (training data has no alpha)."""
    rgba = img.convert("RGBA")
    canvas = PIL.Image.new("RGBA", rgba.size, background + (255,))
    canvas.alpha_composite(rgba)
    return canvas.convert("RGB")


def pil_to_rgb(
    img: PIL.Image.Image,
    background: tuple[int, int, int] = (255, 255, 255),
) -> tuple[np.ndarray, bool]:
    """Any PIL image (already loaded) -> (HxWx3 uint8 RGB, was_grayscale)."""
    mode = img.mode
    grayscale = mode in ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        img = _to_8bit(img)
    if mode == "P":
        # Palette images may carry transparency in the palette; go through RGBA then.
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        if img.mode == "RGB":
            arr = np.asarray(img)
            return arr, bool(np.all(arr[..., 0] == arr[..., 1]) and np.all(arr[..., 1] == arr[..., 2]))
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or img.mode == "RGBA" or "transparency" in img.info:
        img = _composite(img, background)
    elif img.mode == "CMYK":
        # PIL's CMYK->RGB is the naive formula; fine for training data, and better than failing.
        img = img.convert("RGB")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageLoadError(f"unsupported pixel layout {arr.shape} (mode {mode})")
    return np.ascontiguousarray(arr), grayscale


@contextlib.contextmanager
def _no_pil_pixel_limit() -> Iterator[None]:
    """PIL refuses (or warns about) big images by its own global limit; we apply --max-pixels ourselves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PIL.Image.DecompressionBombWarning)
        old = PIL.Image.MAX_IMAGE_PIXELS
        PIL.Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            PIL.Image.MAX_IMAGE_PIXELS = old


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageLoadError(
            f"too large ({width}x{height} = {width * height / 1e6:.0f} MP > "
            f"{max_pixels / 1e6:.0f} MP limit); downscale it or raise --max-pixels"
        )
    if width < 1 or height < 1:
        raise ImageLoadError(f"degenerate size {width}x{height}")


def probe_image(
    fp: IO[bytes],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """(width, height) read from the header alone (fp must be seekable); ImageLoadError with the reason when
    it is not an image or has too many pixels, so a huge member need not be read to be refused."""
    try:
        with _no_pil_pixel_limit(), PIL.Image.open(fp) as img:
            width, height = img.size
    except PIL.UnidentifiedImageError:
        fp.seek(0)
        raise ImageLoadError(_unidentified_reason(fp.read(64))) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise ImageLoadError(f"corrupt image: {_first_line(exc)}") from None
    _check_size(width, height, max_pixels)
    return width, height


def load_image(
    source: str | os.PathLike | bytes,
    background: tuple[int, int, int] = (255, 255, 255),
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> LoadedImage:
    """Decode a file (path or bytes) into RGB. Raises ImageLoadError with the reason on any failure."""
    data = source if isinstance(source, (bytes, bytearray)) else None
    try:
        if data is None:
            if os.path.getsize(source) == 0:
                raise ImageLoadError("empty file (0 bytes)")
            fp: io.IOBase | str | os.PathLike = source
        else:
            if len(data) == 0:
                raise ImageLoadError("empty file (0 bytes)")
            fp = io.BytesIO(data)
        with _no_pil_pixel_limit(), PIL.Image.open(fp) as img:
            width, height = img.size
            _check_size(width, height, max_pixels)
            mode = img.mode
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)  # animated GIF/APNG/WebP/TIFF: the first frame is the photo
            img.load()  # truncated/corrupt data fails here, not at open()
            img = PIL.ImageOps.exif_transpose(img)  # phones store rotation in EXIF
            pixels, grayscale = pil_to_rgb(img, background)
    except ImageLoadError:
        raise
    except PIL.UnidentifiedImageError:
        head = bytes(data[:64]) if data is not None else _head(source)
        raise ImageLoadError(_unidentified_reason(head)) from None
    except PIL.Image.DecompressionBombError as exc:
        raise ImageLoadError(f"too large: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        msg = _first_line(exc)
        if "truncated" in msg:
            msg = "truncated file (incomplete download or copy)"
        elif "could not create decoder object" in msg:  # libwebp's only word for a damaged file
            msg = "damaged or truncated WebP data"
        raise ImageLoadError(f"corrupt image: {msg}") from None
    except MemoryError:
        raise ImageLoadError("not enough memory to decode this image") from None
    return LoadedImage(pixels=pixels, grayscale=grayscale, source_mode=mode, source_size=(pixels.shape[1], pixels.shape[0]))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


# File signatures, to tell a damaged photo from a file that never was one.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
# Things that are certainly not photos, by their first bytes (lower-cased for the text ones).
_NOT_IMAGES = (
    (b"<!doctype html", "an HTML page (a web page saved under an image name?)"),
    (b"<html", "an HTML page (a web page saved under an image name?)"),
    (b"<?xml", "an XML file"),
    (b"%pdf", "a PDF document"),
    (b"pk\x03\x04", "a zip archive"),
)


def _unidentified_reason(head: bytes) -> str:
    kind = next((name for magic, name in _MAGIC if head.startswith(magic)), None)
    if kind:
        return f"corrupt image: it starts like a {kind} file but cannot be decoded"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "corrupt image: it starts like a WebP file but cannot be decoded"
    lowered = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    what = next((name for magic, name in _NOT_IMAGES if lowered.startswith(magic)), None)
    if what:
        return f"not an image: {what}"
    if head[4:8] == b"ftyp":
        return "not an image: a video or HEIF file (HEIC photos: convert them to JPEG first)"
    return "not an image (format not recognised)"


def _head(path: str | os.PathLike) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(64)
    except OSError:
        return b""


def image_extensions() -> set[str]:
    """Lower-case extensions (with dot) that PIL can decode."""
    PIL.Image.init()
    return {ext.lower() for ext in PIL.Image.registered_extensions()}


def encode_png(
    pixels: np.ndarray,
    compress_level: int = 0,
) -> bytes:
    """HxW, HxWx1 or HxWx3 uint8 -> PNG bytes. Level 0 (stored) like NVIDIA's tool: fastest to decode."""
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    mode = "L" if pixels.ndim == 2 else "RGB"
    buf = io.BytesIO()
    PIL.Image.fromarray(pixels, mode).save(buf, format="png", compress_level=compress_level, optimize=False)
    return buf.getvalue()


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """RGB -> HxW luma (ITU-R 601, as PIL's 'L')."""
    return np.asarray(PIL.Image.fromarray(pixels, "RGB").convert("L"))
