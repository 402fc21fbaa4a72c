"""`stylegan2-ada prepare` (and scripts/dataset_tool.py, see cli/legacy.py): photos to a training dataset.

Flag names follow NVIDIA's dataset_tool (--source, --dest, --max-images, --transform, --resize-filter,
--width/--height) and stylegan3's --resolution=WxH, plus the face and report options.
"""

from __future__ import annotations

import argparse
import sys

from ..data.images import parse_color
from ..data.prepare import MODES, PrepareOptions, prepare
from ..data.transforms import parse_resolution
from ..errors import UserError

INTERRUPTED = "interrupted: the destination was not changed; re-run to continue (finished files are cached)"


def add_arguments(parser: argparse.ArgumentParser, default_mode: str = "align") -> None:
    """prepare's flags; scripts/dataset_tool.py uses them with NVIDIA's default, a plain resize."""
    io = parser.add_argument_group("input and output")
    io.add_argument("--source", action="append", required=True, metavar="PATH",
                    help="folder (recursive), .zip, video, .tfrecords file or TF dataset folder; repeatable")
    io.add_argument("--dest", required=True, metavar="PATH",
                    help="output dataset: NAME.zip (uncompressed) or a folder")
    io.add_argument("--resolution", default=None, metavar="N|WxH",
                    help="output size, a power of two (default: 1024); WxH with H<W for center-crop-wide")
    io.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)  # NVIDIA's spelling
    io.add_argument("--height", type=int, default=None, help=argparse.SUPPRESS)
    io.add_argument("--max-images", type=int, default=None, metavar="N", help="stop after N output images")
    io.add_argument("--channels", choices=("auto", "1", "3"), default="auto",
                    help="1 (greyscale) or 3 (RGB); auto = 1 only when every photo is greyscale")
    io.add_argument("--labels", default=None, metavar="folders|none|FILE",
                    help="class labels: 'folders' (sub-folder names), a CSV (name,label) or JSON file, "
                         "'none'; default keeps labels the source carries (dataset.json, -rxx.labels)")
    io.add_argument("--every-nth-frame", type=int, default=10, metavar="N", help="videos: keep every Nth frame")
    io.add_argument("--work-dir", default=None, help="cache of processed crops (default: DEST_work/); re-runs reuse it")
    io.add_argument("--report-dir", default=None, help="manifest, skipped list, contact sheet (default: DEST_report/)")

    tr = parser.add_argument_group("transform")
    tr.add_argument("--mode", choices=MODES, default=None,
                    help=f"align = FFHQ face alignment, crop = face box + margin, or a whole-image transform "
                         f"(default: {default_mode})")
    tr.add_argument("--transform", choices=("center-crop", "center-crop-wide"), default=None,
                    help="NVIDIA's flag: same as --mode center-crop / center-crop-wide")
    tr.add_argument("--resize-filter", choices=("lanczos", "box"), default="lanczos",
                    help="downsampling filter (FID depends on it; NVIDIA default lanczos)")
    tr.add_argument("--pad-color", default="black", metavar="COLOR",
                    help="fill for letterboxing and for --padding=color (name, #rrggbb or r,g,b)")
    tr.add_argument("--background", default="white", metavar="COLOR",
                    help="colour behind transparent pixels (RGBA, palette transparency)")
    tr.add_argument("--max-pixels", type=int, default=None, help="refuse images above this many pixels (default: 250M)")
    tr.add_argument("--min-image-size", type=int, default=None, metavar="PX",
                    help="skip images whose shorter side is smaller (default: min(64, resolution))")

    fc = parser.add_argument_group("faces (modes align and crop)")
    fc.add_argument("--faces", choices=("all", "largest"), default="all", help="one crop per face, or only the largest")
    fc.add_argument("--min-face-size", type=int, default=0, metavar="PX", help="skip faces whose box is smaller")
    fc.add_argument("--allow-upscale", action="store_true",
                    help="keep faces with less resolution than the output (upscaled; off by default)")
    fc.add_argument("--min-sharpness", type=float, default=0.0, metavar="V",
                    help="skip blurry crops: Laplacian variance at 256px below V (try 50; 0 = off)")
    fc.add_argument("--detector", choices=("auto", "dlib", "opencv"), default="auto",
                    help="auto = dlib 68 landmarks if installed, else OpenCV Haar cascades")
    fc.add_argument("--confirm-faces", choices=("auto", "cnn", "off"), default="auto",
                    help="second opinion on each face box before cropping: auto = dlib's CNN face detector when "
                         "installed (else the first detector's score/eyes), cnn = require it, off = keep every box; "
                         "rejected boxes are in the report")
    fc.add_argument("--padding", choices=("reflect", "color"), default="reflect",
                    help="where a crop leaves the photo: FFHQ's blurred reflection or --pad-color")
    fc.add_argument("--margin", type=float, default=0.4, help="crop mode: margin around the face box, x box size")
    fc.add_argument("--supersample", type=int, default=4, help="render at N x the output then downsample (FFHQ: 4)")

    rp = parser.add_argument_group("run")
    rp.add_argument("--drop-duplicates", action="store_true", help="drop near-duplicate crops (always reported)")
    rp.add_argument("--dup-threshold", type=int, default=4, metavar="BITS", help="perceptual-hash distance for near-duplicates")
    rp.add_argument("--workers", type=int, default=0, help="processes (default: all CPU cores)")
    rp.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(_default_mode=default_mode)


