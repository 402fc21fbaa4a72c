"""2-D convolution fused with FIR up/down-sampling, in the order NVIDIA's networks compute it.

The op order (transposed conv then FIR for upsampling, FIR then strided conv for downsampling) is kept
so that converted weights produce the same pixels as NVIDIA's code, not merely similar ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .filters import filter_size
from .upfirdn import Padding, _padding4, upfirdn2d


def _conv(
    x: torch.Tensor,
    w: torch.Tensor,
    stride: int = 1,
    padding: int | list[int] = 0,
    groups: int = 1,
    transpose: bool = False,
    flip_weight: bool = True,
) -> torch.Tensor:
    # torch's conv2d is a correlation; flip_weight=False asks for a true convolution.
    if not flip_weight:
        w = w.flip([2, 3])
    if transpose:
        return F.conv_transpose2d(x, w, stride=stride, padding=padding, groups=groups)
    return F.conv2d(x, w, stride=stride, padding=padding, groups=groups)


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: Padding = 0,
    groups: int = 1,
    flip_weight: bool = True,
    flip_filter: bool = False,
) -> torch.Tensor:
    """conv2d(x, w) on the `up`-times upsampled input, then `down`-times downsampling, both with FIR `f`.

    `padding` is given with respect to the upsampled image, as in NVIDIA's code.
    """
    assert x.ndim == 4 and w.ndim == 4
    assert up >= 1 and down >= 1
    out_channels, in_per_group, kh, kw = w.shape
    fw, fh = filter_size(f)
    px0, px1, py0, py1 = _padding4(padding)

    if up > 1:
        px0 += (fw + up - 1) // 2
        px1 += (fw - up) // 2
        py0 += (fh + up - 1) // 2
        py1 += (fh - up) // 2
    if down > 1:
        px0 += (fw - down + 1) // 2
        px1 += (fw - down) // 2
        py0 += (fh - down + 1) // 2
        py1 += (fh - down) // 2

    # 1x1 kernel, downsampling only: filter first, then the cheap conv on the small image.
    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, groups=groups, flip_weight=flip_weight)

    # 1x1 kernel, upsampling only: conv on the small image, then upsample.
    if kw == 1 and kh == 1 and up > 1 and down == 1:
        x = _conv(x, w, groups=groups, flip_weight=flip_weight)
        return upfirdn2d(
            x, f, up=up, padding=[px0, px1, py0, py1], gain=up * up, flip_filter=flip_filter
        )

    # Downsampling only: filter, then strided conv.
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=[px0, px1, py0, py1], flip_filter=flip_filter)
        return _conv(x, w, stride=down, groups=groups, flip_weight=flip_weight)

    # Upsampling: strided transposed conv, then filter.
    if up > 1:
        if groups == 1:
            w = w.transpose(0, 1)
        else:
            w = w.reshape(groups, out_channels // groups, in_per_group, kh, kw)
            w = w.transpose(1, 2)
            w = w.reshape(groups * in_per_group, out_channels // groups, kh, kw)
        px0 -= kw - 1
        px1 -= kw - up
        py0 -= kh - 1
        py1 -= kh - up
        pxt = max(min(-px0, -px1), 0)
        pyt = max(min(-py0, -py1), 0)
        x = _conv(
            x,
            w,
            stride=up,
            padding=[pyt, pxt],
            groups=groups,
            transpose=True,
            flip_weight=not flip_weight,
        )
        x = upfirdn2d(
            x,
            f,
            padding=[px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt],
            gain=up * up,
            flip_filter=flip_filter,
        )
        if down > 1:
            fwd, fhd = filter_size(f)
            x = upfirdn2d(
                x,
                f,
                down=down,
                padding=[(fwd - down + 1) // 2, (fwd - down) // 2, (fhd - down + 1) // 2, (fhd - down) // 2],
                flip_filter=flip_filter,
            )
        return x

    # Plain convolution with symmetric padding.
    if px0 == px1 and py0 == py1 and px0 >= 0 and py0 >= 0:
        return _conv(x, w, padding=[py0, px0], groups=groups, flip_weight=flip_weight)

    # General case: pad/filter, conv, then decimate.
    x = upfirdn2d(
        x,
        f if up > 1 else None,
        up=up,
        padding=[px0, px1, py0, py1],
        gain=up * up,
        flip_filter=flip_filter,
    )
    x = _conv(x, w, groups=groups, flip_weight=flip_weight)
    if down > 1:
        x = upfirdn2d(x, f, down=down, flip_filter=flip_filter)
    return x
