"""Time to quality: the same short real-face training with and without the fast path, FID at each snapshot.

    OMP_NUM_THREADS=1 python benchmarks/time_to_quality.py --outdir=/tmp/ttq --kimg=20 --seeds=0,1 --modes=on,off
    python benchmarks/time_to_quality.py --outdir=/tmp/ttq --kimg=6 --snap=3 --seeds=0,1 --modes=off,on,on:bf16

Data: scikit-image's LFW subset (the first 100 images, 25x25 grayscale faces), resized to 32x32 with Lanczos,
mirrored. Network: the small CPU net of the slow face test (cbase 2048, cmax 64, 2 mapping layers), batch
16, ADA bgc. Every (mode, seed) pair is one `stylegan2-ada train` run in its own process (--parallel at a
time, one torch thread each); FID is fid0.5k_full (500 fakes against the 100 reals, the fid-helper wheel's
Inception) at every --snap ticks of 1 kimg. Printed: FID by kimg for every run, and each run's training
seconds per kimg (maintenance, i.e. metrics and snapshots, excluded).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from stylegan2_ada.data.lfw import write_lfw_zip

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def train_command(data: Path, outdir: Path, mode: str, seed: int, args: argparse.Namespace) -> list[str]:
    """The run of one (mode, seed); mode is a --fast mode, optionally with :PRECISION (on:bf16)."""
    fast, _, precision = mode.partition(":")
    return [
        sys.executable, "-m", "stylegan2_ada.cli", "train", f"--outdir={outdir}", f"--data={data}",
        "--cbase=2048", "--cmax=64", "--map-depth=2", "--batch=16", "--mbstd-group=4", "--mirror=1",
        "--aug=ada", f"--kimg={args.kimg}", "--tick=1", f"--snap={args.snap}", "--grid=4x4", "--device=cpu",
        f"--seed={seed}", f"--fast={fast}", "--metrics=fid0.5k_full", "--workers=0",
    ] + ([f"--precision={precision}"] if precision else [])  # fmt: skip


def results(run_dir: Path) -> tuple[dict[float, float], float]:
    """({kimg: fid}, training sec/kimg excluding the first tick) of a finished run folder."""
    fids = {}
    for line in (run_dir / "metric-fid0.5k_full.jsonl").read_text().splitlines():
        row = json.loads(line)
        name = Path(row["snapshot_pkl"]).stem  # network-snapshot-000004
        fids[float(name.split("-")[2])] = row["results"]["fid0.5k_full"]
    rows = [json.loads(line) for line in (run_dir / "stats.jsonl").read_text().splitlines()]
    secs = [r["Timing/sec_per_kimg"]["mean"] for r in rows[1:] if "Timing/sec_per_kimg" in r]
    return fids, float(np.median(secs)) if secs else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outdir", type=Path, required=True)
    ap.add_argument("--kimg", type=float, default=20)
    ap.add_argument("--snap", type=int, default=4, help="FID every N ticks of 1 kimg")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--modes", default="on,off", help="--fast modes to compare, each optionally :PRECISION (on:bf16)")
    ap.add_argument("--parallel", type=int, default=2, help="runs at a time (one torch thread each)")
    args = ap.parse_args(argv)

    data = write_lfw_zip(args.outdir / "lfw32.zip")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    jobs = [(mode, int(seed)) for seed in args.seeds.split(",") for mode in args.modes.split(",")]
    pending, running, done = list(jobs), [], {}
    start = time.time()
    while pending or running:
        while pending and len(running) < args.parallel:
            mode, seed = pending.pop(0)
            name = f"{mode.replace(':', '-')}-seed{seed}"
            out = args.outdir / name
            log = open(args.outdir / f"{name}.log", "w")  # noqa: SIM115 (closed when the run ends)
            proc = subprocess.Popen(
                train_command(data, out, mode, seed, args), stdout=log, stderr=subprocess.STDOUT, env=env
            )
            running.append((mode, seed, out, proc, log))
        for item in list(running):
            mode, seed, out, proc, log = item
            if proc.poll() is not None:
                log.close()
                running.remove(item)
                if proc.returncode != 0:
                    print(f"{mode} seed {seed}: exit {proc.returncode}, see {log.name}")
                    continue
                done[(mode, seed)] = results(next(p for p in out.iterdir() if p.is_dir()))
                print(f"{mode} seed {seed} done after {time.time() - start:.0f}s", flush=True)
        time.sleep(5)

    kimgs = sorted({k for fids, _ in done.values() for k in fids})
    print("\n| run | sec/kimg (training) | " + " | ".join(f"FID @{k:g}" for k in kimgs) + " |")
    print("|---|---|" + "---|" * len(kimgs))
    for (mode, seed), (fids, secs) in sorted(done.items()):
        cells = " | ".join(f"{fids[k]:.0f}" if k in fids else "-" for k in kimgs)
        print(f"| --fast={mode} seed {seed} | {secs:.1f} | {cells} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
