"""Style mixing: the ws of a row seed with some layers taken from a column seed, as a grid of pictures.

The rules follow NVIDIA's style_mixing.py so the same network and seeds give the same pictures: each
seed's ws come from the mapping network with truncation, the mixed ws are the row's ws with the layers
`styles` replaced by the column's, and the files are `{row}-{col}.png` (the source images themselves
as `{seed}-{seed}.png`) plus `grid.png` with the sources on its top row and left column.

With a second network for the columns (`col_G`, same architecture: typically the network a fine-tuned one started
from), the column seeds' ws come from that network's mapping and their pictures from its synthesis
(`col-{seed}.png`); the mixed pictures are still rendered by G. This works because a fine-tuned network keeps the
W space of its source closely enough that coarse styles carry over (pose, face shape, from the source's faces).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm import tqdm

from ..errors import UserError
from ..image_files import save_png, to_uint8
from .render import (
    NETWORK_NOISE_MODES,
    RenderOptions,
    RenderSettings,
    batches,
    eval_mode,
    network_device,
    place,
    render_settings,
)
from .seeds import check_seed, class_labels, latents_for_seeds, parse_seeds

if TYPE_CHECKING:
    from typing_extensions import Unpack

MIX_NOISE_MODES = NETWORK_NOISE_MODES


@dataclasses.dataclass
class StyleMix:
    """What style_mix made: every picture's ws (key (row, col); sources are (seed, seed)) and the files."""

    row_seeds: list[int]
    col_seeds: list[int]
    styles: list[int]
    ws: dict[tuple[int, int], torch.Tensor]
    paths: list[Path]
    grid_path: Path | None


def parse_styles(text: str | Sequence[int], num_ws: int) -> list[int]:
    """'0-3' or '0,2,5' -> layer indices, each checked against the network's number of ws."""
    if isinstance(text, str):
        try:
            styles = parse_seeds(text)
        except UserError as exc:
            raise UserError(f"--styles={text!r}: use layer numbers and ranges like 0-3 or 0,2,5") from exc
    else:
        styles = [int(s) for s in text]
    if not styles:
        raise UserError("--styles is empty: give layers like 0-3")
    bad = [s for s in styles if not 0 <= s < num_ws]
    if bad:
        raise UserError(
            f"--styles: layer(s) {', '.join(map(str, bad))} do not exist; this network has ws 0..{num_ws - 1}"
        )
    return styles


def mix_ws(row_ws: torch.Tensor, col_ws: torch.Tensor, styles: Sequence[int]) -> torch.Tensor:
    """Row ws [..., num_ws, w_dim] with the layers in `styles` copied from the column ws."""
    mixed = row_ws.clone()
    mixed[..., list(styles), :] = col_ws[..., list(styles), :]
    return mixed


def seed_ws(
    G: torch.nn.Module,
    seeds: Sequence[int],
    settings: RenderSettings | None = None,
    **options: Unpack[RenderOptions],
) -> dict[int, torch.Tensor]:
    """seed -> ws [num_ws, w_dim] (float32, on the CPU) from G.mapping with the settings' truncation and class."""
    settings = render_settings(settings, **options)
    dev = network_device(G, settings.device)
    seeds = [check_seed(s) for s in seeds]
    label = class_labels(G.c_dim, settings.class_idx, len(seeds))
    with eval_mode(G):
        z = latents_for_seeds(seeds, G.z_dim).to(dev)
        c = label.to(dev) if label is not None else None
        ws = G.mapping(z, c, truncation_psi=settings.truncation_psi, truncation_cutoff=settings.truncation_cutoff)
    return {s: w.float().cpu() for s, w in zip(seeds, ws)}


def _grid_canvas(
    images: dict[tuple[int, int], np.ndarray],
    rows: list[int],
    cols: list[int],
    col_sources: dict[int, np.ndarray] | None = None,
) -> np.ndarray:
    """NVIDIA's layout: top-left blank (black), column sources along the top, row sources down the left."""
    h, w, c = next(iter(images.values())).shape
    canvas = np.zeros([h * (len(rows) + 1), w * (len(cols) + 1), c], dtype=np.uint8)
    for ci, col in enumerate(cols):
        top = col_sources[col] if col_sources is not None else images[(col, col)]
        canvas[0:h, (ci + 1) * w : (ci + 2) * w] = top
    for ri, row in enumerate(rows):
        y = (ri + 1) * h
        canvas[y : y + h, 0:w] = images[(row, row)]
        for ci, col in enumerate(cols):
            canvas[y : y + h, (ci + 1) * w : (ci + 2) * w] = images[(row, col)]
    return canvas


