"""The fast ops against the reference ops: same values up to fp32 round-off, first and second derivatives.

The fast path (ops/fastpath.py) is chosen per call with `fast_path()`; outside it the reference ops run
unchanged (bit-identical to NVIDIA's in fp32, see test_ops.py).
"""

import itertools

import pytest
import torch

from stylegan2_ada.nn.layers import modulated_conv2d
from stylegan2_ada.ops import fastpath
from stylegan2_ada.ops.bias_act import bias_act
from stylegan2_ada.ops.conv2d_resample import conv2d_resample
from stylegan2_ada.ops.fastpath import fast_path
from stylegan2_ada.ops.filters import setup_filter
from stylegan2_ada.ops.upfirdn import upfirdn2d

CL = torch.channels_last


def _both(fn, *inputs):
    """fn(*inputs) on the reference path and on the fast path."""
    with fast_path(False):
        ref = fn(*inputs)
    with fast_path():
        fast = fn(*inputs)
    return ref, fast


def _grads(fn, inputs, fast: bool):
    leaves = [t.detach().clone().requires_grad_(True) for t in inputs]
    with fast_path(fast):
        out = fn(*leaves)
        out.backward(torch.ones_like(out) * torch.linspace(-1, 1, out.numel()).reshape(out.shape))
    return [t.grad for t in leaves]


def test_fast_path_is_per_call_and_nests():
    assert not fastpath.enabled()
    with fast_path():
        assert fastpath.enabled() and fastpath.activation_format() == CL
        with fast_path(False):
            assert not fastpath.enabled()
        assert fastpath.enabled()
    assert not fastpath.enabled() and fastpath.activation_format() == torch.contiguous_format


def test_auto_mode_is_the_fast_ops_on_cpu_only():
    assert fastpath.resolve_mode("auto", torch.device("cpu")) == "on"
    assert fastpath.resolve_mode("auto", torch.device("cuda")) == "off"
    assert fastpath.resolve_mode("compile", torch.device("cpu")) == "compile"
    with pytest.raises(ValueError):
        fastpath.resolve_mode("fastest", torch.device("cpu"))


# --- bias + activation + gain + clamp -----------------------------------------------------------------


CASES = [
    ("lrelu", None, None, None),
    ("lrelu", 0.3, 2.0, 1.5),
    ("linear", None, None, 0.7),
    ("linear", None, 3.0, None),
    ("relu", None, None, 1.0),
]


@pytest.mark.parametrize("act,alpha,gain,clamp", CASES)
@pytest.mark.parametrize("layout", ["conv", "conv_nhwc", "dense"])
def test_fused_bias_act_forward_is_bit_identical_and_gradients_match(act, alpha, gain, clamp, layout):
    shape = (2, 5, 4, 3) if layout != "dense" else (6, 5)
    x = torch.randn(shape) * 2
    if layout == "conv_nhwc":
        x = x.to(memory_format=CL)
    b = torch.randn(5)
    fn = lambda x, b: bias_act(x, b, act=act, alpha=alpha, gain=gain, clamp=clamp)
    ref, fast = _both(fn, x, b)
    assert torch.equal(ref, fast)  # the same ops in the same order, in place
    if layout == "conv_nhwc":
        assert fast.is_contiguous(memory_format=CL)
    for g_ref, g_fast in zip(_grads(fn, [x, b], False), _grads(fn, [x, b], True)):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("act,alpha,gain,clamp", CASES)
def test_fused_bias_act_double_backward(act, alpha, gain, clamp):
    # Away from the kinks (0 and +-clamp), where finite differences are meaningful.
    x = torch.tensor([[-1.3, -0.4, 0.35, 0.9], [0.2, -0.8, 1.7, -2.2]], dtype=torch.float64).requires_grad_()
    b = torch.tensor([0.05, -0.1, 0.15, 0.1], dtype=torch.float64, requires_grad=True)
    fn = lambda x, b: bias_act(x, b, act=act, alpha=alpha, gain=gain, clamp=clamp)
    with fast_path():
        assert torch.autograd.gradcheck(fn, (x, b))
        assert torch.autograd.gradgradcheck(fn, (x, b))


def test_fused_bias_act_under_create_graph_matches_reference():
    # The path-length and R1 pattern: a gradient with create_graph, then backward through it.
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    b = torch.randn(4, dtype=torch.float64)

    def second_order(fast: bool):
        xx, bb = x.clone().requires_grad_(), b.clone().requires_grad_()
        with fast_path(fast):
            y = bias_act(xx * xx, bb, act="lrelu", clamp=2.0)
            (gx,) = torch.autograd.grad(y.square().sum(), xx, create_graph=True)
            gx.square().sum().backward()
        return xx.grad, bb.grad

    for a, c in zip(second_order(False), second_order(True)):
        torch.testing.assert_close(c, a, rtol=1e-10, atol=1e-12)


