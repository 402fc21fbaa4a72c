"""Images from seeds (or from projected ws) with a trained generator, as NVIDIA's generate scripts make them.

Same seed, same latent (tools.seeds), same uint8 rule (image_files), same file names (`seed0042.png`,
`proj00.png`), so pictures match NVIDIA's for the same weights; we batch the work and show progress.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write
from ..errors import UserError
from ..image_files import save_png, to_uint8
from .render import (
    DRAWN_NOISE_MODES,
    NETWORK_NOISE_MODES,
    RenderOptions,
    RenderSettings,
    batches,
    eval_mode,
    noise_maps,
    place,
    render_settings,
    renderer,
    seed_noise,
)
from .seeds import check_seed, class_labels, latents_for_seeds, z_array_from_seed

if TYPE_CHECKING:
    from typing_extensions import Unpack

# const/random/none: the network's own modes (NVIDIA's PyTorch tools; const is their default).
# seed: noise maps drawn from each seed's RandomState after z, as the TF-era NVlabs generate.py and
#   dvschultz's generate-images do. fixnoise: dvschultz's --fixnoise, the same RandomState(1) maps for all.
NOISE_MODES = NETWORK_NOISE_MODES + DRAWN_NOISE_MODES
# Projected ws have no seed to draw per-image maps from.
WS_NOISE_MODES = NETWORK_NOISE_MODES + ("fixnoise",)
WS_NOISE_REFUSAL = "noise mode {mode!r} needs seeds; for projected ws use const, random, none or fixnoise"


class _GridCanvas:
    """A grid image filled batch by batch, so the images need not be kept until the end."""

    def __init__(self, count: int, cols: int | None) -> None:
        self.count = count
        self.cols = min(cols, count) if cols else max(int(np.ceil(np.sqrt(count))), 1)
        self.canvas: np.ndarray | None = None

    def put(self, index: int, image: np.ndarray) -> None:
        h, w, c = image.shape
        if self.canvas is None:
            rows = (self.count + self.cols - 1) // self.cols
            self.canvas = np.zeros([rows * h, self.cols * w, c], dtype=np.uint8)
        y, x = (index // self.cols) * h, (index % self.cols) * w
        self.canvas[y : y + h, x : x + w] = image


def _grid_cols(grid: bool | int | None) -> int | None:
    """False/None: no grid; True or 0: automatic columns; n > 0: n columns."""
    if grid is None or grid is False:
        return None
    if grid is True:
        return 0
    if int(grid) < 0:
        raise UserError(f"--grid={grid}: the number of columns must be positive")
    return int(grid)


def _save_array(array: np.ndarray, path: Path) -> Path:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)

    atomic_write(path, write)
    return path


def generate_images(
    G: torch.nn.Module,
    seeds: Sequence[int],
    outdir: str | Path,
    settings: RenderSettings | None = None,
    grid: bool | int | None = False,
    save_vectors: bool = False,
    compile: bool = False,
    progress: bool = True,
    fast: str = "off",
    **options: Unpack[RenderOptions],
) -> list[Path]:
    """Writes outdir/seed{seed:04d}.png for each seed (plus grid.png when `grid`); returns the paths.

    settings / options: truncation, class, noise mode (NOISE_MODES), batch size, device, precision.
    grid: True for a near-square grid, an int for that many columns. save_vectors: also write each z as
    outdir/vectors/seed{seed:04d}.npy (float64 [1, z_dim], as dvschultz's --save_vector). fast: "off"
    (NVIDIA's pixels), "on" (the fast ops, pixels within 1/255) or "compile" (the fast ops compiled, pays
    off for hundreds of images; compile=True means the same). See render.renderer."""
    settings = render_settings(settings, **options).check(NOISE_MODES)
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise UserError("no seeds given: use --seeds like 0,1,4-6")
    cols = _grid_cols(grid)
    G, dev = place(G, settings)
    half_dtype = settings.half_dtype(dev)
    label = class_labels(G.c_dim, settings.class_idx, 1)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    canvas = _GridCanvas(len(seeds), cols) if cols is not None else None

    render = renderer(G, compile, fast)
    paths: list[Path] = []
    bar = tqdm(total=len(seeds), unit="img", desc="generating", disable=not progress)
    with eval_mode(G):
        for start, chunk in batches(seeds, settings.batch_size):
            images = _render_seeds(G, render, chunk, label, settings, dev, half_dtype)
            for i, (seed, image) in enumerate(zip(chunk, images)):
                paths.append(save_png(image, outdir / f"seed{seed:04d}.png"))
                if save_vectors:
                    _save_array(z_array_from_seed(seed, G.z_dim), outdir / "vectors" / f"seed{seed:04d}.npy")
                if canvas is not None:
                    canvas.put(start + i, image)
            bar.update(len(chunk))
    bar.close()
    if canvas is not None and canvas.canvas is not None:
        paths.append(save_png(canvas.canvas, outdir / "grid.png"))
    return paths


def _render_seeds(
    G: torch.nn.Module,
    render: Callable[..., torch.Tensor],
    seeds: Sequence[int],
    label: torch.Tensor | None,
    settings: RenderSettings,
    device: torch.device,
    half_dtype: torch.dtype | None,
) -> np.ndarray:
    """uint8 [N, H, W, C] pictures of one batch of seeds, with the noise maps their mode draws."""
    z = latents_for_seeds(seeds, G.z_dim).to(device)
    c = label.repeat(len(seeds), 1).to(device) if label is not None else None
    with noise_maps(G, seed_noise(G, seeds, settings.noise_mode)):
        images = render(
            z,
            c,
            settings.truncation_psi,
            settings.truncation_cutoff,
            settings.network_noise_mode,
            half_dtype,
        )
    return to_uint8(images)


def load_ws(path: str | Path, key: str = "w") -> np.ndarray:
    """ws [N, num_ws, w_dim] from a projector's .npz (key 'w'; the TF projector's key is 'dlatents')."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file; give the .npz the projector wrote (projected_w.npz)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if key not in data:
                raise UserError(f"{path}: no array {key!r} in it (found {', '.join(data.files) or 'none'})")
            ws = np.asarray(data[key])
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: not a readable .npz file ({exc})") from exc
    if ws.ndim != 3:
        raise UserError(f"{path}: {key!r} has shape {list(ws.shape)}; expected [N, num_ws, w_dim]")
    return ws


