"""Speed of the metric pipeline: Inception features per second, and the FID matrix step.

    python benchmarks/metrics_speed.py                     # CPU (and CUDA when present)
    python benchmarks/metrics_speed.py --device=cuda --num=2048 --batch=64 --res=1024

Images are random uint8 at --res (the network resizes to 299 inside, so the cost barely depends on it).
fid50k_full needs 50k generated + the dataset's images through Inception; multiply accordingly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from stylegan2_ada.metrics.detectors import load_inception  # noqa: E402
from stylegan2_ada.metrics.fid import frechet_distance  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def inception_rate(device: torch.device, num: int, batch: int, res: int, inception: str | None) -> float:
    detector = load_inception(device, path=inception)
    x = torch.randint(0, 256, [batch, 3, res, res], dtype=torch.uint8, device=device)
    for _ in range(3):  # warm-up: the first runs of a process are slower (kernel selection, caches)
        detector(x)
    _sync(device)
    start = time.perf_counter()
    done = 0
    while done < num:
        detector(x)
        done += batch
    _sync(device)
    return done / (time.perf_counter() - start)


def fid_matrix_seconds(with_sqrtm: bool) -> tuple[float, float | None, float]:
    """Seconds of our FID step, of NVIDIA's scipy sqrtm route (optional), and their relative difference."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=[4096, 2048]) @ (rng.normal(size=[2048, 2048]) * 0.03)
    b = a + rng.normal(size=a.shape) * 0.1
    s1, s2 = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
    start = time.perf_counter()
    ours = frechet_distance(a.mean(0), s1, b.mean(0), s2)
    t_ours = time.perf_counter() - start
    if not with_sqrtm:
        return t_ours, None, 0.0
    import scipy.linalg

    start = time.perf_counter()
    root = scipy.linalg.sqrtm(s2 @ s1)
    theirs = float(np.real(np.square(a.mean(0) - b.mean(0)).sum() + np.trace(s1 + s2 - 2 * root)))
    return t_ours, time.perf_counter() - start, abs(ours - theirs) / abs(theirs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", action="append", help="cpu, cuda (repeatable) [default: cpu and cuda if present]")
    parser.add_argument("--num", type=int, default=64, help="images to time per device (default 64)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default 16)")
    parser.add_argument("--res", type=int, default=256, help="input resolution (default 256)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--inception", help="Inception file [default: the usual lookup]")
    parser.add_argument("--skip-fid", action="store_true", help="skip timing the 2048x2048 FID step")
    parser.add_argument("--sqrtm", action="store_true", help="also time NVIDIA's scipy sqrtm route of that step")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    for name in devices:
        device = torch.device(name)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
        num = args.num if device.type == "cpu" else max(args.num, 2048)
        batch = args.batch if device.type == "cpu" else max(args.batch, 64)
        rate = inception_rate(device, num, batch, args.res, args.inception)
        minutes = 50_000 / rate / 60
        print(f"{label}: Inception features {rate:.1f} img/s (batch {batch}, {args.res}px input); "
              f"50k generated images -> {minutes:.1f} min of Inception alone")
    if not args.skip_fid:
        ours, sqrtm, rel = fid_matrix_seconds(args.sqrtm)
        line = f"FID matrix step (2048-d, float64): {ours:.1f} s"
        if sqrtm is not None:
            line += f"; scipy sqrtm route {sqrtm:.1f} s; relative difference {rel:.1e}"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
