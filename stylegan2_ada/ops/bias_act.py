"""Bias + activation + gain + clamp, the epilogue of every StyleGAN2 layer."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from . import fastpath
from .fused_bias_act import FUSED_SLOPES, fused_bias_act

# name -> (function of (x, alpha), default alpha, default gain)
_ACTIVATIONS: dict[str, tuple[Callable[[torch.Tensor, float], torch.Tensor], float, float]] = {
    "linear": (lambda x, a: x, 0.0, 1.0),
    "relu": (lambda x, a: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, a: F.leaky_relu(x, a), 0.2, math.sqrt(2)),
    "tanh": (lambda x, a: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, a: torch.sigmoid(x), 0.0, 1.0),
    "swish": (lambda x, a: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def default_gain(activation: str) -> float:
    return _ACTIVATIONS[activation][2]


def bias_act(
    x: torch.Tensor,
    b: torch.Tensor | None = None,
    dim: int = 1,
    act: str = "linear",
    alpha: float | None = None,
    gain: float | None = None,
    clamp: float | None = None,
) -> torch.Tensor:
    """x + b (broadcast along `dim`), activation, times gain, clamped to +-clamp when clamp is set."""
    if act not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {act!r}; choose one of {sorted(_ACTIVATIONS)}")
    func, def_alpha, def_gain = _ACTIVATIONS[act]
    if b is not None:
        assert b.ndim == 1 and b.shape[0] == x.shape[dim], "bias must match the channel dimension"
    # Fast path in eager mode: one autograd node. Under torch.compile the plain sequence below is fused
    # by Inductor, so it stays.
    if fastpath.enabled() and act in FUSED_SLOPES and not fastpath.compiling():
        alpha = def_alpha if alpha is None else float(alpha)
        gain = def_gain if gain is None else float(gain)
        return fused_bias_act(x, b, dim, act, alpha, gain, clamp if clamp is not None and clamp >= 0 else None)
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.reshape(shape)
    x = func(x, def_alpha if alpha is None else float(alpha))
    gain = def_gain if gain is None else float(gain)
    if gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x
