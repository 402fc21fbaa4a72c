"""The face prior that ships in the package (faces32): found by name offline, small, documented, and it draws faces."""

import json

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.data.lfw import lfw_faces
from stylegan2_ada.io.load import load_generator
from stylegan2_ada.io.pretrained import resolve
from stylegan2_ada.io.snapshot import load_snapshot, read_header
from stylegan2_ada.nn import Generator


def lfw_mean_face() -> np.ndarray:
    return lfw_faces(32).mean(axis=0) / 255.0


def mean_gray(G: Generator, n: int = 64) -> tuple[np.ndarray, float]:
    """Mean grayscale picture in [0, 1] of n samples (truncation 0.7) and the mean per-pixel std between them."""
    torch.manual_seed(0)
    with torch.no_grad():
        img = G(torch.randn(n, G.z_dim), None, truncation_psi=0.7, noise_mode="const")
    gray = ((img.clamp(-1, 1) + 1) / 2).mean(dim=1).numpy()
    return gray.mean(axis=0), float(gray.std(axis=0).mean())


def test_found_by_name_offline_and_small(monkeypatch):
    monkeypatch.setenv("STYLEGAN2_ADA_OFFLINE", "1")
    path, where = resolve("faces32")
    assert path.name == "faces32.safetensors" and "packaged" in where
    assert path.stat().st_size < 4e6  # half precision, G_ema + D
    header = read_header(path)
    assert set(header["networks"]) == {"G_ema", "D"}
    meta = header["metadata"]
    for key in ("train_command", "kimg", "images", "fid1k_full_against_training_images", "built_by"):
        assert key in meta, key
    assert meta["kimg"] >= 20 and meta["images"] >= 100
    snap = load_snapshot(path)
    assert all(p.dtype == torch.float32 for p in snap.generator.parameters())


def test_it_draws_faces_and_an_untrained_network_does_not():
    G = load_generator("faces32")
    mean, spread = mean_gray(G)
    lfw = lfw_mean_face()
    corr = np.corrcoef(mean.ravel(), lfw.ravel())[0, 1]
    # The average of its faces has LFW's average layout (dark eye band, light cheeks, nose, mouth) ...
    assert corr > 0.7, corr
    # ... and it draws different faces, not one.
    assert spread > 0.05, spread
    # The same measure on the same architecture with random weights: no face layout.
    torch.manual_seed(1)
    untrained = Generator(G.cfg).eval()
    untrained_corr = np.corrcoef(mean_gray(untrained)[0].ravel(), lfw.ravel())[0, 1]
    assert untrained_corr < corr - 0.3, (untrained_corr, corr)


@pytest.mark.parametrize("flag", ["--resume=faces32"])
def test_training_fine_tunes_it_by_name(flag, tmp_path, capsys):
    """A one-step fine-tune from the packaged name: the copy report names every tensor copied."""
    from stylegan2_ada.cli import main

    data = tmp_path / "faces"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        PIL.Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(data / f"{i}.png")
    code = main(["train", f"--outdir={tmp_path / 'runs'}", f"--data={data}", "--cbase=2048", "--cmax=64",
                 "--map-depth=2", "--batch=4", "--kimg=0.004", "--tick=0.004", flag, "--freezed=1", "--metrics=none"])
    out = capsys.readouterr().out
    assert code == 0, out[-2000:]
    assert "G_ema: copied" in out or "G: copied" in out
    options = json.loads(next((tmp_path / "runs").glob("*/training_options.json")).read_text())
    assert options["resume"] == "faces32" and options["freezed"] == 1
