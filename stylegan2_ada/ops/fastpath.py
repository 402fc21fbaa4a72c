"""The switch between the reference ops and the fast ops, chosen per call.

The reference path is NVIDIA's op order in plain PyTorch (bit-identical to their networks in fp32). The
fast path computes the same functions in fewer, cheaper passes (fused bias + activation, polyphase FIR
resampling, channels-last activations, demodulation as a matmul); its results differ from the
reference by fp32 round-off only, which tests/ops and tests/nn check op by op and network by network.

    with fast_path():            # everything called inside runs the fast ops
        img = G(z, None)
    img_ref = G(z, None)         # outside: the reference path, unchanged

A plain module-level flag (not a thread-local) so that torch.compile can read it and guard on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

# The training and generation switch (--fast): auto, the fast ops, the fast ops plus torch.compile, off.
FAST_MODES = ("auto", "on", "compile", "off")

_enabled = False


def enabled() -> bool:
    """True inside `fast_path()`."""
    return _enabled


@contextlib.contextmanager
def fast_path(on: bool = True) -> Iterator[None]:
    """Runs the block with the fast ops (on=True) or the reference ops (on=False); restores the previous
    choice afterwards, so the blocks nest."""
    global _enabled
    previous = _enabled
    _enabled = bool(on)
    try:
        yield
    finally:
        _enabled = previous


def activation_format() -> torch.memory_format:
    """Memory format of the conv activations: channels-last on the fast path (oneDNN and cuDNN run 3x3
    convs and depthwise FIR filters faster in NHWC), NCHW on the reference path."""
    return torch.channels_last if _enabled else torch.contiguous_format


def resolve_mode(mode: str, device: torch.device) -> str:
    """--fast=auto made concrete for `device`: "on" for CPU, where the fast ops were measured faster
    (BENCHMARKS.md), and "off" elsewhere until a GPU session measures them; other modes as given.

    torch.compile stays opt-in: on a CPU its minutes of compiling outweigh its gain in short runs."""
    if mode not in FAST_MODES:
        raise ValueError(f"fast mode must be one of {FAST_MODES}, got {mode!r}")
    if mode == "auto":
        return "on" if device.type == "cpu" else "off"
    return mode


def compiling() -> bool:
    """True while torch.compile traces: there the plain op sequence is better, Inductor fuses it itself."""
    return torch.compiler.is_compiling()
