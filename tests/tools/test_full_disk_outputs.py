"""Every image command writing to a disk that fills up: one `error:` line, exit code 2, no temporary file,
and every file under a final name complete (a real tmpfs of a few KiB, see tests/small_disk.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from small_disk import run_on_small_disk

# command -> (arguments, disk size): each writes more than its disk holds.
COMMANDS = {
    "generate": (["generate", "--seeds=0-199", "--grid"], "48k"),
    "mix": (["mix", "--rows=0-9", "--cols=10-19", "--styles=0-3"], "48k"),
    "video-mp4": (["video", "--seeds=0-15", "--frames=300", "--format=mp4", "--grid=4x4"], "8k"),
    "video-gif": (["video", "--seeds=0,1,2", "--frames=200", "--format=gif", "--save-frames"], "48k"),
    "export": (["export", "--seeds=0-499"], "48k"),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_a_full_disk_is_one_line_and_leaves_no_temporary_file(name: str, tiny_nets, tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    args, size = COMMANDS[name]
    argv = [sys.executable, "-m", "stylegan2_ada.cli", *args, f"--network={tiny_nets['rgb']}",
            f"--outdir={mount}/out", "--device=cpu"]
    result = run_on_small_disk(mount, size, argv)
    errors = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    assert result["rc"] == 2 and "Traceback" not in result["stderr"], result["stderr"][-2000:]
    assert len(errors) == 1 and errors[0].startswith("error: the disk is full"), result["stderr"][-2000:]
    leftovers = [f for f in result["files"] if Path(f).name.startswith(".") or f.endswith((".tmp", ".part"))]
    assert leftovers == []
    assert not result["broken"]


def test_the_images_written_before_the_disk_filled_are_whole(tiny_nets, tmp_path: Path) -> None:
    # Run on a folder that is not full afterwards: every PNG under its final name decodes completely.
    mount = tmp_path / "disk"
    argv = [sys.executable, "-m", "stylegan2_ada.cli", "generate", "--seeds=0-199", f"--network={tiny_nets['rgb']}",
            f"--outdir={mount}/out", "--device=cpu"]
    script_check = [sys.executable, "-c", (
        "import sys, pathlib, subprocess, PIL.Image;"
        f"subprocess.run({argv!r});"
        f"[PIL.Image.open(p).load() for p in pathlib.Path('{mount}/out').glob('*.png')];"
        f"print(len(list(pathlib.Path('{mount}/out').glob('*.png'))))"
    )]
    result = run_on_small_disk(mount, "48k", script_check)
    assert result["rc"] == 0, result["stderr"][-2000:]
    assert 0 < int(result["stdout"].split()[-1]) < 200


def test_prepare_on_a_full_disk(tmp_path: Path) -> None:
    import numpy as np
    import PIL.Image

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(40):  # noise does not compress: 40 x 64x64 RGB PNGs are far more than the disk holds
        PIL.Image.fromarray((np.random.RandomState(i).rand(64, 64, 3) * 255).astype(np.uint8)).save(photos / f"{i}.png")
    mount = tmp_path / "disk"
    argv = [sys.executable, "-m", "stylegan2_ada.cli", "prepare", f"--source={photos}", f"--dest={mount}/d.zip",
            "--mode=resize", "--resolution=64", "--no-progress", f"--work-dir={tmp_path / 'work'}",
            f"--report-dir={tmp_path / 'report'}"]
    result = run_on_small_disk(mount, "64k", argv)
    errors = [line for line in result["stderr"].splitlines() if line.startswith("error:")]
    assert result["rc"] == 2 and "Traceback" not in result["stderr"], result["stderr"][-2000:]
    assert len(errors) == 1 and errors[0].startswith("error: the disk is full"), result["stderr"][-2000:]
    assert result["files"] == []  # no .d.zip.tmp-PID, no partial zip
