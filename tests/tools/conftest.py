"""Tiny generators for the generation tests: real networks with small channel counts, saved in our format."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from stylegan2_ada.config import network_configs
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.nn import Generator


def tiny_generator(resolution: int = 16, img_channels: int = 3, c_dim: int = 0, seed: int = 0) -> Generator:
    """paper256 layout at a tiny width, with non-zero noise strengths and w_avg so every input matters."""
    g, _ = network_configs("paper256", resolution, img_channels=img_channels, c_dim=c_dim)
    g = dataclasses.replace(g, channel_base=256, channel_max=32)
    torch.manual_seed(seed)
    G = Generator(g).eval().requires_grad_(False)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.fill_(0.3)
    G.mapping.w_avg.copy_(torch.randn(G.w_dim))
    return G


@pytest.fixture(scope="session")
def make_generator():
    """tiny_generator, for tests that build their own network."""
    return tiny_generator


@pytest.fixture(scope="session")
def tiny_nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Snapshot paths: 'rgb' (16x16 RGB), 'gray' (16x16, 1 channel), 'cond' (16x16 RGB, 4 classes)."""
    root = tmp_path_factory.mktemp("nets")
    nets = {
        "rgb": tiny_generator(),
        "gray": tiny_generator(img_channels=1, seed=1),
        "cond": tiny_generator(c_dim=4, seed=2),
    }
    return {name: save_snapshot(root / f"{name}.safetensors", {"G_ema": G}) for name, G in nets.items()}

