"""`stylegan2-ada project`: project a photo into a network's latent space (flags as NVIDIA's projector.py)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ..errors import UserError
from ..tools.projector import Schedule, run_projection, vgg16_lpips
from . import args as cli_args
from .common import one_line_warnings, open_generator

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_bool(text: str) -> bool:
    """click-style booleans, so NVIDIA's `--save-video=False` keeps working."""
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_args.add_network_argument(parser)
    parser.add_argument("--target", required=True, metavar="FILE", help="the photo to project")
    cli_args.add_outdir_argument(parser, help="where to write target.png, proj.png, projected_w.npz")
    parser.add_argument(
        "--num-steps",
        type=int,
        default=1000,
        help="optimisation steps (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=303, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--save-video",
        type=parse_bool,
        nargs="?",
        const=True,
        default=True,
        metavar="BOOL",
        help="write proj.mp4, target | projection per step (default: %(default)s)",
    )
    parser.add_argument(
        "--w-plus",
        type=parse_bool,
        nargs="?",
        const=True,
        default=False,
        metavar="BOOL",
        help="optimise one w per layer (W+) instead of a single w (default: off)",
    )
    cli_args.add_class_argument(parser, help="class of a conditional network")
    parser.add_argument(
        "--align",
        action="store_true",
        help="FFHQ-align the largest face of the target first",
    )
    parser.add_argument(
        "--vgg16",
        default=None,
        metavar="FILE",
        help="NVIDIA's vgg16.pt (default: $STYLEGAN2_ADA_VGG16, the cache, else downloaded once)",
    )
    cli_args.add_device_arguments(parser, precision=False)


def run(args: argparse.Namespace) -> int:
    if args.num_steps < 1:
        raise UserError(f"--num-steps={args.num_steps}: need at least 1 step")
    # The user's own inputs first: a typo in --target should not wait for (or fail on) the feature network.
    target = Path(args.target)
    if not target.is_file():
        what = "a folder" if target.is_dir() else "no such file"
        raise UserError(f"--target={args.target}: {what}; give the photo to project (.png, .jpg, ...)")
    with one_line_warnings():
        G, dev = open_generator(args.network, args.device)
        try:
            lpips_fn = vgg16_lpips(dev, path=args.vgg16)
        except UserError as exc:
            raise UserError(f"{exc}; or pass --vgg16=FILE") from None
        start = time.perf_counter()
        paths = run_projection(
            G,
            args.target,
            args.outdir,
            lpips_fn,
            schedule=Schedule(num_steps=args.num_steps),
            w_plus=args.w_plus,
            class_idx=args.class_idx,
            seed=args.seed,
            save_video=args.save_video,
            align=args.align,
        )
    print(f"Elapsed: {time.perf_counter() - start:.1f} s")
    print("Wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
