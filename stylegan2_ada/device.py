"""Choosing the device and the dtype of the mixed-precision layers."""

from __future__ import annotations

import os

import torch

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def pick_device(name: str | None = None) -> torch.device:
    """'auto' (or None) picks CUDA, then Apple MPS, then CPU; STYLEGAN2_ADA_DEVICE overrides 'auto'."""
    name = name or os.environ.get("STYLEGAN2_ADA_DEVICE") or "auto"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"--device={name} asked for CUDA but this torch sees no GPU: use --device=cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"--device={name} asked for Apple MPS, which is not available here: use --device=cpu")
    return device


def half_dtype_for(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """dtype of the blocks NVIDIA runs in FP16 (None = everything in fp32).

    'auto' follows NVIDIA on CUDA (fp16) and uses fp32 elsewhere, where half-precision convs are slow or
    missing."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "fp32":
        return None
    if precision == "fp16":
        return torch.float16
    if precision == "bf16":
        return torch.bfloat16
    return torch.float16 if device.type == "cuda" else None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 in hardware (AVX-512 BF16 or AMX): there oneDNN's bf16 convolutions
    run about twice as fast as fp32 (BENCHMARKS.md); elsewhere bf16 is emulated and slower than fp32."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # private helpers: absent from some torch builds
        return False


def training_half_dtype(device: torch.device, precision: str, fast_mode: str) -> torch.dtype | None:
    """dtype of the mixed-precision blocks in training. As half_dtype_for, except that 'auto' on the CPU
    fast path takes bf16 where the CPU has it natively: the fastest choice there, measured to reach the
    same FID at the same kimg as fp32 (BENCHMARKS.md); the reference path (--fast=off) stays fp32."""
    if precision == "auto" and device.type == "cpu" and fast_mode != "off" and cpu_has_native_bf16():
        return torch.bfloat16
    return half_dtype_for(device, precision)


def resolve_half_dtype(half_dtype: torch.dtype | None | str, device: torch.device) -> torch.dtype | None:
    """A network's half_dtype argument: "auto" becomes fp16 on CUDA and None (fp32) elsewhere, so a network
    called directly on a CPU computes what NVIDIA's does there; a dtype or None is kept as given."""
    if isinstance(half_dtype, str):
        if half_dtype != "auto":
            raise ValueError(f"half_dtype must be a dtype, None or 'auto', got {half_dtype!r}")
        return half_dtype_for(device, "auto")
    return half_dtype
