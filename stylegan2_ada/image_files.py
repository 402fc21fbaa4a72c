"""Generator output to uint8 pictures (NVIDIA's rounding rule), and the PNG files and grids made of them.

Floor one (it needs only atomic): tools and metrics both write pictures through it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import PIL.Image
import torch

from .atomic import atomic_write

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[N, C, H, W] in [-1, 1] -> uint8 [N, H, W, C].

    NVIDIA's rule: x * 127.5 + 128, clamped to [0, 255], then cast; the cast truncates toward zero
    (so 128 + 127.5 * x is floored, not rounded), which we keep to get the same bytes."""
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, H, W], got shape {list(images.shape)}")
    x = images.detach().to(torch.float32).permute(0, 2, 3, 1)
    x = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.cpu().numpy()


def to_pil(image: np.ndarray) -> PIL.Image.Image:
    """uint8 [H, W, C] with C = 1 (grayscale), 3 (RGB) or 4 (RGBA) to a PIL image."""
    if image.ndim != 3 or image.dtype != np.uint8 or image.shape[2] not in _MODES:
        raise ValueError(f"expected uint8 [H, W, 1|3|4], got {image.dtype} {list(image.shape)}")
    channels = image.shape[2]
    if channels == 1:
        return PIL.Image.fromarray(np.ascontiguousarray(image[:, :, 0]), "L")
    return PIL.Image.fromarray(np.ascontiguousarray(image), _MODES[channels])


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Writes one uint8 [H, W, C] image as PNG, atomically (no half-written file under the final name)."""
    path = Path(path)
    pil = to_pil(image)
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))
    return path


def make_grid(images: np.ndarray | Sequence[np.ndarray], cols: int | None = None) -> np.ndarray:
    """Tiles uint8 [N, H, W, C] images row by row into one [rows*H, cols*W, C] image (black where empty).

    cols None: a near-square grid, ceil(sqrt(N)) columns."""
    images = np.stack(list(images)) if not isinstance(images, np.ndarray) else images
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"expected a non-empty stack [N, H, W, C], got shape {list(images.shape)}")
    num, h, w, c = images.shape
    cols = max(math.ceil(math.sqrt(num)), 1) if not cols else min(int(cols), num)
    rows = (num + cols - 1) // cols
    grid = np.zeros([rows * h, cols * w, c], dtype=images.dtype)
    for i, img in enumerate(images):
        y, x = (i // cols) * h, (i % cols) * w
        grid[y : y + h, x : x + w] = img
    return grid


def save_grid(images: np.ndarray | Sequence[np.ndarray], path: str | Path, cols: int | None = None) -> Path:
    """make_grid + save_png."""
    return save_png(make_grid(images, cols), path)
