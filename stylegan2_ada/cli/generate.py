"""`stylegan2-ada generate`: images from seeds or projected ws (flags as NVIDIA's generate.py, plus batching)."""

from __future__ import annotations

import argparse
import warnings

from ..errors import UserError
from ..tools.generate import NOISE_MODES, generate_images, load_ws, render_ws
from ..tools.render import RENDER_FAST_MODES, RenderSettings
from . import args as cli_args
from .common import command_device, one_line_warnings, open_network


def _grid(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of columns, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("the number of columns must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_args.add_network_argument(parser, help=".safetensors snapshot, NVIDIA .pkl, known name (ffhq1024) or URL")
    parser.add_argument("--seeds", type=cli_args.seed_list, help="seeds, e.g. 0,1,4-6 or 0-99 (ranges inclusive)")
    cli_args.add_truncation_arguments(
        parser,
        default_psi=1.0,
        cutoff_help="truncate only the first N ws (default: all)",
    )
    cli_args.add_class_argument(parser)
    cli_args.add_noise_mode_argument(
        parser,
        choices=NOISE_MODES,
        default="const",
        help="noise inputs (default: %(default)s); seed = TF-era per-seed noise, fixnoise = dvschultz --fixnoise",
    )
    cli_args.add_outdir_argument(parser, help="where to write seedNNNN.png")
    parser.add_argument("--projected-w", metavar="FILE", help="render the ws in this .npz (key 'w') instead of seeds")
    cli_args.add_batch_size_argument(parser)
    parser.add_argument(
        "--grid",
        type=_grid,
        nargs="?",
        const=0,
        default=None,
        metavar="COLS",
        help="also write grid.png (optionally with COLS columns)",
    )
    cli_args.add_device_arguments(
        parser,
        compile=True,
        device_help="cuda, cuda:1, mps or cpu (default: best available)",
        precision_help="dtype of NVIDIA's fp16 layers (default: fp16 on CUDA, fp32 elsewhere)",
        compile_help="torch.compile the network: slow start, faster for many images (= --fast=compile)",
    )
    parser.add_argument(
        "--fast",
        choices=RENDER_FAST_MODES,
        default="off",
        help="off: NVIDIA's exact pixels; on: the fast ops (pixels within 1/255); compile: the fast ops "
        "compiled (slow start) (default: off)",
    )


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
    fast: str = "off",
) -> int:
    """What every generate command line does once its flags are read (also used by scripts/generate.py)."""
    with one_line_warnings():
        dev = command_device(device)
        if projected_w is None and not seeds:
            raise UserError("--seeds is required unless --projected-w is given (e.g. --seeds=0-9)")
        G = open_network(network, dev).generator
        settings = RenderSettings(
            truncation_psi=truncation_psi,
            truncation_cutoff=truncation_cutoff,
            noise_mode=noise_mode,
            batch_size=batch_size,
            class_idx=class_idx,
            device=dev,
            precision=precision,
        )
        if projected_w is not None:
            if seeds:
                warnings.warn("--seeds is ignored when rendering --projected-w")
            ws = load_ws(projected_w, key=ws_key)
            print(f'Generating images from projected W "{projected_w}"')
            # The ws are truncated and carry their class already: render_ws uses the rest of the settings.
            paths = render_ws(G, ws, outdir, settings, prefix=ws_prefix)
        else:
            paths = generate_images(
                G,
                seeds,
                outdir,
                settings,
                grid=grid,
                save_vectors=save_vectors,
                compile=compile,
                fast=fast,
            )
    print(f"Wrote {len(paths)} file{'' if len(paths) == 1 else 's'} to {outdir}")
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
        fast=args.fast,
    )
