"""`stylegan2-ada export`: a synthetic training set (dataset zip + manifest.json + ws.npz) from seeds."""

from __future__ import annotations

import argparse

from ..errors import UserError
from ..metrics.memorization import FEATURE_KINDS
from ..tools.export import EXPORT_NOISE_MODES, export_dataset, make_items
from . import args as cli_args
from .common import command_device, one_line_warnings, open_network


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli_args.add_network_argument(parser, help="snapshot, NVIDIA .pkl, name or URL")
    parser.add_argument(
        "--seeds",
        required=True,
        type=cli_args.seed_list,
        help="seeds, e.g. 0-9999 (ranges inclusive)",
    )
    cli_args.add_outdir_argument(parser, help="writes DIR/dataset.zip, manifest.json, ws.npz")
    cli_args.add_truncation_arguments(parser, help="truncation psi", cutoff_help=None)
    parser.add_argument(
        "--class",
        dest="classes",
        type=cli_args.seed_list,
        default=None,
        metavar="LIST",
        help="classes of a conditional network, e.g. 0-9: every seed is rendered for each",
    )
    cli_args.add_noise_mode_argument(parser, choices=EXPORT_NOISE_MODES, default="const", help="(default: const)")
    cli_args.add_batch_size_argument(parser, default=16, help="images per forward pass (recorded; default 16)")
    parser.add_argument(
        "--drop-memorized",
        type=float,
        default=0.0,
        metavar="FRACTION",
        help="drop this fraction of images closest to a training image (needs --data)",
    )
    parser.add_argument(
        "--data",
        default=None,
        metavar="DATASET",
        help="training data for --drop-memorized",
    )
    parser.add_argument(
        "--features",
        default="auto",
        choices=FEATURE_KINDS,
        help="for --drop-memorized",
    )
    parser.add_argument(
        "--min-d-score",
        type=float,
        default=None,
        metavar="S",
        help="keep images whose D logit is at least S",
    )
    cli_args.add_device_arguments(parser, precision=False)


def run(args: argparse.Namespace) -> int:
    with one_line_warnings():
        dev = command_device(args.device)
        snapshot = open_network(args.network, dev)
        G = snapshot.generator
        D = snapshot.networks.get("D") if args.min_d_score is not None else None
        items = make_items(args.seeds, args.classes, G.c_dim)
        feature_fn, feature_name = None, ""
        if args.drop_memorized > 0:
            if args.data is None:
                raise UserError("--drop-memorized needs the training data: add --data=DATASET")
            from ..metrics.memorization import pick_features

            feature_name, feature_fn = pick_features(args.features, G.img_resolution, dev)
        manifest = export_dataset(
            G,
            items,
            args.outdir,
            cli_args.render_settings_from(args),
            network_source=args.network,
            drop_memorized=args.drop_memorized,
            training_data=args.data,
            feature_fn=feature_fn,
            feature_name=feature_name,
            min_d_score=args.min_d_score,
            D=D,
        )
    kept = manifest["filters"]["kept"]
    print(f"Wrote {kept} of {manifest['filters']['candidates']} images to {args.outdir}/{manifest['dataset']}")
    return 0
