"""`stylegan2-ada export`: a synthetic training set (dataset zip + manifest.json + ws.npz) from seeds."""

from __future__ import annotations

import argparse

from ..device import pick_device
from ..errors import UserError
from .export import EXPORT_NOISE_MODES, RenderSettings, export_dataset, make_items
from .generate_cli import one_line_warnings
from .seeds import parse_seeds


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        required=True,
        metavar="NET",
        help="snapshot, NVIDIA .pkl, name or URL",
    )
    parser.add_argument(
        "--seeds",
        required=True,
        type=parse_seeds,
        help="seeds, e.g. 0-9999 (ranges inclusive)",
    )
    parser.add_argument(
        "--outdir",
        required=True,
        metavar="DIR",
        help="writes DIR/dataset.zip, manifest.json, ws.npz",
    )
    parser.add_argument(
        "--trunc",
        dest="truncation_psi",
        type=float,
        default=1.0,
        metavar="PSI",
        help="truncation psi",
    )
    parser.add_argument("--trunc-cutoff", dest="truncation_cutoff", type=int, default=None, metavar="N")
    parser.add_argument(
        "--class",
        dest="classes",
        type=parse_seeds,
        default=None,
        metavar="LIST",
        help="classes of a conditional network, e.g. 0-9: every seed is rendered for each",
    )
    parser.add_argument(
        "--noise-mode",
        choices=EXPORT_NOISE_MODES,
        default="const",
        help="(default: const)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=16,
        help="images per forward pass (recorded; default 16)",
    )
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
        choices=("auto", "inception", "pixels"),
        help="for --drop-memorized",
    )
    parser.add_argument(
        "--min-d-score",
        type=float,
        default=None,
        metavar="S",
        help="keep images whose D logit is at least S",
    )
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")


def run(args: argparse.Namespace) -> int:
    from ..io.load import load_networks

    with one_line_warnings():
        try:
            dev = pick_device(args.device)
        except RuntimeError as exc:
            raise UserError(str(exc)) from exc
        print(f'Loading networks from "{args.network}"...')
        snapshot = load_networks(args.network, dev)
        G = snapshot.generator
        D = snapshot.networks.get("D") if args.min_d_score is not None else None
        items = make_items(args.seeds, args.classes, G.c_dim)
        feature_fn, feature_name = None, ""
        if args.drop_memorized > 0:
            if args.data is None:
                raise UserError("--drop-memorized needs the training data: add --data=DATASET")
            from .memorization import pick_features

            feature_name, feature_fn = pick_features(args.features, G.img_resolution, dev)
        manifest = export_dataset(
            G,
            items,
            args.outdir,
            RenderSettings(
                args.truncation_psi,
                args.truncation_cutoff,
                args.noise_mode,
                args.batch_size,
            ),
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
