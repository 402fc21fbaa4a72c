"""Flags the image commands share (network, truncation, class, noise, output, device), each defined once.

The spellings, dests and metavars are NVIDIA's and dvschultz's, so their command lines keep working. Defaults
and help texts are parameters: the two families differ (dvschultz: --trunc 0.5, --outdir out) and each
command words its help for what it writes.

torch is imported only inside the functions that need it, so `generate.py` refusals and --help stay instant.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ..errors import UserError

NETWORK_HELP = ".safetensors snapshot, NVIDIA .pkl, name or URL"
TRUNC_HELP = "truncation psi (default: %(default)s)"
TRUNC_CUTOFF_HELP = "truncate only N ws"
CLASS_HELP = "class label of a conditional network"
DVSCHULTZ_OUTDIR = "out"  # dvschultz's scripts write here unless told otherwise
DVSCHULTZ_OUTDIR_HELP = "output folder (default: %(default)s)"
BATCH_SIZE_HELP = "images per forward pass (default: %(default)s)"
DEVICE_HELP = "cuda, mps or cpu (default: best available)"
PRECISION_HELP = "dtype of the fp16 layers"
COMPILE_HELP = "torch.compile the network (slow start, faster for many images)"


def seed_list(text: str) -> list[int]:
    """argparse type for --seeds=0,1,4-6: a bad list is a usage error naming the flag, not a traceback."""
    from ..tools.seeds import parse_seeds

    try:
        return parse_seeds(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--seeds: ")) from exc


def add_network_argument(
    parser: argparse.ArgumentParser,
    help: str = NETWORK_HELP,
    aliases: Sequence[str] = (),
    required: bool = True,
) -> None:
    """--network NET (dvschultz also spells it --network-pkl: pass it in aliases)."""
    parser.add_argument("--network", *aliases, dest="network", required=required, metavar="NET", help=help)


def add_truncation_arguments(
    parser: argparse.ArgumentParser,
    default_psi: float = 1.0,
    aliases: Sequence[str] = (),
    help: str = TRUNC_HELP,
    cutoff: bool = True,
    cutoff_help: str | None = TRUNC_CUTOFF_HELP,
) -> None:
    """--trunc PSI (dest truncation_psi; dvschultz adds --truncation-psi) and --trunc-cutoff N."""
    parser.add_argument(
        "--trunc",
        *aliases,
        dest="truncation_psi",
        type=float,
        default=default_psi,
        metavar="PSI",
        help=help,
    )
    if cutoff:
        parser.add_argument(
            "--trunc-cutoff",
            dest="truncation_cutoff",
            type=int,
            default=None,
            metavar="N",
            help=cutoff_help,
        )


def add_class_argument(parser: argparse.ArgumentParser, help: str = CLASS_HELP) -> None:
    """--class IDX (dest class_idx): one class of a conditional network."""
    parser.add_argument("--class", dest="class_idx", type=int, default=None, metavar="IDX", help=help)


def add_noise_mode_argument(
    parser: argparse.ArgumentParser,
    choices: Sequence[str],
    default: str | None,
    help: str,
) -> None:
    """--noise-mode: each command renders a different set of modes, so choices are the caller's."""
    parser.add_argument("--noise-mode", choices=choices, default=default, help=help)


def add_outdir_argument(parser: argparse.ArgumentParser, help: str, default: str | None = None) -> None:
    """--outdir DIR: required unless a default is given (dvschultz's scripts default to 'out')."""
    parser.add_argument("--outdir", required=default is None, default=default, metavar="DIR", help=help)


def add_batch_size_argument(
    parser: argparse.ArgumentParser,
    default: int = 8,
    help: str = BATCH_SIZE_HELP,
) -> None:
    parser.add_argument("--batch-size", type=int, default=default, help=help)


def add_device_arguments(
    parser: argparse.ArgumentParser,
    precision: bool = True,
    compile: bool = False,
    device_help: str = DEVICE_HELP,
    precision_help: str = PRECISION_HELP,
    compile_help: str = COMPILE_HELP,
) -> None:
    """--device, and where the command renders with the fp16 layers --precision (and --compile)."""
    parser.add_argument("--device", default=None, help=device_help)
    if precision:
        from ..device import PRECISIONS

        parser.add_argument("--precision", choices=PRECISIONS, default="auto", help=precision_help)
    if compile:
        parser.add_argument("--compile", action="store_true", help=compile_help)


# The destinations of the flags above that are render settings (tools.render.RenderSettings fields).
RENDER_FLAG_DESTS = ("truncation_psi", "truncation_cutoff", "noise_mode", "batch_size", "class_idx", "precision")


def render_settings_from(args: argparse.Namespace, device: object = None, base: object = None, skip: Sequence[str] = ()):  # noqa: ANN201
    """The RenderSettings of the render flags this command's parser has; the others keep `base`'s values."""
    from ..tools.render import render_settings

    given = {name: getattr(args, name) for name in RENDER_FLAG_DESTS if hasattr(args, name) and name not in skip}
    if device is not None:
        given["device"] = device
    return render_settings(base, **given)