def style_mix(
    G: torch.nn.Module,
    row_seeds: Sequence[int],
    col_seeds: Sequence[int],
    styles: str | Sequence[int],
    outdir: str | Path,
    settings: RenderSettings | None = None,
    save_grid: bool = True,
    progress: bool = True,
    col_G: torch.nn.Module | None = None,
    **options: Unpack[RenderOptions],
) -> StyleMix:
    """Writes {row}-{col}.png for every pair, {seed}-{seed}.png for every source and grid.png.

    col_G: a second network of the same architecture for the column seeds (their sources as col-{seed}.png).
    settings / options: truncation, class, noise mode (MIX_NOISE_MODES), batch size, device, precision."""
    settings = render_settings(settings, **options).check(MIX_NOISE_MODES)
    rows = [check_seed(s) for s in row_seeds]
    cols = [check_seed(s) for s in col_seeds]
    if not rows or not cols:
        raise UserError("style mixing needs at least one row seed (--rows) and one column seed (--cols)")
    layers = parse_styles(styles, G.num_ws)
    G, dev = place(G, settings)
    half_dtype = settings.half_dtype(dev)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    if col_G is None:
        sources = list(dict.fromkeys(rows + cols))
        w_of = seed_ws(G, sources, settings, device=dev)
        w_col, col_sources = w_of, None
    else:
        col_G = _check_column_network(G, col_G)
        col_G, _ = place(col_G, settings)
        sources = list(dict.fromkeys(rows))
        w_of = seed_ws(G, sources, settings, device=dev)
        w_col = seed_ws(col_G, cols, settings, device=dev)
    # Sources first, then each pair; a pair (s, s) has the source's own ws, so it is drawn once.
    jobs: dict[tuple[int, int], torch.Tensor] = {(s, s): w_of[s] for s in sources}
    for r in rows:
        for c in cols:
            jobs.setdefault((r, c), mix_ws(w_of[r], w_col[c], layers))

    images, paths = _render_jobs(G, jobs, outdir, settings, dev, half_dtype, progress)
    if col_G is not None:
        col_jobs = {(c, c): w_col[c] for c in cols}
        col_images, col_paths = _render_jobs(col_G, col_jobs, outdir, settings, dev, half_dtype, False, "col-{0}.png")
        col_sources = {c: col_images[(c, c)] for c in cols}
        paths += col_paths
    grid_path = save_png(_grid_canvas(images, rows, cols, col_sources), outdir / "grid.png") if save_grid else None
    return StyleMix(
        row_seeds=rows,
        col_seeds=cols,
        styles=layers,
        ws=jobs,
        paths=paths,
        grid_path=grid_path,
    )


def _check_column_network(G: torch.nn.Module, col_G: torch.nn.Module) -> torch.nn.Module:
    """col_G when its ws fit G's synthesis (same number of ws, same w_dim, same resolution), else a UserError."""
    mine = (G.num_ws, G.w_dim, G.img_resolution)
    theirs = (col_G.num_ws, col_G.w_dim, col_G.img_resolution)
    if mine != theirs:
        raise UserError(
            f"--col-network has {theirs[0]} ws of {theirs[1]} at {theirs[2]} px, --network {mine[0]} of {mine[1]} at "
            f"{mine[2]} px: mix a network with one of the same architecture (e.g. the network it was fine-tuned from)"
        )
    if col_G.c_dim != G.c_dim:
        raise UserError(f"--col-network has {col_G.c_dim} classes, --network {G.c_dim}: both must have the same")
    return col_G


def _render_jobs(
    G: torch.nn.Module,
    jobs: dict[tuple[int, int], torch.Tensor],
    outdir: Path,
    settings: RenderSettings,
    device: torch.device,
    half_dtype: torch.dtype | None,
    progress: bool,
    name: str = "{0}-{1}.png",
) -> tuple[dict[tuple[int, int], np.ndarray], list[Path]]:
    """Synthesises every job's ws and writes it as {row}-{col}.png; returns the pictures and the paths."""
    keys = list(jobs)
    images: dict[tuple[int, int], np.ndarray] = {}
    paths: list[Path] = []
    bar = tqdm(total=len(keys), unit="img", desc="style mixing", disable=not progress)
    with eval_mode(G):
        for _, chunk in batches(keys, settings.batch_size):
            ws = torch.stack([jobs[k] for k in chunk]).to(device)
            batch = to_uint8(G.synthesis(ws, noise_mode=settings.noise_mode, half_dtype=half_dtype))
            for key, image in zip(chunk, batch):
                images[key] = image
                paths.append(save_png(image, outdir / name.format(*key)))
            bar.update(len(chunk))
    bar.close()
    return images, paths
