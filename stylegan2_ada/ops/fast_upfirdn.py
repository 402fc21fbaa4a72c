"""upfirdn2d on the fast path: polyphase up-sampling, strided down-sampling, contiguous depthwise kernels.

The reference (upfirdn.py) zero-stuffs the image, filters every pixel of the big image and then throws
away the pixels it does not keep. Here
  - up-sampling is a depthwise transposed convolution with stride `up` (no zeros are multiplied);
  - down-sampling is a depthwise convolution with stride `down` (only the kept pixels are filtered);
  - the depthwise kernel is materialised contiguous: oneDNN takes a slow path for the stride-0
    `expand` view the reference passes.
The same sums in another order: results equal the reference up to fp32 round-off (tests/ops).
Separable (1-D) filters stay two 1-D passes, as in the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _axis_pads(size: int, up: int, taps: int, pad0: int, pad1: int) -> tuple[int, int]:
    """F.pad amounts turning the transposed conv's output along one axis into the reference's output.

    The transposed conv gives T[m] = sum_i x[i] k[m - i*up] over m in [0, (size-1)*up + taps); the
    reference's output o is T[o + taps - 1 - pad0], for size*up + pad0 + pad1 - taps + 1 outputs."""
    start = taps - 1 - pad0
    length = size * up + pad0 + pad1 - taps + 1
    full = (size - 1) * up + taps
    return -start, length + start - full


def _pass(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: tuple[int, int],
    down: tuple[int, int],
    pads: tuple[int, int, int, int],
) -> torch.Tensor:
    """One depthwise pass with a [fh, fw] correlation kernel; up is (x, y), pads (x0, x1, y0, y1)."""
    c = x.shape[1]
    fh, fw = kernel.shape
    px0, px1, py0, py1 = pads
    if up != (1, 1):
        # Transposed conv applies the kernel as a true convolution: flip the correlation kernel.
        k = kernel.flip([0, 1])[None, None].expand(c, 1, fh, fw).contiguous()
        y = F.conv_transpose2d(x, k, stride=(up[1], up[0]), groups=c)
        ax0, ax1 = _axis_pads(x.shape[3], up[0], fw, px0, px1)
        ay0, ay1 = _axis_pads(x.shape[2], up[1], fh, py0, py1)
        return F.pad(y, [ax0, ax1, ay0, ay1]) if (ax0, ax1, ay0, ay1) != (0, 0, 0, 0) else y
    k = kernel[None, None].expand(c, 1, fh, fw).contiguous()
    if px0 == px1 >= 0 and py0 == py1 >= 0:
        return F.conv2d(x, k, stride=(down[1], down[0]), padding=(py0, px0), groups=c)
    x = F.pad(x, [px0, px1, py0, py1])
    return F.conv2d(x, k, stride=(down[1], down[0]), groups=c)


def upfirdn2d_fast(
    x: torch.Tensor,
    f: torch.Tensor,
    up: tuple[int, int],
    down: tuple[int, int],
    padding: tuple[int, int, int, int],
    flip_filter: bool,
    gain: float,
) -> torch.Tensor | None:
    """The reference upfirdn2d's result by the cheaper route; None where that route does not apply
    (up- and down-sampling in one call), and the caller then runs the reference."""
    if (up != (1, 1) and down != (1, 1)) or f.ndim not in (1, 2):
        return None
    if x.device.type == "cpu" and (x.dtype == torch.float16 or (x.dtype == torch.bfloat16 and (up, down) != ((1, 1), (1, 1)))):
        # oneDNN on CPU: fp16 depthwise filters and strided or transposed bf16 ones run 10-50x slower
        # than fp32 (measured, torch 2.13, AVX-512 BF16 CPU): those filter in fp32. Stride-1 bf16 is fast.
        return upfirdn2d_fast(x.float(), f, up, down, padding, flip_filter, gain).to(x.dtype)
    f = f.to(x.dtype) * (gain ** (f.ndim / 2))
    kernel = f if flip_filter else f.flip(list(range(f.ndim)))  # correlation kernel, as conv2d applies it
    px0, px1, py0, py1 = padding
    if f.ndim == 2:
        return _pass(x, kernel, up, down, padding)
    x = _pass(x, kernel[None, :], (up[0], 1), (down[0], 1), (px0, px1, 0, 0))
    return _pass(x, kernel[:, None], (1, up[1]), (1, down[1]), (0, 0, py0, py1))
