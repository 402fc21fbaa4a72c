"""Training speed in sec/kimg (NVIDIA's unit) at a given resolution, batch and preset; with --compare-nvidia
NVIDIA's own training step on the same networks, batches and data, timed in the same run.

    python benchmarks/train_speed.py --res=64 --batch=8 --kimg=0.2 --cfg=auto --device=cpu
    python benchmarks/train_speed.py --res=256 --batch=32 --kimg=2 --cfg=stylegan2 --device=cuda --fast=compile
    OMP_NUM_THREADS=1 python benchmarks/train_speed.py --res=32 --batch=16 --cbase=2048 --cmax=64 --map-depth=2 \\
        --device=cpu --threads=1 --compare-nvidia=/path/to/stylegan2-ada-pytorch --modes=on,off --rounds=5

Without --compare-nvidia: the real training loop (all four phases, ADA pipe, EMA) on random images of the
right shape (or on --data) in a temporary run folder; the first tick (one step: warm-up, compiling,
cuDNN autotuning) is excluded and sec/kimg is the mean of the later ticks, as NVIDIA's tick lines report.

With --compare-nvidia: paired A/B in one process. Each contender (ours in every --modes entry, then
NVIDIA's) is built from the same options, warmed up (compiling included, and reported), then the
contenders take turns: each round every contender trains --steps steps (16 = one full cycle of the lazy
regularisation intervals), so load from other processes hits all alike. Printed: the median sec/kimg per
contender with its blocks, the ratio to NVIDIA's median, the same for process CPU time (steadier on a shared
CPU, where wall time also measures the other jobs), the FLOPs of one cycle (torch's FlopCounterMode
formulas) and the achieved GFLOP/s (per CPU second on a CPU) against this machine's measured
3x3-convolution throughput.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch

from stylegan2_ada.distributed import DistEnv
from stylegan2_ada.train.launch import dataset_info
from stylegan2_ada.train.options import DatasetInfo, TrainOptions, build_options


class RandomImages(torch.utils.data.Dataset):
    """Deterministic random uint8 images: the cost of decoding PNGs is not part of this benchmark."""

    def __init__(self, resolution: int, channels: int = 3, size: int = 1024) -> None:
        self.resolution, self.num_channels, self.size = resolution, channels, size
        self.label_dim, self.has_labels, self.name = 0, False, f"random{resolution}"

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        rnd = np.random.RandomState(idx)
        img = rnd.randint(0, 256, (self.num_channels, self.resolution, self.resolution), dtype=np.uint8)
        return img, self.get_label(idx)

    def get_label(self, idx: int) -> np.ndarray:
        return np.zeros([0], np.float32)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--batch-gpu", type=int, default=None)
    ap.add_argument("--kimg", type=float, default=1.0, help="kimg to time (after the warm-up step)")
    ap.add_argument("--ticks", type=int, default=2, help="timed ticks the kimg is split into")
    ap.add_argument("--cfg", default="auto")
    ap.add_argument("--cbase", type=int, default=None, help="override the channel base (small nets on CPU)")
    ap.add_argument("--cmax", type=int, default=None)
    ap.add_argument("--map-depth", type=int, default=None)
    ap.add_argument("--device", default=None)
    ap.add_argument("--data", default=None, help="a real dataset instead of random images")
    ap.add_argument("--aug", default="ada")
    ap.add_argument("--fp32", action="store_true")
    ap.add_argument("--precision", default=None, help="auto, fp16, bf16, fp32 (the mixed-precision blocks' dtype)")
    ap.add_argument("--nhwc", action="store_true", help="channels-last in the mixed-precision blocks")
    ap.add_argument("--allow-tf32", action="store_true", help="TF32 matmuls/convolutions")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--fast", default=None, help="our --fast mode for the loop timing (auto, on, compile, off)")
    ap.add_argument(
        "--compare-nvidia", type=Path, default=None, metavar="CHECKOUT", help="paired A/B with NVIDIA's step"
    )
    ap.add_argument(
        "--modes",
        default="on,off",
        help="paired mode: our contenders, comma-separated --fast modes, each optionally with :PRECISION "
        "(e.g. on,off,compile,on:bf16)",
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=16,
        help="paired mode: steps per contender per round (a multiple of 16, the R1 interval, gives every block "
        "the same mix of passes)",
    )
    ap.add_argument("--rounds", type=int, default=5, help="paired mode: interleaved rounds")
    ap.add_argument("--warmup", type=int, default=17, help="paired mode: untimed steps first (compiling included)")
    ap.add_argument("--no-flops", action="store_true", help="paired mode: skip the FLOP count")
    return ap.parse_args(argv)


def make_options(
    args: argparse.Namespace, outdir: str, fast: str | None, precision: str | None
) -> tuple[TrainOptions, object]:
    """Our options for these arguments, and the random dataset (None with --data)."""
    dataset = None
    if args.data:
        info = dataset_info(args.data)
    else:
        dataset = RandomImages(args.res)
        info = DatasetInfo(
            path="random", name=dataset.name, resolution=args.res, channels=3, label_dim=0, size=len(dataset)
        )
    raw = {
        "cfg": args.cfg,
        "batch": args.batch,
        "batch_gpu": args.batch_gpu,
        "kimg": args.kimg,
        "tick": args.kimg / args.ticks,
        "snap": 10**6,
        "device": args.device,
        "aug": args.aug,
        "fp32": args.fp32,
        "precision": precision,
        "nhwc": args.nhwc,
        "allow_tf32": args.allow_tf32,
        "cbase": args.cbase,
        "cmax": args.cmax,
        "map_depth": args.map_depth,
        "outdir": outdir,
        "grid": (2, 2),
        "workers": 0 if dataset is not None else None,
        "fast": fast,
    }
    return build_options(raw, info), dataset


def describe(opts: TrainOptions) -> str:
    shape = f"cbase {opts.G.channel_base} cmax {opts.G.channel_max} map {opts.G.mapping.num_layers}"
    return (
        f"res {opts.resolution} cfg {opts.cfg} ({shape}) batch {opts.batch} (batch-gpu {opts.batch_gpu}) aug {opts.aug}"
    )


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU x{torch.get_num_threads()} threads"


# --- the plain loop timing (no comparison) ----------------------------------------------------------------


def time_loop(args: argparse.Namespace) -> None:
    from stylegan2_ada.train.loop import training_loop

    with tempfile.TemporaryDirectory() as tmp:
        opts, dataset = make_options(args, tmp, args.fast, args.precision)
        run_dir = Path(tmp) / "run"
        run_dir.mkdir()
        start = time.time()
        training_loop(opts, run_dir, DistEnv(), dataset=dataset)
        wall = time.time() - start
        rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    timed = rows[1:]
    sec_per_kimg = sum(r["Timing/sec_per_tick"]["mean"] for r in timed) / (
        timed[-1]["Progress/kimg"]["mean"] - rows[0]["Progress/kimg"]["mean"]
    )
    mem = max(r["Resources/peak_gpu_mem_gb"]["mean"] for r in rows)
    dev = opts.device if opts.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    switches = " ".join(f for f, on in (("nhwc", opts.nhwc), ("tf32", opts.allow_tf32)) if on) or "default"
    print(
        f"\n{describe(opts)} precision {opts.precision} fast {opts.fast} switches {switches} on "
        f"{device_name(torch.device(dev))}: {sec_per_kimg:.2f} sec/kimg, peak GPU mem {mem:.2f} GB, wall {wall:.1f}s "
        f"(torch {torch.__version__})"
    )


# --- paired A/B against NVIDIA's step ---------------------------------------------------------------------


class Contender:
    def __init__(self, label: str, step: Callable[[], None], device: torch.device, dtype: torch.dtype) -> None:
        self.label, self.step, self.device, self.note = label, step, device, ""
        self.dtype = dtype  # of the mixed-precision blocks: whose convolution peak to compare with
        self.sec_per_kimg: list[float] = []
        self.cpu_sec_per_kimg: list[float] = []  # process CPU time: steadier than wall time on a shared CPU
        self.flops_per_cycle = 0

    def run(self, steps: int) -> tuple[float, float]:
        """(wall seconds, process CPU seconds) of `steps` steps."""
        from flops import synchronize

        synchronize(self.device)
        start, cpu_start = time.perf_counter(), time.process_time()
        for _ in range(steps):
            self.step()
        synchronize(self.device)
        return time.perf_counter() - start, time.process_time() - cpu_start


def our_contender(args: argparse.Namespace, tmp: str, spec: str) -> tuple[Contender, TrainOptions]:
    from stylegan2_ada.train.loop import batch_stream, build_trainer

    fast, _, precision = spec.partition(":")
    opts, dataset = make_options(args, tmp, fast, precision or args.precision)
    run_dir = Path(tmp) / f"run-{spec.replace(':', '-')}"
    run_dir.mkdir()
    trainer = build_trainer(opts, run_dir, DistEnv(), dataset)
    reals = batch_stream(trainer)
    from stylegan2_ada.train.loop import train_step

    precision_used = str(trainer.half_dtype).replace("torch.", "") if trainer.half_dtype else "fp32"
    contender = Contender(
        f"ours --fast={trainer.fast_mode} {precision_used}",
        lambda: train_step(trainer, reals),
        trainer.device,
        trainer.half_dtype or torch.float32,
    )
    contender.trainer = trainer  # type: ignore[attr-defined]
    return contender, opts


def nvidia_contender(args: argparse.Namespace, opts: TrainOptions, device: torch.device, half: bool) -> Contender:
    from nvidia_train import NvidiaTrainer

    dataset = RandomImages(args.res) if not args.data else None
    if dataset is None:
        from stylegan2_ada.data.dataset import ImageDataset

        dataset = ImageDataset(args.data, resolution=opts.resolution)
    nvidia = NvidiaTrainer(args.compare_nvidia, opts, dataset, device, half_precision=half, seed=opts.seed)
    dtype = torch.float16 if half else torch.float32
    contender = Contender(f"nvidia {'fp16 blocks' if half else 'fp32'}", nvidia.step, device, dtype)
    contender.nvidia = nvidia  # type: ignore[attr-defined]
    return contender


def compare(args: argparse.Namespace) -> None:
    from flops import conv_peak, count_flops

    with tempfile.TemporaryDirectory() as tmp:
        contenders: list[Contender] = []
        opts = None
        for spec in args.modes.split(","):
            contender, opts = our_contender(args, tmp, spec.strip())
            contenders.append(contender)
        device = contenders[0].device
        # NVIDIA's code at its best: fp16 blocks on CUDA (its default), fp32 elsewhere; its fp16 blocks on a
        # CPU run ~30x slower than its fp32, whatever precision our contenders use.
        half = device.type == "cuda" and contenders[0].dtype != torch.float32
        contenders.append(nvidia_contender(args, opts, device, half))
        print(
            f"# train_speed --compare-nvidia  torch {torch.__version__}  {device_name(device)}  {describe(opts)}  "
            f"steps/block {args.steps}  rounds {args.rounds}  date {time.strftime('%Y-%m-%d %H:%M')}"
        )
        for c in contenders:
            trainer = getattr(c, "trainer", None)
            report = trainer.compile_report if trainer is not None else None
            seconds, _ = c.run(args.warmup)
            note = f"warm-up {args.warmup} steps {seconds:.1f}s"
            if report is not None:
                note += f"; {report.line()}"
            if hasattr(c, "nvidia"):
                note += f"; NVIDIA custom CUDA ops: {c.nvidia.custom_ops_loaded()}"  # type: ignore[attr-defined]
            c.note = note
            print(f"  {c.label}: {note}", flush=True)
        kimg = args.steps * opts.batch / 1000
        for round_idx in range(args.rounds):
            for c in contenders:  # interleaved: every contender once per round
                wall, cpu = c.run(args.steps)
                c.sec_per_kimg.append(wall / kimg)
                c.cpu_sec_per_kimg.append(cpu / kimg)
            print(
                f"  round {round_idx + 1}: " + ", ".join(f"{c.label} {c.sec_per_kimg[-1]:.1f}" for c in contenders),
                flush=True,
            )
        if not args.no_flops:
            counted = None
            for c in contenders:
                trainer = getattr(c, "trainer", None)
                if trainer is not None and trainer.fast_mode == "compile":
                    continue  # compiled graphs under a dispatch mode recompile; the math is the eager path's
                c.flops_per_cycle = count_flops(lambda c=c: [c.step() for _ in range(args.steps)])
                counted = counted or c.flops_per_cycle
            for c in contenders:
                c.flops_per_cycle = c.flops_per_cycle or counted or 0
        top_channels = min(opts.G.channel_base // opts.resolution, opts.G.channel_max)
        dtypes = {c.dtype for c in contenders}  # one measurement per dtype
        peaks = {dtype: conv_peak(opts.batch_gpu, top_channels, opts.resolution, device, dtype) for dtype in dtypes}
    reference = statistics.median(contenders[-1].sec_per_kimg)
    cpu_reference = statistics.median(contenders[-1].cpu_sec_per_kimg)
    measured = ", ".join(f"{str(dtype).replace('torch.', '')} {peak:.0f}" for dtype, peak in peaks.items())
    print(
        f"\nmeasured conv throughput (3x3 conv2d {top_channels}->{top_channels} at {opts.resolution}px, batch "
        f"{opts.batch_gpu}, fwd+bwd, best of NCHW/NHWC), GFLOP/s: {measured}\n"
    )
    print(
        "| contender | sec/kimg (median) | blocks | ratio vs NVIDIA | CPU sec/kimg | CPU ratio | GFLOP per cycle "
        "| achieved GFLOP/s (per CPU s on a CPU) | of conv peak |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for c in contenders:
        peak = peaks[c.dtype]
        med, cpu = statistics.median(c.sec_per_kimg), statistics.median(c.cpu_sec_per_kimg)
        gflop = c.flops_per_cycle / 1e9
        achieved = gflop / ((cpu if device.type == "cpu" else med) * kimg) if gflop else 0.0
        blocks = ", ".join(f"{v:.1f}" for v in c.sec_per_kimg)
        print(
            f"| {c.label} | {med:.1f} | {blocks} | {med / reference:.2f} | {cpu:.1f} | {cpu / cpu_reference:.2f} "
            f"| {gflop:.1f} | {achieved:.0f} | {achieved / peak:.0%} |"
        )


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.compare_nvidia is not None:
        compare(args)
    else:
        time_loop(args)


if __name__ == "__main__":
    main()
