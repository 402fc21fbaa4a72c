"""Tensor to uint8 with NVIDIA's rule, PNG modes and grids."""

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.image_files import make_grid, save_grid, save_png, to_uint8


def test_to_uint8_truncates_like_nvidia():
    values = torch.tensor([-2.0, -1.0, -0.999, 0.0, 0.5, 0.996, 1.0, 3.0])
    img = values.reshape(1, 1, 1, -1)
    got = to_uint8(img)[0, 0, :, 0]
    # x*127.5+128 clamped then truncated: 0.5 -> 191.75 -> 191 (rounding would give 192).
    assert got.tolist() == [0, 0, 0, 128, 191, 254, 255, 255]
    x = torch.rand(2, 3, 5, 7) * 2.4 - 1.2
    expected = np.floor(np.clip(x.permute(0, 2, 3, 1).numpy().astype(np.float64) * 127.5 + 128, 0, 255))
    assert np.array_equal(to_uint8(x), expected.astype(np.uint8))
    assert to_uint8(x).shape == (2, 5, 7, 3)


@pytest.mark.parametrize("channels, mode", [(1, "L"), (3, "RGB")])
def test_png_modes(tmp_path, channels, mode):
    img = np.random.RandomState(0).randint(0, 256, size=(6, 5, channels), dtype=np.uint8)
    path = save_png(img, tmp_path / "a.png")
    with PIL.Image.open(path) as im:
        assert im.mode == mode and im.size == (5, 6)
        assert np.array_equal(np.asarray(im).reshape(6, 5, channels), img)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left behind


def test_grid_layout(tmp_path):
    imgs = np.stack([np.full((2, 3, 3), i, dtype=np.uint8) for i in range(1, 6)])
    grid = make_grid(imgs)  # 5 images -> 3 columns, 2 rows
    assert grid.shape == (4, 9, 3)
    assert grid[0, 0, 0] == 1 and grid[0, 3, 0] == 2 and grid[0, 6, 0] == 3
    assert grid[2, 0, 0] == 4 and grid[2, 3, 0] == 5 and grid[2, 6, 0] == 0
    grid2 = make_grid(imgs, cols=2)
    assert grid2.shape == (6, 6, 3) and grid2[4, 0, 0] == 5
    with PIL.Image.open(save_grid(imgs, tmp_path / "grid.png", cols=5)) as im:
        assert im.size == (15, 2)
