"""The shapes a config implies, by arithmetic, equal those of the networks it builds (so loaders can check a
file against them before building anything)."""

from __future__ import annotations

import itertools

import pytest

from stylegan2_ada.config import DiscriminatorConfig, GeneratorConfig, MappingConfig, network_configs
from stylegan2_ada.network_shapes import parameter_count, shape_mismatch, state_shapes
from stylegan2_ada.nn import Discriminator, Generator


def _real(module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.mark.parametrize(
    "arch,c_dim,taps,noise",
    list(itertools.product(["skip", "resnet", "orig"], [0, 3], [(1, 3, 3, 1), (1,) * 9, (1, 1)], [True, False])),
)
def test_shapes_equal_the_built_networks(arch, c_dim, taps, noise):
    g = GeneratorConfig(
        z_dim=8, c_dim=c_dim, w_dim=16, img_resolution=16, img_channels=1, channel_base=256, channel_max=32,
        mapping=MappingConfig(num_layers=2, embed_features=5 if c_dim else None), architecture=arch,
        resample_filter=taps, use_noise=noise,
    )  # fmt: skip
    d = DiscriminatorConfig(
        c_dim=c_dim, img_resolution=16, img_channels=1, architecture=arch, channel_base=256, channel_max=32,
        cmap_dim=7 if c_dim else None, resample_filter=taps, freeze_layers=2, mbstd_num_channels=2 if c_dim else 1,
        mapping=MappingConfig(num_layers=0 if arch == "orig" else 2, embed_features=7 if arch == "orig" else None, w_avg_beta=None),
    )  # fmt: skip
    assert state_shapes(g) == _real(Generator(g))
    assert state_shapes(d) == _real(Discriminator(d))


@pytest.mark.parametrize(
    "preset,resolution", [("stylegan2", 1024), ("paper512", 512), ("paper256", 256), ("cifar", 32)]
)
def test_counts_of_nvidias_presets(preset, resolution):
    g, d = network_configs(preset, resolution, c_dim=10 if preset == "cifar" else 0)
    for cfg, cls in ((g, Generator), (d, Discriminator)):
        net = cls(cfg)
        assert parameter_count(cfg) == sum(v.numel() for v in net.state_dict().values())
    if preset == "stylegan2":  # NVIDIA's parameter counts (README), buffers aside
        buffers = sum(b.numel() for b in Generator(g).buffers())
        assert parameter_count(g) - buffers == 30_370_060


def test_mismatch_names_what_differs():
    expected = {"a": (2, 3), "b": (4,), "c": ()}
    assert shape_mismatch(expected, dict(expected)) is None
    text = shape_mismatch(expected, {"a": (3, 2), "c": (), "z": (1,)})
    assert text == "missing b; unexpected z; wrong shape a [3, 2] (config: [2, 3])"
