"""`stylegan2-ada generate`: images from seeds or projected ws (flags as NVIDIA's generate.py, plus batching)."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from collections.abc import Iterator

from ..device import PRECISIONS, pick_device
from ..errors import UserError
from .generate import NOISE_MODES, generate_images, load_generator, load_ws, render_ws
from .seeds import parse_seeds


def _seeds(text: str) -> list[int]:
    try:
        return parse_seeds(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--seeds: ")) from exc


def _grid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of columns, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the number of columns must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        required=True,
        metavar="NET",
        help=".safetensors snapshot, NVIDIA .pkl, known name (ffhq1024) or URL",
    )
    parser.add_argument("--seeds", type=_seeds, help="seeds, e.g. 0,1,4-6 or 0-99 (ranges inclusive)")
    parser.add_argument(
        "--trunc",
        dest="truncation_psi",
        metavar="PSI",
        type=float,
        default=1.0,
        help="truncation psi (default: %(default)s)",
    )
    parser.add_argument(
        "--trunc-cutoff",
        dest="truncation_cutoff",
        type=int,
        default=None,
        metavar="N",
        help="truncate only the first N ws (default: all)",
    )
    parser.add_argument(
        "--class", dest="class_idx", type=int, default=None, metavar="IDX", help="class label of a conditional network"
    )
    parser.add_argument(
        "--noise-mode",
        choices=NOISE_MODES,
        default="const",
        help="noise inputs (default: %(default)s); seed = TF-era per-seed noise, fixnoise = dvschultz --fixnoise",
    )
    parser.add_argument("--outdir", required=True, metavar="DIR", help="where to write seedNNNN.png")
    parser.add_argument("--projected-w", metavar="FILE", help="render the ws in this .npz (key 'w') instead of seeds")
    parser.add_argument("--batch-size", type=int, default=8, help="images per forward pass (default: %(default)s)")
    parser.add_argument(
        "--grid",
        type=_grid,
        nargs="?",
        const=0,
        default=None,
        metavar="COLS",
        help="also write grid.png (optionally with COLS columns)",
    )
    parser.add_argument("--device", default=None, help="cuda, cuda:1, mps or cpu (default: best available)")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="dtype of NVIDIA's fp16 layers (default: fp16 on CUDA, fp32 elsewhere)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="torch.compile the network: slow start, faster for many images"
    )


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {message}", file=sys.stderr)


@contextlib.contextmanager
def one_line_warnings() -> Iterator[None]:
    """Shows warnings as 'warning: ...' lines instead of Python's file:line form."""
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        yield


def run_generate(
    network: str,
    outdir: str,
    seeds: list[int] | None,
    truncation_psi: float = 1.0,
    truncation_cutoff: int | None = None,
    class_idx: int | None = None,
    noise_mode: str = "const",
    projected_w: str | None = None,
    ws_key: str = "w",
    ws_prefix: str = "proj",
    batch_size: int = 8,
    grid: int | None = None,
    device: str | None = None,
    precision: str = "auto",
    save_vectors: bool = False,
    compile: bool = False,
) -> int:
    """What every generate command line does once its flags are read (also used by scripts/generate.py)."""
    with one_line_warnings():
        try:
            dev = pick_device(device)
        except RuntimeError as exc:
            raise UserError(str(exc)) from exc
        if projected_w is None and not seeds:
            raise UserError("--seeds is required unless --projected-w is given (e.g. --seeds=0-9)")
        print(f'Loading networks from "{network}"...')
        G = load_generator(network, dev)
        if projected_w is not None:
            if seeds:
                warnings.warn("--seeds is ignored when rendering --projected-w")
            ws = load_ws(projected_w, key=ws_key)
            print(f'Generating images from projected W "{projected_w}"')
            paths = render_ws(
                G,
                ws,
                outdir,
                noise_mode=noise_mode,
                prefix=ws_prefix,
                batch_size=batch_size,
                device=dev,
                precision=precision,
            )
        else:
            paths = generate_images(
                G,
                seeds,
                outdir,
                truncation_psi=truncation_psi,
                truncation_cutoff=truncation_cutoff,
                noise_mode=noise_mode,
                class_idx=class_idx,
                batch_size=batch_size,
                device=dev,
                precision=precision,
                grid=grid,
                save_vectors=save_vectors,
                compile=compile,
            )
    print(f"Wrote {len(paths)} files to {outdir}")
    return 0


def run(args: argparse.Namespace) -> int:
    return run_generate(
        network=args.network,
        outdir=args.outdir,
        seeds=args.seeds,
        truncation_psi=args.truncation_psi,
        truncation_cutoff=args.truncation_cutoff,
        class_idx=args.class_idx,
        noise_mode=args.noise_mode,
        projected_w=args.projected_w,
        batch_size=args.batch_size,
        grid=args.grid,
        device=args.device,
        precision=args.precision,
        compile=args.compile,
    )
