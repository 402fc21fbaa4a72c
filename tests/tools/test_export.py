"""Synthetic dataset export: the manifest reproduces every image bit for bit; filters; conditional labels."""

from __future__ import annotations

import dataclasses
import json
import zipfile

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.config import network_configs
from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.dataset_writer import DatasetWriter
from stylegan2_ada.data.images import encode_png
from stylegan2_ada.errors import UserError
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.metrics.memorization import pixel_features
from stylegan2_ada.nn import Discriminator
from stylegan2_ada.tools.export import (
    Item,
    discriminator_scores,
    export_dataset,
    make_items,
    render_images,
    reproduce_images,
)
from stylegan2_ada.tools.generate import generate_images
from stylegan2_ada.tools.render import RenderSettings


def zip_members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def decoded(data: bytes) -> np.ndarray:
    import io

    arr = np.asarray(PIL.Image.open(io.BytesIO(data)))
    return arr[:, :, None] if arr.ndim == 2 else arr


@pytest.mark.parametrize("kind", ["rgb", "gray"])
@pytest.mark.parametrize("noise_mode", ["const", "seed"])
def test_manifest_reproduces_images_bit_for_bit(make_generator, tmp_path, kind, noise_mode):
    G = make_generator(16) if kind == "rgb" else make_generator(16, img_channels=1, seed=1)
    settings = RenderSettings(truncation_psi=0.7, noise_mode=noise_mode, batch_size=3)
    manifest = export_dataset(G, make_items([5, 0, 9, 3, 12], None, 0), tmp_path, settings, progress=False)
    members = zip_members(tmp_path / "dataset.zip")
    files = [r["file"] for r in manifest["images"]]
    assert [r["seed"] for r in manifest["images"]] == [5, 0, 9, 3, 12]
    assert json.loads(members["dataset.json"]) == {"labels": None}

    for from_ws in (False, True):
        again = reproduce_images(G, tmp_path, from_ws=from_ws)
        for name, image in zip(files, again):
            assert encode_png(image) == members[name]  # the same PNG bytes
            assert np.array_equal(decoded(members[name]), image)
    with np.load(tmp_path / "ws.npz") as data:
        assert data["w"].shape == (5, G.num_ws, G.w_dim) and data["w"].dtype == np.float32
        assert data["seeds"].tolist() == [5, 0, 9, 3, 12]


def test_export_equals_generate_for_the_same_seeds(make_generator, tmp_path):
    G = make_generator(16)
    export_dataset(
        G,
        make_items([0, 1, 2], None, 0),
        tmp_path / "exp",
        RenderSettings(0.5),
        progress=False,
    )
    generate_images(G, [0, 1, 2], tmp_path / "gen", truncation_psi=0.5, progress=False)
    members = zip_members(tmp_path / "exp" / "dataset.zip")
    for i, seed in enumerate([0, 1, 2]):
        ours = decoded(members[f"00000/img{i:08d}.png"])
        assert np.array_equal(ours, np.asarray(PIL.Image.open(tmp_path / "gen" / f"seed{seed:04d}.png")))


def test_conditional_cli_labels_and_manifest(tiny_nets, tmp_path):
    out = tmp_path / "out"
    net = tiny_nets["cond"]
    assert cli_main(["export", f"--network={net}", "--seeds=0-2", f"--outdir={out}"]) == 2  # needs --class
    assert (
        cli_main(
            [
                "export",
                f"--network={net}",
                "--seeds=0-2",
                "--class=1,3",
                "--trunc=0.8",
                f"--outdir={out}",
            ]
        )
        == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(r["seed"], r["class"]) for r in manifest["images"]] == [
        (0, 1),
        (0, 3),
        (1, 1),
        (1, 3),
        (2, 1),
        (2, 3),
    ]
    assert manifest["network"]["source"] == str(net) and len(manifest["network"]["sha256"]) == 64
    assert manifest["truncation_psi"] == 0.8 and manifest["noise_mode"] == "const"
    dataset = ImageDataset(str(out / "dataset.zip"), use_labels=True)
    assert len(dataset) == 6 and dataset.label_dim == 4
    assert [int(np.argmax(dataset.get_label(i))) for i in range(6)] == [
        1,
        3,
        1,
        3,
        1,
        3,
    ]

    from stylegan2_ada.io.load import load_generator

    G = load_generator(net)
    members = zip_members(out / "dataset.zip")
    for record, image in zip(manifest["images"], reproduce_images(G, out)):
        assert encode_png(image) == members[record["file"]]


