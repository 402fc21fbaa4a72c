"""What generate, style mixing, video and export share to render pictures.

One set of render settings, checked in one place, and the helpers around a forward pass: eval and
inference mode, the device and fp16 dtype of a network, noise maps put in place of the network's own
(the TF-era per-seed maps, dvschultz's --fixnoise maps), and mapping + synthesis as one function that
torch.compile can take.

Public functions of the tools take `settings: RenderSettings | None` and the same fields as keyword
arguments (`generate_images(G, seeds, out, truncation_psi=0.7)`); `render_settings` merges the two.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypedDict, TypeVar

import numpy as np
import torch

from ..device import half_dtype_for, pick_device
from ..errors import UserError
from ..ops import fastpath
from .seeds import noise_map_resolutions, seed_noise_maps

# The refusal for a noise mode a command does not render: formatted with `mode` and `modes`.
UNKNOWN_NOISE_MODE = "noise mode {mode!r} unknown: choose one of {modes}"
# Modes whose maps are drawn here and put in place of the network's noise_const buffers.
NETWORK_NOISE_MODES = ("const", "random", "none")  # the synthesis network's own modes
DRAWN_NOISE_MODES = ("seed", "fixnoise")  # maps drawn from a seed (TF-era tools) and dvschultz's fixed maps

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How pictures are rendered.

    truncation_psi, truncation_cutoff: G.mapping's truncation (cutoff None: every w).
    noise_mode: const, random, none (the network's own modes), seed (each seed's TF-era maps) or fixnoise
        (dvschultz's RandomState(1) maps); each command renders its own subset, see `check`.
    batch_size: images per forward pass.
    class_idx: class of a conditional network (None for an unconditional one).
    device: where to render (None: where the network is).
    precision: dtype of NVIDIA's fp16 layers, see device.half_dtype_for.

    The first four fields come first so that export's positional `RenderSettings(0.7)` keeps its meaning."""

    truncation_psi: float = 1.0
    truncation_cutoff: int | None = None
    noise_mode: str = "const"
    batch_size: int = 8
    class_idx: int | None = None
    device: torch.device | str | None = None
    precision: str = "auto"

    def check(self, noise_modes: Sequence[str], refusal: str = UNKNOWN_NOISE_MODE) -> RenderSettings:
        """These settings, if the caller renders their noise mode and batch size; else a UserError."""
        if self.noise_mode not in noise_modes:
            raise UserError(refusal.format(mode=self.noise_mode, modes=", ".join(noise_modes)))
        if self.batch_size < 1:
            raise UserError(f"--batch-size={self.batch_size}: must be at least 1")
        return self

    @property
    def network_noise_mode(self) -> str:
        """The mode the network runs with: drawn maps (seed, fixnoise) go through its 'const' path."""
        return "const" if self.noise_mode in DRAWN_NOISE_MODES else self.noise_mode

    def half_dtype(self, device: torch.device) -> torch.dtype | None:
        """dtype of the fp16 layers on `device` (None: all fp32)."""
        return half_dtype_for(device, self.precision)


class RenderOptions(TypedDict, total=False):
    """RenderSettings' fields as keyword arguments, for `**options: Unpack[RenderOptions]` (tests keep the two
    in step)."""

    truncation_psi: float
    truncation_cutoff: int | None
    noise_mode: str
    batch_size: int
    class_idx: int | None
    device: torch.device | str | None
    precision: str


def render_settings(settings: RenderSettings | None = None, **options: Any) -> RenderSettings:
    """`settings` (default: RenderSettings()) with the fields named in `options` replaced."""
    base = RenderSettings() if settings is None else settings
    return dataclasses.replace(base, **options) if options else base


def batches(items: Sequence[T], size: int) -> Iterator[tuple[int, Sequence[T]]]:
    """(start, items[start : start + size]) over the whole sequence (lists, arrays and tensors alike)."""
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


# --- the network -------------------------------------------------------------------------------------


def network_device(G: torch.nn.Module, device: torch.device | str | None) -> torch.device:
    """`device`, or where G's parameters are when it is None."""
    if device is None:
        return next(G.parameters()).device
    return pick_device(str(device))


def place(G: torch.nn.Module, settings: RenderSettings) -> tuple[torch.nn.Module, torch.device]:
    """G moved to the settings' device (None: where it is), and that device."""
    device = network_device(G, settings.device)
    return G.to(device), device


