"""A disk that fills up during training or conversion: one `error:` line (exit code 2), no temporary file
left, and every file under a final name complete (the run continues from its last pair)."""

from __future__ import annotations

import sys
from pathlib import Path

from small_disk import run_on_small_disk
from train_helpers import TINY_FLAGS, tiny_snapshot, write_dataset_zip


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("error:", "Traceback"))]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-2000:]
    return lines[0]


def test_training_on_a_filling_disk(tmp_path: Path) -> None:
    data = write_dataset_zip(tmp_path / "tiny.zip")
    mount = tmp_path / "disk"
    argv = [sys.executable, "-m", "stylegan2_ada.cli", "train", f"--outdir={mount}/results", f"--data={data}",
            *TINY_FLAGS, "--kimg=0.02", "--tick=0.004", "--snap=1", "--grid=2x2"]
    # One snapshot + state is ~10 MB at this size: the second pair does not fit.
    result = run_on_small_disk(mount, "13m", argv)
    assert result["rc"] == 2
    line = _one_error_line(result["stderr"])
    assert line.startswith("error: the disk is full") and "--resume=latest" in line
    assert not [f for f in result["files"] if f.endswith((".tmp", ".part"))], result["files"]
    assert not result["broken"]
    assert any(f.endswith("network-snapshot-000000.safetensors") for f in result["loadable"])
    assert result["resumable"] == ["000000", 4, 0]  # the pair before the disk filled up


def test_convert_to_a_full_disk(tmp_path: Path) -> None:
    source = tiny_snapshot(tmp_path / "net.safetensors", resolution=16)
    mount = tmp_path / "disk"
    for dest in ("out.safetensors", "out.pkl"):
        argv = [sys.executable, "-m", "stylegan2_ada.cli", "convert", f"--network={source}", f"--dest={mount}/{dest}"]
        result = run_on_small_disk(mount, "1m", argv)  # the file is ~5 MB
        assert result["rc"] == 2, result["stderr"]
        assert _one_error_line(result["stderr"]).startswith("error: the disk is full")
        assert result["files"] == [], result["files"]
