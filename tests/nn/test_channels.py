"""A grayscale network made RGB computes the same function (the packaged face prior is made this way)."""

import dataclasses

import pytest
import torch

from stylegan2_ada.config import network_configs
from stylegan2_ada.nn import Discriminator, Generator
from stylegan2_ada.nn.channels import gray_to_rgb, to_rgb_networks


def gray_networks(architecture: str = "skip") -> tuple[Generator, Discriminator]:
    g, d = network_configs("auto", 16, img_channels=1)
    g = dataclasses.replace(g, channel_base=512, channel_max=32, architecture=architecture)
    d = dataclasses.replace(d, channel_base=512, channel_max=32, mbstd_group_size=2)
    torch.manual_seed(0)
    G, D = Generator(g).eval(), Discriminator(d).eval()
    with torch.no_grad():  # away from the initial values (zero biases would hide a bias mistake)
        for p in [*G.parameters(), *D.parameters()]:
            p.add_(torch.randn_like(p) * 0.1)
    return G, D


@pytest.mark.parametrize("architecture", ["skip", "orig"])
def test_rgb_generator_draws_the_gray_picture_in_three_equal_channels(architecture):
    G, _ = gray_networks(architecture)
    rgb = gray_to_rgb(G)
    assert rgb.cfg.img_channels == 3
    z = torch.randn(3, G.z_dim)
    with torch.no_grad():
        gray, colour = G(z, None, noise_mode="const"), rgb(z, None, noise_mode="const")
    assert colour.shape == (3, 3, 16, 16)
    torch.testing.assert_close(colour, gray.expand_as(colour), rtol=0, atol=1e-6)


def test_rgb_discriminator_scores_gray_images_as_before_and_sees_colour():
    _, D = gray_networks()
    rgb = gray_to_rgb(D)
    x = torch.randn(4, 1, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(rgb(x.expand(-1, 3, -1, -1), None), D(x, None), rtol=1e-5, atol=1e-6)
        tinted = x.expand(-1, 3, -1, -1) + torch.tensor([0.5, 0.0, -0.5]).view(1, 3, 1, 1)
        # A colour tint that keeps every pixel's mean gray still changes its verdict: D can learn colour, even
        # with its from-RGB layer frozen (Freeze-D).
        assert (rgb(tinted, None) - D(x, None)).abs().max() > 1e-3
    weight = rgb.b16.fromrgb.weight
    # The gray part is the old weight over sqrt(3) per channel (the fan-in gain went from 1 to 1/sqrt(3)).
    torch.testing.assert_close(weight.sum(dim=1, keepdim=True) / 3, D.b16.fromrgb.weight / 3**0.5, rtol=0, atol=1e-6)


def test_only_gray_networks_are_converted():
    G, D = gray_networks()
    rgb_G = gray_to_rgb(G)
    out = to_rgb_networks({"G_ema": rgb_G, "D": D})
    assert out["G_ema"] is rgb_G and out["D"].cfg.img_channels == 3
    with pytest.raises(ValueError, match="1-channel"):
        gray_to_rgb(rgb_G)
