"""FLOP counts of a step and the machine's measured convolution throughput, to say how far from the limit
a training or generation step runs.

`count_flops(fn)` runs fn once and adds up torch's FLOP formulas (those of FlopCounterMode: matmuls and
convolutions, forward and backward, double backward included); `conv_peak(...)` times a plain 3x3 conv2d of the network's busiest
shape, forward and backward, in both memory formats, and keeps the best GFLOP/s: a practical ceiling
for conv-bound work on this device.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class _FlopCount(TorchDispatchMode):
    """Adds up torch's FLOP formulas (torch.utils.flop_counter) for every op that has one. FlopCounterMode
    itself tracks modules with hooks that autograd.grad on a leaf (R1) does not support."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += int(formula(*args, **kwargs, out_val=out))
        return out


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs (multiply-adds count 2) of the matmuls and convolutions fn runs, forward and backward."""
    mode = _FlopCount()
    with mode:
        fn()
    return mode.flops


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def conv_peak(
    batch: int,
    channels: int,
    resolution: int,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    backward: bool = True,
    repeats: int = 5,
) -> float:
    """Best GFLOP/s of a 3x3, channels->channels conv2d (forward, and backward for inputs and weights)
    over NCHW and NHWC, best of `repeats` timings each."""
    best = 0.0
    macs = batch * resolution * resolution * channels * channels * 9
    flops = 2 * macs * (3 if backward else 1)
    for fmt in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(batch, channels, resolution, resolution, device=device, dtype=dtype).to(memory_format=fmt)
        w = torch.randn(channels, channels, 3, 3, device=device, dtype=dtype)
        x.requires_grad_(backward)
        w.requires_grad_(backward)

        def once(x: torch.Tensor = x, w: torch.Tensor = w) -> None:
            y = F.conv2d(x, w, padding=1)
            if backward:
                y.backward(torch.ones_like(y))

        with torch.set_grad_enabled(backward):
            once()  # warm-up (oneDNN primitive creation, cuDNN autotuning)
            for _ in range(repeats):
                synchronize(device)
                start = time.perf_counter()
                once()
                synchronize(device)
                best = max(best, flops / (time.perf_counter() - start) / 1e9)
    return best
