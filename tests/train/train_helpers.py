"""Tiny datasets and networks for the training tests (CPU, seconds each). Imported by name
(`from train_helpers import ...`) because several test folders have a conftest.py."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image

# Small enough for seconds per step on a busy CPU, large enough to exercise every block type.
TINY_FLAGS = [
    "--cbase=512",
    "--cmax=16",
    "--map-depth=2",
    "--batch=4",
    "--mbstd-group=2",
    "--device=cpu",
    "--fp32=True",
]


def write_dataset_zip(
    path: Path,
    count: int = 8,
    resolution: int = 16,
    channels: int = 3,
    labels: list[int] | None = None,
    seed: int = 0,
) -> Path:
    """An NVIDIA-format zip: 00000/img00000000.png ... plus dataset.json."""
    rnd = np.random.RandomState(seed)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        names = []
        for i in range(count):
            # Smooth blobs rather than white noise, so images differ but are image-like.
            base = rnd.rand(4, 4, channels)
            img = PIL.Image.fromarray((base * 255).astype(np.uint8).squeeze(), "L" if channels == 1 else "RGB")
            img = img.resize((resolution, resolution), PIL.Image.BILINEAR)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            name = f"{i // 1000:05d}/img{i:08d}.png"
            z.writestr(name, buf.getvalue())
            names.append(name)
        meta = {"labels": [[n, labels[i]] for i, n in enumerate(names)] if labels is not None else None}
        z.writestr("dataset.json", json.dumps(meta))
    return path


def parse_train_args(argv: list[str]):
    import argparse

    from stylegan2_ada.cli.train import add_arguments

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def train(argv: list[str]) -> int:
    """Runs `stylegan2-ada train` in this process (no interpreter start-up per run)."""
    from stylegan2_ada.cli.train import run

    return run(parse_train_args(argv))


def run_dirs(outdir: Path) -> list[Path]:
    return sorted(p for p in Path(outdir).iterdir() if p.is_dir())


def tiny_snapshot(path: Path, resolution: int = 32, seed: int = 1) -> Path:
    """A snapshot shaped like TINY_FLAGS networks, at another resolution (for transfer tests)."""
    import copy
    import dataclasses

    import torch

    from stylegan2_ada.config import MappingConfig, network_configs
    from stylegan2_ada.io.snapshot import save_snapshot
    from stylegan2_ada.nn import Discriminator, Generator

    g, d = network_configs("auto", resolution)
    g = dataclasses.replace(
        g, channel_base=512, channel_max=16, mapping=MappingConfig(num_layers=2), num_fp16_res=0, conv_clamp=None
    )
    d = dataclasses.replace(d, channel_base=512, channel_max=16, mbstd_group_size=2, num_fp16_res=0, conv_clamp=None)
    torch.manual_seed(seed)
    G, D = Generator(g), Discriminator(d)
    return save_snapshot(path, {"G": G, "G_ema": copy.deepcopy(G), "D": D}, {"note": "test source"})
