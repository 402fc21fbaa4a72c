"""Exact resume: a run stopped and continued with --resume gives bit-identical weights on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from train_helpers import TINY_FLAGS, run_dirs, train

from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.train.state import latest_resumable, load_training_state

# 5 steps of batch 4: G regularises at steps 0 and 4, so the continued part includes a Greg phase;
# ADA adjusts p after step 4; augmentation is on (p=0.3) so its randomness must line up too.
COMMON = TINY_FLAGS + ["--aug=ada", "--p=0.3", "--target=0.1", "--tick=0.008", "--snap=1", "--grid=2x2", "--seed=7"]


def _weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    point = latest_resumable(run)
    snap = load_snapshot(run / f"network-snapshot-{point.key}.safetensors")
    return {name: net.state_dict() for name, net in snap.networks.items()}


def test_interrupted_and_resumed_equals_uninterrupted(tmp_path: Path, tiny_zip: Path) -> None:
    full, part = tmp_path / "full", tmp_path / "part"
    assert train(COMMON + [f"--outdir={full}", f"--data={tiny_zip}", "--kimg=0.02"]) == 0
    assert train(COMMON + [f"--outdir={part}", f"--data={tiny_zip}", "--kimg=0.008"]) == 0
    (run_part,) = run_dirs(part)
    _, state = load_training_state(run_part, latest_resumable(run_part), "cpu")
    assert (state.cur_nimg, state.batch_idx) == (8, 2)

    # Continue the same folder: --resume=latest finds it; --kimg extends the run.
    assert train(COMMON + [f"--outdir={part}", "--resume=latest", "--kimg=0.02"]) == 0
    assert run_dirs(part) == [run_part]  # no new folder
    (run_full,) = run_dirs(full)

    a, b = _weights(run_full), _weights(run_part)
    for net in ("G", "G_ema", "D"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs after resume"
    _, sa = load_training_state(run_full, latest_resumable(run_full), "cpu")
    _, sb = load_training_state(run_part, latest_resumable(run_part), "cpu")
    assert sa.cur_nimg == sb.cur_nimg == 20
    assert sb.cur_tick == 3  # ticks 0, 1 (stop at 8 images), then 2, 3 after continuing
    assert sa.ada["steps"] == sb.ada["steps"] == 5
    assert torch.equal(sa.augment_p, sb.augment_p)
    assert float(sa.augment_p) != 0.3  # ADA moved p
    assert torch.equal(sa.pl_mean, sb.pl_mean)
    for k in ("G_opt", "D_opt"):
        for pid, st in getattr(sa, k)["state"].items():
            assert torch.equal(st["exp_avg_sq"], getattr(sb, k)["state"][pid]["exp_avg_sq"])

    # The continued run says so in its log, and kept counting ticks.
    log = (run_part / "log.txt").read_text()
    assert "Continuing" in log and "\ntick 3 " in log
    ticks = [json.loads(line)["Progress/tick"]["mean"] for line in (run_part / "stats.jsonl").read_text().splitlines()]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)


def test_resume_run_folder_keeps_options(tmp_path: Path, tiny_zip: Path) -> None:
    """Pointing --resume at a run folder continues it with the saved options (not the new defaults)."""
    out = tmp_path / "out"
    assert train(COMMON + [f"--outdir={out}", f"--data={tiny_zip}", "--kimg=0.004", "--gamma=0.5"]) == 0
    (run,) = run_dirs(out)
    assert train([f"--resume={run}", "--kimg=0.008", "--device=cpu"]) == 0
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["gamma"] == 0.5
    _, state = load_training_state(run, latest_resumable(run), "cpu")
    assert state.cur_nimg == 8
