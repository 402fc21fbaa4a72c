"""Resumable training state beside each network snapshot, and how a continued run finds a consistent pair.

`network-snapshot-KEY.safetensors` holds G, G_ema and D (our safe format); `training-state-KEY.pt` holds
everything else a run needs to continue exactly: optimiser states, counters, augmentation p and ADA
statistics, the path-length mean, RNG states, the data sampler position and the tick's stats line. The
state holds only tensors and plain containers, is loaded with `torch.load(weights_only=True)` (no code
runs), and both files are written atomically.

KEY is the kimg as NVIDIA names snapshots (`000200`); with ticks shorter than 1 kimg several snapshots
fall in one kimg, so the later ones add the images past it (`000000-256`): every snapshot keeps its own
name and a kill between the two writes never leaves new weights beside an old state. Both files record the image
count and tick they were saved at; a pair is used only when they agree (`resume_points`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import UserError
from ..io.snapshot import load_snapshot, read_header, save_snapshot

STATE_VERSION = 1
SNAPSHOT_RE = re.compile(r"^network-snapshot-(\d{6,}(?:-\d{3})?)\.safetensors$")
STATE_RE = re.compile(r"^training-state-(\d{6,}(?:-\d{3})?)\.pt$")


def snapshot_key(run_dir: Path, nimg: int) -> str:
    """'000200', the kimg as NVIDIA names snapshots; when that name already holds a snapshot of another
    moment (ticks shorter than 1 kimg), '000200-256' with the images past it."""
    key = f"{nimg // 1000:06d}"
    plain = snapshot_path(run_dir, key)
    if plain.is_file() and _saved_nimg(plain) == nimg:
        return key  # this very moment, saved again
    # Any file of this kimg (even one --keep pruned down to its state) means the plain name was used:
    # never reuse it, so names within a kimg stay in the order they were saved in.
    same_kimg = [f"network-snapshot-{key}.*", f"network-snapshot-{key}-*", f"training-state-{key}.*", f"training-state-{key}-*"]
    taken = any(any(Path(run_dir).glob(pattern)) for pattern in same_kimg)
    return f"{key}-{nimg % 1000:03d}" if taken else key


def _saved_nimg(snapshot: Path) -> int | None:
    """The image count a snapshot was saved at (from its header; None if unreadable)."""
    try:
        meta = read_header(snapshot)["metadata"]
        return int(meta["nimg"]) if "nimg" in meta else round(float(meta["kimg"]) * 1000)
    except (UserError, KeyError, TypeError, ValueError):
        return None


def _key_order(key: str) -> tuple[int, int]:
    # Within a kimg the plain name is always the first saved (snapshot_key), so it sorts before the others.
    kimg, _, rest = key.partition("-")
    return int(kimg), int(rest) if rest else -1


def snapshot_order(path: str | Path) -> tuple[int, int]:
    """Sort key putting a run's files (network-snapshot-*, training-state-*, fakes*.png) in the order saved."""
    m = re.search(r"(\d{6,})(?:-(\d{3}))?\.[a-z]+$", Path(path).name)
    return _key_order(f"{m.group(1)}-{m.group(2)}" if m and m.group(2) else m.group(1)) if m else (-1, -1)


def snapshot_path(run_dir: Path, key: str | int) -> Path:
    key = f"{key:06d}" if isinstance(key, int) else key
    return Path(run_dir) / f"network-snapshot-{key}.safetensors"


def state_path(run_dir: Path, key: str | int) -> Path:
    key = f"{key:06d}" if isinstance(key, int) else key
    return Path(run_dir) / f"training-state-{key}.pt"


# --- RNG states as plain data ----------------------------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """Global torch/numpy/python RNG states, as tensors and primitives."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": {"version": py_state[0], "state": list(py_state[1]), "gauss": py_state[2]},
    }


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


# --- the state ----------------------------------------------------------------------------------


@dataclass
class TrainState:
    """Everything besides the networks that a run needs to continue exactly; it saves and loads itself."""

    cur_nimg: int  # real images shown so far
    cur_tick: int  # the tick this state was saved at
    batch_idx: int  # training steps so far
    batch: int
    G_opt: dict[str, Any]  # optimiser state dicts, by network
    D_opt: dict[str, Any]
    pl_mean: torch.Tensor
    augment_p: torch.Tensor | None
    ada: dict[str, Any] | None  # the ADA controller's counters and sums
    shared_rng: torch.Tensor  # the stream every process draws data order, latents and labels from
    rng: dict[str, Any]  # global torch/numpy/python RNG states (capture_rng)
    tick_stats: dict[str, Any] | None = None  # this tick's stats.jsonl record, restored if the line was lost

    def save(self, path: Path) -> Path:
        """Atomically: a kill or a full disk leaves the previous file, never a truncated one."""
        payload = {"version": STATE_VERSION, **{f.name: getattr(self, f.name) for f in fields(self)}}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
        return Path(path)

    @classmethod
    def load(cls, path: Path, lazy: bool = False) -> TrainState:
        """Tensors and plain containers only (torch.load with weights_only=True: no code runs). lazy: the
        tensors are memory-mapped, not read (to look at the counters of a large state cheaply)."""
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True, mmap=lazy)
        except Exception as exc:
            raise UserError(f"{path}: cannot read the training state ({exc}); resume from an older snapshot") from exc
        if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
            version = payload.get("version") if isinstance(payload, dict) else None
            raise UserError(f"{path}: training state version {version} is not supported here")
        names = {f.name for f in fields(cls)}
        missing = sorted(n for n in names - set(payload) if n != "tick_stats")  # older states lack it
        if missing:
            raise UserError(f"{path}: training state lacks {', '.join(missing)}; resume from an older snapshot")
        return cls(**{name: payload[name] for name in names if name in payload})


