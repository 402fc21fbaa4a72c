"""The command lines people already have for NVIDIA's and dvschultz's scripts, read unchanged.

- scripts/generate.py, two forms told apart by the first word:
  - dvschultz/stylegan2-ada: `generate.py generate-images --network=NET --seeds=0-555 --trunc=0 --outdir=out`
    (its defaults kept: --trunc 0.5, --outdir out, per-seed noise maps as its TF code draws them,
    --create-grid, --save_vector, --fixnoise); also its video sub-commands `generate-latent-walk`,
    `truncation-traversal` and `lerp-video`;
  - NVlabs/stylegan2-ada-pytorch: `generate.py --network=NET --seeds=0,1,4-6 --trunc=1 --class=3
    --noise-mode=const --outdir=out` (also --projected-w, and --dlatents of the TF-era NVlabs script).
- scripts/style_mixing.py: NVlabs' `--rows --cols --styles` form (`stylegan2-ada mix`), or dvschultz's
  `grid --row-seeds --col-seeds --col-styles` (its default --trunc 0.5).
- scripts/dataset_tool.py: NVIDIA's dataset_tool flags (`stylegan2-ada prepare`, default a plain resize).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError
from . import args as cli_args
from .common import exit_code, one_line_warnings, open_generator

# The command modules (and so torch) are imported only once a form is chosen, so refusals are instant.

# dvschultz's sub-commands this package does not have, with what to use instead.
NOT_AVAILABLE = {
    "generate-neighbors": (
        "'generate-neighbors' (images around a seed) is not available in this package; render nearby seeds "
        "with generate-images, or a walk between them with generate-latent-walk"
    ),
    "style-mixing-example": (
        "'style-mixing-example' is not available here; use scripts/style_mixing.py (or `stylegan2-ada mix`) "
        "with --rows, --cols and --styles"
    ),
}
# dvschultz's video sub-commands.
VIDEO_COMMANDS = ("generate-latent-walk", "truncation-traversal", "lerp-video")


def dvschultz_parser(prog: str) -> argparse.ArgumentParser:
    from ..tools.generate import NOISE_MODES

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
    cli_args.add_outdir_argument(parser, help=cli_args.DVSCHULTZ_OUTDIR_HELP, default=cli_args.DVSCHULTZ_OUTDIR)
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
    from . import generate as generate_cli

    parser = argparse.ArgumentParser(
        prog=prog,
        description="Generate images (NVlabs form). The dvschultz form starts with the word generate-images.",
    )
    generate_cli.add_arguments(parser)
    parser.add_argument(
        "--dlatents", metavar="FILE", help="render the 'dlatents' of a TF-era projector .npz (dlatentNN.png)"
    )
    return parser


def generate_main(argv: Sequence[str] | None = None, prog: str = "generate.py") -> int:
    """scripts/generate.py: the NVlabs form, or one of dvschultz's sub-commands."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return exit_code(lambda: _run_generate(argv, prog))


def _run_generate(argv: list[str], prog: str) -> int:
    if argv and not argv[0].startswith("-"):
        command = argv[0]
        if command in NOT_AVAILABLE:
            print(f"error: {NOT_AVAILABLE[command]}", file=sys.stderr)
            return 2
        if command in VIDEO_COMMANDS:
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
        from . import generate as generate_cli

        a = dvschultz_parser(prog).parse_args(argv[1:])
        noise_mode = a.noise_mode or ("fixnoise" if a.fixnoise else "seed")
        return generate_cli.run_generate(**_generate_flags(a), noise_mode=noise_mode, save_vectors=a.save_vectors)
    from . import generate as generate_cli

    a = nvlabs_parser(prog).parse_args(argv)
    if a.projected_w is not None and a.dlatents is not None:
        raise UserError("give either --projected-w or --dlatents, not both")
    tf_ws = a.dlatents is not None
    return generate_cli.run_generate(
        **_generate_flags(a),
        noise_mode=a.noise_mode,
        projected_w=a.dlatents if tf_ws else a.projected_w,
        ws_key="dlatents" if tf_ws else "w",
        ws_prefix="dlatent" if tf_ws else "proj",
    )


def _generate_flags(a: argparse.Namespace) -> dict:
    """run_generate's arguments that both generate.py forms take from flags of the same names."""
    names = ("network", "outdir", "seeds", "truncation_psi", "truncation_cutoff", "class_idx", "batch_size", "grid")
    return {name: getattr(a, name) for name in names + ("device", "precision", "compile")}


# --- dvschultz's generate.py video sub-commands ------------------------------------------------------

# dvschultz walk types -> (our walk, space). bspline is not implemented.
DVSCHULTZ_WALKS = {
    "line": ("linear", "z"),
    "line-z": ("linear", "z"),
    "line-w": ("linear", "w"),
    "sphere": ("slerp", "z"),
    "sphere-z": ("slerp", "z"),
    "sphere-w": ("slerp", "w"),
    "noiseloop": ("noiseloop", "z"),
    "noiseloop-z": ("noiseloop", "z"),
    "circularloop": ("circularloop", "z"),
    "circularloop-z": ("circularloop", "z"),
    "circularloop-w": ("circularloop", "w"),
}


