"""The generate.py command lines people already have, read unchanged and run by the package.

Two forms, told apart by the first word:
- dvschultz/stylegan2-ada: `generate.py generate-images --network=NET --seeds=0-555 --trunc=0 --outdir=out`
  (its defaults kept: --trunc 0.5, --outdir out, per-seed noise maps as its TF code draws them,
  --create-grid, --save_vector, --fixnoise); also its video sub-commands `generate-latent-walk`,
  `truncation-traversal` and `lerp-video` (tools/video_cli.py);
- NVlabs/stylegan2-ada-pytorch: `generate.py --network=NET --seeds=0,1,4-6 --trunc=1 --class=3
  --noise-mode=const --outdir=out` (also --projected-w, and --dlatents of the TF-era NVlabs script).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import UserError, exit_code
from . import cli_args

# torch and the networks are imported only once a command will run, so the refusals below are instant.

# dvschultz's other sub-commands (and style-mixing-example of the TF stylegan2 run_generator.py).
NOT_YET = ("style-mixing-example", "generate-neighbors")
# dvschultz's video sub-commands, run by tools/video_cli.py.
VIDEO_COMMANDS = ("generate-latent-walk", "truncation-traversal", "lerp-video")


def dvschultz_parser(prog: str) -> argparse.ArgumentParser:
    from .generate import NOISE_MODES

    parser = argparse.ArgumentParser(prog=f"{prog} generate-images", description="Generate images (dvschultz form).")
    cli_args.add_network_argument(parser, help="network file, name or URL", aliases=("--network-pkl",))
    parser.add_argument("--seeds", type=cli_args.seed_list, required=True, help="seeds, e.g. 0-555 or 0,1,4-6")
    cli_args.add_truncation_arguments(
        parser,
        default_psi=0.5,
        aliases=("--truncation-psi",),
        help="truncation psi (default: %(default)s, as dvschultz)",
        cutoff_help="truncate only the first N ws",
    )
    cli_args.add_class_argument(parser)
    parser.add_argument(
        "--create-grid", dest="grid", action="store_const", const=0, default=None, help="also write grid.png"
    )
    cli_args.add_outdir_argument(parser, help=cli_args.DVSCHULTZ_OUTDIR_HELP, default="out")
    parser.add_argument(
        "--save_vector",
        "--save-vector",
        dest="save_vectors",
        action="store_true",
        help="also write vectors/seedNNNN.npy (z)",
    )
    parser.add_argument("--fixnoise", action="store_true", help="the same noise maps for every seed (RandomState(1))")
    cli_args.add_noise_mode_argument(
        parser, choices=NOISE_MODES, default=None, help="override the noise (default: seed, as dvschultz)"
    )
    cli_args.add_batch_size_argument(parser)
    cli_args.add_device_arguments(parser, compile=True)
    return parser


def nvlabs_parser(prog: str) -> argparse.ArgumentParser:
    from .generate_cli import add_arguments

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Generate images (NVlabs form). The dvschultz form starts with the word generate-images.",
    )
    add_arguments(parser)
    parser.add_argument(
        "--dlatents", metavar="FILE", help="render the 'dlatents' of a TF-era projector .npz (dlatentNN.png)"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = "generate.py") -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return exit_code(lambda: _run(argv, prog))


def _run(argv: list[str], prog: str) -> int:
    if argv and not argv[0].startswith("-"):
        command = argv[0]
        if command in NOT_YET:
            print(
                f"error: '{command}' is not implemented yet; it comes with the creative-tools work (issue 5). "
                "generate-images works now.",
                file=sys.stderr,
            )
            return 2
        if command in VIDEO_COMMANDS:
            from .video_cli import (
                latent_walk_main,
                lerp_video_main,
                truncation_traversal_main,
            )

            run_video = {
                "generate-latent-walk": latent_walk_main,
                "truncation-traversal": truncation_traversal_main,
                "lerp-video": lerp_video_main,
            }[command]
            return run_video(argv[1:], prog)
        if command != "generate-images":
            print(
                f"error: unknown sub-command {command!r}; use generate-images, generate-latent-walk, "
                "truncation-traversal, lerp-video, or the NVlabs form without a "
                "sub-command (--network --seeds --outdir)",
                file=sys.stderr,
            )
            return 2
        from .generate_cli import run_generate

        a = dvschultz_parser(prog).parse_args(argv[1:])
        noise_mode = a.noise_mode or ("fixnoise" if a.fixnoise else "seed")
        return run_generate(
            network=a.network,
            outdir=a.outdir,
            seeds=a.seeds,
            truncation_psi=a.truncation_psi,
            truncation_cutoff=a.truncation_cutoff,
            class_idx=a.class_idx,
            noise_mode=noise_mode,
            batch_size=a.batch_size,
            grid=a.grid,
            device=a.device,
            precision=a.precision,
            save_vectors=a.save_vectors,
            compile=a.compile,
        )
    from .generate_cli import run_generate

    a = nvlabs_parser(prog).parse_args(argv)
    if a.projected_w is not None and a.dlatents is not None:
        raise UserError("give either --projected-w or --dlatents, not both")
    tf_ws = a.dlatents is not None
    return run_generate(
        network=a.network,
        outdir=a.outdir,
        seeds=a.seeds,
        truncation_psi=a.truncation_psi,
        truncation_cutoff=a.truncation_cutoff,
        class_idx=a.class_idx,
        noise_mode=a.noise_mode,
        projected_w=a.dlatents if tf_ws else a.projected_w,
        ws_key="dlatents" if tf_ws else "w",
        ws_prefix="dlatent" if tf_ws else "proj",
        batch_size=a.batch_size,
        grid=a.grid,
        device=a.device,
        precision=a.precision,
        compile=a.compile,
    )