def render_ws(
    G: torch.nn.Module,
    ws: np.ndarray | torch.Tensor,
    outdir: str | Path,
    settings: RenderSettings | None = None,
    prefix: str = "proj",
    progress: bool = True,
    **options: Unpack[RenderOptions],
) -> list[Path]:
    """Writes outdir/{prefix}{i:02d}.png for each w in ws [N, num_ws, w_dim] (NVIDIA's --projected-w).

    Of the settings, the noise mode (WS_NOISE_MODES), batch size, device and precision apply: the ws
    are already truncated and carry their class."""
    settings = render_settings(settings, **options).check(WS_NOISE_MODES, WS_NOISE_REFUSAL)
    ws = torch.as_tensor(np.asarray(ws) if not isinstance(ws, torch.Tensor) else ws, dtype=torch.float32)
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (G.num_ws, G.w_dim):
        raise UserError(
            f"ws of shape {list(ws.shape)} do not fit this network: it needs [N, {G.num_ws}, {G.w_dim}] "
            "(project with the same network)"
        )
    G, dev = place(G, settings)
    half_dtype = settings.half_dtype(dev)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    bar = tqdm(total=len(ws), unit="img", desc="rendering", disable=not progress)
    with eval_mode(G), noise_maps(G, seed_noise(G, [], settings.noise_mode)):
        for start, chunk in batches(ws, settings.batch_size):
            images = to_uint8(G.synthesis(chunk.to(dev), noise_mode=settings.network_noise_mode, half_dtype=half_dtype))
            for i, image in enumerate(images):
                paths.append(save_png(image, outdir / f"{prefix}{start + i:02d}.png"))
            bar.update(len(images))
    bar.close()
    return paths