def options_from_args(args: argparse.Namespace) -> PrepareOptions:
    """Validate flags into PrepareOptions; raises UserError with a one-line message."""
    try:
        return _options(args)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _options(args: argparse.Namespace) -> PrepareOptions:
    mode = args.mode or args.transform or getattr(args, "_default_mode", "align")
    if args.mode and args.transform and args.mode != args.transform:
        raise ValueError(f"--mode {args.mode} and --transform {args.transform} disagree; give one of them")
    if args.resolution is not None:
        width, height = parse_resolution(args.resolution)
    elif args.width is not None or args.height is not None:
        width = args.width or args.height
        width, height = parse_resolution(f"{width}x{args.height or width}")
    else:
        width, height = 1024, 1024
    if height != width and mode != "center-crop-wide":
        raise ValueError(f"a non-square --resolution {width}x{height} only works with --transform=center-crop-wide "
                         "(datasets must be square)")
    return PrepareOptions(
        sources=list(args.source),
        dest=args.dest,
        resolution=width,
        height=height,
        mode=mode,
        resize_filter=args.resize_filter,
        channels=args.channels,
        labels=args.labels,
        faces=args.faces,
        min_face_size=args.min_face_size,
        allow_upscale=args.allow_upscale,
        min_sharpness=args.min_sharpness,
        min_image_size=args.min_image_size,
        background=parse_color(args.background),
        pad_color=parse_color(args.pad_color),
        padding=args.padding,
        detector=args.detector,
        confirm_faces=args.confirm_faces,
        margin=args.margin,
        supersample=args.supersample,
        every_nth_frame=args.every_nth_frame,
        max_images=args.max_images,
        **({"max_pixels": args.max_pixels} if args.max_pixels else {}),
        workers=args.workers,
        work_dir=args.work_dir,
        report_dir=args.report_dir,
        drop_duplicates=args.drop_duplicates,
        dup_threshold=args.dup_threshold,
        progress=not args.no_progress,
    )


def run(args: argparse.Namespace) -> int:
    """0 when a dataset was written, 1 when nothing usable came out, 2 for a bad request."""
    result = prepare(options_from_args(args))
    if result.num_images == 0:
        reasons = sorted({s["reason"] for s in result.skipped})[:3]
        print(f"error: no usable images; e.g. {'; '.join(reasons) or 'no input'}. See {result.report.get('html')}",
              file=sys.stderr)
        return 1
    return 0
