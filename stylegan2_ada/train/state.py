"""Resumable training state beside each network snapshot.

`network-snapshot-NNNNNN.safetensors` holds G, G_ema and D (our safe format); `training-state-NNNNNN.pt`
holds everything else a run needs to continue exactly: optimiser states, counters, augmentation p and
ADA statistics, the path-length mean, RNG states and the data sampler position. The state holds only
tensors and plain containers, is loaded with `torch.load(weights_only=True)` (no code runs), and both
files are written atomically, so a run killed mid-write leaves the previous pair intact.
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
from ..io.snapshot import load_snapshot, save_snapshot

STATE_VERSION = 1
SNAPSHOT_RE = re.compile(r"^network-snapshot-(\d{6,})\.safetensors$")
STATE_RE = re.compile(r"^training-state-(\d{6,})\.pt$")


def snapshot_path(run_dir: Path, kimg: int) -> Path:
    return Path(run_dir) / f"network-snapshot-{kimg:06d}.safetensors"


def state_path(run_dir: Path, kimg: int) -> Path:
    return Path(run_dir) / f"training-state-{kimg:06d}.pt"


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

    def save(self, path: Path) -> Path:
        """Atomically: a kill or a full disk leaves the previous file, never a truncated one."""
        payload = {"version": STATE_VERSION, **{f.name: getattr(self, f.name) for f in fields(self)}}
        atomic_write(path, lambda tmp: torch.save(payload, tmp))
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> TrainState:
        """Tensors and plain containers only (torch.load with weights_only=True: no code runs)."""
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise UserError(f"{path}: cannot read the training state ({exc}); resume from an older snapshot") from exc
        if not isinstance(payload, dict) or payload.get("version") != STATE_VERSION:
            version = payload.get("version") if isinstance(payload, dict) else None
            raise UserError(f"{path}: training state version {version} is not supported here")
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(payload))
        if missing:
            raise UserError(f"{path}: training state lacks {', '.join(missing)}; resume from an older snapshot")
        return cls(**{name: payload[name] for name in names})


def save_training_state(
    run_dir: Path,
    kimg: int,
    networks: dict[str, torch.nn.Module],
    state: TrainState,
    metadata: dict[str, Any],
) -> tuple[Path, Path]:
    """Writes the snapshot, then the state; a state file exists only beside a complete snapshot."""
    snap = save_snapshot(snapshot_path(run_dir, kimg), networks, metadata)
    return snap, state.save(state_path(run_dir, kimg))


def prune_snapshots(
    run_dir: Path,
    keep: int,
) -> list[Path]:
    """Deletes all but the newest `keep` snapshots (and their state, .json and .pkl); returns what went."""
    run_dir = Path(run_dir)
    kimgs = sorted({int(m.group(1)) for p in run_dir.iterdir() if (m := SNAPSHOT_RE.match(p.name))})
    removed = []
    for kimg in kimgs[: max(len(kimgs) - keep, 0)]:
        snap = snapshot_path(run_dir, kimg)
        for path in (state_path(run_dir, kimg), snap.with_suffix(".json"), snap.with_suffix(".pkl"), snap):
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


def latest_resumable(run_dir: Path) -> int | None:
    """kimg of the newest snapshot that has a training state beside it (None if there is none)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    states = {int(m.group(1)) for p in run_dir.iterdir() if (m := STATE_RE.match(p.name))}
    snaps = {int(m.group(1)) for p in run_dir.iterdir() if (m := SNAPSHOT_RE.match(p.name))}
    both = states & snaps
    return max(both) if both else None


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
    kimg: int,
    device: torch.device | str,
) -> tuple[dict[str, torch.nn.Module], TrainState]:
    """The networks of network-snapshot-<kimg> and the training state saved beside them."""
    snap = load_snapshot(snapshot_path(run_dir, kimg), device=device)
    return snap.networks, TrainState.load(state_path(run_dir, kimg))
