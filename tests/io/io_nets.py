"""Tiny random networks for the import tests (seconds on a CPU)."""

from __future__ import annotations

import torch

from stylegan2_ada.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan2_ada.nn import Discriminator, Generator


def randomize(module: torch.nn.Module, seed: int, quantize_styles: bool = False) -> torch.nn.Module:
    """Random weights everywhere (not just the init), so a misplaced tensor changes the output.

    quantize_styles rounds style biases to multiples of 1/256, so TF's `mod_bias + 1` is exact."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name.endswith("resample_filter"):
                continue
            # Keep each tensor's own scale (mapping weights are initialised as randn / lr_multiplier).
            scale = float(t.std()) if t.numel() > 1 and float(t.std()) > 0 else 1.0
            t.copy_(torch.randn(t.shape, generator=g) * 0.5 * scale)
            if name.endswith("affine.bias"):
                t.add_(1)
                if quantize_styles:
                    t.copy_(torch.round(t * 256) / 256)
    return module.eval().requires_grad_(False)


def port_configs(c_dim: int, channels: int) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """As NVIDIA's train.py builds them (fp16 layers, conv clamp), shrunk."""
    g = GeneratorConfig(
        z_dim=32, c_dim=c_dim, w_dim=32, img_resolution=16, img_channels=channels,
        mapping=MappingConfig(num_layers=2), channel_base=512, channel_max=64, num_fp16_res=2, conv_clamp=256,
    )  # fmt: skip
    d = DiscriminatorConfig(
        c_dim=c_dim, img_resolution=16, img_channels=channels, channel_base=512, channel_max=64,
        num_fp16_res=2, conv_clamp=256, mbstd_group_size=2,
    )  # fmt: skip
    return g, d


def port_networks(c_dim: int = 0, channels: int = 3) -> tuple[Generator, Discriminator, Generator]:
    g, d = port_configs(c_dim, channels)
    return randomize(Generator(g), 1), randomize(Discriminator(d), 2), randomize(Generator(g), 3)


def tf_setup(c_dim: int, channels: int) -> tuple[Generator, Discriminator, Generator, dict, dict]:
    """Networks of a StyleGAN2-ADA TF config (fmap_base 256, fmap_max 128) and their static_kwargs."""
    g = GeneratorConfig(
        z_dim=32, c_dim=c_dim, w_dim=32, img_resolution=16, img_channels=channels,
        mapping=MappingConfig(num_layers=2), channel_base=512, channel_max=128, num_fp16_res=0, conv_clamp=None,
    )  # fmt: skip
    d = DiscriminatorConfig(
        c_dim=c_dim, img_resolution=16, img_channels=channels, channel_base=512, channel_max=128,
        num_fp16_res=0, conv_clamp=None, cmap_dim=64, mbstd_group_size=2,
        mapping=MappingConfig(num_layers=1, embed_features=64, layer_features=64, lr_multiplier=0.1, w_avg_beta=None),
    )  # fmt: skip
    g_kwargs = dict(
        num_channels=channels, resolution=16, label_size=c_dim, latent_size=32, dlatent_size=32,
        fmap_base=256, fmap_max=128, mapping_layers=2, truncation_psi=0.5, style_mixing_prob=0.9,
    )  # fmt: skip
    d_kwargs = dict(
        num_channels=channels, resolution=16, label_size=c_dim, fmap_base=256, fmap_max=128,
        mapping_layers=1, mapping_fmaps=64, mbstd_group_size=2, architecture="resnet",
    )  # fmt: skip
    G = randomize(Generator(g), 4, quantize_styles=True)
    D = randomize(Discriminator(d), 5)
    Gs = randomize(Generator(g), 6, quantize_styles=True)
    return G, D, Gs, g_kwargs, d_kwargs


def labels(n: int, c_dim: int) -> torch.Tensor | None:
    return torch.nn.functional.one_hot(torch.arange(n) % c_dim, c_dim).float() if c_dim else None


def assert_same_generator(ours: Generator, source: Generator, run: bool = True) -> None:
    """Equal weights and (when run) equal images; psi 0.5 also exercises w_avg."""
    src = source.state_dict()
    assert list(ours.state_dict()) == list(src)
    for name, value in ours.state_dict().items():
        assert torch.equal(value, src[name]), name
    if not run:
        return
    z = torch.randn(2, source.z_dim, generator=torch.Generator().manual_seed(7))
    c = labels(2, source.c_dim)
    a = ours(z, c, truncation_psi=0.5, noise_mode="const", half_dtype=None)
    b = source(z, c, truncation_psi=0.5, noise_mode="const", half_dtype=None)
    assert a.shape == (2, source.img_channels, source.img_resolution, source.img_resolution)
    assert torch.equal(a, b)
    assert a.abs().max() > 0.01


def assert_same_discriminator(ours: Discriminator, source: Discriminator) -> None:
    src = source.state_dict()
    for name, value in ours.state_dict().items():
        assert torch.equal(value, src[name]), name
    img = torch.randn(4, source.img_channels, source.img_resolution, source.img_resolution, generator=torch.Generator().manual_seed(8))
    c = labels(4, source.c_dim)
    a, b = ours(img, c, half_dtype=None), source(img, c, half_dtype=None)
    assert torch.equal(a, b)
