"""`stylegan2-ada video`: interpolation walks, loops and truncation traversals as MP4 or GIF.

dvschultz's `generate.py generate-latent-walk`, `truncation-traversal` and `lerp-video` (cli/legacy.py)
render through the same functions.

stylegan2-ada video --network=NET --seeds=1,2,3 --walk=slerp --space=w --loop --frames=240 --fps=24
stylegan2-ada video --network=NET --walk=noiseloop --grid=3x2 --frames=120 --format=gif
stylegan2-ada video --network=NET --walk=truncation --seeds=42 --start=-1 --stop=1 --increment=0.05
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from ..errors import UserError
from ..tools.render import RenderSettings
from ..tools.video import EASINGS, FORMATS, SPACES, VIDEO_NOISE_MODES, WALKS
from . import args as cli_args
from .common import one_line_warnings, open_generator

CLI_WALKS = WALKS + ("truncation",)


def parse_grid(text: str) -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if m is None or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"expected WxH like 3x2, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def parse_files(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def add_common(parser: argparse.ArgumentParser, trunc: float, noise: str, fps: float) -> None:
    """Flags shared by `video` and the dvschultz sub-commands."""
    cli_args.add_network_argument(parser, help="network file, name or URL", aliases=("--network-pkl",))
    cli_args.add_truncation_arguments(parser, default_psi=trunc, aliases=("--truncation-psi",))
    cli_args.add_class_argument(parser)
    parser.add_argument(
        "--fps",
        dest="fps",
        type=float,
        default=fps,
        help="frames per second (default: %(default)s)",
    )
    cli_args.add_noise_mode_argument(
        parser,
        choices=VIDEO_NOISE_MODES,
        default=noise,
        help="noise inputs (default: %(default)s); fixnoise = RandomState(1) maps for every frame, "
        "seed = the seed's TF-era maps (truncation traversal)",
    )
    cli_args.add_outdir_argument(parser, help=cli_args.DVSCHULTZ_OUTDIR_HELP, default=cli_args.DVSCHULTZ_OUTDIR)
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="mp4",
        help="mp4 (H.264) or gif (default: %(default)s)",
    )
    parser.add_argument("--save-frames", action="store_true", help="also write frames/frameNNNNN.png")
    parser.add_argument(
        "--bitrate",
        default=None,
        help="MP4 bitrate such as 16M (default: ffmpeg quality 8 of 10)",
    )
    cli_args.add_batch_size_argument(parser)
    cli_args.add_device_arguments(parser)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common(parser, trunc=1.0, noise="const", fps=24)
    parser.add_argument(
        "--walk",
        choices=CLI_WALKS,
        default="linear",
        help="kind of walk (default: %(default)s)",
    )
    parser.add_argument(
        "--space",
        choices=SPACES,
        default="z",
        help="interpolate in z or w (default: %(default)s)",
    )
    parser.add_argument("--seeds", type=cli_args.seed_list, default=None, help="keypoint seeds, e.g. 1,2,3 or 0-5")
    parser.add_argument(
        "--latents",
        type=parse_files,
        default=None,
        metavar="FILES",
        help="comma-separated .npy/.npz keypoints instead of seeds (npz key w, dlatents or z)",
    )
    parser.add_argument(
        "--frames",
        type=int,
        default=240,
        help="number of frames (default: %(default)s)",
    )
    parser.add_argument("--easing", choices=tuple(EASINGS), default="linear", help="per-segment easing")
    parser.add_argument(
        "--loop",
        action="store_true",
        help="linear/slerp: go back from the last keypoint to the first",
    )
    parser.add_argument(
        "--diameter",
        type=float,
        default=2.0,
        help="noiseloop liveliness / circularloop diameter",
    )
    parser.add_argument(
        "--start-seed",
        "--start_seed",
        dest="start_seed",
        type=int,
        default=0,
        help="seed of the loops' randomness",
    )
    parser.add_argument(
        "--grid",
        type=parse_grid,
        default=None,
        metavar="WxH",
        help="a WxH grid of walks (seeds split evenly)",
    )
    parser.add_argument(
        "--start",
        type=float,
        default=-1.0,
        help="truncation walk: first psi (default: %(default)s)",
    )
    parser.add_argument(
        "--stop",
        type=float,
        default=1.0,
        help="truncation walk: last psi (default: %(default)s)",
    )
    parser.add_argument(
        "--increment",
        type=float,
        default=0.1,
        help="truncation walk: psi step (default: %(default)s)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="file name without extension (default: from the walk)",
    )
    parser.add_argument("--save-vectors", action="store_true", help="also write vectors/frameNNNNN.npy")


def render_walk(
    args: argparse.Namespace,
    walk_kind: str,
    space: str,
    seeds: list[int] | None,
    latent_files: list[str] | None,
    name: str,
    loop: bool = False,
    grid: tuple[int, int] | None = None,
    save_vectors: bool = False,
) -> Path:
    """Builds the walk's latents, renders and encodes them; returns the video's path."""
    import numpy as np

    from ..tools.video import Walk, grid_latents, load_latents, make_video
    from ..tools.video import save_vectors as write_vectors

    G, dev = open_generator(args.network, args.device)
    latents = None
    if latent_files:
        file_space, latents = load_latents(latent_files, G.z_dim, G.num_ws, G.w_dim)
        if file_space == "w" and space == "z":
            space = "w"  # ws can only be walked in w; dvschultz's --npys are ws
    walk = Walk(
        kind=walk_kind,
        space=space,
        seeds=seeds,
        latents=latents,
        easing=getattr(args, "easing", "linear"),
        loop=loop,
        diameter=args.diameter,
        start_seed=args.start_seed,
    )
    cells = grid[0] * grid[1] if grid else 1
    lat_space, lat = grid_latents(G, walk, args.frames, cells, video_settings(args, dev))
    outdir = Path(args.outdir)
    if save_vectors:
        write_vectors(lat.astype(np.float32), outdir / "vectors")
    path = outdir / f"{name}.{args.format}"
    make_video(
        G,
        lat_space,
        lat,
        path,
        **render_options(args, dev, outdir, grid),
    )
    return path


def render_traversal(
    args: argparse.Namespace,
    seed: int | None,
    latent_files: list[str] | None,
    name: str,
) -> Path:
    """Truncation traversal: one seed (or latent) at psi = start, start + increment, ..., stop."""
    from ..tools.video import load_latents, make_video, traversal_psis, truncation_ws

    psis = traversal_psis(args.start, args.stop, args.increment)
    G, dev = open_generator(args.network, args.device)
    latent = None
    if latent_files:
        _, latent = load_latents(latent_files, G.z_dim, G.num_ws, G.w_dim)
        if len(latent) != 1:
            raise UserError("truncation traversal takes one latent: give one file with one row")
    ws = truncation_ws(
        G,
        psis,
        seed,
        latent,
        truncation_cutoff=args.truncation_cutoff,
        class_idx=args.class_idx,
        device=dev,
    )
    noise = args.noise_mode
    if noise == "seed" and seed is None:
        noise = "fixnoise"  # no seed to draw the maps from
    outdir = Path(args.outdir)
    path = outdir / f"{name}.{args.format}"
    print(f"Truncation traversal: {len(psis)} frames, psi {psis[0]:g} to {psis[-1]:g}")
    make_video(
        G,
        "w",
        ws[:, None],
        path,
        fps=args.fps,
        noise_mode=noise,
        noise_seed=seed,
        batch_size=args.batch_size,
        device=dev,
        precision=args.precision,
        frames_dir=outdir / "frames" if args.save_frames else None,
        bitrate=args.bitrate,
    )
    return path


def run(args: argparse.Namespace) -> int:
    with one_line_warnings():
        if args.walk == "truncation":
            if args.seeds and len(args.seeds) > 1:
                raise UserError("--walk=truncation takes one seed (e.g. --seeds=42)")
            seed = args.seeds[0] if args.seeds else None
            name = args.name or f"truncation-traversal-seed{seed}-start{args.start}-stop{args.stop}"
            path = render_traversal(args, seed, args.latents, name)
        else:
            what = (
                "-".join(map(str, args.seeds))
                if args.seeds
                else ("latents" if args.latents else f"seed{args.start_seed}")
            )
            name = args.name or f"walk-{args.space}-{args.walk}-{what}"
            path = render_walk(
                args,
                args.walk,
                args.space,
                args.seeds,
                args.latents,
                name,
                loop=args.loop,
                grid=args.grid,
                save_vectors=args.save_vectors,
            )
    print(f"Wrote {path}")
    return 0


def video_settings(args: argparse.Namespace, dev: object) -> RenderSettings:
    """The render settings every video command takes from the same flags."""
    return cli_args.render_settings_from(args, dev)


def render_options(args: argparse.Namespace, dev: object, outdir: Path, grid: tuple[int, int] | None) -> dict:
    """make_video's keyword arguments that every video command takes from the same flags."""
    return {
        "fps": args.fps,
        "grid": grid,
        "settings": video_settings(args, dev),
        "frames_dir": outdir / "frames" if args.save_frames else None,
        "bitrate": args.bitrate,
    }
