"""`stylegan2-ada memorization`: are the generated images copies of training images?"""

from __future__ import annotations

import argparse

from ..errors import UserError
from ..metrics.memorization import (
    FEATURE_KINDS,
    PERCENTILE,
    load_image_set,
    memorization_report,
    pick_features,
    write_report,
)
from ..tools.export import EXPORT_NOISE_MODES, EXPORT_SETTINGS, Item, render_images
from . import args as cli_args
from .common import command_device, one_line_warnings, open_network


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        required=True,
        metavar="DATASET",
        help="the training images (dataset zip or folder)",
    )
    cli_args.add_outdir_argument(parser, help="where to write memorization.html/.png/.json")
    parser.add_argument("--generated", metavar="PATH", help="folder or zip of generated images to check")
    cli_args.add_network_argument(parser, help="or generate them: network to render --seeds with", required=False)
    parser.add_argument("--seeds", type=cli_args.seed_list, help="seeds to render with --network, e.g. 0-99")
    cli_args.add_truncation_arguments(parser, help="truncation psi", cutoff=False)
    cli_args.add_class_argument(parser, help="class (conditional nets)")
    cli_args.add_noise_mode_argument(
        parser,
        choices=EXPORT_NOISE_MODES,
        default="const",
        help="noise (default: const)",
    )
    parser.add_argument(
        "--features",
        default="auto",
        choices=FEATURE_KINDS,
        help="feature space: auto = Inception if its file is on this machine, else pixels (default: auto)",
    )
    parser.add_argument(
        "--percentile",
        type=float,
        default=PERCENTILE,
        help="flag pairs closer than this percentile of training nearest-neighbour distances (default: %(default)s)",
    )
    parser.add_argument(
        "--max-pairs",
        type=int,
        default=64,
        help="closest pairs shown in the PNG/HTML (default: 64)",
    )
    cli_args.add_device_arguments(parser, precision=False)


def run(args: argparse.Namespace) -> int:
    if (args.generated is None) == (args.network is None):
        raise UserError("give either --generated=FOLDER_OR_ZIP or --network=NET with --seeds")
    if not 0 < args.percentile < 100:
        raise UserError(f"--percentile={args.percentile}: must be between 0 and 100")
    with one_line_warnings():
        dev = command_device(args.device)
        train_names, training = load_image_set(args.data)
        if args.generated is not None:
            gen_names, generated = load_image_set(args.generated)
        else:
            if not args.seeds:
                raise UserError("--network needs --seeds, e.g. --seeds=0-99")
            G = open_network(args.network, dev).generator
            if G.c_dim and args.class_idx is None:
                raise UserError(f"this network is conditional ({G.c_dim} classes): choose one with --class")
            cls = args.class_idx if G.c_dim else None
            items = [Item(s, cls) for s in args.seeds]
            # Export's settings (its batches of 16), so these are the pictures export makes of the seeds.
            settings = cli_args.render_settings_from(args, base=EXPORT_SETTINGS, skip=("class_idx",))
            generated, _ = render_images(G, items, settings)
            gen_names = [f"seed{s:04d}" for s in args.seeds]
        name, feature_fn = pick_features(args.features, training.shape[1], dev)
        report = memorization_report(
            generated,
            gen_names,
            training,
            train_names,
            feature_fn,
            name,
            percentile=args.percentile,
        )
        paths = write_report(
            report,
            generated,
            gen_names,
            training,
            args.outdir,
            max_pairs=args.max_pairs,
        )
    flagged = sum(m.flagged for m in report.matches)
    print(f"{flagged} of {report.num_generated} generated images are closer to a training image than the threshold")
    print("Wrote " + ", ".join(str(p) for p in paths.values()))
    return 0
