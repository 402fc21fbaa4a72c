"""What a newcomer meets in the first hour: paths that cannot be written are one `error:` line for every
command, a mistyped flag is answered by its command, the user's own inputs are checked first, and the
helps list the commands in workflow order with a description each."""

from __future__ import annotations

import dataclasses
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.cli import SUBCOMMANDS
from stylegan2_ada.config import network_configs
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.nn import Generator

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stylegan2_ada.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def one_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1, proc.stderr[-2000:]
    return errors[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    g, _ = network_configs("paper256", 16)
    torch.manual_seed(0)
    net = save_snapshot(root / "net.safetensors", {"G_ema": Generator(dataclasses.replace(g, channel_base=256, channel_max=32))})
    photo = root / "photo.png"
    PIL.Image.fromarray((np.random.RandomState(0).rand(16, 16, 3) * 255).astype(np.uint8)).save(photo)
    data = root / "data.zip"
    with zipfile.ZipFile(data, "w") as z:
        for i in range(4):
            buf = io.BytesIO()
            PIL.Image.fromarray((np.random.RandomState(i).rand(16, 16, 3) * 255).astype(np.uint8)).save(buf, "PNG")
            z.writestr(f"00000/img{i:08d}.png", buf.getvalue())
        z.writestr("dataset.json", json.dumps({"labels": None}))
    a_file = root / "a_file.txt"
    a_file.write_text("not a folder")
    return {"net": net, "photo": photo, "data": data, "file": a_file}


def _commands(inputs: dict[str, Path], out: str) -> dict[str, list[str]]:
    net, data = f"--network={inputs['net']}", f"--data={inputs['data']}"
    return {
        "generate": ["generate", net, "--seeds=0", f"--outdir={out}"],
        "mix": ["mix", net, "--rows=0", "--cols=1", "--styles=0-1", f"--outdir={out}"],
        "video": ["video", net, "--seeds=0,1", "--frames=2", "--format=gif", f"--outdir={out}"],
        "export": ["export", net, "--seeds=0-1", f"--outdir={out}"],
        "memorization": ["memorization", net, "--seeds=0-1", data, "--features=pixels", f"--outdir={out}"],
        "prepare": ["prepare", f"--source={inputs['photo']}", f"--dest={out}/d.zip", "--mode=resize", "--resolution=16"],
        "train": ["train", data, f"--outdir={out}", "--cbase=256", "--cmax=16", "--map-depth=2", "--batch=4", "--kimg=0.004"],
        "convert": ["convert", net, f"--dest={out}/n.safetensors"],
        "convert-pkl": ["convert", net, f"--dest={out}/n.pkl"],
        "metrics": ["metrics", net, data, "--metrics=kid0.002k_full", f"--run-dir={out}"],
        "demo": ["demo", f"--outdir={out}"],
    }


@pytest.mark.parametrize("where", ["an existing file", "under a file", "/proc"])
def test_every_command_says_in_one_line_why_it_cannot_write(inputs: dict[str, Path], where: str) -> None:
    out = {"an existing file": str(inputs["file"]), "under a file": f"{inputs['file']}/sub", "/proc": "/proc/x"}[where]
    for name, argv in _commands(inputs, out).items():
        if where == "an existing file" and name in ("prepare", "convert", "convert-pkl"):
            argv = [a.replace(f"{out}/d.zip", f"{out}").replace(f"{out}/n.", f"{out}/sub/n.") for a in argv]
        line = one_error(cli(*argv))
        assert any(words in line for words in ("not a folder", "is a file", "no such file", "permission denied")), (
            f"{name}: {line}"
        )
    assert inputs["file"].read_text() == "not a folder"  # nothing was written over it


def test_a_mistyped_flag_is_answered_by_its_command(inputs: dict[str, Path]) -> None:
    proc = cli("generate", f"--network={inputs['net']}", "--trunk=0.5", "--seeds=0", "--outdir=x")
    assert proc.returncode == 2
    assert "usage: stylegan2-ada generate" in proc.stderr and "unrecognized arguments: --trunk=0.5" in proc.stderr


def test_the_users_inputs_are_checked_first(inputs: dict[str, Path], tmp_path: Path) -> None:
    # The photo is missing: said before any feature network is looked for (offline, none is there).
    line = one_error(cli("project", f"--network={inputs['net']}", "--target=missing.jpg", f"--outdir={tmp_path}"))
    assert "--target=missing.jpg: no such file" in line
    line = one_error(cli("train", "--data=nope.zip", f"--outdir={tmp_path}"))
    assert "--data=nope.zip: no such file or folder" in line
    # An empty photo folder: refused, and no side folder (DEST_work) left behind.
    (tmp_path / "empty").mkdir()
    line = one_error(cli("prepare", f"--source={tmp_path / 'empty'}", f"--dest={tmp_path / 'out' / 'd.zip'}"))
    assert "no files found" in line
    assert not (tmp_path / "out" / "d_work").exists()


def test_the_top_level_help_lists_the_workflow(tmp_path: Path) -> None:
    proc = cli("--help")
    order = ["prepare", "train", "generate", "mix", "video", "project", "memorization", "export", "metrics",
             "convert", "demo"]
    assert list(SUBCOMMANDS) == order
    text = proc.stdout
    positions = [text.index(f"\n    {name}") for name in order]
    assert positions == sorted(positions)
    for name, (_, description) in SUBCOMMANDS.items():
        assert len(description) > 20 and "\n" not in description
        sub = cli(name, "--help").stdout
        assert description[1:30] in sub, name  # each command's help opens with its description
        assert "[default" not in sub and "(default " not in sub, name  # defaults written one way: (default: X)
    metrics = cli("metrics", "--help").stdout
    assert "fid{N}k_full" in metrics and "kid50k_full" in metrics and "fractional" in metrics


def test_log_txt_holds_everything_printed_and_a_failed_start_leaves_no_folder(inputs, tmp_path: Path) -> None:
    def train_argv(data: Path, out: Path) -> list[str]:
        return ["train", f"--data={data}", f"--outdir={out}", "--cbase=256", "--cmax=16", "--map-depth=2",
                "--batch=4", "--mbstd-group=2", "--kimg=0.004", "--fp32=1", "--device=cpu", "--grid=2x2"]

    out = tmp_path / "runs"
    proc = cli(*train_argv(inputs["data"], out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = out.iterdir()
    log = (run / "log.txt").read_text()
    assert "Training options:" in log and "output directory:" in log and "tick 0 " in log
    assert "\r" not in log  # progress bars leave their last state only
    # Continuing names the ignored flags: that note is in the log too.
    proc = cli("train", "--resume=latest", f"--outdir={out}", "--kimg=0.008", "--gamma=3", "--device=cpu")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ignoring --gamma" in (run / "log.txt").read_text()

    # A dataset whose last image has another size: the dry run finds it, as the run would.
    def dataset_with(name: str, last: bytes) -> Path:
        path = tmp_path / name
        with zipfile.ZipFile(inputs["data"]) as src, zipfile.ZipFile(path, "w") as dst:
            for item in src.infolist():
                dst.writestr(item, src.read(item))
            dst.writestr("00000/img00000004.png", last)
        return path

    buf = io.BytesIO()
    PIL.Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(buf, "PNG")
    mixed = dataset_with("mixed.zip", buf.getvalue())
    out2 = tmp_path / "runs2"
    assert "expected [3, 16, 16]" in one_error(cli(*train_argv(mixed, out2), "-n"))
    assert not out2.exists()
    # An image whose header is fine but whose pixels are cut off: the run stops before its first snapshot,
    # removes the folder it made, and says so.
    buf = io.BytesIO()
    PIL.Image.fromarray((np.random.RandomState(9).rand(16, 16, 3) * 255).astype(np.uint8)).save(buf, "PNG")
    cut = dataset_with("cut.zip", buf.getvalue()[: len(buf.getvalue()) // 2])
    proc = cli(*train_argv(cut, out2))
    assert "cannot decode 00000/img00000004.png" in one_error(proc)
    assert "The run stopped before its first snapshot: removed" in proc.stdout + proc.stderr
    assert not out2.exists() or not any(out2.iterdir())
