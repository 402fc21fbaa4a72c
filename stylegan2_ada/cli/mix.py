"""`stylegan2-ada mix`: a style-mixing grid from row and column seeds (NVIDIA's style_mixing.py flags).

Defaults as NVIDIA's: --styles 0-6, --trunc 1, --noise-mode const. scripts/style_mixing.py also reads
dvschultz's `grid` form (cli/legacy.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..tools.style_mixing import MIX_NOISE_MODES
from . import args as cli_args
from .common import one_line_warnings, open_generator


def add_arguments(parser: argparse.ArgumentParser, default_trunc: float = 1.0) -> None:
    cli_args.add_network_argument(
        parser, help=".safetensors snapshot, NVIDIA .pkl, known name or URL", aliases=("--network-pkl",)
    )
    parser.add_argument(
        "--rows",
        "--row-seeds",
        dest="rows",
        type=cli_args.seed_list,
        required=True,
        help="seeds of the rows, e.g. 85,100,75",
    )
    parser.add_argument(
        "--cols",
        "--col-seeds",
        dest="cols",
        type=cli_args.seed_list,
        required=True,
        help="seeds of the columns, e.g. 55,821",
    )
    parser.add_argument(
        "--col-network",
        default=None,
        metavar="NETWORK",
        help="take the columns from this network (same architecture, e.g. the one --network was fine-tuned from); "
        "mixed pictures are still drawn by --network (default: --network)",
    )
    parser.add_argument(
        "--styles",
        "--col-styles",
        dest="styles",
        default="0-6",
        help="layers (ws) taken from the column seed, e.g. 0-3 for the coarse ones (default: %(default)s)",
    )
    cli_args.add_truncation_arguments(parser, default_psi=default_trunc, aliases=("--truncation-psi",))
    cli_args.add_class_argument(parser)
    cli_args.add_noise_mode_argument(
        parser, choices=MIX_NOISE_MODES, default="const", help="noise inputs (default: const)"
    )
    cli_args.add_outdir_argument(parser, help="where to write grid.png and {row}-{col}.png")
    parser.add_argument(
        "--save-ws",
        action="store_true",
        help="also write ws.npz: 'w' [N, num_ws, w_dim] and 'seeds' [N, 2] (row, col) of every picture",
    )
    cli_args.add_batch_size_argument(parser)
    cli_args.add_device_arguments(parser)


def _write_ws(result, path: Path) -> None:
    keys = list(result.ws)
    w = np.stack([result.ws[k].numpy() for k in keys]).astype(np.float32)
    seeds = np.array(keys, dtype=np.int64)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, w=w, seeds=seeds)

    atomic_write(path, write)


def run(args: argparse.Namespace) -> int:
    from ..tools.style_mixing import style_mix

    with one_line_warnings():
        G, dev = open_generator(args.network, args.device)
        col_G = open_generator(args.col_network, args.device)[0] if args.col_network else None
        settings = cli_args.render_settings_from(args, dev)
        result = style_mix(G, args.rows, args.cols, args.styles, args.outdir, settings, col_G=col_G)
        if args.save_ws:
            _write_ws(result, Path(args.outdir) / "ws.npz")
    print(f"Wrote {len(result.paths) + 1} images to {args.outdir} (grid.png and {{row}}-{{col}}.png)")
    return 0
