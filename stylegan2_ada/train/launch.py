"""From command-line values to running processes: plan a run (new or continued), then train it in this
process, under torchrun, or in processes spawned here (--gpus=N).

The plan is made once (on rank 0 under torchrun) and checked completely before any folder is made: a
wrong --cfg, an unreadable dataset or an unknown metric fails first.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .evaluate import check_metric_names
from .options import (
    CHANGEABLE_WHEN_CONTINUING,
    DEFAULTS,
    FLAGS_BY_DEST,
    DatasetInfo,
    TrainOptions,
    build_options,
    next_run_dir,
)
from .state import ResumePoint


@dataclass
class RunPlan:
    opts: TrainOptions
    run_dir: Path
    continue_from: ResumePoint | None  # None: a new run
    notes: list[str] = field(default_factory=list)  # said before training starts


def dataset_info(path: str | None, seed: int = 0) -> DatasetInfo:
    from ..data.dataset import DatasetError, ImageDataset

    if not path:
        raise UserError("--data is required: a dataset zip or folder made by `stylegan2-ada prepare`")
    if not os.path.exists(path):
        raise UserError(f"--data={path}: no such file or folder; give the dataset zip or folder `stylegan2-ada prepare` made")
    try:
        ds = ImageDataset(path, use_labels=True, random_seed=seed)
    except DatasetError as exc:
        raise UserError(f"--data: {exc}") from None
    try:
        ds.check_images()  # what the run would find image by image: a dry run fails on it too
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


def _run_to_continue(raw: dict[str, Any]) -> Path | None:
    resume = raw.get("resume")
    if resume == "latest":
        from .state import find_latest_run

        return find_latest_run(Path(raw.get("outdir") or DEFAULTS["outdir"]))
    if resume and Path(resume).is_dir():
        return Path(resume)
    return None


def _continued_options(raw: dict[str, Any], opts: TrainOptions, run_dir: Path) -> tuple[TrainOptions, list[str]]:
    """The run's saved options with the flags a continued run may change; a note names the ignored ones."""
    always_read = {"gpus", "batch_gpu", "resume", "outdir", "dry_run"}
    ignored = sorted(
        FLAGS_BY_DEST[key].name if key in FLAGS_BY_DEST else f"--{key}"
        for key, value in raw.items()
        if value is not None and key not in set(CHANGEABLE_WHEN_CONTINUING) | always_read
    )
    notes = []
    if ignored:
        notes.append(
            f"Note: continuing {run_dir.name} with its saved options; ignoring {', '.join(ignored)} "
            "(start a new run, or --resume=<its snapshot> for transfer, to change them)"
        )
    changes: dict[str, Any] = {}
    for dest in CHANGEABLE_WHEN_CONTINUING:
        if raw.get(dest) is not None:
            value = raw[dest]
            changes[FLAGS_BY_DEST[dest].field] = tuple(value) if isinstance(value, list) else value
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
        raise UserError(f"--batch-gpu={opts.batch_gpu} does not divide the run's batch {opts.batch} over {opts.gpus}")
    return opts, notes


def plan_run(raw: dict[str, Any], world: int | None = None) -> RunPlan:
    """Options, run folder and the kimg to continue from, for the command-line values `raw` (by flag
    dest, None where not given). `world`: the process count torchrun started."""
    if world is not None:
        raw = dict(raw, gpus=world)
    run_dir = _run_to_continue(raw)
    if run_dir is not None:
        from .state import resume_points

        points, skipped = resume_points(run_dir)
        if not points:
            raise UserError(
                f"--resume={raw['resume']}: {run_dir} has no network-snapshot with a training-state file saved "
                "with it to continue from; to start a new run from a snapshot file in it, pass that file instead"
            )
        opts, notes = _continued_options(raw, TrainOptions.load(run_dir), run_dir)
        notes += [f"Note: {why}" for why in skipped]
        newest = "the newest complete pair" if skipped else "the newest pair"
        notes.append(f"Continuing from {newest}: {points[0].describe(run_dir)}")
        return RunPlan(opts, run_dir, points[0], notes)
    info = dataset_info(raw.get("data"), int(raw.get("seed") or 0))
    opts = build_options(raw, info)
    notes = []
    # A wrong --cfg fails here, before a folder is made. A dry run checks local files only (it downloads nothing).
    if opts.resume and (not raw.get("dry_run") or Path(opts.resume).is_file()):
        from .transfer import preflight

        preflight(opts.resume, opts.G, opts.cfg)
    elif opts.resume:
        notes.append(f"Dry run: --resume={opts.resume} is not a local file, so it was not fetched or checked")
    return RunPlan(opts, next_run_dir(opts.outdir, opts.desc), None, notes)