def test_drop_memorized_removes_the_copy(make_generator, tmp_path):
    G = make_generator(16)
    items = make_items(list(range(6)), None, 0)
    images, _ = render_images(G, items, RenderSettings(), progress=False)
    with DatasetWriter(str(tmp_path / "train.zip")) as writer:  # training set holding seed 4's picture
        for img in [
            np.full_like(images[0], 30),
            images[4],
            np.full_like(images[0], 220),
        ]:
            writer.add(img)
    manifest = export_dataset(
        G,
        items,
        tmp_path / "out",
        drop_memorized=1 / 6,
        training_data=tmp_path / "train.zip",
        feature_fn=pixel_features(16),
        feature_name="pixels",
        progress=False,
    )
    assert [r["seed"] for r in manifest["images"]] == [0, 1, 2, 3, 5]
    assert manifest["filters"]["kept"] == 5 and manifest["filters"]["candidates"] == 6
    assert min(r["memorization_distance"] for r in manifest["images"]) > 0


def tiny_discriminator(resolution: int = 16, c_dim: int = 0) -> Discriminator:
    _, d = network_configs("paper256", resolution, img_channels=3, c_dim=c_dim)
    d = dataclasses.replace(d, channel_base=256, channel_max=32)
    torch.manual_seed(3)
    return Discriminator(d).eval()


def test_min_d_score_keeps_the_realistic_half(make_generator, tmp_path):
    G = make_generator(16, c_dim=4, seed=2)
    D = tiny_discriminator(c_dim=4)
    items = make_items(list(range(8)), [2], G.c_dim)
    images, _ = render_images(G, items, RenderSettings(), progress=False)
    scores = discriminator_scores(D, images, items, G.c_dim)
    cut = float(np.median(scores))
    manifest = export_dataset(G, items, tmp_path, min_d_score=cut, D=D, progress=False)
    kept = {r["seed"] for r in manifest["images"]}
    assert kept == {s for s, v in zip(range(8), scores) if v >= cut}
    assert all(r["d_score"] >= cut for r in manifest["images"])
    members = zip_members(tmp_path / "dataset.zip")
    for record, image in zip(manifest["images"], reproduce_images(G, tmp_path)):
        assert encode_png(image) == members[record["file"]]


def test_min_d_score_cli_reads_d_from_the_snapshot(make_generator, tmp_path):
    G = make_generator(16)
    net = save_snapshot(tmp_path / "net.safetensors", {"G_ema": G, "D": tiny_discriminator()})
    out = tmp_path / "out"
    assert (
        cli_main(
            [
                "export",
                f"--network={net}",
                "--seeds=0-3",
                "--min-d-score=-1e9",
                f"--outdir={out}",
            ]
        )
        == 0
    )
    assert len(json.loads((out / "manifest.json").read_text())["images"]) == 4
    g_only = save_snapshot(tmp_path / "g.safetensors", {"G_ema": G})
    assert (
        cli_main(
            [
                "export",
                f"--network={g_only}",
                "--seeds=0-3",
                "--min-d-score=0",
                f"--outdir={out}",
            ]
        )
        == 2
    )


def test_random_noise_is_refused(make_generator, tmp_path):
    with pytest.raises(UserError, match="not reproducible"):
        export_dataset(
            make_generator(16),
            [Item(0, None)],
            tmp_path,
            RenderSettings(noise_mode="random"),
        )
