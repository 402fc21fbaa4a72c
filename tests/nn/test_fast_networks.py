"""G and D on the fast path against the reference path: outputs and gradients within fp32 round-off, R1's
double backward included; the reference path itself is untouched by the fast path's existence."""

import dataclasses

import numpy as np
import pytest
import torch

from stylegan2_ada.config import network_configs
from stylegan2_ada.image_files import to_uint8
from stylegan2_ada.nn import Discriminator, Generator
from stylegan2_ada.ops.fastpath import fast_path
from stylegan2_ada.tools.render import renderer


def small_nets(res: int = 16, img_channels: int = 3, c_dim: int = 0) -> tuple[Generator, Discriminator]:
    g, d = network_configs("auto", res, img_channels=img_channels, c_dim=c_dim)
    g = dataclasses.replace(g, channel_base=512, channel_max=32, mapping=dataclasses.replace(g.mapping, num_layers=2))
    d = dataclasses.replace(d, channel_base=512, channel_max=32, mbstd_group_size=2)
    torch.manual_seed(0)
    G, D = Generator(g), Discriminator(d)
    with torch.no_grad():  # non-trivial noise strengths and biases, so every input of every layer counts
        for name, p in list(G.named_parameters()) + list(D.named_parameters()):
            if name.endswith(("noise_strength", "bias")):
                p.add_(torch.randn_like(p) * 0.2)
    return G, D


def run_pair(G, D, fast: bool, c=None):
    """Images, logits, R1 gradient and every parameter gradient of one G+D pass with double backward."""
    G.zero_grad(set_to_none=True)
    D.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    z = torch.randn(4, G.z_dim)
    with fast_path(fast):
        img = G(z, c, noise_mode="random")
        real = img.detach().requires_grad_(True)
        logits = D(real, c)
        (r1,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
        (D(img, c).sum() + r1.square().sum()).backward()
    grads = {f"G.{n}": p.grad for n, p in G.named_parameters() if p.grad is not None}
    grads.update({f"D.{n}": p.grad for n, p in D.named_parameters() if p.grad is not None})
    return img.detach(), logits.detach(), r1.detach(), grads


@pytest.mark.parametrize("img_channels,c_dim", [(3, 0), (1, 0), (3, 4)])
def test_fast_networks_match_reference(img_channels, c_dim):
    G, D = small_nets(img_channels=img_channels, c_dim=c_dim)
    c = torch.eye(c_dim)[torch.arange(4) % c_dim] if c_dim else None
    ref = run_pair(G, D, fast=False, c=c)
    fast = run_pair(G, D, fast=True, c=c)
    for name, a, b in zip(("images", "logits", "R1 gradient"), ref[:3], fast[:3]):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)
    assert ref[3].keys() == fast[3].keys()
    for name in ref[3]:
        scale = ref[3][name].abs().max().clamp_min(1e-6)
        assert (fast[3][name] - ref[3][name]).abs().max() / scale < 1e-3, name


def test_reference_path_is_unchanged_by_a_fast_pass():
    G, _ = small_nets()
    z = torch.randn(2, G.z_dim)
    with torch.no_grad():
        before = G(z, None, noise_mode="const")
        with fast_path():
            G(z, None, noise_mode="const")
        after = G(z, None, noise_mode="const")
    assert torch.equal(before, after) and before.is_contiguous()


def test_fast_path_runs_activations_channels_last():
    G, _ = small_nets()
    seen = []
    hook = G.synthesis.b16.conv1.register_forward_hook(
        lambda m, i, o: seen.append(o.is_contiguous(memory_format=torch.channels_last))
    )
    with torch.no_grad():
        G(torch.randn(2, G.z_dim), None)
        with fast_path():
            G(torch.randn(2, G.z_dim), None)
    hook.remove()
    assert seen == [False, True]


@pytest.mark.parametrize("noise_mode", ["const", "random", "none"])
def test_fast_rendering_stays_within_one_level_of_the_reference(noise_mode):
    G, _ = small_nets(res=32)
    G.eval()
    z = torch.randn(6, G.z_dim)
    outs = []
    for fast in ("off", "on"):
        render = renderer(G, fast=fast)
        torch.manual_seed(5)
        with torch.inference_mode():
            outs.append(to_uint8(render(z, None, 0.7, None, noise_mode, None)).astype(np.int16))
    assert np.abs(outs[0] - outs[1]).max() <= 1
