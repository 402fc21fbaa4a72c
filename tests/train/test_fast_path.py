"""The training fast path (--fast) against the reference path (--fast=off).

Default suite (seconds): every loss phase's gradients, R1 and path length included, within fp32 round-off;
the fast EMA equal to the plain one; 100 training steps on each path give loss curves within the
seed-to-seed spread; a snapshot trained on the fast path renders the same pictures on the reference path;
exact resume on the reference path. Marked slow (torch.compile takes a minute or more on a busy CPU): the
compiled passes against the eager ones, and the on-disk compile cache.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from train_helpers import TINY_FLAGS, run_dirs, train

from stylegan2_ada.distributed import DistEnv
from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.train.loop import batch_stream, build_trainer, train_step, update_ema
from stylegan2_ada.train.options import DatasetInfo, build_options
from stylegan2_ada.train.state import latest_resumable


class Blobs(torch.utils.data.Dataset):
    """Smooth random uint8 images (in memory, deterministic)."""

    def __init__(self, resolution: int = 16, size: int = 16) -> None:
        rnd = np.random.RandomState(0)
        base = torch.from_numpy(rnd.rand(size, 3, 4, 4)).float()
        imgs = torch.nn.functional.interpolate(base, size=resolution, mode="bilinear", align_corners=False)
        self.images = (imgs * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        self.resolution, self.num_channels, self.label_dim, self.has_labels, self.name = (
            resolution,
            3,
            0,
            False,
            "blobs",
        )

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        return self.images[idx], self.get_label(idx)

    def get_label(self, idx: int) -> np.ndarray:
        return np.zeros([0], np.float32)


def make_trainer(tmp_path: Path, fast: str, seed: int = 0, resolution: int = 16, **raw):
    ds = Blobs(resolution)
    info = DatasetInfo(path="blobs", name="blobs", resolution=resolution, channels=3, label_dim=0, size=len(ds))
    options = dict(
        cbase=512, cmax=16, map_depth=2, batch=4, mbstd_group=2, device="cpu", fp32=True, aug="ada", p=0.3,
        outdir=str(tmp_path), grid=(2, 2), workers=0, seed=seed, fast=fast, kimg=1,
    )  # fmt: skip
    options.update(raw)
    opts = build_options(options, info)
    run_dir = tmp_path / f"run-{fast}-{seed}-{resolution}"
    run_dir.mkdir(exist_ok=True)
    return build_trainer(opts, run_dir, DistEnv(), ds)


def phase_gradients(trainer, phase: str) -> dict[str, torch.Tensor]:
    """Gradients of one phase on fixed inputs and a fixed RNG state."""
    torch.manual_seed(11)
    dev = trainer.device
    real = (torch.rand(4, 3, 16, 16) * 2 - 1).to(dev)
    z = torch.randn(4, trainer.G.z_dim).to(dev)
    c = torch.zeros(4, 0, device=dev)
    network = trainer.networks[phase[0]]
    network.zero_grad(set_to_none=True)
    network.requires_grad_(True)
    torch.manual_seed(12)
    trainer.loss.accumulate_gradients(phase, real, c, z, c, gain=1.0)
    network.requires_grad_(False)
    return {name: p.grad.clone() for name, p in network.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("phase", ["Gmain", "Greg", "Dmain", "Dreg"])
def test_every_phase_fast_equals_reference_within_round_off(tmp_path: Path, phase: str) -> None:
    ref, fast = make_trainer(tmp_path, "off"), make_trainer(tmp_path, "on")
    for name, net in fast.networks.items():  # the same weights (build_trainer seeds them alike)
        assert all(
            torch.equal(a, b) for a, b in zip(net.state_dict().values(), ref.networks[name].state_dict().values())
        )
    with torch.no_grad():  # noise strengths away from 0, so the noise inputs are part of the check
        for trainer in (ref, fast):
            for name, p in trainer.G.named_parameters():
                if name.endswith("noise_strength"):
                    p.fill_(0.3)
    a, b = phase_gradients(ref, phase), phase_gradients(fast, phase)
    assert a.keys() == b.keys() and a
    for name in a:
        scale = a[name].abs().max().clamp_min(1e-8)
        assert (b[name] - a[name]).abs().max() / scale < 1e-3, f"{phase}: {name}"
    assert torch.allclose(ref.loss.pl_mean, fast.loss.pl_mean, rtol=1e-5) if phase == "Greg" else True


def test_fast_ema_equals_the_plain_update(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, "on")
    with torch.no_grad():
        for p in trainer.G.parameters():
            p.add_(torch.randn_like(p))
    plain, fast = copy.deepcopy(trainer.G_ema), copy.deepcopy(trainer.G_ema)
    update_ema(plain, trainer.G, trainer.opts, 1000, fast=False)
    update_ema(fast, trainer.G, trainer.opts, 1000, fast=True)
    for a, b in zip(plain.state_dict().values(), fast.state_dict().values()):
        assert torch.equal(a, b)


def loss_curve(
    tmp_path: Path, fast: str, seed: int, steps: int = 100, window: int = 20, **raw
) -> np.ndarray:
    """Mean G and D loss in windows of `window` steps: [windows, 2] (8x8 images, 8 channels: seconds per run)."""
    trainer = make_trainer(tmp_path, fast, seed=seed, resolution=8, cbase=256, cmax=8, **raw)
    reals = batch_stream(trainer)
    rows = []
    for _ in range(steps):
        train_step(trainer, reals)
        summary = trainer.loss.stats.summary(lambda t: t)
        trainer.loss.stats.reset()
        rows.append([summary["Loss/G/loss"]["mean"], summary["Loss/D/loss"]["mean"]])
    return np.asarray(rows).reshape(steps // window, window, 2).mean(axis=1)


def test_hundred_steps_fast_and_reference_stay_within_the_seed_spread(tmp_path: Path) -> None:
    ref0, ref1 = loss_curve(tmp_path, "off", 0), loss_curve(tmp_path, "off", 1)
    fast0 = loss_curve(tmp_path, "on", 0)
    seed_spread = np.abs(ref0 - ref1).mean(axis=0)  # per loss, over the windows
    path_gap = np.abs(fast0 - ref0).mean(axis=0)
    assert np.all(np.isfinite(fast0))
    assert np.all(path_gap <= 1.5 * seed_spread + 0.02), (path_gap, seed_spread)


def test_snapshot_trained_on_the_fast_path_renders_identically_on_the_reference_path(
    tmp_path: Path, tiny_zip: Path
) -> None:
    from stylegan2_ada.tools.render import renderer

    out = tmp_path / "runs"
    assert (
        train(TINY_FLAGS + [f"--outdir={out}", f"--data={tiny_zip}", "--kimg=0.012", "--tick=0.012", "--fast=on"]) == 0
    )
    (run,) = run_dirs(out)
    assert "fast path on" in (run / "log.txt").read_text()
    snap = load_snapshot(run / f"network-snapshot-{latest_resumable(run).key}.safetensors")
    for net in snap.networks.values():
        for name, tensor in net.state_dict().items():
            assert "_orig_mod" not in name and tensor.is_contiguous(), name
    G = snap.generator.eval()
    G_copy = copy.deepcopy(G)
    z = torch.randn(4, G.z_dim)
    with torch.inference_mode():
        a = renderer(G, fast="off")(z, None, 1.0, None, "const", None)
        b = renderer(G_copy, fast="off")(z, None, 1.0, None, "const", None)
        c = renderer(G, fast="on")(z, None, 1.0, None, "const", None)
    assert torch.equal(a, b) and a.is_contiguous()
    torch.testing.assert_close(c, a, rtol=1e-4, atol=1e-4)


def test_reference_path_resumes_bit_identically(tmp_path: Path, tiny_zip: Path) -> None:
    common = TINY_FLAGS + ["--aug=ada", "--p=0.3", "--tick=0.008", "--snap=1", "--grid=2x2", "--seed=3", "--fast=off"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert train(common + [f"--outdir={full}", f"--data={tiny_zip}", "--kimg=0.02"]) == 0
    assert train(common + [f"--outdir={part}", f"--data={tiny_zip}", "--kimg=0.008"]) == 0
    assert train(common + [f"--outdir={part}", "--resume=latest", "--kimg=0.02"]) == 0
    (run_full,), (run_part,) = run_dirs(full), run_dirs(part)
    a = load_snapshot(run_full / f"network-snapshot-{latest_resumable(run_full).key}.safetensors").networks
    b = load_snapshot(run_part / f"network-snapshot-{latest_resumable(run_part).key}.safetensors").networks
    for name in ("G", "G_ema", "D"):
        for (key, x), y in zip(a[name].state_dict().items(), b[name].state_dict().values()):
            assert torch.equal(x, y), f"{name}.{key}"
    assert "fast path off" in (run_part / "log.txt").read_text()


# --- torch.compile (slow) -------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["Gmain", "Dmain"])
def test_compiled_main_passes_equal_eager_fast_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, phase: str
) -> None:
    from stylegan2_ada.nn.compiled import CompileReport, cache_dir

    monkeypatch.setenv("STYLEGAN2_ADA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    eager, compiled = make_trainer(tmp_path, "on"), make_trainer(tmp_path, "compile")
    report = CompileReport()
    a, b = phase_gradients(eager, phase), phase_gradients(compiled, phase)
    assert report.graphs >= 2 and report.seconds > 0  # synthesis and D, forward and backward
    for name in a:
        scale = a[name].abs().max().clamp_min(1e-8)
        assert (b[name] - a[name]).abs().max() / scale < 1e-3, f"{phase}: {name}"
    assert cache_dir() == tmp_path / "cache" / "compile" and any(cache_dir().iterdir())


@pytest.mark.slow
def test_compiled_training_steps_run_the_regularisation_eagerly(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, "compile")
    reals = batch_stream(trainer)
    for _ in range(5):  # steps 0 and 4 run Greg, step 0 Dreg: double backward outside the compiled graphs
        train_step(trainer, reals)
    assert trainer.compile_report is not None and trainer.compile_report.graphs >= 2
    assert all(torch.isfinite(p).all() for p in trainer.G.parameters())


# --- CUDA (skipped without a GPU; run by benchmarks/gpu_session.sh) ------------------------------------


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("phase", ["Gmain", "Greg", "Dmain", "Dreg"])
def test_fast_path_on_cuda_matches_the_reference_path(tmp_path: Path, phase: str) -> None:
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    ref, fast = make_trainer(tmp_path, "off", device="cuda"), make_trainer(tmp_path, "on", device="cuda")
    a, b = phase_gradients(ref, phase), phase_gradients(fast, phase)
    for name in a:
        scale = a[name].abs().max().clamp_min(1e-8)
        assert (b[name].cpu() - a[name].cpu()).abs().max() / scale < 1e-3, f"{phase}: {name}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fast_path_trains_in_half_precision_on_cuda(tmp_path: Path) -> None:
    trainer = make_trainer(tmp_path, "on", device="cuda", fp32=False, precision="fp16")
    reals = batch_stream(trainer)
    for _ in range(5):
        train_step(trainer, reals)
    assert all(torch.isfinite(p).all() for p in trainer.G.parameters())


def test_runs_saved_before_the_fast_path_continue_on_the_reference_ops(tmp_path: Path) -> None:
    from stylegan2_ada.train.options import TrainOptions

    opts = make_trainer(tmp_path, "auto").opts
    old = opts.to_dict()
    del old["fast"]
    assert TrainOptions.from_dict(old).fast == "off"
    assert TrainOptions.from_dict(opts.to_dict()).fast == "auto"


def test_fakes_and_reals_in_one_D_pass_equal_two_passes(tmp_path: Path) -> None:
    # Minibatch-stddev groups of 4 over 8 fakes and 8 reals, labels, ADA at p=0.5: the paired pass must give
    # each image the logit it gets alone, and the augment pipe its draws in NVIDIA's order (fakes first).
    trainer = make_trainer(tmp_path, "on", batch=8, mbstd_group=4, p=0.5)
    loss = trainer.loss
    assert loss._pairable(8, 8) and not loss._pairable(8, 4) and not loss._pairable(2, 2)
    gen = torch.rand(8, 3, 16, 16) * 2 - 1
    real = torch.rand(8, 3, 16, 16) * 2 - 1
    c = torch.zeros(8, 0)
    torch.manual_seed(5)
    with torch.no_grad():
        fake_alone, real_alone = loss.run_D(gen, c), loss.run_D(real, c)
        torch.manual_seed(5)
        fake_pair, real_pair = loss.run_D_pair(gen, c, real, c)
    assert not torch.allclose(fake_alone, real_alone)
    torch.testing.assert_close(fake_pair, fake_alone, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(real_pair, real_alone, rtol=1e-4, atol=1e-5)


def test_bf16_blocks_on_the_cpu_fast_path_follow_fp32(tmp_path: Path) -> None:
    # --precision=bf16 (the CPU speed choice): every phase's gradients near the fp32 ones (bf16 keeps 8
    # mantissa bits, so percent-level, not round-off), and 100 steps within the fp32 seed-to-seed spread.
    fp32, bf16 = make_trainer(tmp_path, "on"), make_trainer(tmp_path, "on", fp32=False, precision="bf16")
    assert bf16.half_dtype == torch.bfloat16
    for phase in ("Gmain", "Dmain", "Dreg"):
        a, b = phase_gradients(fp32, phase), phase_gradients(bf16, phase)
        # Weights only: D is piecewise linear, so R1's bias gradients are round-off noise on both paths.
        cos = torch.nn.functional.cosine_similarity
        cosines = {k: float(cos(a[k].flatten(), b[k].flatten(), dim=0)) for k in a if k.endswith("weight")}
        assert min(cosines.values()) > 0.95 and np.median(list(cosines.values())) > 0.99, (phase, cosines)
    ref0, ref1 = loss_curve(tmp_path, "on", 0), loss_curve(tmp_path, "on", 1)
    half0 = loss_curve(tmp_path, "on", 0, fp32=False, precision="bf16")
    gap, spread = np.abs(half0 - ref0).mean(axis=0), np.abs(ref0 - ref1).mean(axis=0)
    assert np.all(np.isfinite(half0)) and np.all(gap <= 1.5 * spread + 0.02), (gap, spread)


def test_auto_precision_takes_bf16_only_on_the_cpu_fast_path_with_native_bf16() -> None:
    from stylegan2_ada.device import cpu_has_native_bf16, training_half_dtype

    cpu = torch.device("cpu")
    native = torch.bfloat16 if cpu_has_native_bf16() else None
    assert training_half_dtype(cpu, "auto", "on") == native
    assert training_half_dtype(cpu, "auto", "compile") == native
    assert training_half_dtype(cpu, "auto", "off") is None  # the reference path stays NVIDIA's fp32
    assert training_half_dtype(cpu, "fp32", "on") is None
    assert training_half_dtype(cpu, "bf16", "off") == torch.bfloat16
    assert training_half_dtype(torch.device("cuda"), "auto", "on") == torch.float16