def save_training_state(
    run_dir: Path,
    key: str | int,
    networks: dict[str, torch.nn.Module],
    state: TrainState,
    metadata: dict[str, Any],
) -> tuple[Path, Path]:
    """Writes the snapshot, then the state; a state file exists only beside a complete snapshot. Both
    record the image count and tick, so a pair from different moments is never taken for one."""
    metadata = {**metadata, "nimg": state.cur_nimg, "tick": state.cur_tick}
    snap = save_snapshot(snapshot_path(run_dir, key), networks, metadata)
    return snap, state.save(state_path(run_dir, key))


def _keys(run_dir: Path, pattern: re.Pattern[str]) -> set[str]:
    return {m.group(1) for p in Path(run_dir).iterdir() if (m := pattern.match(p.name))}


def prune_snapshots(
    run_dir: Path,
    keep: int,
) -> list[Path]:
    """Deletes all but the newest `keep` snapshots (and their state, .json and .pkl), and states whose
    snapshot is gone; returns what went. The state goes first, so a kill midway never leaves a pair."""
    run_dir = Path(run_dir)
    snaps = sorted(_keys(run_dir, SNAPSHOT_RE), key=_key_order)
    kept = set(snaps[max(len(snaps) - keep, 0) :])
    old = [k for k in snaps if k not in kept] + sorted(_keys(run_dir, STATE_RE) - set(snaps), key=_key_order)
    removed = []
    for key in old:
        snap = snapshot_path(run_dir, key)
        for path in (state_path(run_dir, key), snap.with_suffix(".json"), snap.with_suffix(".pkl"), snap):
            if path.exists():
                path.unlink()
                removed.append(path)
    return removed


def remove_stale_temps(run_dir: Path) -> list[Path]:
    """Temp files a killed run left behind (never under a final name); safe to delete before continuing."""
    stale = [p for p in Path(run_dir).glob(".*.tmp") if p.name.startswith((".network-snapshot-", ".training-state-"))]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


# --- loading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePoint:
    """A snapshot and its training state saved at the same moment."""

    key: str
    nimg: int
    tick: int

    def describe(self, run_dir: Path) -> str:
        return (
            f"{snapshot_path(run_dir, self.key).name} + {state_path(run_dir, self.key).name} "
            f"(kimg {self.nimg / 1000:g}, tick {self.tick})"
        )


def _point(run_dir: Path, key: str) -> tuple[ResumePoint | None, str]:
    """The pair under `key` if both files are readable and agree, else (None, why not)."""
    snap, state_file = snapshot_path(run_dir, key), state_path(run_dir, key)
    if not state_file.is_file():
        return None, f"{snap.name} has no training state beside it (its save was interrupted)"
    if not snap.is_file():
        return None, f"{state_file.name} has no network snapshot beside it"
    try:
        meta = read_header(snap)["metadata"]
        state = TrainState.load(state_file, lazy=True)
    except UserError as exc:
        return None, f"{snap.name} or its state cannot be read ({exc})"
    nimg = _saved_nimg(snap)
    if (nimg, meta.get("tick")) != (state.cur_nimg, state.cur_tick):
        return None, (
            f"{snap.name} (kimg {nimg / 1000:g}, tick {meta.get('tick')}) and {state_file.name} (kimg "
            f"{state.cur_nimg / 1000:g}, tick {state.cur_tick}) were saved at different moments"
        )
    return ResumePoint(key, state.cur_nimg, state.cur_tick), ""


def resume_points(run_dir: Path) -> tuple[list[ResumePoint], list[str]]:
    """Consistent pairs, newest first, and a line for each newer file that could not be paired."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return [], []
    keys = sorted(_keys(run_dir, SNAPSHOT_RE) | _keys(run_dir, STATE_RE), key=_key_order, reverse=True)
    points, skipped = [], []
    for key in keys:
        point, why = _point(run_dir, key)
        if point is not None:
            points.append(point)
        elif not points:  # only what is newer than the pair we continue from matters to the user
            skipped.append(why)
    return points, skipped


def latest_resumable(run_dir: Path) -> ResumePoint | None:
    """The newest snapshot whose training state was saved with it (None if there is none)."""
    points, _ = resume_points(run_dir)
    return points[0] if points else None


def find_latest_run(outdir: Path) -> Path:
    """The newest run folder (highest number) under `outdir` that can be continued."""
    outdir = Path(outdir)
    runs = sorted(
        (p for p in (outdir.iterdir() if outdir.is_dir() else []) if p.is_dir() and re.match(r"^\d+-", p.name)),
        key=lambda p: int(p.name.split("-", 1)[0]),
    )
    for run in reversed(runs):
        if latest_resumable(run) is not None:
            return run
    raise UserError(f"--resume=latest: no run folder under {outdir} has a training-state file to continue from")


def load_training_state(
    run_dir: Path,
    point: ResumePoint | str | int,
    device: torch.device | str,
) -> tuple[dict[str, torch.nn.Module], TrainState]:
    """The networks of a snapshot and the training state saved beside them."""
    key = point.key if isinstance(point, ResumePoint) else point
    snap = load_snapshot(snapshot_path(run_dir, key), device=device)
    return snap.networks, TrainState.load(state_path(run_dir, key))
