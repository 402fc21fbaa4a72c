"""Upsample, pad, FIR-filter, downsample: the resampling primitive of StyleGAN2, in plain PyTorch.

Built only from differentiable torch ops (pad, depthwise conv2d, strided slicing), so first and second
derivatives are correct without a custom autograd function (R1 needs double backward).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from . import fastpath
from .fast_upfirdn import upfirdn2d_fast
from .filters import filter_size

Padding = int | Sequence[int]


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    assert len(value) == 2
    return int(value[0]), int(value[1])


def _padding4(padding: Padding) -> tuple[int, int, int, int]:
    """(x0, x1, y0, y1) from an int, [x, y] or [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        return padding, padding, padding, padding
    padding = [int(p) for p in padding]
    if len(padding) == 2:
        return padding[0], padding[0], padding[1], padding[1]
    assert len(padding) == 4
    return padding[0], padding[1], padding[2], padding[3]


def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    padding: Padding = 0,
    flip_filter: bool = False,
    gain: float = 1.0,
) -> torch.Tensor:
    """Zero-insert upsampling by `up`, padding (negative crops), FIR filtering with `f`, then keeping every
    `down`-th pixel. `f` is applied as a true convolution unless `flip_filter` (NVIDIA's convention)."""
    assert x.ndim == 4, "expected NCHW"
    if f is None:
        f = torch.ones([1, 1], dtype=torch.float32, device=x.device)
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    padx0, padx1, pady0, pady1 = _padding4(padding)
    if fastpath.enabled():
        out = upfirdn2d_fast(x, f, (upx, upy), (downx, downy), (padx0, padx1, pady0, pady1), flip_filter, gain)
        if out is not None:
            return out
    n, c, h, w = x.shape

    if upx > 1 or upy > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
        x = x.reshape(n, c, h * upy, w * upx)

    x = F.pad(x, [max(padx0, 0), max(padx1, 0), max(pady0, 0), max(pady1, 0)])
    x = x[
        :,
        :,
        max(-pady0, 0) : x.shape[2] - max(-pady1, 0),
        max(-padx0, 0) : x.shape[3] - max(-padx1, 0),
    ]

    f = f * (gain ** (f.ndim / 2))
    f = f.to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, f[None, None].expand(c, 1, *f.shape), groups=c)
    else:
        x = F.conv2d(x, f[None, None, None, :].expand(c, 1, 1, f.shape[0]), groups=c)
        x = F.conv2d(x, f[None, None, :, None].expand(c, 1, f.shape[0], 1), groups=c)

    if downx > 1 or downy > 1:
        x = x[:, :, ::downy, ::downx]
    return x


def upsample2d(
    x: torch.Tensor,
    f: torch.Tensor,
    up: int = 2,
    padding: Padding = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample by `up` with filter `f`, output exactly `up` times the input size (plus padding)."""
    fw, fh = filter_size(f)
    padx0, padx1, pady0, pady1 = _padding4(padding)
    p = [
        padx0 + (fw + up - 1) // 2,
        padx1 + (fw - up) // 2,
        pady0 + (fh + up - 1) // 2,
        pady1 + (fh - up) // 2,
    ]
    return upfirdn2d(x, f, up=up, padding=p, gain=gain * up * up)


def downsample2d(
    x: torch.Tensor,
    f: torch.Tensor,
    down: int = 2,
    padding: Padding = 0,
    gain: float = 1.0,
) -> torch.Tensor:
    """Low-pass with `f` and keep every `down`-th pixel: output is the input size divided by `down`."""
    fw, fh = filter_size(f)
    padx0, padx1, pady0, pady1 = _padding4(padding)
    p = [
        padx0 + (fw - down + 1) // 2,
        padx1 + (fw - down) // 2,
        pady0 + (fh - down + 1) // 2,
        pady1 + (fh - down) // 2,
    ]
    return upfirdn2d(x, f, down=down, padding=p, gain=gain)
