"""Training speed in sec/kimg (NVIDIA's unit) at a given resolution, batch and preset.

    python benchmarks/train_speed.py --res=64 --batch=8 --kimg=0.2 --cfg=auto --device=cpu
    python benchmarks/train_speed.py --res=256 --batch=32 --kimg=2 --cfg=stylegan2 --device=cuda

Runs the real training loop (all four phases, ADA pipe, EMA) on random images of the right shape
(or on --data), in a temporary run folder. The first tick (one step: warm-up, cuDNN autotuning) is
excluded; sec/kimg is the mean of the later ticks, as NVIDIA's tick lines report it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from stylegan2_ada.distributed import DistEnv
from stylegan2_ada.train.launch import dataset_info
from stylegan2_ada.train.loop import training_loop
from stylegan2_ada.train.options import DatasetInfo, build_options


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


def main() -> None:
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
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
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
            "precision": args.precision,
            "nhwc": args.nhwc,
            "allow_tf32": args.allow_tf32,
            "cbase": args.cbase,
            "cmax": args.cmax,
            "map_depth": args.map_depth,
            "outdir": tmp,
            "grid": (2, 2),
            "workers": 0 if dataset is not None else None,
        }
        opts = build_options(raw, info)
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
    name = torch.cuda.get_device_name() if dev.startswith("cuda") else f"CPU x{torch.get_num_threads()} threads"
    shape = f"cbase {opts.G.channel_base} cmax {opts.G.channel_max} map {opts.G.mapping.num_layers}"
    switches = " ".join(f for f, on in (("nhwc", opts.nhwc), ("tf32", opts.allow_tf32)) if on) or "default"
    print(
        f"\nres {args.res} cfg {args.cfg} ({shape}) batch {opts.batch} (batch-gpu {opts.batch_gpu}) aug {args.aug} "
        f"precision {opts.precision} switches {switches} on {name}: "
        f"{sec_per_kimg:.2f} sec/kimg, peak GPU mem {mem:.2f} GB, wall {wall:.1f}s "
        f"(torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()
