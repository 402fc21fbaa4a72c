"""Whole-image transforms of NVIDIA's dataset_tool, rewritten so the aspect ratio is never distorted.

- `resize`: scale the long side to the output and pad the short side with a colour (a square input is a
  plain resize, as in NVIDIA's tool).
- `center-crop`: the largest centred square, then resize.
- `center-crop-wide`: a centred crop with the output's width/height ratio, resized to width x height and
  letterboxed on a square canvas (NVIDIA uses this for LSUN 512x384); too-small inputs are dropped.
"""

from __future__ import annotations

import numpy as np
import PIL.Image

RESIZE_FILTERS = {"lanczos": PIL.Image.Resampling.LANCZOS, "box": PIL.Image.Resampling.BOX}
TRANSFORMS = ("resize", "center-crop", "center-crop-wide")


class TransformSkip(Exception):
    """The transform cannot produce an output for this image; str() is the reason."""


def resize(
    pixels: np.ndarray,
    width: int,
    height: int,
    resize_filter: str = "lanczos",
) -> np.ndarray:
    """Resize HxWx3 uint8 to (height, width). A no-op when the size already matches (bit-exact import)."""
    if pixels.shape[1] == width and pixels.shape[0] == height:
        return pixels
    img = PIL.Image.fromarray(pixels)
    return np.asarray(img.resize((width, height), RESIZE_FILTERS[resize_filter]))


def pad_to_square(
    pixels: np.ndarray,
    size: int,
    color: tuple[int, int, int],
    resize_filter: str = "lanczos",
) -> np.ndarray:
    """Fit the image inside size x size keeping its aspect ratio; fill the rest with `color`."""
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    new_w = max(1, min(size, int(round(w * scale))))
    new_h = max(1, min(size, int(round(h * scale))))
    scaled = resize(pixels, new_w, new_h, resize_filter)
    canvas = np.empty((size, size, 3), np.uint8)
    canvas[:] = np.asarray(color, np.uint8)
    top, left = (size - new_h) // 2, (size - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = scaled
    return canvas


def center_crop(
    pixels: np.ndarray,
    size: int,
    resize_filter: str = "lanczos",
) -> np.ndarray:
    """Largest centred square, resized to size x size."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return resize(pixels[top : top + side, left : left + side], size, size, resize_filter)


def center_crop_wide(
    pixels: np.ndarray,
    width: int,
    height: int,
    color: tuple[int, int, int] = (0, 0, 0),
    resize_filter: str = "lanczos",
) -> np.ndarray:
    """Crop to the width:height ratio, resize to width x height, letterbox into width x width."""
    h, w = pixels.shape[:2]
    crop_h = int(round(w * height / width))
    if w < width or crop_h < height:
        raise TransformSkip(f"too small for center-crop-wide ({w}x{h} < {width}x{height})")
    if crop_h > h:
        # Taller ratio than the photo: crop the width instead so nothing is stretched.
        crop_w = int(round(h * width / height))
        left = (w - crop_w) // 2
        region = pixels[:, left : left + crop_w]
    else:
        top = (h - crop_h) // 2
        region = pixels[top : top + crop_h]
    scaled = resize(region, width, height, resize_filter)
    canvas = np.empty((width, width, 3), np.uint8)
    canvas[:] = np.asarray(color, np.uint8)
    top = (width - height) // 2
    canvas[top : top + height] = scaled
    return canvas


def apply_transform(
    pixels: np.ndarray,
    transform: str,
    width: int,
    height: int,
    resize_filter: str = "lanczos",
    pad_color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Dispatch one of TRANSFORMS; the result is always a width x width square."""
    if transform == "resize":
        return pad_to_square(pixels, width, pad_color, resize_filter)
    if transform == "center-crop":
        return center_crop(pixels, width, resize_filter)
    if transform == "center-crop-wide":
        return center_crop_wide(pixels, width, height, pad_color, resize_filter)
    raise ValueError(f"unknown transform {transform!r}; choose one of {', '.join(TRANSFORMS)}")


def is_power_of_two(value: int) -> bool:
    return value >= 1 and (value & (value - 1)) == 0


def parse_resolution(text: str | int) -> tuple[int, int]:
    """'1024', '1024x1024' or '512x384' -> (width, height). Width must be a power of two."""
    try:
        if isinstance(text, int):
            width = height = text
        elif "x" in text.lower():
            w_text, h_text = text.lower().split("x", 1)
            width, height = int(w_text), int(h_text)
        else:
            width = height = int(text)
    except ValueError:
        raise ValueError(f"resolution {text!r} is not valid: write it as 1024 or 1024x1024") from None
    if not is_power_of_two(width) or width < 4:
        raise ValueError(f"resolution width {width} must be a power of two >= 4 (e.g. 256, 512, 1024)")
    if height < 1 or height > width:
        raise ValueError(f"resolution height {height} must be between 1 and the width {width}")
    return width, height
