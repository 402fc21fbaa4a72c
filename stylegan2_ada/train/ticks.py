"""What a run does once per tick: time it, print NVIDIA's tick line, write stats, and at snapshot ticks save
the networks with their training state, render the fakes grid and compute the metrics.

Each progress value is defined once in `PROGRESS` (its stats.jsonl name, its tick-line label and format),
so the line people read and the file tools read cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..distributed import all_reduce_sum
from .outputs import (
    StatsWriter,
    cpu_mem_gb,
    format_time,
    grid_indices,
    grid_shape,
    plot_progress,
    save_grid,
)
from .state import TrainState, prune_snapshots, save_training_state, snapshot_path

if TYPE_CHECKING:
    from .loop import Trainer


@dataclass
class TickClock:
    """Wall-clock times of the run: its start, the current tick's start, and the maintenance before it."""

    start_time: float
    tick_start_time: float = 0.0
    tick_start_nimg: int = 0
    maintenance_sec: float = 0.0
    _last_tick_end: float | None = None

    @classmethod
    def start(cls) -> TickClock:
        return cls(start_time=time.time())

    def begin_tick(self, cur_nimg: int) -> None:
        now = time.time()
        self.maintenance_sec = now - (self._last_tick_end if self._last_tick_end is not None else self.start_time)
        self.tick_start_time, self.tick_start_nimg = now, cur_nimg

    def tick_nimg(self, cur_nimg: int) -> int:
        return cur_nimg - self.tick_start_nimg

    def end_tick(self) -> float:
        self._last_tick_end = time.time()
        return self._last_tick_end


def _gpu_mem_gb(device: torch.device) -> float:
    """Peak GPU memory since the last tick (and reset for the next)."""
    if device.type != "cuda":
        return 0.0
    peak = torch.cuda.max_memory_allocated(device) / 2**30
    torch.cuda.reset_peak_memory_stats(device)
    return peak


# (stats.jsonl name, tick-line label, how the tick line shows it), in the tick line's order.
PROGRESS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("Progress/tick", "tick", lambda v: f"{int(v):<5d}"),
    ("Progress/kimg", "kimg", lambda v: f"{v:<8.1f}"),
    ("Timing/total_sec", "time", lambda v: f"{format_time(v):<12s}"),
    ("Timing/sec_per_tick", "sec/tick", lambda v: f"{v:<7.1f}"),
    ("Timing/sec_per_kimg", "sec/kimg", lambda v: f"{v:<7.2f}"),
    ("Timing/maintenance_sec", "maintenance", lambda v: f"{v:<6.1f}"),
    ("Resources/cpu_mem_gb", "cpumem", lambda v: f"{v:<6.2f}"),
    ("Resources/peak_gpu_mem_gb", "gpumem", lambda v: f"{v:<6.2f}"),
    ("Progress/augment", "augment", lambda v: f"{v:.3f}"),
)


def progress_values(trainer: Trainer, clock: TickClock, tick_end: float) -> dict[str, float]:
    tick_sec = tick_end - clock.tick_start_time
    values = {
        "Progress/tick": trainer.cur_tick,
        "Progress/kimg": trainer.cur_nimg / 1e3,
        "Timing/total_sec": tick_end - clock.start_time,
        "Timing/sec_per_tick": tick_sec,
        "Timing/sec_per_kimg": tick_sec / max(clock.tick_nimg(trainer.cur_nimg), 1) * 1e3,
        "Timing/maintenance_sec": clock.maintenance_sec,
        "Resources/cpu_mem_gb": cpu_mem_gb(),
        "Resources/peak_gpu_mem_gb": _gpu_mem_gb(trainer.device),
        "Progress/augment": trainer.augment_p,
    }
    assert list(values) == [name for name, _, _ in PROGRESS]
    return values


def tick_line(values: dict[str, float]) -> str:
    """NVIDIA's progress line: `tick N kimg K time T sec/tick S sec/kimg S maintenance M ...`."""
    return " ".join(f"{label} {show(values[name])}" for name, label, show in PROGRESS)


def as_stats(values: dict[str, float]) -> dict[str, dict[str, float]]:
    """stats.jsonl's layout for single values: {name: {num, mean, std}}."""
    return {name: {"num": 1, "mean": value, "std": 0.0} for name, value in values.items()}


