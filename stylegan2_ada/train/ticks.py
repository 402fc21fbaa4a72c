"""What a run does once per tick: time it, print NVIDIA's tick line, write stats, and at snapshot ticks save
the networks with their training state, render the fakes grid and compute the metrics.

Each progress value is defined once in `PROGRESS` (its stats.jsonl name, its tick-line label and format),
so the line people read and the file tools read cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import atomic_write
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
from .state import TrainState, prune_snapshots, save_training_state, snapshot_key, snapshot_path

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


CPU_GRID = (8, 4)  # image-grid cells off CUDA unless --grid asks for more

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
        if opts.grid is None and dev.type != "cuda" and gw * gh > CPU_GRID[0] * CPU_GRID[1]:
            # NVIDIA's ~7680x4320 px grid is up to 1024 images: minutes per snapshot on a CPU.
            gw, gh = min(gw, CPU_GRID[0]), min(gh, CPU_GRID[1])
            trainer.say(f"Image grids: {gw}x{gh} on {dev.type} (--grid=WxH for more, e.g. NVIDIA's {opts.resolution}px grid)")
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
        pairs = list(zip(self.z.split(chunk), self.c.split(chunk)))
        bar = tqdm(pairs, desc=f"rendering {path.name}", unit="batch", leave=False, disable=len(pairs) < 2 or None)
        images = [trainer.G_ema(z, c, noise_mode="const", half_dtype=trainer.half_dtype).float().cpu() for z, c in bar]
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


def current_key(trainer: Trainer) -> str:
    """The name of this moment's snapshot files (see state.snapshot_key)."""
    return snapshot_key(trainer.run_dir, trainer.cur_nimg)


def save_snapshot_files(trainer: Trainer, outputs: RunOutputs, state: TrainState) -> Path:
    """fakes grid, network snapshot + training state (+ NVIDIA pickle), then pruning; returns the snapshot."""
    opts, run_dir, key = trainer.opts, trainer.run_dir, current_key(trainer)
    outputs.grid.save_fakes(trainer, run_dir / f"fakes{key}.png")
    meta = snapshot_metadata(trainer)
    snapshot, _ = save_training_state(run_dir, key, trainer.networks, state, meta)
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


def evaluate_metrics(trainer: Trainer, key: str, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Every process takes part; counted as maintenance time, as in NVIDIA's trainer."""
    from .evaluate import evaluate_snapshot

    trainer.say("Evaluating metrics...")
    env, opts = trainer.env, trainer.opts
    if names is not None:
        opts = dataclasses.replace(opts, metrics=names)
    snapshot = snapshot_path(trainer.run_dir, key)
    return evaluate_snapshot(opts, trainer.G_ema, trainer.device, env.rank, env.world, trainer.run_dir, snapshot)


def catch_up_metrics(trainer: Trainer, key: str) -> None:
    """On continuing: the metrics of the snapshot continued from, when a kill came before they were written."""
    snapshot = snapshot_path(trainer.run_dir, key).name
    missing = []
    for name in trainer.opts.metrics:
        path = trainer.run_dir / f"metric-{name}.jsonl"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
        if not any(_snapshot_of(line) == snapshot for line in lines):
            missing.append(name)
    if missing:
        trainer.say(f"The metrics of {snapshot} were not written before the run stopped: {', '.join(missing)}")
        evaluate_metrics(trainer, key, tuple(missing))


def _snapshot_of(line: str) -> str | None:
    try:
        return Path(json.loads(line).get("snapshot_pkl") or "").name
    except (ValueError, AttributeError):
        return None  # a line cut short by a kill


def repair_stats(run_dir: Path, state: TrainState) -> list[str]:
    """Makes stats.jsonl end at the tick `state` was saved at: lines of later ticks (trained again now) go,
    and that tick's line comes back from the state if a kill lost it. Returns what it says about it."""
    path = Path(run_dir) / "stats.jsonl"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []
    kept, dropped, saved_tick_seen = [], 0, False
    for line in lines:
        try:
            tick = json.loads(line)["Progress/tick"]["mean"]
        except (ValueError, KeyError, TypeError):
            dropped += 1  # cut short by a kill
            continue
        if tick <= state.cur_tick:
            kept.append(line)
            saved_tick_seen |= tick == state.cur_tick
        else:
            dropped += 1
    notes = []
    if dropped:
        notes.append(f"stats.jsonl: dropped {dropped} line(s) after tick {state.cur_tick}, whose ticks are trained again")
    if not saved_tick_seen and state.tick_stats is not None:
        kept.append(json.dumps(state.tick_stats))
        notes.append(f"stats.jsonl: restored the line of tick {state.cur_tick} from the training state")
    if kept != lines:
        text = "".join(f"{line}\n" for line in kept)
        atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return notes


def end_of_tick(trainer: Trainer, clock: TickClock, outputs: RunOutputs) -> None:
    """The tick line, the snapshot when due, the metrics, stats.jsonl and progress.png; then the next tick."""
    tick_end = clock.end_tick()
    progress = progress_values(trainer, clock, tick_end)
    losses = trainer.loss.stats.summary(lambda t: all_reduce_sum(t, trainer.env.world))
    trainer.loss.stats.reset()
    trainer.say(tick_line(progress))
    if trainer.cur_tick == 1 and not trainer.done:  # tick 0 is one step with the warm-up: too early to tell
        left_kimg = trainer.opts.total_kimg - trainer.cur_nimg / 1e3
        left = format_time(left_kimg * progress["Timing/sec_per_kimg"])
        trainer.say(f"At this speed: about {left} left for the remaining {left_kimg:g} kimg (plus snapshots)")
    record = {**losses, **as_stats(progress)}
    snapshot_due = trainer.done or trainer.cur_tick % trainer.opts.snap == 0
    if snapshot_due and trainer.env.is_main:
        state = trainer.state()
        state.tick_stats = dict(record, timestamp=time.time())
        save_snapshot_files(trainer, outputs, state)
    metrics = evaluate_metrics(trainer, current_key(trainer)) if snapshot_due and trainer.opts.metrics else {}
    if outputs.writer is not None:
        outputs.writer.write(
            {**record, **as_stats({f"Metrics/{k}": v for k, v in metrics.items()})},
            kimg=trainer.cur_nimg / 1e3,
            walltime=tick_end - clock.start_time,
            timestamp=time.time(),
        )
        plot_progress(trainer.run_dir)
    trainer.cur_tick += 1
    clock.begin_tick(trainer.cur_nimg)
