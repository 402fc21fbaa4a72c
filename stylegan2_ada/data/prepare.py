"""Orchestration: photos in, NVIDIA-format dataset + report out.

Per source item (in worker processes): decode -> (detect faces -> align/crop) or whole-image transform ->
crops cached as PNG in the work folder with a JSON record. Then, in the main process and in source order:
labels, near-duplicates, packing (atomic) and the report. A failing file is a skip with a reason, never
an abort; a worker that dies (e.g. a decoder crash) costs only the file that killed it.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import hashlib
import json
import os
import sys
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import PIL.Image

from ..atomic import atomic_write_bytes
from ..errors import UserError
from .align import box_quad, ffhq_quad, map_points, quad_side, render_quad, sharpness
from .dataset_writer import DatasetWriter, DestinationError
from .faces import DetectorUnavailable, make_detector, select_faces
from .images import DEFAULT_MAX_PIXELS, ImageLoadError, encode_png
from .report import dhash, find_near_duplicates, write_report
from .sources import SourceError, SourceItem, load_item, scan_source
from .transforms import TransformSkip, apply_transform

# Bump when processing changes so stale cached crops are not reused.
CACHE_VERSION = "1"
FACE_MODES = ("align", "crop")
MODES = FACE_MODES + ("resize", "center-crop", "center-crop-wide")


class PrepareError(UserError):
    """A problem with the request itself (bad option, unreadable source); str() says what to do."""


@dataclass
class PrepareOptions:
    sources: list[str]
    dest: str
    resolution: int = 1024
    height: int | None = None  # center-crop-wide only: the content height inside the square
    mode: str = "align"
    resize_filter: str = "lanczos"
    channels: str = "auto"  # 'auto' (1 when every used photo is greyscale), '1' or '3'
    labels: str | None = None  # None (keep source labels), 'none', 'folders', or a CSV/JSON path
    faces: str = "all"  # 'all' or 'largest'
    min_face_size: int = 0  # face box side in source pixels
    allow_upscale: bool = False
    min_sharpness: float = 0.0
    min_image_size: int | None = None  # shorter side; None = min(64, resolution)
    background: tuple[int, int, int] = (255, 255, 255)  # behind transparent pixels
    pad_color: tuple[int, int, int] = (0, 0, 0)
    padding: str = "reflect"  # face crops leaving the photo: 'reflect' (FFHQ) or 'color'
    detector: str = "auto"
    margin: float = 0.4  # crop mode: added around the face box, x box side, each side
    supersample: int = 4
    every_nth_frame: int = 10
    max_images: int | None = None
    max_pixels: int = DEFAULT_MAX_PIXELS
    workers: int = 0  # 0 = all CPU cores
    work_dir: str | None = None
    report_dir: str | None = None
    drop_duplicates: bool = False
    dup_threshold: int = 4
    progress: bool = True

    def processing_key(self) -> str:
        """Hash of everything that changes a crop; pack-time options (labels, channels...) are excluded."""
        keys = (
            "resolution", "height", "mode", "resize_filter", "faces", "min_face_size", "allow_upscale",
            "min_sharpness", "min_image_size", "background", "pad_color", "padding", "detector", "margin",
            "supersample", "max_pixels",
        )
        data = {k: getattr(self, k) for k in keys}
        data["version"] = CACHE_VERSION
        return hashlib.sha1(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()[:12]


@dataclass
class PrepareResult:
    dest: str | None
    num_images: int
    skipped: list[dict[str, Any]]
    report: dict[str, str]
    duplicates: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def default_side_paths(dest: str) -> tuple[str, str]:
    """<dest>_work/ (cache, reusable on re-run) and <dest>_report/ next to the destination."""
    stem = dest[:-4] if dest.lower().endswith(".zip") else dest.rstrip("/\\")
    return stem + "_work", stem + "_report"


# ----------------------------------------------------------------------------------------------------
# Worker side

_DETECTOR: Any = None
_DETECTOR_KIND = ""


def _detector(kind: str) -> Any:
    global _DETECTOR, _DETECTOR_KIND
    if _DETECTOR is None or _DETECTOR_KIND != kind:
        _DETECTOR = make_detector(kind)
        _DETECTOR_KIND = kind
    return _DETECTOR


def _item_key(item: SourceItem) -> str:
    try:
        st = os.stat(item.path)
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    raw = f"{item.name}|{os.path.abspath(item.path)}|{item.member}|{item.offset}|{stamp}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def _save_png(path: str, pixels: np.ndarray) -> None:
    atomic_write_bytes(path, encode_png(pixels, compress_level=1), durable=False)  # a cache: recomputable


def _face_outputs(
    pixels: np.ndarray,
    opts: PrepareOptions,
    cache_base: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    faces = _detector(opts.detector).detect(pixels)
    if not faces:
        return [], ["no face found"]
    outputs, reasons = [], []
    for k, face in enumerate(select_faces(faces, opts.faces)):
        tag = f"face {k} at ({face.box[0]:.0f},{face.box[1]:.0f})"
        if face.size < opts.min_face_size:
            reasons.append(f"{tag}: {face.size:.0f} px is below --min-face-size {opts.min_face_size}")
            continue
        if opts.mode == "align":
            quad = ffhq_quad(face.eye_left, face.eye_right, face.mouth_left, face.mouth_right)
        else:
            quad = box_quad(face.box, opts.margin)
        side = quad_side(quad)
        if side < opts.resolution and not opts.allow_upscale:
            reasons.append(
                f"{tag}: only {side:.0f} px of face crop for a {opts.resolution} px output; "
                "use a lower --resolution or --allow-upscale"
            )
            continue
        result = render_quad(pixels, quad, opts.resolution, opts.supersample, opts.padding, opts.pad_color, opts.resize_filter)
        sharp = sharpness(result.pixels)
        if sharp < opts.min_sharpness:
            reasons.append(f"{tag}: blurry (sharpness {sharp:.0f} < --min-sharpness {opts.min_sharpness:g})")
            continue
        points = face.landmarks if face.landmarks is not None else np.stack([face.eye_left, face.eye_right, face.mouth_left, face.mouth_right])
        path = f"{cache_base}-{k}.png"
        _save_png(path, result.pixels)
        outputs.append(
            {
                "file": os.path.basename(path),
                "face_index": k,
                "face": face.to_json(),
                "quad": np.round(quad, 2).tolist(),
                "quad_side": round(side, 1),
                "padded": bool(result.padded),
                "output_landmarks": np.round(map_points(points, quad, opts.resolution), 2).tolist(),
                "sharpness": round(sharp, 1),
                "dhash": f"{dhash(result.pixels):016x}",
            }
        )
    return outputs, reasons


def _whole_image_output(
    pixels: np.ndarray,
    opts: PrepareOptions,
    cache_base: str,
) -> tuple[list[dict[str, Any]], list[str]]:
    height = opts.height or opts.resolution
    try:
        out = apply_transform(pixels, opts.mode, opts.resolution, height, opts.resize_filter, opts.pad_color)
    except TransformSkip as exc:
        return [], [str(exc)]
    path = f"{cache_base}-0.png"
    _save_png(path, out)
    return [{"file": os.path.basename(path), "dhash": f"{dhash(out):016x}", "sharpness": round(sharpness(out), 1)}], []


def process_item(
    item: SourceItem,
    opts: PrepareOptions,
    cache_dir: str,
) -> dict[str, Any]:
    """Decode and crop one item; the result is cached, so a re-run returns it without work."""
    key = _item_key(item)
    record_path = os.path.join(cache_dir, key + ".json")
    if os.path.isfile(record_path):
        try:
            with open(record_path) as f:
                record = json.load(f)
            if all(os.path.isfile(os.path.join(cache_dir, o["file"])) for o in record["outputs"]):
                record["cached"] = True
                return record
        except (ValueError, KeyError, OSError):
            pass  # damaged cache entry: redo it
    record: dict[str, Any] = {"outputs": [], "reasons": [], "grayscale": False}
    try:
        loaded = load_item(item, opts.background, opts.max_pixels)
        record["grayscale"] = loaded.grayscale
        record["source_mode"] = loaded.source_mode
        record["source_size"] = list(loaded.source_size)
        w, h = loaded.source_size
        min_side = opts.min_image_size if opts.min_image_size is not None else min(64, opts.resolution)
        if min(w, h) < min_side:
            raise ImageLoadError(f"too small ({w}x{h}, shorter side below {min_side} px; see --min-image-size)")
        base = os.path.join(cache_dir, key)
        if opts.mode in FACE_MODES:
            record["outputs"], record["reasons"] = _face_outputs(loaded.pixels, opts, base)
        else:
            record["outputs"], record["reasons"] = _whole_image_output(loaded.pixels, opts, base)
    except ImageLoadError as exc:
        record["reasons"] = [str(exc)]
    except DetectorUnavailable:
        raise  # a setup problem, not a bad file: stop with the install hint
    except MemoryError:
        record["reasons"] = ["not enough memory to process this image"]
        return record  # do not cache: may work with fewer workers
    except Exception as exc:  # noqa: BLE001 - one odd file must never abort the batch
        record["reasons"] = [f"internal error {type(exc).__name__}: {str(exc)[:200]}"]
        return record
    atomic_write_bytes(record_path, json.dumps(record).encode("utf-8"), durable=False)
    return record


# ----------------------------------------------------------------------------------------------------
# Parallel driver


def _run_items(
    items: list[SourceItem],
    opts: PrepareOptions,
    cache_dir: str,
    on_result: Callable[[int, dict[str, Any]], bool],
) -> None:
    """Run process_item over items, calling on_result(index, record) in source order.

    on_result returns False to stop early (--max-images reached).
    """
    workers = opts.workers or os.cpu_count() or 1
    if workers <= 1 or len(items) <= 1:
        for i, item in enumerate(items):
            if not on_result(i, process_item(item, opts, cache_dir)):
                return
        return

    pending: deque[int] = deque(range(len(items)))
    crashed: deque[int] = deque()
    done: dict[int, dict[str, Any]] = {}
    next_out = 0
    while pending or crashed:
        # Items that were in flight when a worker died are retried one at a time to find the culprit.
        solo = bool(crashed)
        queue = crashed if solo else pending
        window = 1 if solo else workers * 3
        in_flight: dict[cf.Future, int] = {}
        try:
            with cf.ProcessPoolExecutor(max_workers=1 if solo else workers) as pool:
                while queue or in_flight:
                    while queue and len(in_flight) < window:
                        i = queue.popleft()
                        in_flight[pool.submit(process_item, items[i], opts, cache_dir)] = i
                    finished, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
                    for fut in finished:
                        result = fut.result()  # raises BrokenProcessPool with the item still in flight
                        done[in_flight.pop(fut)] = result
                    while next_out in done:
                        if not on_result(next_out, done.pop(next_out)):
                            for fut in in_flight:
                                fut.cancel()
                            pool.shutdown(wait=False, cancel_futures=True)
                            return
                        next_out += 1
        except BrokenProcessPool:
            lost = sorted(in_flight.values())
            if solo:
                for i in lost:  # died alone: this file kills the decoder
                    done[i] = {"outputs": [], "reasons": ["the decoder crashed on this file (worker process died)"], "grayscale": False}
            else:
                crashed.extend(lost)
            while next_out in done:
                if not on_result(next_out, done.pop(next_out)):
                    return
                next_out += 1


# ----------------------------------------------------------------------------------------------------
# Labels


def load_label_table(path: str) -> dict[str, Any]:
    """CSV (name,label[,more...]; header optional) or JSON ({name: label} or NVIDIA's {"labels": [...]})."""
    if not os.path.isfile(path):
        raise PrepareError(f"label file {path} does not exist")
    if path.lower().endswith(".json"):
        try:
            with open(path) as f:
                data = json.load(f)
        except ValueError as exc:
            raise PrepareError(f"label file {path} is not valid JSON ({exc})") from None
        if isinstance(data, dict) and isinstance(data.get("labels"), list):
            return {str(k): v for k, v in data["labels"]}
        if isinstance(data, dict):
            return {str(k): v for k, v in data.items()}
        raise PrepareError(f"label file {path}: expected {{name: label}} or {{\"labels\": [[name, label], ...]}}")
    table: dict[str, Any] = {}
    with open(path, newline="") as f:
        for row_no, row in enumerate(csv.reader(f)):
            if not row or not row[0].strip() or row[0].startswith("#"):
                continue
            values = [v.strip() for v in row[1:] if v.strip() != ""]
            try:
                numbers = [float(v) for v in values]
            except ValueError:
                if row_no == 0:
                    continue  # header
                raise PrepareError(f"label file {path} line {row_no + 1}: labels must be numbers, got {values}") from None
            if not numbers:
                raise PrepareError(f"label file {path} line {row_no + 1}: no label after the file name")
            if len(numbers) == 1 and numbers[0].is_integer():
                table[row[0].strip()] = int(numbers[0])
            else:
                table[row[0].strip()] = numbers
    return table


def _lookup_label(table: dict[str, Any], key: str) -> Any:
    for candidate in (key, os.path.basename(key), os.path.splitext(key)[0], os.path.splitext(os.path.basename(key))[0]):
        if candidate in table:
            return table[candidate]
    return None


# ----------------------------------------------------------------------------------------------------
# Main entry


def _list_items(opts: PrepareOptions, work_dir: str) -> list[SourceItem]:
    items: list[SourceItem] = []
    for source in opts.sources:
        try:
            items.extend(scan_source(source, work_dir, opts.every_nth_frame))
        except SourceError as exc:
            raise PrepareError(str(exc)) from None
    return items


def _validate(opts: PrepareOptions) -> None:
    if opts.mode not in MODES:
        raise PrepareError(f"unknown mode {opts.mode!r}; choose one of {', '.join(MODES)}")
    if opts.resolution < 4 or opts.resolution & (opts.resolution - 1):
        raise PrepareError(f"resolution {opts.resolution} must be a power of two (e.g. 256, 512, 1024)")
    if opts.channels not in ("auto", "1", "3"):
        raise PrepareError(f"channels must be auto, 1 or 3, not {opts.channels!r}")
    if not opts.sources:
        raise PrepareError("no --source given")
    if opts.every_nth_frame < 1:
        raise PrepareError("--every-nth-frame must be >= 1")
    for source in opts.sources:
        if not os.path.exists(source):
            raise PrepareError(f"source {source} does not exist; pass a folder, zip, video or .tfrecords file")


def prepare(
    opts: PrepareOptions,
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr),
) -> PrepareResult:
    """Run the whole pipeline. Raises PrepareError for bad requests; bad files are skipped and reported."""
    _validate(opts)
    start = time.time()
    work_dir, report_dir = default_side_paths(opts.dest)
    work_dir = opts.work_dir or work_dir
    report_dir = opts.report_dir or report_dir
    cache_dir = os.path.join(work_dir, "crops-" + opts.processing_key())
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, "options.json"), "w") as f:
        json.dump(asdict(opts), f, indent=1, default=list)

    if opts.labels not in (None, "none", "folders"):
        load_label_table(opts.labels)  # a broken label file should stop us before hours of work
    if opts.mode in FACE_MODES:
        try:
            detector = _detector(opts.detector)  # fail fast (and say what to install) before the batch
        except DetectorUnavailable as exc:
            raise PrepareError(str(exc)) from None
        log(f"face detector: {detector.name}")

    items = _list_items(opts, work_dir)
    if not items:
        raise PrepareError(f"no files found in {', '.join(opts.sources)}")

    results: list[tuple[SourceItem, dict[str, Any]]] = []
    produced = 0
    try:
        from tqdm import tqdm

        bar = tqdm(total=len(items), unit="file", disable=not opts.progress, dynamic_ncols=True)
    except ImportError:  # tqdm is a dependency; keep working without it anyway
        bar = None

    def on_result(index: int, record: dict[str, Any]) -> bool:
        nonlocal produced
        results.append((items[index], record))
        produced += len(record["outputs"])
        if bar is not None:
            bar.update(1)
            bar.set_postfix(images=produced, refresh=False)
        return opts.max_images is None or produced < opts.max_images

    try:
        _run_items(items, opts, cache_dir, on_result)
    except DetectorUnavailable as exc:
        raise PrepareError(str(exc)) from None
    finally:
        if bar is not None:
            bar.close()
    return _pack(opts, results, cache_dir, report_dir, start, len(items), log)


