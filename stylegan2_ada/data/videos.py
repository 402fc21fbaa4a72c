"""Videos as a source: every Nth frame, extracted once into the work folder (re-runs reuse them).

An empty, truncated or fake video is a skip with a reason, never an abort: frames decoded before a
damaged part are kept and the damage is reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator

import numpy as np

from ..atomic import atomic_write_bytes
from .images import encode_png
from .items import SourceItem, skip_item

# ffmpeg's stderr is pages long; these lines say what is wrong in words a user can act on.
_FFMPEG_PHRASES = (
    ("misdetection possible", "not a video (ffmpeg does not recognise the format; a renamed file?)"),
    ("moov atom not found", "its index (moov atom) is missing: the file is truncated or was never finished"),
    ("invalid data found", "not a readable video (invalid data)"),
    ("no such file", "the file disappeared while it was being read"),
    ("permission denied", "permission denied"),
    ("nothing was written", "no frame could be decoded"),
    ("could not load meta information", "not a readable video"),
)


def _ffmpeg_reason(exc: BaseException) -> str:
    text = str(exc).lower()
    for needle, words in _FFMPEG_PHRASES:
        if needle in text:
            return words
    first = str(exc).strip().splitlines()
    return first[0][:160] if first else type(exc).__name__


def _expected_frames(meta: dict) -> int:
    """Frames the container promises (duration x rate), 0 when it does not say."""
    try:
        duration, fps = float(meta.get("duration") or 0), float(meta.get("fps") or 0)
    except (TypeError, ValueError):
        return 0
    return round(duration * fps) if 0 < duration < 1e6 and 0 < fps < 1000 else 0


def _extract(path: str, out_dir: str, every_nth_frame: int) -> dict:
    """Decode the frames we keep to PNG; returns {'frames': [...], 'error': str | None}."""
    try:
        import imageio_ffmpeg
    except ImportError:
        return {"frames": [], "error": "reading videos needs imageio-ffmpeg: pip install imageio-ffmpeg", "retry": True}
    frames: list[str] = []
    error = None
    reader = None
    decoded = 0
    try:
        reader = imageio_ffmpeg.read_frames(path)
        meta = next(reader)
        width, height = (int(v) for v in meta["size"])
        for index, raw in enumerate(reader):
            decoded = index + 1
            if index % every_nth_frame:
                continue
            pixels = np.frombuffer(raw, np.uint8).reshape(height, width, 3)
            fname = f"frame{index:06d}.png"
            atomic_write_bytes(os.path.join(out_dir, fname), encode_png(pixels, compress_level=1), durable=False)
            frames.append(fname)
        expected = _expected_frames(meta)
        if expected and decoded < expected - max(2, expected // 20):
            # ffmpeg stops quietly where a file with its index up front (faststart) was cut off.
            error = f"the video ends early: {decoded} of about {expected} frames could be decoded (truncated file?)"
    except Exception as exc:  # noqa: BLE001 - ffmpeg failures come as OSError, RuntimeError, ValueError, ...
        error = _ffmpeg_reason(exc)
    finally:
        if reader is not None:
            reader.close()
    return {"frames": frames, "error": error, "decoded": decoded}


def scan_video(
    path: str,
    work_dir: str,
    every_nth_frame: int,
    display: str | None = None,
) -> Iterator[SourceItem]:
    display = display or os.path.basename(path)
    try:
        stat = os.stat(path)
    except OSError as exc:
        yield skip_item(display, path, f"cannot read the video ({exc.strerror or exc})")
        return
    if stat.st_size == 0:
        yield skip_item(display, path, "empty video file (0 bytes)")
        return
    raw_key = f"{os.path.abspath(path)}|{stat.st_size}|{stat.st_mtime_ns}|{every_nth_frame}"
    key = hashlib.sha1(raw_key.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", os.path.basename(path))
    out_dir = os.path.join(work_dir, "frames", f"{safe}-{key}")
    done = os.path.join(out_dir, "done.json")
    result = None
    if os.path.isfile(done):
        try:
            with open(done) as f:
                result = json.load(f)
        except (OSError, ValueError):
            result = None  # damaged marker: extract again
    if result is None:
        os.makedirs(out_dir, exist_ok=True)
        result = _extract(path, out_dir, every_nth_frame)
        if not result.pop("retry", False):
            atomic_write_bytes(done, json.dumps(result).encode("utf-8"), durable=False)
    for fname in result["frames"]:
        yield SourceItem(
            name=f"{display}#{fname[:-4]}",
            kind="file",
            path=os.path.join(out_dir, fname),
            label_key=display,
            origin=path,
        )
    if result["error"]:
        if result["frames"]:
            yield skip_item(display, path, f"damaged video: {result['error']}; the {len(result['frames'])} frames "
                                           f"kept from the {result.get('decoded', 0)} decoded are used")
        else:
            yield skip_item(display, path, f"cannot decode video: {result['error']}")
    elif not result["frames"]:
        yield skip_item(display, path, "the video has no frames")