@dataclass
class FixedGrid:
    """The same reals and latents in every image grid of a run."""

    shape: tuple[int, int]
    indices: list[int]
    z: torch.Tensor
    c: torch.Tensor

    @classmethod
    def for_run(cls, trainer: Trainer) -> FixedGrid:
        opts, dev = trainer.opts, trainer.device
        gw, gh = opts.grid or grid_shape(opts.resolution)
        indices = grid_indices(trainer.dataset, gw, gh, seed=0)
        z = torch.from_numpy(np.random.RandomState(opts.seed).randn(gw * gh, trainer.G.z_dim)).float().to(dev)
        if opts.G.c_dim == 0:
            c = torch.zeros([gw * gh, 0], device=dev)
        else:
            c = torch.from_numpy(np.stack([trainer.dataset.get_label(i) for i in indices])).float().to(dev)
        return cls((gw, gh), indices, z, c)

    def save_reals(self, trainer: Trainer, path: Path) -> None:
        reals = np.stack([trainer.dataset[i][0] for i in self.indices])
        save_grid(reals, path, (0, 255), self.shape)

    @torch.no_grad()
    def save_fakes(self, trainer: Trainer, path: Path) -> None:
        chunk = max(trainer.opts.batch_gpu, 32 if trainer.opts.resolution <= 256 else 4)
        images = [
            trainer.G_ema(z, c, noise_mode="const", half_dtype=trainer.half_dtype).float().cpu()
            for z, c in zip(self.z.split(chunk), self.c.split(chunk))
        ]
        save_grid(torch.cat(images), path, (-1, 1), self.shape)


@dataclass
class RunOutputs:
    """The files a run keeps writing besides snapshots (rank 0 only): grids, stats.jsonl, progress.png."""

    grid: FixedGrid
    writer: StatsWriter | None

    @classmethod
    def open(cls, trainer: Trainer, new_run: bool) -> RunOutputs:
        grid = FixedGrid.for_run(trainer)
        writer = None
        if trainer.env.is_main:
            run_dir = trainer.run_dir
            if not (run_dir / "reals.png").exists():
                grid.save_reals(trainer, run_dir / "reals.png")
            if new_run:
                grid.save_fakes(trainer, run_dir / "fakes_init.png")
            writer = StatsWriter(run_dir)
        return cls(grid, writer)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def snapshot_metadata(trainer: Trainer) -> dict[str, Any]:
    return {
        "kimg": trainer.cur_nimg / 1e3,
        "tick": trainer.cur_tick,
        "augment_p": trainer.augment_p,
        "dataset": trainer.opts.dataset_name,
        "cfg": trainer.opts.cfg,
        "run": trainer.run_dir.name,
    }


def save_snapshot_files(trainer: Trainer, outputs: RunOutputs, state: TrainState) -> Path:
    """fakes grid, network snapshot + training state (+ NVIDIA pickle), then pruning; returns the snapshot."""
    opts, run_dir, kimg = trainer.opts, trainer.run_dir, trainer.cur_nimg // 1000
    outputs.grid.save_fakes(trainer, run_dir / f"fakes{kimg:06d}.png")
    meta = snapshot_metadata(trainer)
    snapshot, _ = save_training_state(run_dir, kimg, trainer.networks, state, meta)
    if opts.nvidia_pkl:
        from ..io.nvidia_export import dataset_kwargs_for_nvidia, save_nvidia_pickle

        save_nvidia_pickle(
            snapshot.with_suffix(".pkl"),
            {"G": trainer.G, "D": trainer.D, "G_ema": trainer.G_ema},
            training_set_kwargs=dataset_kwargs_for_nvidia(opts.data, opts.resolution, opts.cond, opts.mirror, opts.subset),
            metadata=meta,
        )
    if opts.keep:
        prune_snapshots(run_dir, opts.keep)
    return snapshot


def evaluate_metrics(trainer: Trainer) -> dict[str, float]:
    """Every process takes part; counted as maintenance time, as in NVIDIA's trainer."""
    from .evaluate import evaluate_snapshot

    trainer.say("Evaluating metrics...")
    env = trainer.env
    snapshot = snapshot_path(trainer.run_dir, trainer.cur_nimg // 1000)
    return evaluate_snapshot(trainer.opts, trainer.G_ema, trainer.device, env.rank, env.world, trainer.run_dir, snapshot)


def end_of_tick(trainer: Trainer, clock: TickClock, outputs: RunOutputs) -> None:
    """The tick line, the snapshot when due, the metrics, stats.jsonl and progress.png; then the next tick."""
    tick_end = clock.end_tick()
    progress = progress_values(trainer, clock, tick_end)
    losses = trainer.loss.stats.summary(lambda t: all_reduce_sum(t, trainer.env.world))
    trainer.loss.stats.reset()
    trainer.say(tick_line(progress))
    snapshot_due = trainer.done or trainer.cur_tick % trainer.opts.snap == 0
    if snapshot_due and trainer.env.is_main:
        save_snapshot_files(trainer, outputs, trainer.state())
    metrics = evaluate_metrics(trainer) if snapshot_due and trainer.opts.metrics else {}
    if outputs.writer is not None:
        outputs.writer.write(
            {**losses, **as_stats(progress), **as_stats({f"Metrics/{k}": v for k, v in metrics.items()})},
            kimg=trainer.cur_nimg / 1e3,
            walltime=tick_end - clock.start_time,
            timestamp=time.time(),
        )
        plot_progress(trainer.run_dir)
    trainer.cur_tick += 1
    clock.begin_tick(trainer.cur_nimg)
