"""Images from seeds (or from projected ws) with a trained generator, as NVIDIA's generate scripts make them.

Same seed, same latent (tools.seeds), same uint8 rule (tools.images), same file names (`seed0042.png`,
`proj00.png`), so pictures match NVIDIA's for the same weights; we batch the work and show progress.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write
from ..device import half_dtype_for, pick_device
from ..errors import UserError
from .images import save_png, to_uint8
from .seeds import (
    check_seed,
    class_labels,
    latents_for_seeds,
    noise_map_resolutions,
    seed_noise_maps,
    z_array_from_seed,
)

# const/random/none: the network's own modes (NVIDIA's PyTorch tools; const is their default).
# seed: noise maps drawn from each seed's RandomState after z, as the TF-era NVlabs generate.py and
#   dvschultz's generate-images do. fixnoise: dvschultz's --fixnoise, the same RandomState(1) maps for all.
NOISE_MODES = ("const", "random", "none", "seed", "fixnoise")


@contextlib.contextmanager
def _noise_maps(G: torch.nn.Module, maps: Sequence[torch.Tensor] | None) -> Iterator[None]:
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


def _seed_noise(G: torch.nn.Module, seeds: Sequence[int], mode: str) -> list[torch.Tensor] | None:
    if mode == "fixnoise":
        return [torch.from_numpy(n) for n in seed_noise_maps(None, noise_map_resolutions(G), G.z_dim)]
    if mode != "seed":
        return None
    per_seed = [seed_noise_maps(s, noise_map_resolutions(G), G.z_dim) for s in seeds]
    return [torch.from_numpy(np.stack([m[i] for m in per_seed]))[:, None] for i in range(len(per_seed[0]))]


@contextlib.contextmanager
def _eval_mode(G: torch.nn.Module) -> Iterator[None]:
    # Training mode would update w_avg and pick the training modconv path: always render in eval mode.
    was_training = G.training
    G.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        G.train(was_training)


def _renderer(G: torch.nn.Module, compile: bool) -> Callable[..., torch.Tensor]:
    """mapping + synthesis as one function; with `compile`, torch.compile'd (slow first batch, then about
    2x less CPU time per image on CPU; pixels within 1/255 of the eager result)."""

    def render(
        z: torch.Tensor,
        c: torch.Tensor | None,
        truncation_psi: float,
        truncation_cutoff: int | None,
        noise_mode: str,
        half_dtype: torch.dtype | None,
    ) -> torch.Tensor:
        ws = G.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return G.synthesis(ws, noise_mode=noise_mode, half_dtype=half_dtype)

    return torch.compile(render) if compile else render


def _network_device(G: torch.nn.Module, device: torch.device | str | None) -> torch.device:
    if device is None:
        return next(G.parameters()).device
    return pick_device(str(device))


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
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    noise_mode: str = "const",
    class_idx: int | None = None,
    batch_size: int = 8,
    device: torch.device | str | None = None,
    precision: str = "auto",
    grid: bool | int | None = False,
    save_vectors: bool = False,
    compile: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Writes outdir/seed{seed:04d}.png for each seed (plus grid.png when `grid`); returns the paths.

    grid: True for a near-square grid, an int for that many columns. save_vectors: also write each z as
    outdir/vectors/seed{seed:04d}.npy (float64 [1, z_dim], as dvschultz's --save_vector). compile: run
    the network through torch.compile (pays off for hundreds of images)."""
    if noise_mode not in NOISE_MODES:
        raise UserError(f"noise mode {noise_mode!r} unknown: choose one of {', '.join(NOISE_MODES)}")
    if batch_size < 1:
        raise UserError(f"--batch-size={batch_size}: must be at least 1")
    seeds = [check_seed(s) for s in seeds]
    if not seeds:
        raise UserError("no seeds given: use --seeds like 0,1,4-6")
    cols = _grid_cols(grid)
    dev = _network_device(G, device)
    G = G.to(dev)
    half_dtype = half_dtype_for(dev, precision)
    label = class_labels(G.c_dim, class_idx, 1)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    canvas = _GridCanvas(len(seeds), cols) if cols is not None else None
    net_noise_mode = "const" if noise_mode in ("seed", "fixnoise") else noise_mode

    render = _renderer(G, compile)
    paths: list[Path] = []
    bar = tqdm(total=len(seeds), unit="img", desc="generating", disable=not progress)
    with _eval_mode(G):
        for start in range(0, len(seeds), batch_size):
            chunk = seeds[start : start + batch_size]
            z = latents_for_seeds(chunk, G.z_dim)
            c = label.repeat(len(chunk), 1).to(dev) if label is not None else None
            with _noise_maps(G, _seed_noise(G, chunk, noise_mode)):
                images = to_uint8(render(z.to(dev), c, truncation_psi, truncation_cutoff, net_noise_mode, half_dtype))
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
    noise_mode: str = "const",
    prefix: str = "proj",
    batch_size: int = 8,
    device: torch.device | str | None = None,
    precision: str = "auto",
    progress: bool = True,
) -> list[Path]:
    """Writes outdir/{prefix}{i:02d}.png for each w in ws [N, num_ws, w_dim] (NVIDIA's --projected-w)."""
    if noise_mode not in ("const", "random", "none", "fixnoise"):
        raise UserError(f"noise mode {noise_mode!r} needs seeds; for projected ws use const, random, none or fixnoise")
    ws = torch.as_tensor(np.asarray(ws) if not isinstance(ws, torch.Tensor) else ws, dtype=torch.float32)
    if ws.ndim != 3 or tuple(ws.shape[1:]) != (G.num_ws, G.w_dim):
        raise UserError(
            f"ws of shape {list(ws.shape)} do not fit this network: it needs [N, {G.num_ws}, {G.w_dim}] "
            "(project with the same network)"
        )
    dev = _network_device(G, device)
    G = G.to(dev)
    half_dtype = half_dtype_for(dev, precision)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    net_noise_mode = "const" if noise_mode == "fixnoise" else noise_mode
    paths: list[Path] = []
    bar = tqdm(total=len(ws), unit="img", desc="rendering", disable=not progress)
    with _eval_mode(G), _noise_maps(G, _seed_noise(G, [], noise_mode)):
        for start in range(0, len(ws), batch_size):
            images = to_uint8(
                G.synthesis(ws[start : start + batch_size].to(dev), noise_mode=net_noise_mode, half_dtype=half_dtype)
            )
            for i, image in enumerate(images):
                paths.append(save_png(image, outdir / f"{prefix}{start + i:02d}.png"))
            bar.update(len(images))
    bar.close()
    return paths
