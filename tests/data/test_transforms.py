"""Whole-image transforms: aspect ratio is never distorted; filters are the ones asked for."""

from __future__ import annotations

import numpy as np
import pytest

from stylegan2_ada.data.transforms import (
    TransformSkip,
    apply_transform,
    center_crop,
    center_crop_wide,
    pad_to_square,
    parse_resolution,
    resize,
)


def _disc(h: int, w: int, radius: float) -> np.ndarray:
    """White disc on black, centred: stays a circle only if the aspect ratio is kept."""
    ys, xs = np.mgrid[:h, :w]
    inside = (xs - (w - 1) / 2) ** 2 + (ys - (h - 1) / 2) ** 2 <= radius**2
    return np.repeat((inside * 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _extent(img: np.ndarray) -> tuple[int, int]:
    mask = img[..., 0] > 127
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    return cols[-1] - cols[0] + 1, rows[-1] - rows[0] + 1


@pytest.mark.parametrize("transform", ["resize", "center-crop"])
def test_non_square_photo_keeps_its_circles_round(transform: str) -> None:
    out = apply_transform(_disc(300, 600, 120), transform, 128, 128)
    assert out.shape == (128, 128, 3)
    w, h = _extent(out)
    assert abs(w - h) <= 1


def test_pad_to_square_letterboxes_with_the_colour() -> None:
    out = pad_to_square(np.full((50, 100, 3), 200, np.uint8), 64, (255, 0, 0))
    assert np.all(out[:16] == (255, 0, 0)) and np.all(out[-16:] == (255, 0, 0))
    assert np.all(out[16:48] == 200)


def test_center_crop_takes_the_middle() -> None:
    img = np.zeros((40, 100, 3), np.uint8)
    img[:, 30:70] = 255
    assert np.all(center_crop(img, 40) == 255)


def test_center_crop_wide_matches_nvidia_canvas() -> None:
    img = np.full((600, 800, 3), 100, np.uint8)
    out = center_crop_wide(img, 64, 48)
    assert out.shape == (64, 64, 3)
    assert np.all(out[:8] == 0) and np.all(out[56:] == 0) and np.all(out[8:56] == 100)
    with pytest.raises(TransformSkip, match="too small"):
        center_crop_wide(np.zeros((30, 40, 3), np.uint8), 64, 48)


def test_same_size_is_untouched_and_filters_differ() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert resize(img, 64, 64) is img
    box = resize(img, 16, 16, "box")
    assert np.abs(box.astype(int) - img.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))).max() <= 1
    assert not np.array_equal(box, resize(img, 16, 16, "lanczos"))


def test_parse_resolution() -> None:
    assert parse_resolution("1024") == (1024, 1024)
    assert parse_resolution("1024x1024") == (1024, 1024)
    assert parse_resolution("512x384") == (512, 384)
    for bad in ("1000", "abc", "256x512"):
        with pytest.raises(ValueError):
            parse_resolution(bad)