# --- resampling ---------------------------------------------------------------------------------------


FILTERS = {
    "1331": setup_filter([1, 3, 3, 1]),
    "2d_odd": torch.randn(3, 5),
    "1d_12": torch.randn(12),
}
RESAMPLE = [((1, 1), (1, 1)), ((2, 2), (1, 1)), ((1, 1), (2, 2)), ((2, 1), (1, 1)), ((1, 1), (1, 2)), ((2, 2), (2, 2))]
PADS = [(0, 0, 0, 0), (2, 1, 2, 1), (1, 1, 1, 1), (-1, 2, 0, -2), (3, 3, 1, 0)]


@pytest.mark.parametrize("fname", sorted(FILTERS))
@pytest.mark.parametrize("up,down", RESAMPLE)
def test_fast_upfirdn2d_equals_reference(fname, up, down):
    f = FILTERS[fname].double()
    x = torch.randn(2, 3, 15, 13, dtype=torch.float64)  # larger than the 12-tap filter
    for pad, flip in itertools.product(PADS, (False, True)):
        fn = lambda x, pad=pad, flip=flip: upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=3.0)
        ref, fast = _both(fn, x)
        assert fast.shape == ref.shape
        torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("up,down", [((2, 2), (1, 1)), ((1, 1), (2, 2)), ((1, 1), (1, 1))])
def test_fast_upfirdn2d_derivatives(up, down):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    fn = lambda x: upfirdn2d(x, f, up=up, down=down, padding=(2, 1, 2, 1))
    with fast_path():
        assert torch.autograd.gradcheck(fn, (x,))
        assert torch.autograd.gradgradcheck(fn, (x,))


def test_fast_upfirdn2d_keeps_channels_last_and_half_precision():
    f = setup_filter([1, 3, 3, 1])
    x = torch.randn(2, 8, 6, 6).to(memory_format=CL)
    with fast_path():
        up = upfirdn2d(x, f, up=2, padding=(2, 1, 2, 1), gain=4)
        down = upfirdn2d(x.bfloat16(), f, down=2, padding=(1, 1, 1, 1))
    assert up.is_contiguous(memory_format=CL)
    assert down.dtype == torch.bfloat16  # filtered in fp32 on CPU, handed back in the caller's dtype
    ref = upfirdn2d(x, f, down=2, padding=(1, 1, 1, 1))
    torch.testing.assert_close(down.float(), ref, rtol=0.02, atol=0.02)


@pytest.mark.parametrize("up,down,k", [(1, 1, 3), (2, 1, 3), (1, 2, 3), (2, 1, 1), (1, 2, 1), (1, 1, 1)])
def test_fast_conv2d_resample_equals_reference(up, down, k):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    w = torch.randn(4, 3, k, k, dtype=torch.float64)
    fn = lambda x, w: conv2d_resample(x, w, f=f, up=up, down=down, padding=k // 2, flip_weight=(up == 1))
    ref, fast = _both(fn, x, w)
    torch.testing.assert_close(fast, ref, rtol=1e-12, atol=1e-12)
    xs, ws = x[:1, :2, :4, :4].clone().requires_grad_(), w[:3, :2].clone().requires_grad_()
    with fast_path():
        assert torch.autograd.gradgradcheck(fn, (xs, ws))


# --- modulated convolution ----------------------------------------------------------------------------


@pytest.mark.parametrize("up,demodulate", [(1, True), (2, True), (1, False)])
def test_fast_modulated_conv_equals_reference(up, demodulate):
    f = setup_filter([1, 3, 3, 1]).double()
    x = torch.randn(3, 4, 6, 6, dtype=torch.float64)
    weight = torch.randn(5, 4, 3, 3, dtype=torch.float64)
    styles = torch.randn(3, 4, dtype=torch.float64)
    noise = torch.randn(3, 1, 6 * up, 6 * up, dtype=torch.float64)

    def fn(x, weight, styles):
        return modulated_conv2d(
            x, weight, styles, noise=noise, up=up, padding=1, resample_filter=f, demodulate=demodulate,
            flip_weight=(up == 1), fused_modconv=False,
        )  # fmt: skip

    ref, fast = _both(fn, x, weight, styles)
    torch.testing.assert_close(fast, ref, rtol=1e-10, atol=1e-10)
    for g_ref, g_fast in zip(_grads(fn, [x, weight, styles], False), _grads(fn, [x, weight, styles], True)):
        torch.testing.assert_close(g_fast, g_ref, rtol=1e-10, atol=1e-10)
    small = [x[:2, :2, :4, :4], weight[:3, :2], styles[:2, :2]]
    small = [t.clone().requires_grad_() for t in small]
    noise = noise[:2, :, : 4 * up, : 4 * up]
    with fast_path():
        assert torch.autograd.gradgradcheck(fn, small)
