"""Freeze-D keeps the first layers fixed; transfer learning copies matching tensors and says what."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import TINY_FLAGS, run_dirs, tiny_snapshot, train

from stylegan2_ada.config import network_configs
from stylegan2_ada.errors import UserError
from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.train.transfer import check_compatible

COMMON = TINY_FLAGS + ["--aug=noaug", "--kimg=0.008", "--tick=1", "--grid=2x2"]


def test_freezed_layers_unchanged_and_others_trained(tmp_path: Path, tiny_zip: Path) -> None:
    source = tiny_snapshot(tmp_path / "src.safetensors", resolution=16)
    out = tmp_path / "out"
    # D at 16x16: b16 holds layers 0-3 (fromrgb, conv0, conv1, skip), b8 layers 4-6; freeze 4 = all of b16.
    assert train(COMMON + [f"--outdir={out}", f"--data={_zip(tmp_path)}", f"--resume={source}", "--freezed=4"]) == 0
    (run,) = run_dirs(out)
    assert "-freezed4" in run.name
    before = load_snapshot(source).networks["D"].state_dict()
    after = load_snapshot(run / "network-snapshot-000000.safetensors").networks["D"].state_dict()
    frozen = [k for k in before if k.startswith("b16.") and not k.endswith("resample_filter")]
    trained = [k for k in before if k.startswith(("b8.", "b4.")) and k.endswith("weight")]
    assert len(frozen) == 7  # fromrgb w+b, conv0 w+b, conv1 w+b, skip w
    for k in frozen:
        assert torch.equal(before[k], after[k]), f"frozen {k} changed"
    for k in trained:
        assert not torch.equal(before[k], after[k]), f"{k} did not train"


def _zip(tmp_path: Path) -> Path:
    from train_helpers import write_dataset_zip

    return write_dataset_zip(tmp_path / "faces16.zip", resolution=16)


def test_transfer_from_higher_resolution_reports_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 32x32 source into a 16x16 dataset (as 1024 into 512): shared blocks copied, the rest reported."""
    source = tiny_snapshot(tmp_path / "src32.safetensors", resolution=32)
    out = tmp_path / "out"
    # kimg 0.004 = one step; G_ema right after transfer is what we compare (EMA beta ~1 with no ramp).
    assert train(COMMON + [f"--outdir={out}", f"--data={_zip(tmp_path)}", f"--resume={source}", "--kimg=0.004"]) == 0
    text = capsys.readouterr().out
    assert "transfer learning" in text
    assert "source tensors not used: synthesis.b32.*" in text
    assert "D: copied" in text and "kept fresh" in text and "b16.fromrgb" in text
    src = load_snapshot(source).networks
    (run,) = run_dirs(out)
    ema = load_snapshot(run / "network-snapshot-000000.safetensors").networks["G_ema"].state_dict()
    # Shared blocks hold the source's weights (moved at most by one EMA-weighted step).
    for key in ("synthesis.b8.conv0.weight", "synthesis.b16.torgb.weight", "mapping.fc1.weight"):
        assert torch.allclose(ema[key], src["G_ema"].state_dict()[key], atol=1e-3), key


def test_preset_mismatch_names_the_right_cfg() -> None:
    ffhq256 = network_configs("paper256", 256)[0]  # the ffhq256 transfer source was trained with paper256
    with pytest.raises(UserError, match=r"use --cfg=paper256"):
        check_compatible(ffhq256, network_configs("stylegan2", 256)[0], "stylegan2", "ffhq256")
    ffhq1024 = network_configs("stylegan2", 1024)[0]
    with pytest.raises(UserError, match=r"channel_base 32768 vs 16384.*use --cfg=stylegan2"):
        check_compatible(ffhq1024, network_configs("auto", 256)[0], "auto", "ffhq1024")
    # Same architecture at another resolution is fine (1024 -> 512 transfer).
    check_compatible(ffhq1024, network_configs("stylegan2", 512)[0], "stylegan2", "ffhq1024")


def test_mismatch_is_caught_before_a_run_folder_exists(tmp_path: Path) -> None:
    source = tiny_snapshot(tmp_path / "src.safetensors", resolution=16)
    out = tmp_path / "out"
    flags = [f for f in COMMON if not f.startswith("--map-depth")] + ["--map-depth=4"]
    with pytest.raises(UserError, match=r"mapping layers 2 vs 4.*use --cbase=512 --cmax=16 --map-depth=2"):
        train(flags + [f"--outdir={out}", f"--data={_zip(tmp_path)}", f"--resume={source}"])
    assert not out.exists()