def latent_walk_parser(prog: str) -> argparse.ArgumentParser:
    from . import video as video_cli

    parser = argparse.ArgumentParser(
        prog=f"{prog} generate-latent-walk",
        description="Latent walk video (dvschultz form).",
    )
    video_cli.add_common(parser, trunc=0.5, noise="fixnoise", fps=24)
    parser.add_argument(
        "--walk-type",
        dest="walk_type",
        default="line",
        choices=tuple(DVSCHULTZ_WALKS),
        help="line-z|line-w|sphere-z|sphere-w|noiseloop|circularloop (default: %(default)s)",
    )
    parser.add_argument("--frames", type=int, default=240, help="frame count (default: %(default)s)")
    parser.add_argument("--seeds", type=cli_args.seed_list, default=None, help="keypoint seeds")
    parser.add_argument(
        "--npys",
        type=video_cli.parse_files,
        default=None,
        help="comma-separated .npy/.npz latents (z or ws)",
    )
    parser.add_argument(
        "--save_vector",
        "--save-vector",
        dest="save_vector",
        action="store_true",
        help="also write vectors/",
    )
    parser.add_argument(
        "--diameter",
        type=float,
        default=2.0,
        help="diameter of the loop (default: %(default)s)",
    )
    parser.add_argument(
        "--start_seed",
        "--start-seed",
        dest="start_seed",
        type=int,
        default=0,
        help="seed of the loop (default: 0)",
    )
    parser.add_argument(
        "--easing",
        choices=tuple(video_cli.EASINGS),
        default="linear",
        help="per-segment easing (ours)",
    )
    parser.add_argument(
        "--loop",
        action="store_true",
        help="line/sphere: return to the first keypoint (ours)",
    )
    parser.add_argument(
        "--grid",
        type=video_cli.parse_grid,
        default=None,
        metavar="WxH",
        help="a WxH grid of walks (ours)",
    )
    return parser


def latent_walk_main(argv: Sequence[str], prog: str = "generate.py") -> int:
    from . import video as video_cli

    if any(a.startswith("--walk-type") and "bspline" in a for a in argv) or "bspline" in argv:
        raise UserError("--walk-type=bspline is not implemented; use line, sphere, noiseloop or circularloop")
    args = latent_walk_parser(prog).parse_args(list(argv))
    kind, space = DVSCHULTZ_WALKS[args.walk_type]
    base = args.walk_type.split("-")[0]
    # dvschultz's file names: walk-z-line1-2-3-24fps.mp4, walk-w-sphere-dlatents-24fps.mp4, walk-z-noiseloop-seed0-24fps.mp4
    if space == "w":
        tag = f"w-{base}" + ("-".join(map(str, args.seeds)) if args.seeds else "-dlatents")
    elif "-" in args.walk_type:
        tag = f"z-{base}" + ("-".join(map(str, args.seeds)) if args.seeds else "-npys")
    else:
        tag = f"z-{args.walk_type}-seed{args.start_seed}"
    fps = f"{args.fps:g}"
    with one_line_warnings():
        path = video_cli.render_walk(
            args,
            kind,
            space,
            args.seeds,
            args.npys,
            f"walk-{tag}-{fps}fps",
            loop=args.loop,
            grid=args.grid,
            save_vectors=args.save_vector,
        )
    print(f"Wrote {path}")
    return 0


def truncation_traversal_parser(prog: str) -> argparse.ArgumentParser:
    from . import video as video_cli

    parser = argparse.ArgumentParser(
        prog=f"{prog} truncation-traversal",
        description="Truncation traversal video (dvschultz form).",
    )
    video_cli.add_common(parser, trunc=1.0, noise="seed", fps=24)
    parser.add_argument("--seed", type=cli_args.seed_list, default=None, help="the seed (its first value is used)")
    parser.add_argument(
        "--npys",
        type=video_cli.parse_files,
        default=None,
        help="one .npy/.npz latent instead of a seed",
    )
    parser.add_argument("--start", type=float, default=-1.0, help="first psi (default: %(default)s)")
    parser.add_argument("--stop", type=float, default=1.0, help="last psi (default: %(default)s)")
    parser.add_argument("--increment", type=float, default=0.1, help="psi step (default: %(default)s)")
    return parser


def truncation_traversal_main(argv: Sequence[str], prog: str = "generate.py") -> int:
    from . import video as video_cli

    args = truncation_traversal_parser(prog).parse_args(list(argv))
    seed = args.seed[0] if args.seed else None
    if seed is None and not args.npys:
        raise UserError("truncation-traversal needs --seed (e.g. --seed=42) or --npys")
    with one_line_warnings():
        path = video_cli.render_traversal(
            args,
            seed,
            args.npys,
            f"truncation-traversal-seed{seed}-start{args.start}-stop{args.stop}",
        )
    print(f"Wrote {path}")
    return 0


