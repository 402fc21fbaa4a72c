"""compute_metric / report_metric end to end on tiny networks and datasets, and the command line."""

from __future__ import annotations

import json
import math

import pytest
import torch

from stylegan2_ada.cli import main as cli_main
from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.errors import UserError
from stylegan2_ada.io.snapshot import save_snapshot
from stylegan2_ada.metrics import compute_metric, parse_metric, report_metric


def test_metric_names():
    assert parse_metric("fid50k_full").num_gen == 50_000 and parse_metric("fid50k_full").max_real is None
    assert parse_metric("kid50k_full").max_real == 1_000_000
    pr = parse_metric("pr50k3_full")
    assert (pr.kind, pr.k, pr.max_real) == ("pr", 3, 200_000)
    assert parse_metric("fid10k").max_real == 10_000 and not parse_metric("fid10k").full
    assert parse_metric("fid0.5k_full").num_gen == 500
    assert parse_metric("is50k").kind == "is"
    ppl = parse_metric("ppl2_wend")
    assert (ppl.space, ppl.sampling, ppl.crop) == ("w", "end", False)
    assert parse_metric("ppl_zfull").crop
    with pytest.raises(UserError, match="unknown metric"):
        parse_metric("fid50k_ful")


@pytest.fixture
def setup(tmp_path, make_dataset, make_generator, blob_images, small_vgg):
    data = make_dataset(tmp_path / "blobs.zip", blob_images)
    return {"G": make_generator(16), "data": data, "stand_in": small_vgg, "cache": tmp_path / "cache"}


def test_feature_metrics_layout_and_determinism(setup):
    G, data, net, cache = setup["G"], setup["data"], setup["stand_in"], setup["cache"]
    kw = {"device": "cpu", "cache_dir": cache, "num_samples": 16, "batch_size": 8, "progress": False,
          "inception": net, "vgg16": net}
    fid = compute_metric("fid50k_full", G, ImageDataset(data), **kw)
    assert set(fid) == {"results", "metric", "total_time", "total_time_str", "num_gpus"}
    assert fid["metric"] == "fid50k_full" and fid["num_gpus"] == 1
    value = fid["results"]["fid50k_full"]
    assert math.isfinite(value) and value > 0
    # Same seed -> same number; *_full ignores the loader's mirroring (NVIDIA: whole dataset, no x-flips).
    again = compute_metric("fid50k_full", G, ImageDataset(data, xflip=True), **kw)
    assert again["results"]["fid50k_full"] == value
    assert len(list((cache / "stats").glob("*.npz"))) == 1
    other_seed = compute_metric("fid50k_full", G, str(data), seed=1, **kw)
    assert other_seed["results"]["fid50k_full"] != value

    kid = compute_metric("kid50k_full", G, {"path": str(data), "class_name": "ignored"}, **kw)["results"]
    pr = compute_metric("pr50k3_full", G, data, **kw)["results"]
    iscore = compute_metric("is50k", G, data, **kw)["results"]
    assert set(kid) == {"kid50k_full"} and math.isfinite(kid["kid50k_full"])
    assert set(pr) == {"pr50k3_full_precision", "pr50k3_full_recall"}
    assert all(0 <= v <= 1 for v in pr.values())
    assert set(iscore) == {"is50k_mean", "is50k_std"} and iscore["is50k_mean"] >= 1


def test_ppl_metric(setup):
    kw = {"device": "cpu", "num_samples": 8, "progress": False, "vgg16": setup["stand_in"]}
    res = compute_metric("ppl2_wend", setup["G"], setup["data"], **kw)["results"]
    assert math.isfinite(res["ppl2_wend"]) and res["ppl2_wend"] > 0


def test_report_metric_appends_nvidia_layout(tmp_path):
    result = {"results": {"fid50k_full": 12.5}, "metric": "fid50k_full", "total_time": 3.2,
              "total_time_str": "3s", "num_gpus": 1}
    report_metric(result, tmp_path, tmp_path / "network-snapshot-000004.safetensors", echo=False)
    report_metric(result, tmp_path, "network-snapshot-000008.safetensors", echo=False)
    lines = (tmp_path / "metric-fid50k_full.jsonl").read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert set(first) == {"results", "metric", "total_time", "total_time_str", "num_gpus", "snapshot_pkl", "timestamp"}
    assert first["snapshot_pkl"] == "network-snapshot-000004.safetensors"
    assert json.loads(lines[1])["snapshot_pkl"] == "network-snapshot-000008.safetensors"


def test_cli_in_run_folder_with_real_inception(tmp_path, make_dataset, make_generator, blob_images, inception_file):
    data = make_dataset(tmp_path / "blobs.zip", blob_images[:8])
    run = tmp_path / "00000-blobs"
    run.mkdir()
    (run / "training_options.json").write_text(json.dumps({"data": str(data), "mirror": True}))
    G = make_generator(16)
    snap = save_snapshot(run / "network-snapshot-000000.safetensors", {"G_ema": G})
    args = ["metrics", "--metrics=kid50k_full", f"--network={snap}", "--num-samples=8", "--device=cpu",
            f"--inception={inception_file}", f"--cache-dir={tmp_path / 'cache'}", "--verbose=0"]
    assert cli_main(args) == 0
    line = json.loads((run / "metric-kid50k_full.jsonl").read_text())
    assert line["snapshot_pkl"] == "network-snapshot-000000.safetensors"
    assert line["num_samples"] == 8
    # Random 16px blobs vs an untrained generator's images: far apart in Inception space.
    print(line["results"])
    assert line["results"]["kid50k_full"] > 0.1
    assert cli_main(["metrics", "--metrics=fid50k", f"--network={snap}", "--data=/nonexistent.zip", "--verbose=0",
                     f"--inception={inception_file}"]) == 2
    # A --run-dir that does not exist yet is made, rather than the result being dropped.
    elsewhere = tmp_path / "new" / "folder"
    assert cli_main([*args, f"--data={data}", f"--run-dir={elsewhere}"]) == 0
    assert json.loads((elsewhere / "metric-kid50k_full.jsonl").read_text())["metric"] == "kid50k_full"


def test_metrics_leave_the_callers_random_streams_alone(setup):
    """Training calls metrics between steps: a metric (even one that fills the stats cache) must not move
    the caller's torch random state."""
    kw = {"device": "cpu", "num_samples": 8, "batch_size": 8, "progress": False, "use_cache": False,
          "inception": setup["stand_in"], "vgg16": setup["stand_in"]}
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    compute_metric("kid50k_full", setup["G"], setup["data"], **kw)
    assert torch.equal(torch.get_rng_state(), before)
