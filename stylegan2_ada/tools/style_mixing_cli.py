"""`stylegan2-ada mix` and scripts/style_mixing.py: a style-mixing grid from row and column seeds.

scripts/style_mixing.py reads two command lines unchanged:
- NVlabs (TF and PyTorch): `style_mixing.py --outdir=out --trunc=0.5 --rows=85,100 --cols=55,821 --styles=0-3
  --network=NET` (defaults as NVIDIA's: --styles 0-6, --trunc 1, --noise-mode const);
- dvschultz: `style_mixing.py grid --row-seeds=85,100 --col-seeds=55,821 --col-styles=0-3 --network=NET
  --outdir=out` (its default --trunc 0.5).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import exit_code
from . import cli_args

NOISE_CHOICES = ("const", "random", "none")


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
        "--styles",
        "--col-styles",
        dest="styles",
        default="0-6",
        help="layers (ws) taken from the column seed, e.g. 0-3 for the coarse ones (default: %(default)s)",
    )
    cli_args.add_truncation_arguments(parser, default_psi=default_trunc, aliases=("--truncation-psi",))
    cli_args.add_class_argument(parser)
    cli_args.add_noise_mode_argument(
        parser, choices=NOISE_CHOICES, default="const", help="noise inputs (default: const)"
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
    from .generate_cli import one_line_warnings
    from .style_mixing import style_mix

    with one_line_warnings():
        G, dev = cli_args.load_cli_generator(args.network, args.device)
        result = style_mix(
            G,
            args.rows,
            args.cols,
            args.styles,
            args.outdir,
            truncation_psi=args.truncation_psi,
            truncation_cutoff=args.truncation_cutoff,
            noise_mode=args.noise_mode,
            class_idx=args.class_idx,
            batch_size=args.batch_size,
            device=dev,
            precision=args.precision,
        )
        if args.save_ws:
            _write_ws(result, Path(args.outdir) / "ws.npz")
    print(f"Wrote {len(result.paths) + 1} images to {args.outdir} (grid.png and {{row}}-{{col}}.png)")
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "style_mixing.py") -> int:
    """scripts/style_mixing.py: the NVlabs form, or dvschultz's `grid` sub-command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return exit_code(lambda: _run_script(argv, prog))


def _run_script(argv: list[str], prog: str) -> int:
    if argv and argv[0] == "grid":
        parser = argparse.ArgumentParser(prog=f"{prog} grid", description="Style-mixing grid (dvschultz form).")
        add_arguments(parser, default_trunc=0.5)
        return run(parser.parse_args(argv[1:]))
    if argv and argv[0] == "video":
        print(
            "error: dvschultz's 'style_mixing.py video' is not implemented; "
            "use the grid form, or `stylegan2-ada video` for interpolation videos",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=prog, description="Style-mixing grid (NVlabs form).")
    add_arguments(parser)
    return run(parser.parse_args(argv))