def lerp_video_parser(prog: str) -> argparse.ArgumentParser:
    from . import video as video_cli

    parser = argparse.ArgumentParser(
        prog=f"{prog} lerp-video", description="Closed-loop video of smoothed random latents (dvschultz form)."
    )
    video_cli.add_common(parser, trunc=1.0, noise="const", fps=30)
    parser.add_argument(
        "--seeds", type=cli_args.seed_list, required=True, help="one seed per walk, or one seed with a grid"
    )
    parser.add_argument("--grid-w", dest="grid_w", type=int, default=None, help="grid columns (with one seed)")
    parser.add_argument("--grid-h", dest="grid_h", type=int, default=None, help="grid rows (with one seed)")
    parser.add_argument("--slowdown", type=int, default=1, help="slow down by this power of 2 (default: 1)")
    parser.add_argument(
        "--duration-sec", dest="duration_sec", type=float, default=30.0, help="seconds (default: %(default)s)"
    )
    parser.add_argument(
        "--smoothing-sec", dest="smoothing_sec", type=float, default=3.0, help="blur in seconds (default: 3.0)"
    )
    return parser


def lerp_video_main(argv: Sequence[str], prog: str = "generate.py") -> int:
    import math

    from . import video as video_cli

    args = lerp_video_parser(prog).parse_args(list(argv))
    if args.slowdown < 1 or args.slowdown & (args.slowdown - 1):
        raise UserError(f"--slowdown={args.slowdown}: must be a power of 2 (1, 2, 4, 8, ...)")
    seeds = sorted(set(args.seeds))  # dvschultz's lerp-video sorts and de-duplicates its seeds
    if args.grid_w is None and args.grid_h is None:
        gw = max(math.ceil(math.sqrt(len(seeds))), 1)
        grid, cells = (gw, (len(seeds) - 1) // gw + 1), None
    elif args.grid_w and args.grid_h and len(seeds) == 1:
        grid, cells = (args.grid_w, args.grid_h), args.grid_w * args.grid_h
    else:
        raise UserError("give either a list of --seeds, or one seed with both --grid-w and --grid-h")
    from ..tools.video import double_frames, make_video, smoothed_random_loop

    frames = round(args.duration_sec * args.fps)
    if frames < 1:
        raise UserError("--duration-sec times --fps gives no frames")
    with one_line_warnings():
        G, dev = open_generator(args.network, args.device)
        lat = smoothed_random_loop(seeds, frames, G.z_dim, args.smoothing_sec * args.fps, cells)
        for _ in range(int(math.log2(args.slowdown))):
            lat = double_frames(lat)
        outdir = Path(args.outdir)
        path = outdir / f"{grid[0]}x{grid[1]}-lerp-{args.slowdown}xslowdown.{args.format}"
        make_video(
            G,
            "z",
            lat,
            path,
            **video_cli.render_options(args, dev, outdir, grid),
        )
    print(f"Wrote {path}")
    return 0


# --- scripts/style_mixing.py ---------------------------------------------------------------------------


def style_mixing_main(argv: Sequence[str] | None = None, prog: str = "style_mixing.py") -> int:
    """scripts/style_mixing.py: the NVlabs form, or dvschultz's `grid` sub-command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    return exit_code(lambda: _run_style_mixing(argv, prog))


def _run_style_mixing(argv: list[str], prog: str) -> int:
    from . import mix as mix_cli

    if argv and argv[0] == "grid":
        parser = argparse.ArgumentParser(prog=f"{prog} grid", description="Style-mixing grid (dvschultz form).")
        mix_cli.add_arguments(parser, default_trunc=0.5)
        return mix_cli.run(parser.parse_args(argv[1:]))
    if argv and argv[0] == "video":
        print(
            "error: dvschultz's 'style_mixing.py video' is not available here; "
            "use the grid form, or `stylegan2-ada video` for interpolation videos",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(prog=prog, description="Style-mixing grid (NVlabs form).")
    mix_cli.add_arguments(parser)
    return mix_cli.run(parser.parse_args(argv))


# --- scripts/dataset_tool.py ---------------------------------------------------------------------------


def dataset_tool_parser(prog: str = "dataset_tool.py") -> argparse.ArgumentParser:
    from . import prepare as prepare_cli

    parser = argparse.ArgumentParser(prog=prog, description="Turn a folder of photos into a StyleGAN2-ADA dataset.")
    prepare_cli.add_arguments(parser, default_mode="resize")
    return parser


def dataset_tool_main(argv: Sequence[str] | None = None, prog: str = "dataset_tool.py") -> int:
    """scripts/dataset_tool.py: NVIDIA's flags; the default transform is a plain resize, as theirs."""
    from . import prepare as prepare_cli

    args = dataset_tool_parser(prog).parse_args(argv)
    return exit_code(lambda: prepare_cli.run(args), prepare_cli.INTERRUPTED)
