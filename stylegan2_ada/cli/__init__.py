"""`stylegan2-ada <command>`: one console command whose sub-commands live in their own modules.

This package is the top floor: it parses flags and calls the engine (data, train, tools, metrics, io);
nothing below it imports it. Sub-command modules are imported only when used, so `stylegan2-ada generate`
does not pay for OpenCV or dlib, and a missing optional dependency only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .common import exit_code

# name -> (module under stylegan2_ada.cli, help). Each module has add_arguments(parser) and run(args).
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate", "images from seeds"),
    "convert": ("convert", "NVIDIA pickle <-> our safetensors format"),
    "prepare": ("prepare", "photos to a training dataset"),
    "metrics": ("metrics", "FID, KID, precision/recall, PPL, IS"),
    "train": ("train", "train or fine-tune with ADA"),
    "demo": ("demo", "the whole pipeline on packaged real photos"),
    "project": ("project", "project a photo into the latent space"),
    "memorization": ("memorization", "nearest training images of generated ones"),
    "export": ("export", "synthetic dataset zip with a reproducible manifest"),
    "mix": ("mix", "style-mixing grid of row and column seeds"),
    "video": ("video", "interpolation and loop videos (MP4, GIF)"),
}


def command_module(name: str):  # noqa: ANN201 - a module
    return importlib.import_module(f"{__name__}.{SUBCOMMANDS[name][0]}")


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylegan2-ada", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen sub-command's module is imported; the others are listed by name and help.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        if name == chosen:
            command_module(name).add_arguments(sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(args.command, args)


def script_main(name: str, prog: str, argv: Sequence[str] | None = None) -> int:
    """A thin NVlabs-style script (scripts/*.py): one sub-command, parsed under the script's own name."""
    module = command_module(name)
    doc = module.__doc__ or SUBCOMMANDS[name][1]
    parser = argparse.ArgumentParser(prog=prog, description=doc.strip().splitlines()[0])
    module.add_arguments(parser)
    return run_command(name, parser.parse_args(argv))


def run_command(name: str, args: argparse.Namespace) -> int:
    """Runs a sub-command, turning user errors into one line on stderr and exit code 2."""
    run = command_module(name).run
    interrupted = "interrupted: continue with --resume=latest" if name == "train" else "interrupted"
    return exit_code(lambda: int(run(args) or 0), interrupted)
