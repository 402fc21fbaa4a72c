"""Generator inference speed (images/s) at batch 32, const noise, random-init networks of a preset.

    python benchmarks/generate_speed.py                       # 256 and 1024, batch 32, best device
    python benchmarks/generate_speed.py --res 256 --batch 4 --iters 3 --device cpu
    python benchmarks/generate_speed.py --res 256 --compare-nvidia=/path/to/stylegan2-ada-pytorch
    python benchmarks/generate_speed.py --res 256 --try-speedups   # variants timed side by side
    OMP_NUM_THREADS=1 python benchmarks/generate_speed.py --res 256 --batch 4 --iters 1 --rounds 5 --threads 1 \
        --device cpu --fast=on,compile --compare-nvidia=/path/to/stylegan2-ada-pytorch

--compare-nvidia imports NVIDIA's Generator from that checkout at run time (nothing of theirs lives in this
repository), loads the same weights into it, times it in the same run and reports the largest pixel
difference of the two outputs on the uint8 scale (x/255). NVIDIA's reference on one H100 (REFERENCE.md):
795 img/s at 256, 291 img/s at 1024 (stylegan2 preset, batch 32, const noise).

--fast times the generate command's fast path (tools.render.renderer: `on` the fast ops, `compile` the fast
ops compiled, its compile time reported from the warm-up). Variants take turns for --rounds rounds; the
median per variant is reported with the speed-up over NVIDIA's median, and the achieved GFLOP/s of one
batch (FLOPs counted with torch's FlopCounterMode) against a plain 3x3 conv2d at the top resolution.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from flops import conv_peak, count_flops

from stylegan2_ada.config import PRESETS, network_configs
from stylegan2_ada.device import PRECISIONS, half_dtype_for, pick_device
from stylegan2_ada.image_files import to_uint8
from stylegan2_ada.nn import Generator
from stylegan2_ada.nn.compiled import CompileReport
from stylegan2_ada.tools.render import renderer
from stylegan2_ada.tools.seeds import latents_for_seeds


def build_generator(cfg: str, res: int, device: torch.device) -> Generator:
    """Random weights, with non-zero noise strengths and w_avg so that every input of G is exercised."""
    g, _ = network_configs(cfg, res)
    torch.manual_seed(0)
    G = Generator(g).eval().requires_grad_(False)
    gen = torch.Generator().manual_seed(1)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"):
            p.copy_(torch.rand([], generator=gen) * 0.2)
    G.mapping.w_avg.copy_(torch.randn(G.w_dim, generator=gen))
    return G.to(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def time_it(
    fn: Callable[[], torch.Tensor],
    iters: int,
    warmup: int,
    device: torch.device,
) -> tuple[float, float, torch.Tensor]:
    """Wall seconds and process CPU seconds per call after `warmup` untimed calls, and the last output.

    CPU seconds stay meaningful on a CPU shared with other jobs, where wall time mostly measures the load."""
    out = None
    for _ in range(warmup):
        out = fn()
    synchronize(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(iters):
        out = fn()
    synchronize(device)
    return (time.perf_counter() - start) / iters, (time.process_time() - cpu_start) / iters, out


def nvidia_generator(checkout: Path, G: Generator) -> torch.nn.Module:
    """NVIDIA's Generator from their checkout, built with G's hyper-parameters and G's weights."""
    if not (checkout / "training" / "networks.py").is_file():
        raise SystemExit(
            f"--compare-nvidia={checkout}: no training/networks.py there (a stylegan2-ada-pytorch checkout?)"
        )
    sys.path.insert(0, str(checkout))
    from training.networks import Generator as NvGenerator  # type: ignore[import-not-found]

    cfg = G.cfg
    nG = NvGenerator(
        z_dim=cfg.z_dim,
        c_dim=cfg.c_dim,
        w_dim=cfg.w_dim,
        img_resolution=cfg.img_resolution,
        img_channels=cfg.img_channels,
        mapping_kwargs={"num_layers": cfg.mapping.num_layers},
        synthesis_kwargs={
            "channel_base": cfg.channel_base,
            "channel_max": cfg.channel_max,
            "num_fp16_res": cfg.num_fp16_res,
            "conv_clamp": cfg.conv_clamp,
        },
    )
    nG.load_state_dict(G.state_dict())
    return nG.eval().requires_grad_(False).to(next(G.parameters()).device)


