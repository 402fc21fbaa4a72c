"""The resampling and activation ops against straightforward definitions, with first and second derivatives."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from stylegan2_ada.nn.layers import modulated_conv2d
from stylegan2_ada.ops.bias_act import bias_act
from stylegan2_ada.ops.conv2d_resample import conv2d_resample
from stylegan2_ada.ops.filters import setup_filter
from stylegan2_ada.ops.upfirdn import downsample2d, upfirdn2d, upsample2d


def upfirdn_by_loops(x: np.ndarray, f: np.ndarray, up: int, down: int, pad: tuple[int, int, int, int]) -> np.ndarray:
    """The textbook definition: zero-stuff, pad, convolve (true convolution), decimate; one pixel at a time."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    stuffed = np.zeros((n, c, h * up, w * up))
    stuffed[:, :, ::up, ::up] = x
    hp, wp = h * up + py0 + py1, w * up + px0 + px1
    padded = np.zeros((n, c, hp, wp))
    for yy in range(hp):
        for xx in range(wp):
            sy, sx = yy - py0, xx - px0
            if 0 <= sy < h * up and 0 <= sx < w * up:
                padded[:, :, yy, xx] = stuffed[:, :, sy, sx]
    fh, fw = f.shape
    out = np.zeros((n, c, hp - fh + 1, wp - fw + 1))
    for oy in range(out.shape[2]):
        for ox in range(out.shape[3]):
            acc = 0
            for ky in range(fh):
                for kx in range(fw):
                    # convolution: the filter is flipped relative to the window
                    acc = acc + padded[:, :, oy + ky, ox + kx] * f[fh - 1 - ky, fw - 1 - kx]
            out[:, :, oy, ox] = acc
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad", [(1, 1, (1, 2, 0, 1)), (2, 1, (2, 1, 2, 1)), (1, 2, (1, 1, 1, 1)), (2, 2, (1, 2, 1, 2))])
def test_upfirdn2d_matches_definition(up, down, pad):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    f = rng.standard_normal((4, 4))
    ours = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, padding=list(pad))
    np.testing.assert_allclose(ours.numpy(), upfirdn_by_loops(x, f, up, down, pad), rtol=1e-10, atol=1e-10)


def test_filter_setup_matches_nvidia_buffer():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4)
    expected = np.outer([1, 3, 3, 1], [1, 3, 3, 1]) / 64
    np.testing.assert_allclose(f.numpy(), expected)


def test_upsample_downsample_shapes_and_dc_gain():
    f = setup_filter([1, 3, 3, 1])
    x = torch.ones(1, 2, 8, 8)
    up = upsample2d(x, f)
    down = downsample2d(x, f)
    assert up.shape == (1, 2, 16, 16) and down.shape == (1, 2, 4, 4)
    # A constant image stays constant away from the zero-padded border.
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones_like(up[..., 2:-2, 2:-2]))
    assert torch.allclose(down[..., 1:-1, 1:-1], torch.ones_like(down[..., 1:-1, 1:-1]))


def test_bias_act_matches_formula():
    x = torch.randn(3, 4, 5)
    b = torch.randn(4)
    out = bias_act(x, b, act="lrelu", clamp=0.5)
    ref = (F.leaky_relu(x + b[None, :, None], 0.2) * 2**0.5).clamp(-0.5, 0.5)
    assert torch.equal(out, ref)
    assert torch.equal(bias_act(x, b), x + b[None, :, None])


def _double(*shapes):
    return [torch.randn(*s, dtype=torch.float64, requires_grad=True) for s in shapes]


def test_gradcheck_upfirdn2d():
    f = setup_filter([1, 3, 3, 1]).double()
    (x,) = _double((1, 2, 4, 4))
    for fn in (
        lambda x: upsample2d(x, f),
        lambda x: downsample2d(x, f),
        lambda x: upfirdn2d(x, f, up=2, down=2, padding=[1, 2, 2, 1]),
    ):
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def test_gradcheck_bias_act():
    x, b = _double((2, 3, 4), (3,))
    # Keep away from the lrelu kink, where finite differences are meaningless.
    with torch.no_grad():
        x += torch.sign(x) * 0.05
    fn = lambda x, b: bias_act(x, b, act="lrelu")  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, b))
    assert torch.autograd.gradgradcheck(fn, (x, b))


@pytest.mark.parametrize("up,down,k", [(1, 1, 3), (2, 1, 3), (1, 2, 3), (2, 1, 1), (1, 2, 1)])
def test_gradcheck_conv2d_resample(up, down, k):
    f = setup_filter([1, 3, 3, 1]).double()
    x, w = _double((1, 2, 4, 4), (3, 2, k, k))
    fn = lambda x, w: conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2, flip_weight=(up == 1))  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


@pytest.mark.parametrize("up,down,k", [(2, 1, 3), (1, 2, 3), (2, 1, 1), (1, 2, 1)])
def test_conv2d_resample_equals_resample_then_conv(up, down, k):
    """The fused fast paths (transposed conv then FIR; FIR then strided conv) equal the plain composition
    FIR-upsample -> convolve, or convolve -> FIR-downsample, away from the zero-padded border where the
    order of truncation differs."""
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 3, 10, 10, dtype=torch.float64)
    w = torch.randn(4, 3, k, k, dtype=torch.float64)
    fast = conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2, flip_weight=(up == 1))
    if up > 1:
        # flip_weight=False: a true convolution, i.e. correlation with the flipped kernel.
        ref = F.conv2d(upsample2d(x, f, up=up), w.flip([2, 3]), padding=k // 2)
    else:
        ref = downsample2d(F.conv2d(x, w, padding=k // 2), f, down=down)
    assert fast.shape == ref.shape
    b = 3
    torch.testing.assert_close(fast[..., b:-b, b:-b], ref[..., b:-b, b:-b], rtol=1e-9, atol=1e-9)


def test_modulated_conv_fused_equals_unfused_and_definition():
    x = torch.randn(3, 4, 8, 8, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(3, 4, dtype=torch.float64)
    noise = torch.randn(3, 1, 8, 8, dtype=torch.float64)
    fused = modulated_conv2d(x, weight, styles, noise=noise, padding=1, fused_modconv=True)
    unfused = modulated_conv2d(x, weight, styles, noise=noise, padding=1, fused_modconv=False)
    torch.testing.assert_close(fused, unfused)
    # Definition: per sample, w' = w * s (input channels), demodulated to unit norm per output channel.
    for i in range(3):
        wi = weight * styles[i][None, :, None, None]
        wi = wi / (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        ref = F.conv2d(x[i : i + 1], wi, padding=1) + noise[i : i + 1]
        torch.testing.assert_close(fused[i : i + 1], ref)


def test_gradcheck_modulated_conv():
    x, weight, styles = _double((2, 2, 4, 4), (3, 2, 3, 3), (2, 2))
    f = setup_filter([1, 3, 3, 1]).double()
    for fused in (True, False):
        fn = lambda x, w, s: modulated_conv2d(  # noqa: E731
            x, w, s, up=2, padding=1, resample_filter=f, flip_weight=False, fused_modconv=fused
        )
        assert torch.autograd.gradcheck(fn, (x, weight, styles))
        assert torch.autograd.gradgradcheck(fn, (x, weight, styles))
