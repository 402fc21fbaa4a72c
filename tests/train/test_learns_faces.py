"""Slow: a few minutes of CPU training on real face photos (scikit-image's LFW subset) at 32x32.

Run with `pytest -m slow tests/train/test_learns_faces.py`. Checks that the generator moves from noise
towards faces: the average fake approaches the average face, and fakes still differ from each other.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
from train_helpers import run_dirs, train

from stylegan2_ada.data.lfw import write_lfw_zip

KIMG = float(os.environ.get("LEARN_FACES_KIMG", "6"))


def lfw_zip(path: Path, resolution: int = 32) -> Path:
    pytest.importorskip("skimage.data")
    return write_lfw_zip(path, resolution)


def grid_cells(path: Path, cell: int = 32) -> np.ndarray:
    img = np.asarray(PIL.Image.open(path), dtype=np.float64) / 255
    h, w = img.shape[:2]
    return img.reshape(h // cell, cell, w // cell, cell).transpose(0, 2, 1, 3).reshape(-1, cell, cell)


@pytest.mark.slow
def test_short_cpu_training_learns_faces(tmp_path: Path) -> None:
    data = lfw_zip(tmp_path / "lfw32.zip")
    out = tmp_path / "runs"
    assert (
        train(
            [
                f"--outdir={out}",
                f"--data={data}",
                "--cbase=2048",
                "--cmax=64",
                "--map-depth=2",
                "--batch=16",
                "--mbstd-group=4",
                "--mirror=1",
                "--aug=ada",
                f"--kimg={KIMG}",
                "--tick=0.5",
                "--snap=4",
                "--grid=8x8",
                "--device=cpu",
                "--seed=0",
            ]
        )
        == 0
    )
    (run,) = run_dirs(out)
    final = max(run.glob("fakes0*.png"))
    reals, init, fakes = (grid_cells(run / "reals.png"), grid_cells(run / "fakes_init.png"), grid_cells(final))
    mean_face = reals.mean(axis=0)
    err_init = np.mean((init.mean(axis=0) - mean_face) ** 2)
    err_final = np.mean((fakes.mean(axis=0) - mean_face) ** 2)
    print(f"mean-face error: init {err_init:.4f} -> final {err_final:.4f}; fakes spread {fakes.std(axis=0).mean():.3f}")
    assert err_final < 0.5 * err_init
    assert fakes.std(axis=0).mean() > 0.05  # not collapsed to one image
