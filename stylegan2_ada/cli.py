"""`stylegan2-ada <command>`: one console command whose sub-commands live in their own modules.

Sub-command modules are imported only when used, so `stylegan2-ada generate` does not pay for OpenCV
or dlib, and a missing optional dependency only affects the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import exit_code

# name -> (module, function adding the arguments, function running the command, help)
SUBCOMMANDS: dict[str, tuple[str, str, str, str]] = {
    "generate": ("stylegan2_ada.tools.generate_cli", "add_arguments", "run", "images from seeds"),
    "convert": ("stylegan2_ada.io.convert_cli", "add_arguments", "run", "NVIDIA pickle <-> our safetensors format"),
    "prepare": ("stylegan2_ada.data.cli", "add_prepare_arguments", "run_prepare", "photos to a training dataset"),
    "metrics": ("stylegan2_ada.metrics.calc_metrics_cli", "add_arguments", "run", "FID, KID, precision/recall, PPL, IS"),
    "train": ("stylegan2_ada.train.train_cli", "add_arguments", "run", "train or fine-tune with ADA"),
    "demo": ("stylegan2_ada.tools.demo", "add_arguments", "run", "the whole pipeline on packaged real photos"),
    "project": ("stylegan2_ada.tools.project_cli", "add_arguments", "run", "project a photo into the latent space"),
    "memorization": ("stylegan2_ada.tools.memorization_cli", "add_arguments", "run", "nearest training images of generated ones"),
    "export": ("stylegan2_ada.tools.export_cli", "add_arguments", "run", "synthetic dataset zip with a reproducible manifest"),
    "mix": ("stylegan2_ada.tools.style_mixing_cli", "add_arguments", "run", "style-mixing grid of row and column seeds"),
    "video": ("stylegan2_ada.tools.video_cli", "add_arguments", "run", "interpolation and loop videos (MP4, GIF)"),
}


def _load(name: str) -> tuple[object, object]:
    module_name, add_name, run_name, _ = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    return getattr(module, add_name), getattr(module, run_name)


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stylegan2-ada", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # Only the chosen sub-command's module is imported; the others are listed by name and help.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (_, _, _, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        if name == chosen:
            add_arguments, _ = _load(name)
            add_arguments(sp)  # type: ignore[operator]
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
    add_arguments, _ = _load(name)
    doc = importlib.import_module(SUBCOMMANDS[name][0]).__doc__ or SUBCOMMANDS[name][3]
    parser = argparse.ArgumentParser(prog=prog, description=doc.strip().splitlines()[0])
    add_arguments(parser)  # type: ignore[operator]
    return run_command(name, parser.parse_args(argv))


def run_command(name: str, args: argparse.Namespace) -> int:
    """Runs a sub-command, turning user errors into one line on stderr and exit code 2."""
    _, run = _load(name)
    interrupted = "interrupted: continue with --resume=latest" if name == "train" else "interrupted"
    return exit_code(lambda: int(run(args) or 0), interrupted)  # type: ignore[operator]


if __name__ == "__main__":
    sys.exit(main())
