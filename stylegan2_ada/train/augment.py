"""Adaptive discriminator augmentation: the differentiable, non-leaking augmentation pipeline of
Karras et al., "Training Generative Adversarial Networks with Limited Data" (StyleGAN2-ADA).

Every image shown to D (reals and fakes alike) goes through `AugmentPipe`. Each operation fires per image
with probability `multiplier * p`; `p` is a buffer that the ADA controller (`ada.py`) tunes during training.
As long as every operation is skipped often enough (p below ~0.8), the augmented distribution still
determines the clean one, so G cannot learn to produce augmented-looking images: nothing "leaks".

Semantics follow NVIDIA's StyleGAN2-ADA pipeline, including the order and shapes in which random numbers
are drawn, so the same seed on the same device gives the same augmentations:
  1. pixel blitting: xflip, rotate90, xint (integer translation);
  2. general geometry: scale, rotate (twice: before and after aniso), aniso, xfrac (fractional translation).
     1 and 2 compose into one inverse matrix per image, executed once with reflect padding and bilinear
     resampling at 2x resolution between two orthogonal (symlet-6) low-pass filters;
  3. colour: brightness, contrast, lumaflip, hue, saturation, composed into one 4x4 matrix per image;
  4. image-space filtering: random gains for 4 frequency bands (power-normalised);
  5. corruptions: additive Gaussian noise, cutout.
Two deliberate differences from NVIDIA's code, both making ops equal their definitions:
  - an image with blits only moves whole pixels exactly; NVIDIA resamples it like the others, which filters
    its flips and quarter turns slightly (the symlet filter is not symmetric). `exact_blit=False` restores
    NVIDIA's way.
  - an image whose geometric transform (or filter) is exactly the identity keeps its exact pixels, where
    NVIDIA resamples it anyway (a ~1e-6 change); so p = 0 returns the input bit for bit.
With exact_blit=False the output equals NVIDIA's bit for bit on CPU (checked side by side).

Everything is differentiable torch (pad, affine_grid/grid_sample, conv2d, gather, matmul); first and
second derivatives with respect to the images are exact, which R1 needs (it differentiates D(augment(x))
with create_graph=True and then backpropagates through that gradient). grid_sample gets a small autograd
wrapper for that, since torch before ~2.12 cannot differentiate its backward.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UserError
from ..ops.filters import setup_filter
from ..ops.upfirdn import upfirdn2d, upsample2d
from .augment_presets import ALL_OPS, PIPES

# --- filters -----------------------------------------------------------------------------------------

# Low-pass decomposition filter of the symlet-6 wavelet (the standard published coefficients, as listed
# by PyWavelets as sym6.dec_lo). Orthogonal: upsampling with it and downsampling with its mirror image is
# the identity, so resampling at 2x adds no blur of its own.
SYM6 = (
    0.015404109327027373,
    0.0034907120842174702,
    -0.11799011114819057,
    -0.048311742585633,
    0.4910559419267466,
    0.787641141030194,
    0.3379294217276218,
    -0.07263752278646252,
    -0.021060292512300564,
    0.04472490177066578,
    0.0017677118642428036,
    -0.007800708325034148,
)


def sym2() -> np.ndarray:
    """Symlet-2 (= Daubechies-2) low-pass decomposition filter, from its closed form."""
    s3 = math.sqrt(3.0)
    return np.array([1 - s3, 3 - s3, 3 + s3, 1 + s3]) / (4 * math.sqrt(2.0))


def band_filters(lowpass: np.ndarray, num_bands: int = 4) -> np.ndarray:
    """1-D zero-phase filters splitting the spectrum into octave bands, lowest band first.

    lo2 and hi2 are the power responses of the orthogonal low/high-pass pair; they add up to a unit
    impulse, and so do all rows of the bank (gains of 1 for every band leave an image unchanged).
    Each round dilates the existing bands by 2 (they shrink to the lower half of the spectrum) and the
    newly freed upper half becomes the next band.
    """
    hi = lowpass * (-1.0) ** np.arange(lowpass.size)
    lo2 = np.convolve(lowpass, lowpass[::-1]) / 2
    hi2 = np.convolve(hi, hi[::-1]) / 2
    bank = np.zeros([num_bands, 1])
    bank[0, 0] = 1.0
    for band in range(1, num_bands):
        dilated = np.zeros([num_bands, bank.shape[1] * 2 - 1])
        dilated[:, ::2] = bank
        bank = np.stack([np.convolve(row, lo2) for row in dilated])
        start = (bank.shape[1] - hi2.size) // 2
        bank[band, start : start + hi2.size] += hi2
    return bank


# Expected power of natural images in each band (about 1/f): used to keep the total power unchanged.
_BAND_POWER = (10 / 13, 1 / 13, 1 / 13, 1 / 13)

# --- batched homogeneous matrices -------------------------------------------------------------------


def _matrix(rows: list[list[Any]], device: torch.device) -> torch.Tensor:
    """A matrix from entries that are numbers or same-shaped tensors; batched as [..., R, C] when any entry
    is a tensor. Numbers go through float64 first, then float32 (so 2/W etc. round the same way always)."""
    tensors = [e for row in rows for e in row if isinstance(e, torch.Tensor)]
    if not tensors:
        return torch.as_tensor(np.asarray(rows, dtype=np.float64), dtype=torch.float32, device=device)
    like = tensors[0]
    entries = [
        e if isinstance(e, torch.Tensor) else torch.full(like.shape, float(e), dtype=like.dtype, device=device)
        for row in rows
        for e in row
    ]
    return torch.stack(entries, dim=-1).reshape(*like.shape, len(rows), len(rows[0]))


def _translate2(tx: Any, ty: Any, device: torch.device) -> torch.Tensor:
    return _matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], device)


def _scale2(sx: Any, sy: Any, device: torch.device) -> torch.Tensor:
    return _matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], device)


def _rotate2(theta: torch.Tensor, device: torch.device) -> torch.Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _matrix([[c, torch.sin(-theta), 0], [s, c, 0], [0, 0, 1]], device)


def _translate3(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    return _matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], device)


def _scale3(s: torch.Tensor, device: torch.device) -> torch.Tensor:
    return _matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], device)


def _rotate3(axis: torch.Tensor, theta: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Rotation by theta around the unit `axis` (Rodrigues), homogeneous 4x4."""
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return _matrix(
        [
            [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
            [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
            [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
            [0, 0, 0, 1],
        ],
        device,
    )


def _reflect_index(i: torch.Tensor, size: int) -> torch.Tensor:
    """Index into a mirrored, periodically extended axis (torch's 'reflect' padding: the edge pixel is not
    repeated)."""
    if size == 1:
        return torch.zeros_like(i)
    period = 2 * (size - 1)
    i = torch.remainder(i, period)
    return torch.where(i >= size, period - i, i)


def _blit(images: torch.Tensor, inv: torch.Tensor) -> torch.Tensor:
    """Moves whole pixels: output pixel q takes input pixel round(inv @ q) (centred coordinates), mirrored
    at the borders. A gather, so exact and differentiable to any order."""
    n, c, h, w = images.shape
    device = images.device
    cx, cy = (w - 1) / 2, (h - 1) / 2
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32, device=device),
        torch.arange(w, dtype=torch.float32, device=device),
        indexing="ij",
    )
    points = torch.stack([xs.flatten() - cx, ys.flatten() - cy, torch.ones(h * w, device=device)])  # [3, HW]
    src = inv @ points  # [N, 3, HW]
    # Quarter turns of images whose sides differ in parity would land between pixels; rounding snaps them.
    sx = _reflect_index(torch.round(src[:, 0] + cx).long(), w)
    sy = _reflect_index(torch.round(src[:, 1] + cy).long(), h)
    index = (sy * w + sx)[:, None, :].expand(n, c, h * w)
    return images.reshape(n, c, h * w).gather(2, index).reshape(n, c, h, w)


class _GridSample(torch.autograd.Function):
    """Bilinear grid_sample (zero padding, align_corners=False) whose gradient with respect to the images is
    differentiable again on every torch version (torch before ~2.12 cannot differentiate grid_sample's
    backward, which R1 needs). The image gradient is the adjoint (transpose) of the same linear map, and the
    adjoint's own gradient is the forward map again. The grid gets no gradient."""

    @staticmethod
    def forward(ctx: Any, images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(images, grid)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        images, grid = ctx.saved_tensors
        grad_images = _GridSampleAdjoint.apply(grad_out, images, grid) if ctx.needs_input_grad[0] else None
        return grad_images, None


class _GridSampleAdjoint(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, grad_out: torch.Tensor, images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(grid)
        # interpolation 0 = bilinear, padding 0 = zeros; only the image gradient is wanted.
        grad_images, _ = torch.ops.aten.grid_sampler_2d_backward(grad_out, images, grid, 0, 0, False, [True, False])
        return grad_images

    @staticmethod
    def backward(ctx: Any, grad_grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (grid,) = ctx.saved_tensors
        return _GridSample.apply(grad_grad, grid), None, None


def gather_sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The same bilinear sampling from four gathers, for devices without grid_sample's backward kernel
    (e.g. Apple MPS on older torch); differentiable to any order."""
    n, c, h, w = images.shape
    out_h, out_w = grid.shape[1], grid.shape[2]
    # align_corners=False: -1 and 1 are the outer edges of the border pixels.
    fx = ((grid[..., 0] + 1) * w - 1) / 2
    fy = ((grid[..., 1] + 1) * h - 1) / 2
    x0, y0 = torch.floor(fx), torch.floor(fy)
    wx, wy = (fx - x0).to(images.dtype), (fy - y0).to(images.dtype)
    # One pixel of zeros around the image stands for everything outside it.
    padded = F.pad(images, [1, 1, 1, 1]).reshape(n, c, (h + 2) * (w + 2))

    def tap(ix: torch.Tensor, iy: torch.Tensor) -> torch.Tensor:
        ix = ix.clamp(-1, w).long() + 1
        iy = iy.clamp(-1, h).long() + 1
        index = (iy * (w + 2) + ix).reshape(n, 1, out_h * out_w).expand(n, c, out_h * out_w)
        return padded.gather(2, index).reshape(n, c, out_h, out_w)

    wx, wy = wx[:, None], wy[:, None]
    top = tap(x0, y0) * (1 - wx) + tap(x0 + 1, y0) * wx
    bottom = tap(x0, y0 + 1) * (1 - wx) + tap(x0 + 1, y0 + 1) * wx
    return top * (1 - wy) + bottom * wy


def sample(images: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling at `grid` (affine_grid coordinates), twice differentiable in the images."""
    if images.device.type in ("cpu", "cuda"):
        return _GridSample.apply(images, grid)
    return gather_sample(images, grid)


# --- the pipe ----------------------------------------------------------------------------------------


class AugmentPipe(torch.nn.Module):
    """All of ADA's augmentations; each multiplier (0 = off, 1 = fire with probability p) and each strength
    is a constructor argument with NVIDIA's default. `p` is a 0-dim float buffer (saved in state dicts).

    Random numbers are drawn on the images' device with torch's global generator, op by op in a fixed
    order (see `forward`), whether or not an op then fires: runs are reproducible from the seed.

    `exact_blit` (default True): an image whose transform is made of blits only (xflip, rotate90, xint)
    moves whole pixels exactly, with reflect padding for translated-in pixels. NVIDIA sends such images
    through the same 2x resampling as the general ops; because the symlet-6 filter is not symmetric, its
    flips and quarter turns come out slightly filtered (on photos in [-1, 1]: mean error ~0.01, max ~0.12
    against the exact flip). Images with a general geometric op are resampled once, blits included, exactly
    as NVIDIA. exact_blit=False resamples pure blits too, reproducing NVIDIA's output bit for bit for the
    same seed (apart from untransformed images, which stay exact in both modes).
    """

    def __init__(
        self,
        # Pixel blitting.
        xflip: float = 0,
        rotate90: float = 0,
        xint: float = 0,
        xint_max: float = 0.125,  # range of integer translation, relative to the image size
        # General geometric transformations.
        scale: float = 0,
        rotate: float = 0,
        aniso: float = 0,
        xfrac: float = 0,
        scale_std: float = 0.2,  # log2 std of isotropic scaling
        rotate_max: float = 1,  # range of rotation, 1 = full circle
        aniso_std: float = 0.2,  # log2 std of anisotropic scaling
        xfrac_std: float = 0.125,  # std of fractional translation, relative to the image size
        # Colour transformations.
        brightness: float = 0,
        contrast: float = 0,
        lumaflip: float = 0,
        hue: float = 0,
        saturation: float = 0,
        brightness_std: float = 0.2,
        contrast_std: float = 0.5,  # log2 std
        hue_max: float = 1,  # range of hue rotation, 1 = full circle
        saturation_std: float = 1,  # log2 std
        # Image-space filtering.
        imgfilter: float = 0,
        imgfilter_bands: tuple[float, ...] | list[float] = (1, 1, 1, 1),  # multipliers per band
        imgfilter_std: float = 1,  # log2 std of the band gains
        # Corruptions.
        noise: float = 0,
        cutout: float = 0,
        noise_std: float = 0.1,
        cutout_size: float = 0.5,  # side of the cutout square, relative to the image size
        # Overall probability (NVIDIA's buffer starts at 1; the trainer sets it).
        p: float = 1.0,
        # True: xflip/rotate90/xint move whole pixels exactly. False: NVIDIA's way (see the class doc).
        exact_blit: bool = True,
    ) -> None:
        super().__init__()
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float32))
        self.xflip, self.rotate90, self.xint, self.xint_max = (
            float(xflip),
            float(rotate90),
            float(xint),
            float(xint_max),
        )
        self.scale, self.rotate, self.aniso, self.xfrac = float(scale), float(rotate), float(aniso), float(xfrac)
        self.scale_std, self.rotate_max = float(scale_std), float(rotate_max)
        self.aniso_std, self.xfrac_std = float(aniso_std), float(xfrac_std)
        self.brightness, self.contrast, self.lumaflip = float(brightness), float(contrast), float(lumaflip)
        self.hue, self.saturation = float(hue), float(saturation)
        self.brightness_std, self.contrast_std = float(brightness_std), float(contrast_std)
        self.hue_max, self.saturation_std = float(hue_max), float(saturation_std)
        self.imgfilter, self.imgfilter_std = float(imgfilter), float(imgfilter_std)
        self.imgfilter_bands = [float(b) for b in imgfilter_bands]
        self.noise, self.cutout, self.noise_std, self.cutout_size = (
            float(noise),
            float(cutout),
            float(noise_std),
            float(cutout_size),
        )
        self.exact_blit = bool(exact_blit)

        # Filters are derived data, not state: kept out of state dicts (persistent=False).
        self.register_buffer("geom_filter", setup_filter(SYM6), persistent=False)
        bank = torch.as_tensor(band_filters(sym2(), num_bands=4), dtype=torch.float32)
        self.register_buffer("band_bank", bank, persistent=False)
        if len(self.imgfilter_bands) != bank.shape[0]:
            raise ValueError(f"imgfilter_bands needs {bank.shape[0]} entries, got {len(self.imgfilter_bands)}")

    def extra_repr(self) -> str:
        on = [f"{n}={getattr(self, n):g}" for n in ALL_OPS if getattr(self, n) > 0]
        return f"p={float(self.p):.4f}, " + (", ".join(on) if on else "no ops enabled")

    # --- random parameters ---------------------------------------------------------------------------

    def _gated(
        self,
        value: torch.Tensor,
        identity: float,
        probability: torch.Tensor,
        gate_shape: list[int],
    ) -> torch.Tensor:
        """`value` where a fresh uniform draw falls below `probability`, else the op's identity value."""
        fire = torch.rand(gate_shape, device=value.device) < probability
        return torch.where(fire, value, torch.full_like(value, identity))

    def _geometry(
        self,
        n: int,
        width: int,
        height: int,
        device: torch.device,
        q: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Per-image inverse transforms (output pixel -> input pixel, centred coordinates), [N, 3, 3]:
        (blits only, general geometry only, all of them composed), each None when none of its ops is
        enabled. `q` is the debug percentile (all images alike)."""
        mats: dict[str, torch.Tensor | None] = {"blit": None, "geom": None, "all": None}

        def then(m: torch.Tensor, part: str) -> None:
            # Inverses compose on the right, so the first op is applied to the image first (I @ M == M
            # exactly). "all" multiplies in NVIDIA's order, so that exact_blit=False matches it bit for bit.
            for key in (part, "all"):
                mats[key] = m if mats[key] is None else mats[key] @ m

        if self.xflip > 0:
            i = torch.floor(torch.rand([n], device=device) * 2)
            i = self._gated(i, 0.0, self.xflip * self.p, [n])
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 2))
            then(_scale2(1 / (1 - 2 * i), 1, device), "blit")
        if self.rotate90 > 0:
            i = torch.floor(torch.rand([n], device=device) * 4)
            i = self._gated(i, 0.0, self.rotate90 * self.p, [n])
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 4))
            then(_rotate2(np.pi / 2 * i, device), "blit")  # inverse of i quarter turns
        if self.xint > 0:
            t = (torch.rand([n, 2], device=device) * 2 - 1) * self.xint_max
            t = self._gated(t, 0.0, self.xint * self.p, [n, 1])
            if q is not None:
                t = torch.full_like(t, (q * 2 - 1) * self.xint_max)
            then(_translate2(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height), device), "blit")
        if self.scale > 0:
            s = torch.exp2(torch.randn([n], device=device) * self.scale_std)
            s = self._gated(s, 1.0, self.scale * self.p, [n])
            if q is not None:
                s = torch.full_like(s, torch.exp2(torch.erfinv(q * 2 - 1) * self.scale_std))
            then(_scale2(1 / s, 1 / s, device), "geom")
        # Rotation runs before and after aniso, each with p_rot, so that P(either) = rotate * p.
        p_rot = 1 - torch.sqrt((1 - self.rotate * self.p).clamp(0, 1))
        if self.rotate > 0:
            theta = (torch.rand([n], device=device) * 2 - 1) * np.pi * self.rotate_max
            theta = self._gated(theta, 0.0, p_rot, [n])
            if q is not None:
                theta = torch.full_like(theta, (q * 2 - 1) * np.pi * self.rotate_max)
            then(_rotate2(theta, device), "geom")  # inverse of a turn by -theta
        if self.aniso > 0:
            s = torch.exp2(torch.randn([n], device=device) * self.aniso_std)
            s = self._gated(s, 1.0, self.aniso * self.p, [n])
            if q is not None:
                s = torch.full_like(s, torch.exp2(torch.erfinv(q * 2 - 1) * self.aniso_std))
            then(_scale2(1 / s, 1 / (1 / s), device), "geom")
        if self.rotate > 0:
            theta = (torch.rand([n], device=device) * 2 - 1) * np.pi * self.rotate_max
            theta = self._gated(theta, 0.0, p_rot, [n])
            if q is not None:
                theta = torch.zeros_like(theta)
            then(_rotate2(theta, device), "geom")  # inverse of a turn by -theta
        if self.xfrac > 0:
            t = torch.randn([n, 2], device=device) * self.xfrac_std
            t = self._gated(t, 0.0, self.xfrac * self.p, [n, 1])
            if q is not None:
                t = torch.full_like(t, torch.erfinv(q * 2 - 1) * self.xfrac_std)
            then(_translate2(-(t[:, 0] * width), -(t[:, 1] * height), device), "geom")
        return mats["blit"], mats["geom"], mats["all"]

    def _colour(
        self,
        n: int,
        channels: int,
        device: torch.device,
        q: torch.Tensor | None,
    ) -> torch.Tensor | None:
        """Per-image colour transform (colour_out = C @ [rgb, 1]), [N, 4, 4], or None when no colour op is
        enabled. Hue and saturation act on chroma, which a 1-channel image does not have: skipped for C=1
        (and their random numbers are not drawn), as NVIDIA."""
        mat: torch.Tensor | None = None
        eye = torch.eye(4, device=device)

        def then(m: torch.Tensor) -> None:
            nonlocal mat
            mat = m @ (eye if mat is None else mat)

        luma = torch.as_tensor(np.asarray([1, 1, 1, 0]) / np.sqrt(3), dtype=torch.float32, device=device)
        luma_proj = torch.outer(luma, luma)
        if self.brightness > 0:
            b = torch.randn([n], device=device) * self.brightness_std
            b = self._gated(b, 0.0, self.brightness * self.p, [n])
            if q is not None:
                b = torch.full_like(b, torch.erfinv(q * 2 - 1) * self.brightness_std)
            then(_translate3(b, device))
        if self.contrast > 0:
            c = torch.exp2(torch.randn([n], device=device) * self.contrast_std)
            c = self._gated(c, 1.0, self.contrast * self.p, [n])
            if q is not None:
                c = torch.full_like(c, torch.exp2(torch.erfinv(q * 2 - 1) * self.contrast_std))
            then(_scale3(c, device))
        if self.lumaflip > 0:
            i = torch.floor(torch.rand([n, 1, 1], device=device) * 2)
            i = self._gated(i, 0.0, self.lumaflip * self.p, [n, 1, 1])
            if q is not None:
                i = torch.full_like(i, torch.floor(q * 2))
            then(eye - 2 * luma_proj * i)  # Householder reflection of the luma axis
        if self.hue > 0 and channels > 1:
            theta = (torch.rand([n], device=device) * 2 - 1) * np.pi * self.hue_max
            theta = self._gated(theta, 0.0, self.hue * self.p, [n])
            if q is not None:
                theta = torch.full_like(theta, (q * 2 - 1) * np.pi * self.hue_max)
            then(_rotate3(luma, theta, device))
        if self.saturation > 0 and channels > 1:
            s = torch.exp2(torch.randn([n, 1, 1], device=device) * self.saturation_std)
            s = self._gated(s, 1.0, self.saturation * self.p, [n, 1, 1])
            if q is not None:
                s = torch.full_like(s, torch.exp2(torch.erfinv(q * 2 - 1) * self.saturation_std))
            then(luma_proj + (eye - luma_proj) * s)
        return mat

    def _band_gains(self, n: int, device: torch.device, q: torch.Tensor | None) -> torch.Tensor:
        """Per-image gains of the frequency bands, [N, bands]; each band's draw is renormalised so the
        expected image power stays the same."""
        num_bands = self.band_bank.shape[0]
        power = torch.as_tensor(np.asarray(_BAND_POWER), dtype=torch.float32, device=device)
        gains = torch.ones([n, num_bands], device=device)
        for band, strength in enumerate(self.imgfilter_bands):
            g = torch.exp2(torch.randn([n], device=device) * self.imgfilter_std)
            g = self._gated(g, 1.0, self.imgfilter * self.p * strength, [n])
            if q is not None:
                g = (
                    torch.full_like(g, torch.exp2(torch.erfinv(q * 2 - 1) * self.imgfilter_std))
                    if strength > 0
                    else torch.ones_like(g)
                )
            one = torch.ones([n, num_bands], device=device)
            one[:, band] = g
            one = one / (power * one.square()).sum(dim=-1, keepdim=True).sqrt()
            gains = gains * one
        return gains

    # --- execution -----------------------------------------------------------------------------------

    def _warp(
        self,
        images: torch.Tensor,
        inv: torch.Tensor,
        batch_inv: torch.Tensor,
    ) -> torch.Tensor:
        """Resample each image through its inverse transform: reflect-pad enough to cover every sampled
        point, upsample 2x with the orthogonal low-pass, sample bilinearly, low-pass and decimate back.
        The padding is sized for `batch_inv`, the transforms of the whole batch (as NVIDIA), so that
        resampling only the images that need it gives the same result bit for bit."""
        n, c, h, w = images.shape
        device = images.device
        taps = self.geom_filter.shape[0]
        fpad = taps // 4  # filter support in output pixels, each side

        # Margin: how far outside the image the transformed corners reach, plus the filter support.
        cx, cy = (w - 1) / 2, (h - 1) / 2
        corners = _matrix([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device)
        reach = (batch_inv @ corners.t())[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, N * corners]
        reach = torch.cat([-reach, reach]).max(dim=1).values  # [x0, y0, x1, y1]
        reach = reach + torch.tensor([fpad * 2 - cx, fpad * 2 - cy] * 2, device=device)
        reach = reach.clamp_min(0).minimum(torch.tensor([w - 1, h - 1] * 2, dtype=torch.float32, device=device))
        mx0, my0, mx1, my1 = (int(v) for v in reach.ceil().tolist())

        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        inv = _translate2((mx0 - mx1) / 2, (my0 - my1) / 2, device) @ inv

        # Same transform expressed on the 2x grid (pixel centres shift by half a pixel).
        images = upsample2d(images, self.geom_filter.to(images.dtype), up=2)
        inv = _scale2(2, 2, device) @ inv @ _scale2(1 / 2, 1 / 2, device)
        inv = _translate2(-0.5, -0.5, device) @ inv @ _translate2(0.5, 0.5, device)

        # To the [-1, 1] coordinates of affine_grid; the output grid keeps the filter margin for the crop.
        out_h, out_w = (h + fpad * 2) * 2, (w + fpad * 2) * 2
        in_h, in_w = images.shape[2], images.shape[3]
        inv = _scale2(2 / in_w, 2 / in_h, device) @ inv @ _scale2(1 / (2 / out_w), 1 / (2 / out_h), device)
        grid = F.affine_grid(inv[:, :2, :].to(images.dtype), [n, c, out_h, out_w], align_corners=False)
        images = sample(images, grid)

        # Low-pass with the mirrored filter, decimate and crop the margin: [N, C, h, w] again.
        crop = -fpad * 2 + (taps - 2) // 2
        crop0 = -fpad * 2 + (taps - 1) // 2
        return upfirdn2d(
            images, self.geom_filter.to(images.dtype), down=2, padding=[crop0, crop, crop0, crop], flip_filter=True
        )

    def _filter(self, images: torch.Tensor, gains: torch.Tensor) -> torch.Tensor:
        """Separable per-image filter sum_b gain_b * band_b, applied with reflect padding."""
        n, c, h, w = images.shape
        taps = self.band_bank.shape[1]
        pad = taps // 2
        kernel = (gains @ self.band_bank).to(images.dtype)  # [N, taps]
        kernel = kernel.unsqueeze(1).repeat([1, c, 1]).reshape(n * c, 1, taps)
        x = F.pad(images.reshape(1, n * c, h, w), [pad, pad, pad, pad], mode="reflect")
        x = F.conv2d(x, kernel.unsqueeze(2), groups=n * c)  # horizontal
        x = F.conv2d(x, kernel.unsqueeze(3), groups=n * c)  # vertical
        return x.reshape(n, c, h, w)

    def forward(
        self,
        images: torch.Tensor,
        debug_percentile: float | None = None,
    ) -> torch.Tensor:
        """Augments a batch [N, C, H, W] (C = 1 or 3 for colour ops; any C otherwise).

        `debug_percentile` in [0, 1] replaces every random parameter by that quantile of its distribution
        and fires every enabled op (for looking at what each op does), as NVIDIA's.
        """
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ValueError("AugmentPipe expects a [N, C, H, W] tensor")
        n, c, h, w = images.shape
        device = images.device
        pad = self.band_bank.shape[1] // 2  # the band filters' reflect padding must fit inside the image
        if self.imgfilter > 0 and min(h, w) <= pad:
            raise UserError(f"imgfilter needs images larger than {pad}x{pad} (got {h}x{w}): use an --augpipe without f")
        q = None if debug_percentile is None else torch.as_tensor(debug_percentile, dtype=torch.float32, device=device)

        # The stages in NVIDIA's order: each draws its random numbers in the same order and shapes.
        images = self._apply_geometry(images, q)
        images = self._apply_colour(images, q)
        if self.imgfilter > 0:
            images = self._apply_filter(images, q)
        if self.noise > 0:
            images = self._apply_noise(images, q)
        if self.cutout > 0:
            images = self._apply_cutout(images, q)
        return images

    def _apply_geometry(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """One resampling of the composed transform for the images that need it (as NVIDIA); with
        exact_blit, images whose transform is only blits move whole pixels instead."""
        n, _, h, w = images.shape
        device = images.device
        blit, geom, full = self._geometry(n, w, h, device, q)
        if full is None:
            return images
        eye = torch.eye(3, device=device)
        if self.exact_blit and blit is not None:
            out = _blit(images, blit) if bool((blit != eye).any()) else images
            resample = (
                (geom != eye).flatten(1).any(dim=1) if geom is not None else torch.zeros(n, dtype=torch.bool, device=device)
            )
        else:
            out = images
            resample = (full != eye).flatten(1).any(dim=1)
        # Resample only the images whose transform fired (none at p = 0, few at small p).
        index = resample.nonzero().flatten()
        if index.numel() == n:
            return self._warp(images, full, full)
        if index.numel() > 0:
            return out.index_copy(0, index, self._warp(images[index], full[index], full))
        return out

    def _apply_colour(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """One affine map per image on the RGB (or luma) values."""
        n, c, h, w = images.shape
        mat = self._colour(n, c, images.device, q)
        if mat is None:
            return images
        mat = mat.to(images.dtype)
        flat = images.reshape(n, c, h * w)
        if c == 3:
            flat = mat[:, :3, :3] @ flat + mat[:, :3, 3:]
        elif c == 1:
            # Grey images: the average of the RGB rows acting on (l, l, l) -> gain and offset.
            grey = mat[:, :3, :].mean(dim=1, keepdim=True)
            flat = flat * grey[:, :, :3].sum(dim=2, keepdim=True) + grey[:, :, 3:]
        else:
            raise UserError(f"colour augmentations need 1 or 3 channels, got {c}: use --augpipe=bg (or blit/geom)")
        return flat.reshape(n, c, h, w)

    def _apply_filter(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Image-space filtering, only on the images whose band gains fired."""
        n = images.shape[0]
        gains = self._band_gains(n, images.device, q)
        index = (gains != 1).any(dim=1).nonzero().flatten()
        if index.numel() == n:
            return self._filter(images, gains)
        if index.numel() > 0:
            return images.index_copy(0, index, self._filter(images[index], gains[index]))
        return images

    def _apply_noise(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Additive Gaussian noise with a per-image std drawn from a half-normal."""
        n, c, h, w = images.shape
        device = images.device
        sigma = torch.randn([n, 1, 1, 1], device=device).abs() * self.noise_std
        sigma = self._gated(sigma, 0.0, self.noise * self.p, [n, 1, 1, 1])
        if q is not None:
            sigma = torch.full_like(sigma, torch.erfinv(q) * self.noise_std)
        return images + torch.randn([n, c, h, w], device=device).to(images.dtype) * sigma.to(images.dtype)

    def _apply_cutout(self, images: torch.Tensor, q: torch.Tensor | None) -> torch.Tensor:
        """Zero a square of side cutout_size (relative) centred at a uniform point."""
        n, _, h, w = images.shape
        device = images.device
        size = torch.full([n, 2, 1, 1, 1], self.cutout_size, device=device)
        size = self._gated(size, 0.0, self.cutout * self.p, [n, 1, 1, 1, 1])
        centre = torch.rand([n, 2, 1, 1, 1], device=device)
        if q is not None:
            size = torch.full_like(size, self.cutout_size)
            centre = torch.full_like(centre, q)
        xs = torch.arange(w, device=device).reshape(1, 1, 1, -1)
        ys = torch.arange(h, device=device).reshape(1, 1, -1, 1)
        outside_x = ((xs + 0.5) / w - centre[:, 0]).abs() >= size[:, 0] / 2
        outside_y = ((ys + 0.5) / h - centre[:, 1]).abs() >= size[:, 1] / 2
        return images * torch.logical_or(outside_x, outside_y).to(images.dtype)


def make_augment_pipe(name: str, **overrides: Any) -> AugmentPipe:
    """The named preset (`PIPES`), with any constructor argument overridden (e.g. noise_std=0.05)."""
    if name not in PIPES:
        raise UserError(f"unknown augmentation pipe {name!r}: choose one of {', '.join(PIPES)}")
    known = set(inspect.signature(AugmentPipe.__init__).parameters) - {"self"}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(f"unknown augmentation setting(s) {', '.join(unknown)}: choose from {', '.join(sorted(known))}")
    return AugmentPipe(**{**PIPES[name], **overrides})