def pixel_diff(a: torch.Tensor, b: torch.Tensor) -> int:
    """Largest difference of two image batches after the uint8 conversion, in 1/255 steps."""
    return int((torch.from_numpy(to_uint8(a)).int() - torch.from_numpy(to_uint8(b)).int()).abs().max())


def our_variants(args: argparse.Namespace) -> dict[str, dict]:
    """name -> options of one timed configuration of our generator."""
    base = {"fused": None, "channels_last": False, "grad_mode": "inference", "compile": False, "fast": None}
    variants = {"ours": base}
    for mode in [m for m in args.fast.split(",") if m]:
        variants[f"ours --fast={mode}"] = {**base, "fast": mode}
        if mode == "compile" and args.cuda_graphs:
            variants["ours --fast=compile +cudagraphs"] = {**base, "fast": mode, "cuda_graphs": True}
    if args.try_speedups:
        variants["fused=on"] = {**base, "fused": True}
        variants["fused=off"] = {**base, "fused": False}
        variants["no_grad"] = {**base, "grad_mode": "no_grad"}
        variants["channels_last"] = {**base, "channels_last": True}
    if args.compile:
        variants["torch.compile (reference ops)"] = {**base, "compile": True}
    return variants


def make_runner(
    G: Generator, z: torch.Tensor, half_dtype: torch.dtype | None, opts: dict
) -> Callable[[], torch.Tensor]:
    if opts["fast"] is not None:
        # The generate command's own path (tools.render.renderer), as `--fast=MODE` runs it.
        render = renderer(G, fast=opts["fast"], cuda_graphs=opts.get("cuda_graphs", False))

        def run_fast() -> torch.Tensor:
            with torch.inference_mode():
                return render(z, None, 1, None, "const", half_dtype)

        return run_fast
    net: torch.nn.Module = G
    if opts["channels_last"]:
        net = G.to(memory_format=torch.channels_last)
    forward = torch.compile(net) if opts["compile"] else net
    grad_mode = torch.inference_mode if opts["grad_mode"] == "inference" else torch.no_grad

    def run() -> torch.Tensor:
        with grad_mode():
            return forward(
                z, None, truncation_psi=1, noise_mode="const", half_dtype=half_dtype, fused_modconv=opts["fused"]
            )

    return run


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--res", type=int, nargs="+", default=[256, 1024], help="resolutions (default: 256 1024)")
    p.add_argument("--batch", type=int, default=32, help="images per forward pass (default: %(default)s)")
    p.add_argument("--iters", type=int, default=10, help="timed forward passes per round (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=2, help="untimed passes first (default: %(default)s)")
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="time every variant this many times, interleaved; the median is reported (for a shared machine)",
    )
    p.add_argument(
        "--cfg",
        choices=sorted(PRESETS),
        default="stylegan2",
        help="network preset (default: %(default)s, as NVIDIA's timing)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="fp16 layers' dtype (default: fp16 on CUDA, else fp32)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--compare-nvidia",
        type=Path,
        default=None,
        metavar="CHECKOUT",
        help="also time NVIDIA's Generator from this stylegan2-ada-pytorch checkout",
    )
    p.add_argument(
        "--fast",
        default="on",
        help="comma-separated --fast modes of the generate command to time besides the reference (on, compile; "
        "'' for none; default: %(default)s)",
    )
    p.add_argument("--cuda-graphs", action="store_true", help="with compile on CUDA: also time CUDA-graph replay")
    p.add_argument(
        "--try-speedups", action="store_true", help="also time fused/non-fused modconv, no_grad, channels_last"
    )
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the reference generator")
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count and the conv throughput")
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    half_dtype = half_dtype_for(device, args.precision)
    name = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    print(
        f"# generate_speed  torch {torch.__version__}  device {device} ({name})  cfg {args.cfg}  batch {args.batch}  "
        f"iters {args.iters}  warmup {args.warmup}  rounds {args.rounds}  precision {args.precision} -> "
        f"{half_dtype or 'fp32'}  noise const  date {time.strftime('%Y-%m-%d %H:%M')}"
    )
    rows = []
    for res in args.res:
        G = build_generator(args.cfg, res, device)
        z = latents_for_seeds(list(range(args.batch)), G.z_dim).to(device)
        runners: dict[str, Callable[[], torch.Tensor]] = {}
        for label, opts in our_variants(args).items():
            Gv = build_generator(args.cfg, res, device) if opts["channels_last"] else G
            runners[label] = make_runner(Gv, z, half_dtype, opts)
        if args.compare_nvidia is not None:
            nG = nvidia_generator(args.compare_nvidia, G)

            def run_nvidia(nG: torch.nn.Module = nG, z: torch.Tensor = z) -> torch.Tensor:
                with torch.no_grad():
                    return nG(z, None, truncation_psi=1, noise_mode="const", force_fp32=half_dtype is None)

            runners["nvidia"] = run_nvidia
        secs: dict[str, list[float]] = {label: [] for label in runners}
        cpus: dict[str, list[float]] = {label: [] for label in runners}
        outputs: dict[str, torch.Tensor] = {}
        for label, run in runners.items():  # warm-up, compiling included: reported, not timed
            report = CompileReport()
            start = time.perf_counter()
            for _ in range(args.warmup):
                outputs[label] = run()
            synchronize(device)
            if report.graphs:
                print(f"  {res} {label}: warm-up {time.perf_counter() - start:.1f}s; {report.line()}", flush=True)
        for _ in range(args.rounds):  # interleaved, so that load from other processes hits every variant
            for label, run in runners.items():
                sec, cpu, outputs[label] = time_it(run, args.iters, 0, device)
                secs[label].append(sec)
                cpus[label].append(cpu)
        flops = peak = 0.0
        if not args.no_flops:
            # Counted under no_grad: inference_mode hides its ops from Python dispatch modes (it counted 0).
            counting = {**our_variants(args)["ours"], "grad_mode": "no_grad"}
            flops = count_flops(make_runner(G, z, half_dtype, counting))
            top = min(G.cfg.channel_base // res, G.cfg.channel_max)
            peak = conv_peak(args.batch, top, res, device, half_dtype or torch.float32, backward=False, repeats=2)
        reference = outputs["ours"]
        nvidia_sec = statistics.median(secs["nvidia"]) if "nvidia" in secs else None
        for label in runners:
            sec = statistics.median(secs[label])
            diff = "-" if label == "ours" else str(pixel_diff(outputs[label], reference))
            if label == "nvidia":
                diff += f" (float {(outputs[label].float() - reference).abs().max().item():.2e})"
            speedup = f"{nvidia_sec / sec:.2f}x" if nvidia_sec else "-"
            achieved = flops / sec / 1e9 if flops else 0.0
            rows.append(
                f"| {res} | {label} | {args.batch / sec:.2f} | {sec * 1000:.0f} | {statistics.median(cpus[label]) / args.batch:.2f} "
                f"| {speedup} | {achieved:.0f} ({achieved / peak:.0%}) | {diff} |"
                if flops
                else f"| {res} | {label} | {args.batch / sec:.2f} | {sec * 1000:.0f} | "
                f"{statistics.median(cpus[label]) / args.batch:.2f} | {speedup} | - | {diff} |"
            )
        if flops:
            rows.append(
                f"| {res} | (one batch: {flops / 1e9:.0f} GFLOP; measured 3x3-conv throughput at {res}px: {peak:.0f} GFLOP/s) "
                "| | | | | | |"
            )
        del G
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print("| res | generator | img/s (median) | ms/batch | CPU s/img | vs NVIDIA | GFLOP/s (of conv peak) | max abs pixel diff vs ours (x/255) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
