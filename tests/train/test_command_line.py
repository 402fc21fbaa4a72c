"""The command line: the founding project's command, NVIDIA/dvschultz spellings, offline errors, dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import (
    TINY_FLAGS,
    parse_train_args,
    run_dirs,
    tiny_snapshot,
    train,
    write_dataset_zip,
)

from stylegan2_ada.cli.train import parse_bool, parse_metrics
from stylegan2_ada.errors import UserError
from stylegan2_ada.train.state import prune_snapshots
from stylegan2_ada.train.views import YFlipView

ROOT = Path(__file__).resolve().parents[2]
FOUNDING = (
    "--outdir={out} --snap=4 --cfg=stylegan2 --kimg=100 --data={data} --augpipe=bg --mirror=True "
    "--mirrory=False --metrics=None --resume={resume}"
)


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", STYLEGAN2_ADA_CACHE=str(tmp_path / "cache"))
    # Any download attempt fails at once instead of waiting on the network.
    env.update(https_proxy="http://127.0.0.1:9", http_proxy="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    return env


def test_founding_command_runs_a_tick(tmp_path: Path) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    source = tiny_snapshot(tmp_path / "pretrained32.safetensors", resolution=32)  # stands in for ffhq1024
    out = tmp_path / "results"
    argv = FOUNDING.format(out=out, data=data, resume=source).split()
    # Tiny networks and one step instead of 100 kimg (later flags win, as in argparse).
    argv += ["--cbase=512", "--cmax=16", "--map-depth=2", "--batch=4", "--kimg=0.004", "--grid=2x2", "--device=cpu"]
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", *argv],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run,) = run_dirs(out)
    assert run.name == "00000-faces-mirror-stylegan2-kimg0.004-batch4-bg-resumecustom"
    assert "tick 0 " in proc.stdout and "augment" in proc.stdout
    assert "G: copied" in proc.stdout
    opts = json.loads((run / "training_options.json").read_text())
    assert (opts["mirror"], opts["mirrory"], opts["metrics"], opts["augpipe"], opts["aug"]) == (
        True,
        False,
        [],
        "bg",
        "ada",
    )
    assert opts["ada_kimg"] == 100 and opts["ema_rampup"] is None  # transfer-learning settings, as NVIDIA
    for name in (
        "reals.png",
        "fakes_init.png",
        "fakes000000.png",
        "network-snapshot-000000.safetensors",
        "training-state-000000.pt",
        "stats.jsonl",
        "log.txt",
        "progress.png",
    ):
        assert (run / name).is_file(), name


def test_resume_ffhq1024_offline_is_one_line(tmp_path: Path) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    out = tmp_path / "results"
    argv = FOUNDING.format(out=out, data=data, resume="ffhq1024").split()
    proc = subprocess.run(
        [sys.executable, "scripts/train.py", *argv],
        cwd=ROOT,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip() and not line.startswith(" ")]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "ffhq-res1024-mirror-stylegan2-noaug.pkl" in lines[0]
    assert str(tmp_path / "cache") in lines[0]  # says where to put the file
    assert not out.exists()  # caught before a run folder was made


def test_dry_run_records_metrics_and_makes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16, labels=[0, 1] * 4)
    out = tmp_path / "results"
    assert (
        train(
            [
                f"--outdir={out}",
                f"--data={data}",
                "-n",
                "--metrics=fid50k_full,kid50k_full",
                "--cond=1",
                "--mirror=1",
                "--cfg=paper256",
                "--gamma=2",
                "--aug=fixed",
                "--p=0.2",
                "--subset=6",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "metrics:           fid50k_full,kid50k_full after every snapshot (metric-<name>.jsonl)" in text
    assert '"metrics": [\n    "fid50k_full",\n    "kid50k_full"\n  ]' in text
    assert "00000-faces-cond-subset6-mirror-paper256-gamma2-fixed-p0.2" in text
    assert not out.exists()


def test_flag_errors_are_user_errors(tmp_path: Path) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    with pytest.raises(UserError, match="--aug=fixed needs --p"):
        train([f"--data={data}", "-n", "--aug=fixed"])
    with pytest.raises(UserError, match="--cond=True needs labels"):
        train([f"--data={data}", "-n", "--cond=True"])
    with pytest.raises(UserError, match="multiple of --batch-gpu"):
        train([f"--data={data}", "-n", "--batch=6", "--batch-gpu=4"])
    with pytest.raises(UserError, match="no run folder"):
        train([f"--outdir={tmp_path / 'none'}", "--resume=latest"])


def test_boolean_and_metric_spellings() -> None:
    for text in ("True", "true", "1", "yes"):
        assert parse_bool(text) is True
    for text in ("False", "false", "0", "no"):
        assert parse_bool(text) is False
    assert parse_metrics("None") == [] and parse_metrics("none") == []
    assert parse_metrics("fid50k_full,pr50k3_full") == ["fid50k_full", "pr50k3_full"]
    args = parse_train_args(["--mirror", "--mirrory=False", "--fp32=1", "--nhwc", "False"])
    assert (args.mirror, args.mirrory, args.fp32, args.nhwc) == (True, False, True, False)


def test_mirrory_view_flips_vertically(tmp_path: Path) -> None:
    from stylegan2_ada.data.dataset import ImageDataset

    base = ImageDataset(str(write_dataset_zip(tmp_path / "d.zip", count=3, resolution=8)))
    view = YFlipView(base)
    assert len(view) == 6
    img, _ = view[1]
    flipped, _ = view[4]
    assert np.array_equal(flipped, img[:, ::-1, :]) and not np.array_equal(flipped, img)


def test_keep_prunes_oldest_snapshots(tmp_path: Path) -> None:
    for kimg in (0, 4, 8, 12):
        for name in (
            f"network-snapshot-{kimg:06d}.safetensors",
            f"network-snapshot-{kimg:06d}.json",
            f"training-state-{kimg:06d}.pt",
            f"network-snapshot-{kimg:06d}.pkl",  # --nvidia-pkl
        ):
            (tmp_path / name).write_text("x")
    removed = prune_snapshots(tmp_path, keep=2)
    assert len(removed) == 8
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "network-snapshot-000008.json",
        "network-snapshot-000008.pkl",
        "network-snapshot-000008.safetensors",
        "network-snapshot-000012.json",
        "network-snapshot-000012.pkl",
        "network-snapshot-000012.safetensors",
        "training-state-000008.pt",
        "training-state-000012.pt",
    ]


def test_nvidia_pkl_beside_the_snapshot(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "io"))  # the NVIDIA-side reader lives with the io tests
    from nvidia_side import load_like_nvidia

    from stylegan2_ada.io.snapshot import load_snapshot

    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    out = tmp_path / "results"
    argv = [f"--outdir={out}", f"--data={data}", *TINY_FLAGS, "--kimg=0.004", "--tick=0.004", "--snap=1"]
    assert train([*argv, "--nvidia-pkl=True", "--mirror=1"]) == 0
    (run,) = run_dirs(out)
    assert [p.name for p in run.glob("*.pkl")] == ["network-snapshot-000000.pkl"]
    newest = max(run.glob("network-snapshot-*.safetensors"))
    ours = load_snapshot(newest, "cpu").networks
    theirs = load_like_nvidia(newest.with_suffix(".pkl").read_bytes())
    for name in ("G", "G_ema", "D"):
        a, b = ours[name].state_dict(), theirs[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert theirs["training_set_kwargs"]["path"] == str(data) and theirs["training_set_kwargs"]["xflip"] is True
    assert theirs["training_set_kwargs"]["resolution"] == 16


def test_continuing_names_the_flags_it_ignores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    out = tmp_path / "results"
    assert train([f"--outdir={out}", f"--data={data}", *TINY_FLAGS, "--kimg=0.004", "--tick=0.004"]) == 0
    capsys.readouterr()
    assert train([f"--outdir={out}", "--resume=latest", "--seed=5", "--gamma=3", "--kimg=0.008", "-n"]) == 0
    printed = capsys.readouterr().out
    assert "ignoring --gamma, --seed" in printed and "--kimg" not in printed.split("ignoring")[1].split("(")[0]


def test_dry_run_checks_a_local_resume_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_dataset_zip(tmp_path / "faces.zip", resolution=16)
    source = tiny_snapshot(tmp_path / "small.safetensors", resolution=16)  # cbase 512: not the default preset
    with pytest.raises(UserError, match=r"--cfg|channel_base"):
        train([f"--outdir={tmp_path / 'out'}", f"--data={data}", f"--resume={source}", "-n"])
    # A name would need a download: the dry run says it did not check it, and still makes nothing.
    assert train([f"--outdir={tmp_path / 'out'}", f"--data={data}", "--resume=ffhq1024", "-n"]) == 0
    assert "not a local file, so it was not fetched or checked" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()
