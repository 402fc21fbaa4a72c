"""A snapshot and its training state are one unit: --resume=latest takes the newest pair saved at the same
moment, says which, and falls back past files an interrupted save (or a mix-up) left unpaired."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from train_helpers import TINY_FLAGS, run_dirs, train

from stylegan2_ada.train.state import latest_resumable, resume_points, snapshot_path, state_path

# One step per tick, a snapshot every tick: 3 snapshots inside kimg 0 (images 4, 8, 12).
FLAGS = TINY_FLAGS + ["--tick=0.004", "--snap=1", "--grid=2x2"]


@pytest.fixture
def run(tmp_path: Path, tiny_zip: Path) -> Path:
    assert train(FLAGS + [f"--outdir={tmp_path / 'out'}", f"--data={tiny_zip}", "--kimg=0.012"]) == 0
    (run,) = run_dirs(tmp_path / "out")
    return run


def test_snapshots_within_one_kimg_keep_their_own_names(run: Path) -> None:
    names = sorted(p.name for p in run.glob("network-snapshot-*.safetensors"))
    assert names == [
        "network-snapshot-000000-008.safetensors",
        "network-snapshot-000000-012.safetensors",
        "network-snapshot-000000.safetensors",  # NVIDIA's name for the first one of the kimg
    ]
    points, skipped = resume_points(run)
    assert [(p.key, p.nimg, p.tick) for p in points] == [("000000-012", 12, 2), ("000000-008", 8, 1), ("000000", 4, 0)]
    assert skipped == []
    # After the first full tick the run says how long the rest will take (and log.txt keeps it).
    assert "At this speed: about " in (run / "log.txt").read_text()
    assert "left for the remaining 0.004 kimg" in (run / "log.txt").read_text()


def test_a_snapshot_without_its_state_is_passed_over_and_named(run: Path, capsys) -> None:
    state_path(run, "000000-012").unlink()  # killed between the two writes of the last save
    point = latest_resumable(run)
    assert (point.key, point.nimg) == ("000000-008", 8)
    assert train(FLAGS + [f"--resume={run}", "--kimg=0.016"]) == 0
    out = capsys.readouterr().out
    assert "network-snapshot-000000-012.safetensors has no training state beside it" in out
    assert "Continuing from the newest complete pair: network-snapshot-000000-008.safetensors" in out
    assert "at kimg 0.008, tick 2" in out and "\ntick 2 " in out


def test_a_state_from_another_moment_is_never_paired(run: Path, capsys) -> None:
    # The newest snapshot beside an older state (the mix-up the old same-name scheme allowed).
    shutil.copy(state_path(run, "000000-008"), state_path(run, "000000-012"))
    points, skipped = resume_points(run)
    assert points[0].key == "000000-008"
    assert len(skipped) == 1 and "were saved at different moments" in skipped[0]
    assert train(FLAGS + ["--resume=latest", f"--outdir={run.parent}", "--kimg=0.016"]) == 0
    assert "saved at different moments" in capsys.readouterr().out


def test_a_lost_stats_line_comes_back_and_retrained_ticks_are_not_doubled(run: Path, capsys) -> None:
    stats = run / "stats.jsonl"
    lines = stats.read_text().splitlines()
    assert len(lines) == 3
    stats.write_text("\n".join(lines[:2]) + "\n" + lines[2][:40])  # killed while writing tick 2's line
    assert train(FLAGS + [f"--resume={run}", "--kimg=0.016"]) == 0
    assert "restored the line of tick 2 from the training state" in capsys.readouterr().out
    ticks = [json.loads(line)["Progress/tick"]["mean"] for line in stats.read_text().splitlines()]
    assert ticks == [0, 1, 2, 3]
    # And a resume from an older pair drops the lines of the ticks it trains again.
    for key in ("000000-012",):
        state_path(run, key).unlink()
        snapshot_path(run, key).unlink()
    for p in run.glob("*-016.*"):
        p.unlink()
    assert train(FLAGS + [f"--resume={run}", "--kimg=0.016"]) == 0
    out = capsys.readouterr().out
    assert "dropped 2 line(s) after tick 1" in out
    ticks = [json.loads(line)["Progress/tick"]["mean"] for line in stats.read_text().splitlines()]
    assert ticks == [0, 1, 2, 3]
