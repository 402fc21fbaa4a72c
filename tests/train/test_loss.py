"""R1 against finite differences (float64), the loss phases' gradients, and the EMA update formula."""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from stylegan2_ada.config import DiscriminatorConfig, GeneratorConfig, MappingConfig
from stylegan2_ada.nn import Discriminator, Generator
from stylegan2_ada.nn.discriminator import MinibatchStdLayer
from stylegan2_ada.nn.layers import Conv2dLayer, FullyConnectedLayer
from stylegan2_ada.train.loop import update_ema
from stylegan2_ada.train.loss import StyleGAN2Loss, r1_penalty
from stylegan2_ada.train.options import TrainOptions


def tiny_d(res: int = 8, channels: int = 1, mbstd: int = 2) -> Discriminator:
    cfg = DiscriminatorConfig(
        img_resolution=res,
        img_channels=channels,
        channel_base=64,
        channel_max=4,
        num_fp16_res=0,
        conv_clamp=None,
        mbstd_group_size=mbstd,
    )
    torch.manual_seed(0)
    return Discriminator(cfg)


class Float64D(torch.nn.Module):
    """A tiny D built from the same layers as ours (resampling convs, lrelu, minibatch stddev), kept in
    float64 throughout (our Discriminator computes in float32 like NVIDIA's, too coarse for
    finite differences)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv0 = Conv2dLayer(1, 4, 3, activation="lrelu", down=2)
        self.conv1 = Conv2dLayer(4, 4, 3, activation="lrelu", down=2)
        self.mbstd = MinibatchStdLayer(1)  # samples independent: all perturbations run as one batch
        self.fc = FullyConnectedLayer(5 * 2 * 2, 1)
        self.double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.mbstd(self.conv1(self.conv0(x))).flatten(1))


def finite_difference_r1(f, x: torch.Tensor, eps: float) -> torch.Tensor:
    """sum over pixels of ((f(x + eps e_k) - f(x - eps e_k)) / 2eps)^2 per image, one batched call each way."""
    n, c, h, w = x.shape
    k = c * h * w
    bump = torch.eye(k, dtype=x.dtype).view(k, c, h, w) * eps
    with torch.no_grad():
        hi = f((x[:, None] + bump).view(-1, c, h, w)).view(n, k)
        lo = f((x[:, None] - bump).view(-1, c, h, w)).view(n, k)
    return ((hi - lo) / (2 * eps)).square().sum(dim=1)


def tiny_g(res: int = 8) -> Generator:
    cfg = GeneratorConfig(
        z_dim=8,
        w_dim=8,
        img_resolution=res,
        img_channels=3,
        channel_base=64,
        channel_max=4,
        num_fp16_res=0,
        conv_clamp=None,
        mapping=MappingConfig(num_layers=2),
    )
    torch.manual_seed(0)
    return Generator(cfg)


def test_r1_penalty_matches_finite_differences_float64() -> None:
    D = Float64D()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    xr = x.clone().requires_grad_(True)
    penalty = r1_penalty(xr, D(xr))
    expected = finite_difference_r1(D, x, 1e-6)
    assert (expected > 0).all()
    assert torch.allclose(penalty, expected, rtol=1e-6, atol=1e-12), (penalty, expected)


def test_r1_penalty_of_our_discriminator_matches_finite_differences() -> None:
    """Our float32 D (mbstd group 1, so samples are independent and all perturbations run as one batch)."""
    D = tiny_d(mbstd=1)
    x = torch.randn(2, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    xr = x.clone().requires_grad_(True)
    penalty = r1_penalty(xr, D(xr, None, half_dtype=None))
    expected = finite_difference_r1(lambda v: D(v, None, half_dtype=None), x, 1e-2)
    assert torch.allclose(penalty, expected, rtol=3e-2), (penalty, expected)


def test_r1_penalty_is_differentiable_wrt_d_weights() -> None:
    """The R1 gradient that reaches D's weights (double backprop) agrees with finite differences."""
    D = Float64D()
    x = torch.randn(2, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    weight = D.conv0.weight

    def penalty_sum() -> torch.Tensor:
        xr = x.clone().requires_grad_(True)
        return r1_penalty(xr, D(xr)).sum()

    (analytic,) = torch.autograd.grad(penalty_sum(), [weight])
    eps = 1e-6
    for idx in [(0, 0, 0, 0), (1, 0, 1, 2), (3, 0, 2, 1)]:
        orig = weight[idx].item()
        with torch.no_grad():
            weight[idx] = orig + eps
        hi = penalty_sum().item()
        with torch.no_grad():
            weight[idx] = orig - eps
        lo = penalty_sum().item()
        with torch.no_grad():
            weight[idx] = orig
        assert analytic[idx].item() == pytest.approx((hi - lo) / (2 * eps), rel=1e-5, abs=1e-10)


def test_dreg_phase_gradient_is_gamma_half_r1() -> None:
    """Dreg backpropagates mean(R1) * gamma/2 * gain, nothing else."""
    D = tiny_d(channels=3)
    G = tiny_g()
    gamma, gain = 3.0, 16.0
    loss = StyleGAN2Loss(G, D, r1_gamma=gamma, half_dtype=None)
    real = torch.randn(2, 3, 8, 8)
    c = torch.zeros(2, 0)
    D.requires_grad_(True)
    loss.accumulate_gradients("Dreg", real, c, torch.randn(2, 8), c, gain=gain)
    got = {n: p.grad.clone() for n, p in D.named_parameters()}
    D.zero_grad(set_to_none=True)
    xr = real.clone().requires_grad_(True)
    (r1_penalty(xr, D(xr, c, half_dtype=None)).mean() * gamma / 2 * gain).backward()
    for n, p in D.named_parameters():
        ref = p.grad if p.grad is not None else torch.zeros_like(p)  # e.g. the output bias: no effect on R1
        assert torch.allclose(got[n], ref, rtol=1e-5, atol=1e-7), n


def test_gmain_is_nonsaturating_logistic() -> None:
    G, D = tiny_g(), tiny_d(channels=3)
    loss = StyleGAN2Loss(G, D, style_mixing_prob=0.0, half_dtype=None)
    z = torch.randn(2, 8)
    c = torch.zeros(2, 0)
    G.requires_grad_(True)
    torch.manual_seed(5)
    loss.accumulate_gradients("Gmain", torch.zeros(2, 3, 8, 8), c, z, c, gain=1.0)
    got = G.synthesis.b4.const.grad.clone()
    G.zero_grad(set_to_none=True)
    torch.manual_seed(5)
    img = G(z, c, half_dtype=None)
    torch.nn.functional.softplus(-D(img, c, half_dtype=None)).mean().backward()
    assert torch.allclose(got, G.synthesis.b4.const.grad, rtol=1e-5, atol=1e-8)
    assert loss.stats.sums["Loss/G/loss"][0][0].item() == 2  # two samples reported


@pytest.mark.parametrize("rampup,cur_nimg", [(None, 0), (None, 5000), (0.05, 0), (0.05, 4000), (0.05, 10**7)])
def test_ema_update_formula(rampup: float | None, cur_nimg: int) -> None:
    G = tiny_g()
    G_ema = copy.deepcopy(G)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(torch.randn_like(p))
        G.mapping.w_avg.add_(1.0)
    opts = dataclasses.replace(
        TrainOptions(data="x", dataset_name="x", resolution=8), batch=8, ema_kimg=2.5, ema_rampup=rampup
    )
    before = {n: p.clone() for n, p in G_ema.named_parameters()}
    update_ema(G_ema, G, opts, cur_nimg)
    ema_nimg = 2500 if rampup is None else min(2500, cur_nimg * rampup)
    beta = 0.5 ** (8 / max(ema_nimg, 1e-8))
    for n, p in G.named_parameters():
        expected = p + (before[n] - p) * beta
        assert torch.allclose(dict(G_ema.named_parameters())[n], expected, rtol=1e-6, atol=1e-6), n
    assert torch.equal(G_ema.mapping.w_avg, G.mapping.w_avg)  # buffers are copied
    if rampup is not None and cur_nimg == 0:
        assert beta == 0.0  # at the very start the EMA follows G exactly