# --- running it ------------------------------------------------------------------------------------


def train_here(plan: RunPlan, env: Any, preamble: str = "") -> None:
    """Trains in this process (one of `env.world`); rank 0 makes the folder, log.txt (starting with
    `preamble`, what was printed before) and the options file. A new run that stops before its first
    snapshot leaves no folder behind."""
    from .loop import training_loop
    from .outputs import Tee

    tee = None
    new_folder = env.is_main and not plan.run_dir.exists()
    if env.is_main:
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        tee = Tee(plan.run_dir / "log.txt", preamble)
        plan.opts.save(plan.run_dir)  # a continued run records its changes (e.g. a longer --kimg) for the next one
        if plan.continue_from is not None:
            from .state import remove_stale_temps

            for path in remove_stale_temps(plan.run_dir):
                print(f"Removed {path.name}, a partial write of an interrupted run")
    try:
        training_loop(plan.opts, plan.run_dir, env, plan.continue_from)
        if env.world > 1:
            import torch.distributed as dist

            dist.barrier()  # no process tears the group down while rank 0 still writes the last snapshot
    except BaseException:
        if tee is not None:
            tee.close()
            tee = None
        if new_folder and not any(plan.run_dir.glob("network-snapshot-*")):
            shutil.rmtree(plan.run_dir, ignore_errors=True)
            print(f"The run stopped before its first snapshot: removed {plan.run_dir} (nothing to continue from)")
        raise
    finally:
        if tee is not None:
            tee.close()


def _spawned_process(
    rank: int,
    world: int,
    init_method: str,
    opts_dict: dict[str, Any],
    run_dir: str,
    continue_from: ResumePoint | None,
) -> None:
    """Entry of one spawned process (--gpus=N without torchrun)."""
    from ..device import pick_device
    from ..distributed import init_spawned, shutdown

    opts = TrainOptions.from_dict(opts_dict)
    device_type = pick_device(opts.device).type
    if device_type == "cpu":
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))  # share the cores, don't fight
    env = init_spawned(rank, world, init_method, device_type)
    try:
        train_here(RunPlan(opts, Path(run_dir), continue_from), env)
    finally:
        shutdown()


def _check_devices(opts: TrainOptions) -> list[str]:
    import torch

    from ..device import pick_device

    dev = pick_device(opts.device)
    if dev.type == "cuda" and torch.cuda.device_count() < opts.gpus:
        raise UserError(f"--gpus={opts.gpus} but this machine has {torch.cuda.device_count()} GPU(s)")
    if dev.type == "mps":
        raise UserError("--gpus>1 is not supported on Apple MPS: use --gpus=1")
    if dev.type == "cpu":
        return [f"Note: --gpus={opts.gpus} on CPU runs {opts.gpus} processes with gloo (for testing; slow)"]
    return []


def spawn_training(plan: RunPlan) -> None:
    """--gpus=N without torchrun: N processes on this machine, one per GPU (gloo processes on a CPU)."""
    from ..distributed import spawn

    for note in _check_devices(plan.opts):
        print(note)
    spawn(_spawned_process, plan.opts.gpus, (plan.opts.to_dict(), str(plan.run_dir), plan.continue_from))


def plan_on_every_process(raw: dict[str, Any], env: Any) -> RunPlan:
    """Under torchrun with several processes, rank 0 plans and the others receive its plan (or its error),
    so every process trains the same options in the same folder."""
    if env is None or env.world == 1:
        return plan_run(raw, env.world if env is not None else None)
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
    return box[0]
