"""CUDA checks (`pytest -m gpu tests/gpu`): skipped where no CUDA device is present, so CI passes them by.

They cover what a CPU cannot: the fp16 blocks computed by CUDA kernels, TF32, channels-last, and a few
training steps with mixed precision, saved and continued. Run them in every session that has a GPU
(benchmarks/gpu_session.sh does, before timing anything).
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from stylegan2_ada.config import network_configs
from stylegan2_ada.nn import Discriminator, Generator

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "train"))  # tiny datasets and the in-process trainer


def _networks(res: int = 256) -> tuple[Generator, Discriminator]:
    g, d = network_configs("stylegan2", res)
    torch.manual_seed(0)
    G, D = Generator(g), Discriminator(d)
    with torch.no_grad():  # non-zero noise strengths and w_avg, so every weight takes part
        for name, t in G.state_dict().items():
            if name.endswith("noise_strength"):
                t.fill_(0.1)
        G.mapping.w_avg.normal_()
    return G.eval(), D.eval()


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def test_cuda_fp32_equals_cpu_fp32() -> None:
    G, D = _networks(256)
    z = torch.randn(4, 512, generator=torch.Generator().manual_seed(1))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    with torch.no_grad():
        ref = G(z, None, truncation_psi=0.7, noise_mode="const", half_dtype=None)
        out = G.cuda()(z.cuda(), None, truncation_psi=0.7, noise_mode="const", half_dtype=None).cpu()
        assert _rel(out, ref) < 1e-4
        assert _rel(D.cuda()(out.cuda(), None, half_dtype=None).cpu(), D.cpu()(ref, None, half_dtype=None)) < 1e-3


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float16, 0.01), (torch.bfloat16, 0.05)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_cuda_half_blocks_stay_close_to_fp32(dtype: torch.dtype, tol: float, channels_last: bool) -> None:
    g, _ = network_configs("stylegan2", 256)
    G = Generator(dataclasses.replace(g, fp16_channels_last=channels_last)).cuda().eval()
    z = torch.randn(8, 512, device="cuda", generator=torch.Generator("cuda").manual_seed(2))
    with torch.no_grad():
        ref = G(z, None, noise_mode="const", half_dtype=None)
        half = G(z, None, noise_mode="const", half_dtype=dtype)
    assert half.dtype == torch.float32 and torch.isfinite(half).all()
    assert _rel(half, ref) < tol


def test_mixed_precision_training_steps_save_and_continue_on_cuda(tmp_path: Path) -> None:
    from train_helpers import run_dirs, train, write_dataset_zip

    data = write_dataset_zip(tmp_path / "d.zip", count=32, resolution=64)
    flags = [
        f"--outdir={tmp_path / 'runs'}",
        f"--data={data}",
        "--cbase=4096",
        "--cmax=128",
        "--map-depth=2",
        "--batch=16",
        "--device=cuda",
        "--tick=0.032",
        "--snap=1",
        "--nhwc=True",
        "--allow-tf32=True",
    ]
    assert train([*flags, "--kimg=0.064"]) == 0
    (run,) = run_dirs(tmp_path / "runs")
    assert "float16 on cuda" in (run / "log.txt").read_text()
    assert train([*flags, "--kimg=0.128", "--resume=latest"]) == 0
    stats = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    assert stats[-1]["Progress/kimg"]["mean"] >= 0.128
    for row in stats:
        for key, value in row.items():
            if key.startswith("Loss/") and isinstance(value, dict) and value.get("num", 1):
                assert math.isfinite(value["mean"]), (key, value)
