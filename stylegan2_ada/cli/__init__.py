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

# name -> (module under stylegan2_ada.cli, one-line description), in the order of the workflow.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "prepare": ("prepare", "turn photos, videos or old datasets into a training dataset (faces cropped and aligned)"),
    "train": ("train", "train a network on a dataset, or fine-tune a pretrained one (ADA, resumable)"),
    "generate": ("generate", "write images from seeds (or from projected latents)"),
    "mix": ("mix", "style-mixing grid: coarse or fine styles of one seed on another"),
    "video": ("video", "interpolation and loop videos between seeds (MP4, GIF)"),
    "project": ("project", "find the latent of a real photo (projection), with a video of the search"),
    "memorization": ("memorization", "check whether generated images are copies of training images"),
    "export": ("export", "write a synthetic dataset (zip + manifest that reproduces every image)"),
    "metrics": ("metrics", "quality numbers: FID, KID, precision/recall, PPL, IS"),
    "convert": ("convert", "convert networks: NVIDIA .pkl to our .safetensors, or back for NVIDIA's code"),
    "demo": ("demo", "run the whole pipeline on photos that ship in a package, and write a web page"),
}


def command_module(name: str):  # noqa: ANN201 - a module
    return importlib.import_module(f"{__name__}.{SUBCOMMANDS[name][0]}")


DESCRIPTION = "StyleGAN2-ADA from photos to pictures: prepare a dataset, train, then generate, mix, animate and check."


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser and its sub-command parsers."""
    parser = argparse.ArgumentParser(prog="stylegan2-ada", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands, in workflow order")
    # Only the chosen sub-command's module is imported; the others are listed by name and description.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    parsers = {}
    for name, (_, help_text) in SUBCOMMANDS.items():
        parsers[name] = sp = sub.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if name == chosen:
            command_module(name).add_arguments(sp)
    return parser, parsers


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, parsers = build_parser(argv)
    args, unknown = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if unknown:  # said by the sub-command, with its usage, not the top level's
        parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    return run_command(args.command, args)


def script_main(name: str, prog: str, argv: Sequence[str] | None = None) -> int:
    """A thin NVlabs-style script (scripts/*.py): one sub-command, parsed under the script's own name."""
    module = command_module(name)
    help_text = SUBCOMMANDS[name][1]
    parser = argparse.ArgumentParser(prog=prog, description=help_text[0].upper() + help_text[1:] + ".")
    module.add_arguments(parser)
    return run_command(name, parser.parse_args(argv))


def run_command(name: str, args: argparse.Namespace) -> int:
    """Runs a sub-command, turning user errors into one line on stderr and exit code 2."""
    module = command_module(name)
    interrupted = getattr(module, "INTERRUPTED", "interrupted")  # what to do next, where a command knows
    return exit_code(lambda: int(module.run(args) or 0), interrupted)