@contextlib.contextmanager
def eval_mode(G: torch.nn.Module) -> Iterator[None]:
    """G in eval and inference mode for the block; its training flag is restored afterwards."""
    # Training mode would update w_avg and pick the training modconv path: always render in eval mode.
    was_training = G.training
    G.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        G.train(was_training)


# Generation's --fast modes: the reference ops (NVIDIA's pixels, the default), the fast ops, compiled.
RENDER_FAST_MODES = ("off", "on", "compile")


def renderer(
    G: torch.nn.Module,
    compile: bool = False,
    fast: str = "off",
    cuda_graphs: bool = False,
) -> Callable[..., torch.Tensor]:
    """mapping + synthesis as one function.

    fast="off": the reference ops, the same pixels as NVIDIA's generator. "on": the fast ops
    (ops/fastpath.py: channels-last, fused bias + activation, polyphase FIR) with shared-weight modulated
    convolutions (one conv for the whole batch instead of a grouped conv); pixels within 1/255 of "off".
    "compile" (or compile=True): the fast ops through torch.compile (nn/compiled.py: cached on disk,
    eager random numbers), slow first batch and then the fastest; with cuda_graphs on a CUDA device the
    compiled graph is replayed as a CUDA graph (Inductor's cudagraph trees)."""
    mode = "compile" if compile else fast
    if mode not in RENDER_FAST_MODES:
        raise UserError(f"--fast={mode}: choose one of {', '.join(RENDER_FAST_MODES)}")
    # None: the network's own choice (fused in fp32 eval, NVIDIA's rule); False: one shared-weight conv.
    fused_modconv = None if mode == "off" else False

    # Plain arguments, not a RenderSettings: torch.compile guards on them cheaply.
    def render(
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float,
        truncation_cutoff: int | None,
        noise_mode: str,
        half_dtype: torch.dtype | None,
    ) -> torch.Tensor:
        ws = G.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return G.synthesis(ws, noise_mode=noise_mode, half_dtype=half_dtype, fused_modconv=fused_modconv)

    if mode == "off":
        return render
    forward = render
    if mode == "compile":
        from ..nn.compiled import compile_pass

        forward = compile_pass(render, next(G.parameters()).device, cuda_graphs=cuda_graphs)

    def render_fast(*args: Any, **kwargs: Any) -> torch.Tensor:
        with fastpath.fast_path():
            return forward(*args, **kwargs)

    return render_fast


# --- noise maps ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def noise_maps(G: torch.nn.Module, maps: Sequence[torch.Tensor] | None) -> Iterator[None]:
    """Temporarily puts `maps` in place of the noise_const buffers, in TF order (see noise_map_resolutions).

    A map may be [H, W] (shared by the batch) or [N, 1, H, W] (one per image); noise_mode='const' then
    adds them with the learned strengths, exactly as the TF networks use their noise variables."""
    if maps is None:
        yield
        return
    layers = [m for m in G.synthesis.modules() if getattr(m, "use_noise", False) and hasattr(m, "noise_const")]
    if len(layers) != len(maps):
        raise ValueError(f"{len(maps)} noise maps for {len(layers)} noise inputs")
    saved = [layer.noise_const for layer in layers]
    try:
        for layer, noise in zip(layers, maps):
            layer.noise_const = noise.to(device=layer.noise_const.device, dtype=torch.float32)
        yield
    finally:
        for layer, buf in zip(layers, saved):
            layer.noise_const = buf


def shared_noise(G: torch.nn.Module, seed: int | None) -> list[torch.Tensor]:
    """One [H, W] map per noise input, the same for every image: `seed`'s TF-era maps, or with None
    dvschultz's --fixnoise maps."""
    return [torch.from_numpy(m) for m in seed_noise_maps(seed, noise_map_resolutions(G), G.z_dim)]


def seed_noise(G: torch.nn.Module, seeds: Sequence[int], mode: str) -> list[torch.Tensor] | None:
    """The maps `mode` puts in place of the network's: [N, 1, H, W] per seed for 'seed', the shared
    --fixnoise maps for 'fixnoise', None (the network's own) for the other modes."""
    if mode == "fixnoise":
        return shared_noise(G, None)
    if mode != "seed":
        return None
    per_seed = [seed_noise_maps(s, noise_map_resolutions(G), G.z_dim) for s in seeds]
    return [torch.from_numpy(np.stack([m[i] for m in per_seed]))[:, None] for i in range(len(per_seed[0]))]
