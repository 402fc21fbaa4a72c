"""Command line: NVIDIA-compatible scripts/dataset_tool.py and the package's prepare arguments."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.cli.prepare import add_arguments, run
from stylegan2_ada.data.dataset import ImageDataset

REPO = Path(__file__).resolve().parents[2]


def _tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/dataset_tool.py", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def photos(tmp_path: Path, astronaut: np.ndarray) -> Path:
    src = tmp_path / "photos"
    (src / "a").mkdir(parents=True)
    (src / "b").mkdir()
    PIL.Image.fromarray(astronaut).save(src / "a" / "astronaut.png")
    PIL.Image.fromarray(astronaut[:, ::-1][:300]).save(src / "b" / "wide.jpg", quality=90)
    PIL.Image.fromarray(astronaut[::2, ::2]).save(src / "b" / "small.webp")
    return src


def test_dataset_tool_nvidia_flags(tmp_path: Path, photos: Path) -> None:
    dest = tmp_path / "out" / "ds.zip"
    run = _tool(f"--source={photos}", f"--dest={dest}", "--resolution=64x64", "--transform=center-crop",
                "--labels=folders", "--no-progress")
    assert run.returncode == 0, run.stderr
    ds = ImageDataset(str(dest), use_labels=True)
    assert len(ds) == 3 and ds.resolution == 64 and ds.label_dim == 2
    with zipfile.ZipFile(dest) as zf:
        assert sorted(zf.namelist()) == ["00000/img00000000.png", "00000/img00000001.png", "00000/img00000002.png", "dataset.json"]
    manifest = json.loads((tmp_path / "out" / "ds_report" / "manifest.json").read_text())
    assert [e["source"] for e in manifest["images"]] == ["a/astronaut.png", "b/small.webp", "b/wide.jpg"]
    assert manifest["images"][0]["transform"]["mode"] == "center-crop"

    width_height = _tool(f"--source={photos}", f"--dest={tmp_path / 'wh'}", "--width=32", "--height=32", "--max-images=2", "--no-progress")
    assert width_height.returncode == 0, width_height.stderr
    assert len(ImageDataset(str(tmp_path / "wh"))) == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["--resolution=1000"], "power of two"),
        (["--resolution=256x128"], "center-crop-wide"),
        (["--pad-color=sky"], "colour"),
        (["--labels=nope.csv"], "does not exist"),
    ],
)
def test_bad_requests_get_one_line_errors(tmp_path: Path, photos: Path, args: list[str], words: str) -> None:
    run = _tool(f"--source={photos}", f"--dest={tmp_path / 'x.zip'}", "--no-progress", *args)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and words in last


def test_missing_source_and_nothing_usable(tmp_path: Path) -> None:
    run = _tool(f"--source={tmp_path / 'nowhere'}", f"--dest={tmp_path / 'x.zip'}", "--no-progress")
    assert run.returncode == 2 and "does not exist" in run.stderr and "Traceback" not in run.stderr
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jpg").write_text("not a photo")
    run = _tool(f"--source={junk}", f"--dest={tmp_path / 'y.zip'}", "--no-progress")
    assert run.returncode == 1 and "no usable images" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "y.zip").exists()


def test_package_subcommand_arguments(tmp_path: Path, photos: Path) -> None:
    parser = argparse.ArgumentParser(prog="stylegan2-ada")
    sub = parser.add_subparsers(dest="command")
    add_arguments(sub.add_parser("prepare"))
    args = parser.parse_args(["prepare", "--source", str(photos), "--dest", str(tmp_path / "p.zip"), "--mode", "resize",
                              "--resolution", "32", "--no-progress", "--workers", "1"])
    assert run(args) == 0
    assert len(ImageDataset(str(tmp_path / "p.zip"))) == 3
    defaults = parser.parse_args(["prepare", "--source", "x", "--dest", "y"])
    from stylegan2_ada.cli.prepare import options_from_args

    opts = options_from_args(defaults)
    assert opts.mode == "align" and opts.resolution == 1024 and opts.resize_filter == "lanczos"