def _pack(
    opts: PrepareOptions,
    results: list[tuple[SourceItem, dict[str, Any]]],
    cache_dir: str,
    report_dir: str,
    start: float,
    num_items: int,
    log: Callable[[str], None],
) -> PrepareResult:
    skipped: list[dict[str, Any]] = []
    kept: list[tuple[SourceItem, dict[str, Any], dict[str, Any]]] = []
    for item, record in results:
        for reason in record["reasons"]:
            skipped.append({"source": item.name, "path": item.origin or item.path, "reason": reason})
        for out in record["outputs"]:
            kept.append((item, record, out))
    if opts.max_images is not None:
        kept = kept[: opts.max_images]

    # Labels.
    label_table = load_label_table(opts.labels) if opts.labels not in (None, "none", "folders") else None
    classes: list[str] = []
    if opts.labels == "folders":
        classes = sorted({item.label_key.split("/")[0] for item, _, _ in kept if "/" in item.label_key})
    labelled = []
    for item, record, out in kept:
        if opts.labels == "folders":
            if "/" not in item.label_key:
                skipped.append({"source": item.name, "path": item.path, "reason": "not inside a class sub-folder (needed by --labels=folders)"})
                continue
            label: Any = classes.index(item.label_key.split("/")[0])
        elif label_table is not None:
            label = _lookup_label(label_table, item.label_key)
            if label is None:
                skipped.append({"source": item.name, "path": item.path, "reason": f"no label for it in {opts.labels}"})
                continue
        elif opts.labels == "none":
            label = None
        else:
            label = item.label
        labelled.append((item, record, out, label))
    if opts.labels is None and any(x[3] is None for x in labelled):
        labelled = [(a, b, c, None) for a, b, c, _ in labelled]  # partial source labels: unlabelled dataset

    # Near-duplicates (same photo twice inflates memorisation).
    hashes = [int(out["dhash"], 16) for _, _, out, _ in labelled]
    pairs = find_near_duplicates(hashes, opts.dup_threshold)
    drop: set[int] = set()
    if opts.drop_duplicates:
        for i, j, _ in pairs:
            if i not in drop:
                drop.add(j)
    duplicates = [
        {"a": labelled[i][0].name, "b": labelled[j][0].name, "distance": d, "dropped": labelled[j][0].name if j in drop else None}
        for i, j, d in pairs
    ]
    for j in sorted(drop):
        skipped.append({"source": labelled[j][0].name, "path": labelled[j][0].path, "reason": "near-duplicate (dropped by --drop-duplicates)"})
    labelled = [x for k, x in enumerate(labelled) if k not in drop]

    channels = int(opts.channels) if opts.channels != "auto" else (1 if labelled and all(r["grayscale"] for _, r, _, _ in labelled) else 3)
    entries: list[dict[str, Any]] = []
    thumbs: list[np.ndarray] = []
    dest_path = None
    if labelled:
        try:
            writer = DatasetWriter(opts.dest, channels)
        except DestinationError as exc:
            raise PrepareError(str(exc)) from None
        with writer:
            for item, record, out, label in labelled:
                with PIL.Image.open(os.path.join(cache_dir, out["file"])) as img:
                    pixels = np.asarray(img.convert("RGB"))
                name = writer.add(pixels, label)
                if len(thumbs) < 400:
                    thumbs.append(np.asarray(PIL.Image.fromarray(pixels).resize((128, 128), PIL.Image.Resampling.BOX)))
                entry = {"image": name, "source": item.name, "source_path": item.origin or item.path, "label": label}
                entry.update({k: v for k, v in out.items() if k != "file"})
                entry["transform"] = {
                    "mode": opts.mode, "resolution": opts.resolution, "resize_filter": opts.resize_filter,
                    "supersample": opts.supersample if opts.mode in FACE_MODES else None,
                    "padding": opts.padding if opts.mode in FACE_MODES else None,
                }
                entries.append(entry)
        dest_path = writer.dest
    summary = {
        "dest": dest_path,
        "images": len(entries),
        "source_files": num_items,
        "skipped": len(skipped),
        "near_duplicate_pairs": len(duplicates),
        "mode": opts.mode,
        "resolution": opts.resolution,
        "channels": channels,
        "classes": classes or None,
        "cached_files": sum(1 for _, r in results if r.get("cached")),
        "seconds": round(time.time() - start, 1),
    }
    report = write_report(report_dir, f"Dataset {os.path.basename(opts.dest)}", summary, entries, thumbs, skipped, duplicates)
    log(
        f"{len(entries)} images -> {dest_path or '(nothing written)'}; {len(skipped)} skipped; "
        f"{len(duplicates)} near-duplicate pair{'' if len(duplicates) == 1 else 's'}; report: {report['html']}"
    )
    return PrepareResult(dest_path, len(entries), skipped, report, duplicates, time.time() - start)
