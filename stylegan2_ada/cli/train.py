"""`stylegan2-ada train` and scripts/train.py: NVIDIA's and dvschultz's training flags.

Booleans take NVIDIA's `--mirror=1` and dvschultz's `--mirror=True` (or a bare `--mirror`);
`--metrics=fid50k_full,kid50k_full` computes those metrics after every snapshot (`none`/`None`, the
default, computes none). `--resume` takes a pretrained name, file or URL (transfer learning:
a new run starting from those weights), or `latest` / a run folder (continue that run exactly).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..train.evaluate import check_metric_names
from ..train.options import (
    AUG_MODES,
    AUGPIPES,
    DatasetInfo,
    TrainOptions,
    build_options,
    next_run_dir,
)

TRUE = ("1", "true", "yes", "y", "on")
FALSE = ("0", "false", "no", "n", "off")


def parse_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    if text.lower() in TRUE:
        return True
    if text.lower() in FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True/False (or 1/0), got {text!r}")


def parse_metrics(text: str) -> list[str]:
    if text is None or text.strip().lower() in ("", "none"):
        return []
    return [m.strip() for m in text.split(",") if m.strip()]


def parse_grid(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 8x4, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError("grid sides must be at least 1")
    return w, h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    def flag(name: str, help_text: str) -> None:
        parser.add_argument(name, type=parse_bool, nargs="?", const=True, default=None, metavar="BOOL", help=help_text)

    g = parser.add_argument_group("general")
    g.add_argument("--outdir", default="results", help="where run folders are made [default: results]")
    g.add_argument("--data", help="dataset zip or folder (NVIDIA format, e.g. from `stylegan2-ada prepare`)")
    g.add_argument("--gpus", type=int, default=None, help="processes/GPUs [default: 1; torchrun sets its own]")
    g.add_argument("--snap", type=int, default=None, help="snapshot every N ticks [default: 50]")
    g.add_argument("--tick", type=float, default=None, help="kimg per tick [default: 4]")
    g.add_argument("--keep", type=int, default=None, help="keep only the newest N snapshots [default: all]")
    flag("--nvidia-pkl", "also write each snapshot as a .pkl that NVIDIA's code loads [default: False]")
    g.add_argument(
        "--metrics",
        type=parse_metrics,
        default=None,
        help="metrics after each snapshot, comma-separated (fid50k_full, kid50k_full, pr50k3_full, ppl2_wend, "
        "is50k, or a count such as fid10k_full), written to metric-<name>.jsonl; none [default: none]",
    )
    g.add_argument(
        "--grid", type=parse_grid, default=None, metavar="WxH", help="image-grid size [default: ~7680x4320 px]"
    )
    g.add_argument("--seed", type=int, default=None, help="random seed [default: 0]")
    g.add_argument("-n", "--dry-run", action="store_true", help="print the options and exit")
    g.add_argument("--device", default=None, help="auto, cuda, cpu, mps [default: auto]")
    d = parser.add_argument_group("dataset")
    flag("--cond", "train a conditional model (labels from dataset.json)")
    d.add_argument("--subset", type=int, default=None, help="train with only N images")
    flag("--mirror", "add x-flipped copies of the images")
    flag("--mirrory", "add vertically flipped copies (dvschultz)")
    b = parser.add_argument_group("base config")
    b.add_argument("--cfg", default=None, help="auto, stylegan2, paper256, paper512, paper1024, cifar [default: auto]")
    b.add_argument("--gamma", type=float, default=None, help="R1 weight")
    b.add_argument("--kimg", type=float, default=None, help="training length in thousands of real images")
    b.add_argument("--batch", type=int, default=None, help="global batch size")
    b.add_argument("--batch-gpu", type=int, default=None, help="images per process per accumulation round")
    b.add_argument("--glr", type=float, default=None, help="G learning rate")
    b.add_argument("--dlr", type=float, default=None, help="D learning rate")
    b.add_argument("--map-depth", type=int, default=None, help="mapping network layers")
    b.add_argument("--mbstd-group", type=int, default=None, help="minibatch-stddev group size")
    b.add_argument("--cbase", type=int, default=None, help="channel base (32768 = fmaps 1)")
    b.add_argument("--cmax", type=int, default=None, help="max channels per layer")
    a = parser.add_argument_group("augmentation")
    a.add_argument("--aug", choices=AUG_MODES, default=None, help="ada, fixed or noaug [default: ada]")
    a.add_argument("--p", type=float, default=None, help="augment probability (fixed; initial value for ada)")
    a.add_argument("--target", type=float, default=None, help="ADA target [default: 0.6]")
    a.add_argument("--augpipe", choices=AUGPIPES, default=None, help="augmentation pipeline [default: bgc]")
    t = parser.add_argument_group("transfer learning / continuing")
    t.add_argument(
        "--resume", default=None, help="ffhq1024|...|PKL|URL|.safetensors (transfer) or latest|RUN_DIR (continue)"
    )
    t.add_argument("--freezed", type=int, default=None, help="freeze the first N layers of D [default: 0]")
    p = parser.add_argument_group("performance")
    flag("--fp32", "disable mixed precision")
    p.add_argument(
        "--precision",
        choices=("auto", "fp16", "bf16", "fp32"),
        default=None,
        help="dtype of the mixed-precision blocks [default: auto = fp16 on CUDA, fp32 elsewhere]",
    )
    flag("--nhwc", "channels-last memory format in the fp16 layers")
    flag("--allow-tf32", "allow TF32 matmuls/convolutions")
    flag("--nobench", "disable cuDNN benchmarking")
    p.add_argument("--workers", type=int, default=None, help="data loader processes [default: 3 on GPU, 0 on CPU]")


def dataset_info(path: str, seed: int = 0) -> DatasetInfo:
    from ..data.dataset import DatasetError, ImageDataset

    if not path:
        raise UserError("--data is required: a dataset zip or folder made by `stylegan2-ada prepare`")
    try:
        ds = ImageDataset(path, use_labels=True, random_seed=seed)
    except DatasetError as exc:
        raise UserError(f"--data: {exc}") from None
    info = DatasetInfo(
        path=os.path.abspath(path),
        name=ds.name,
        resolution=ds.resolution,
        channels=ds.num_channels,
        label_dim=ds.label_dim if ds.has_labels else 0,
        size=len(ds),
    )
    ds.close()
    return info


def _continue_target(raw: dict[str, Any]) -> Path | None:
    resume = raw.get("resume")
    if resume == "latest":
        from ..train.state import find_latest_run

        return find_latest_run(Path(raw.get("outdir") or "results"))
    if resume and Path(resume).is_dir():
        return Path(resume)
    return None


def plan_run(raw: dict[str, Any], world: int | None) -> tuple[TrainOptions, Path, int | None]:
    """Options, run folder and the kimg to continue from (None for a new run)."""
    if world is not None:
        raw = dict(raw, gpus=world)
    run_dir = _continue_target(raw)
    if run_dir is not None:
        from ..train.state import latest_resumable

        kimg = latest_resumable(run_dir)
        if kimg is None:
            raise UserError(
                f"--resume={raw['resume']}: {run_dir} has no network-snapshot with a training-state file to "
                "continue from; to start a new run from a snapshot file in it, pass that file instead"
            )
        opts = TrainOptions.load(run_dir)
        changes: dict[str, Any] = {}
        changeable = (
            ("kimg", "total_kimg"),
            ("snap", "snap"),
            ("keep", "keep"),
            ("nvidia_pkl", "nvidia_pkl"),
            ("tick", "kimg_per_tick"),
            ("workers", "workers"),
            ("metrics", "metrics"),
            ("device", "device"),
            ("grid", "grid"),
        )
        ignored = sorted(
            f"--{key.replace('_', '-')}"
            for key, value in raw.items()
            if value is not None
            and key not in {k for k, _ in changeable} | {"gpus", "batch_gpu", "resume", "outdir", "dry_run"}
        )
        if ignored:
            print(
                f"Note: continuing {run_dir.name} with its saved options; ignoring {', '.join(ignored)} "
                "(start a new run, or --resume=<its snapshot> for transfer, to change them)"
            )
        for key, field in changeable:
            if raw.get(key) is not None:
                changes[field] = tuple(raw[key]) if key in ("metrics", "grid") else raw[key]
        if "metrics" in changes:
            check_metric_names(changes["metrics"])  # a typo fails before the run is touched
        if raw.get("gpus") is not None and raw["gpus"] != opts.gpus:
            gpus = raw["gpus"]
            batch_gpu = raw.get("batch_gpu") or max(opts.batch // gpus, 1)
            if opts.batch % (gpus * batch_gpu) != 0:
                raise UserError(f"the run's batch {opts.batch} does not split over {gpus} processes x {batch_gpu}")
            changes.update(gpus=gpus, batch_gpu=batch_gpu)
        elif raw.get("batch_gpu") is not None:
            changes["batch_gpu"] = raw["batch_gpu"]
        opts = dataclasses.replace(opts, **changes)
        if opts.batch % (opts.batch_gpu * opts.gpus) != 0:
            raise UserError(
                f"--batch-gpu={opts.batch_gpu} does not divide the run's batch {opts.batch} over {opts.gpus}"
            )
        return opts, run_dir, kimg
    info = dataset_info(raw.get("data"), int(raw.get("seed") or 0))
    opts = build_options(raw, info)
    # A wrong --cfg fails here, before a folder is made. A dry run checks local files only (it downloads nothing).
    if opts.resume and (not raw.get("dry_run") or Path(opts.resume).is_file()):
        from ..train.transfer import preflight

        preflight(opts.resume, opts.G, opts.cfg)
    elif opts.resume:
        print(f"Dry run: --resume={opts.resume} is not a local file, so it was not fetched or checked")
    return opts, next_run_dir(opts.outdir, opts.desc), None


def _train_process(
    rank: int,
    world: int,
    init_method: str,
    opts_dict: dict[str, Any],
    run_dir: str,
    continue_kimg: int | None,
) -> None:
    """Entry of one spawned process (--gpus=N without torchrun)."""
    from ..distributed import init_spawned, shutdown

    opts = TrainOptions.from_dict(opts_dict)
    from ..device import pick_device

    device_type = pick_device(opts.device).type
    if device_type == "cpu":
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # share the cores, don't fight
    env = init_spawned(rank, world, init_method, device_type)
    try:
        _train(opts, Path(run_dir), env, continue_kimg)
    finally:
        shutdown()


def _train(opts: TrainOptions, run_dir: Path, env: Any, continue_kimg: int | None) -> None:
    from ..train.loop import training_loop
    from ..train.outputs import Tee

    tee = None
    if env.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        tee = Tee(run_dir / "log.txt")
        opts.save(run_dir)  # a continued run records its changes (e.g. a longer --kimg) for the next one
        if continue_kimg is not None:
            from ..train.state import remove_stale_temps

            for path in remove_stale_temps(run_dir):
                print(f"Removed {path.name}, a partial write of an interrupted run")
    try:
        training_loop(opts, run_dir, env, continue_kimg)
    finally:
        if tee is not None:
            tee.close()


def run(args: argparse.Namespace) -> int:
    from ..distributed import init_from_env, launched_by_torchrun, shutdown, spawn

    raw = {k: v for k, v in vars(args).items() if k not in ("command",)}
    torchrun = launched_by_torchrun()
    env = None
    if torchrun:
        from ..device import pick_device

        env = init_from_env(pick_device(raw.get("device")).type)
    try:
        if env is not None and env.world > 1:
            import torch.distributed as dist

            box: list[Any] = [None]
            if env.is_main:
                try:
                    box[0] = plan_run(raw, env.world)
                except UserError as exc:
                    box[0] = exc
            dist.broadcast_object_list(box, src=0)
            if isinstance(box[0], Exception):
                raise box[0]
            opts, run_dir, continue_kimg = box[0]
        else:
            opts, run_dir, continue_kimg = plan_run(raw, env.world if env is not None else None)
        if env is None or env.is_main:
            _print_plan(opts, run_dir, continue_kimg)
        if args.dry_run:
            if env is None or env.is_main:
                print(json.dumps(opts.to_dict(), indent=2))
                print("Dry run: nothing trained, no folder made.")
            return 0
        if env is not None:
            _train(opts, run_dir, env, continue_kimg)
        elif opts.gpus > 1:
            _check_devices(opts)
            spawn(_train_process, opts.gpus, (opts.to_dict(), str(run_dir), continue_kimg))
        else:
            from ..distributed import DistEnv

            _train(opts, run_dir, DistEnv(), continue_kimg)
    finally:
        if torchrun:
            shutdown()
    return 0


def _check_devices(opts: TrainOptions) -> None:
    import torch

    from ..device import pick_device

    dev = pick_device(opts.device)
    if dev.type == "cuda" and torch.cuda.device_count() < opts.gpus:
        raise UserError(f"--gpus={opts.gpus} but this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps":
        raise UserError("--gpus>1 is not supported on Apple MPS: use --gpus=1")
    if dev.type == "cpu":
        print(f"Note: --gpus={opts.gpus} on CPU runs {opts.gpus} processes with gloo (for testing; slow)")


def _print_plan(opts: TrainOptions, run_dir: Path, continue_kimg: int | None) -> None:
    print()
    print("Training options:")
    if continue_kimg is not None:
        print(f"  continuing run:    {run_dir} from network-snapshot-{continue_kimg:06d}")
    else:
        print(f"  output directory:  {run_dir}")
    print(f"  dataset:           {opts.data} ({opts.resolution}x{opts.resolution})")
    print(
        f"  cfg:               {opts.cfg} (batch {opts.batch}, batch-gpu {opts.batch_gpu}, gamma {opts.gamma:g}, "
        f"lr G {opts.glr:g} D {opts.dlr:g}, map {opts.G.mapping.num_layers}, cbase {opts.G.channel_base})"
    )
    print(
        f"  length:            {opts.total_kimg:g} kimg, ticks of {opts.kimg_per_tick:g} kimg, snapshot every {opts.snap}"
    )
    aug = (
        "none"
        if opts.aug == "noaug"
        else f"{opts.aug} {opts.augpipe} p={opts.p:g}" + (f" target={opts.target:g}" if opts.target is not None else "")
    )
    print(f"  augmentation:      {aug}; mirror x {opts.mirror}, y {opts.mirrory}")
    resume = "continuing (the run's own snapshot above)" if continue_kimg is not None else (opts.resume or "none")
    print(f"  resume:            {resume}; freezed {opts.freezed}")
    print(f"  processes:         {opts.gpus}")
    if opts.metrics:
        print(f"  metrics:           {','.join(opts.metrics)} after every snapshot (metric-<name>.jsonl)")
    else:
        print("  metrics:           none")
    print()
