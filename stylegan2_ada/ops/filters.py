"""FIR filters for resampling, prepared the way NVIDIA's networks store them."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def setup_filter(
    taps: Sequence[float] | torch.Tensor,
    normalize: bool = True,
) -> torch.Tensor:
    """Returns the filter buffer that StyleGAN2 blocks keep as `resample_filter`.

    A 1-D tap list with fewer than 8 taps becomes its 2-D outer product (the [1,3,3,1] filter is a
    4x4 buffer in NVIDIA's state dicts, so ours must be too); normalised to sum 1.
    """
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 0:
        f = f[None]
    assert f.ndim in (1, 2), "filter must be 1-D or 2-D"
    if f.ndim == 1 and f.numel() < 8:
        f = torch.outer(f, f)
    if normalize:
        f = f / f.sum()
    return f


def filter_size(f: torch.Tensor | None) -> tuple[int, int]:
    """(width, height) of a prepared filter; (1, 1) for none."""
    if f is None:
        return 1, 1
    if f.ndim == 1:
        return f.shape[0], f.shape[0]
    return f.shape[1], f.shape[0]
