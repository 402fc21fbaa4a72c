"""Orchestration: photos in, NVIDIA-format dataset + report out.

Per source item (in worker processes): decode -> (detect faces -> align/crop) or whole-image transform ->
crops cached as PNG in the work folder with a JSON record. Then, in the main process and in source order:
labels, near-duplicates, packing (atomic) and the report. A failing file is a skip with a reason, never
an abort; a worker that dies (e.g. a decoder crash) costs only the file that killed it.
"""

from __future__ import annotations

import concurrent.futures as cf
import hashlib
import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import PIL.Image

from ..atomic import atomic_write_bytes
from ..errors import UserError
from .align import box_quad, ffhq_quad, map_points, quad_side, render_quad, sharpness
from .dataset_writer import DatasetWriter, DestinationError
from .face_check import CHECKS, make_face_check
from .faces import DetectorUnavailable, make_detector, select_faces
from .images import DEFAULT_MAX_PIXELS, ImageLoadError, encode_png
from .items import display_name
from .labels import LabelError, inconsistency, load_label_table, lookup_label
from .report import dhash, find_near_duplicates, write_report
from .sources import SourceError, SourceItem, load_item, scan_source
from .transforms import TransformSkip, apply_transform

# Bump when processing changes so stale cached crops are not reused.
CACHE_VERSION = "2"
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
    confirm_faces: str = "auto"  # second opinion on each face box: 'auto', 'cnn' or 'off' (face_check.py)
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
            "min_sharpness", "min_image_size", "background", "pad_color", "padding", "detector", "confirm_faces", "margin",
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

# Per process: loading the models costs more than detecting faces in one photo.
_MODELS: dict[tuple[str, str], Any] = {}


def _detector(kind: str) -> Any:
    if ("detector", kind) not in _MODELS:
        _MODELS["detector", kind] = make_detector(kind)
    return _MODELS["detector", kind]


def _face_check(kind: str) -> Any:
    if ("check", kind) not in _MODELS:
        _MODELS["check", kind] = make_face_check(kind)
    return _MODELS["check", kind]


def _item_key(item: SourceItem) -> str:
    try:
        st = os.stat(item.path)
        stamp = f"{st.st_size}|{st.st_mtime_ns}"
    except OSError:
        stamp = "missing"
    raw = f"{item.kind}|{item.name}|{os.path.abspath(item.path)}|{item.member}|{item.offset}|{stamp}"
    return hashlib.sha1(raw.encode("utf-8", "surrogateescape")).hexdigest()[:16]  # names need not be UTF-8


def _save_png(path: str, pixels: np.ndarray) -> None:
    atomic_write_bytes(path, encode_png(pixels, compress_level=1), durable=False)  # a cache: recomputable


def _confirmed_faces(
    pixels: np.ndarray,
    faces: list[Any],
    opts: PrepareOptions,
    cache_base: str,
) -> tuple[list[tuple[Any, Any]], list[dict[str, Any]]]:
    """(face, verdict) of the boxes the second opinion accepts; the rejected ones with a thumbnail and why."""
    check = _face_check(opts.confirm_faces)
    kept, rejected = [], []
    for k, face in enumerate(select_faces(faces, "all")):
        verdict = check.confirm(pixels, face) if check is not None else None
        if verdict is None or verdict.ok:
            kept.append((face, verdict))
            continue
        thumb = f"{cache_base}-rejected{k}.png"
        _save_png(thumb, render_quad(pixels, box_quad(face.box, 0.25), 96, 1, "color", (0, 0, 0), "box").pixels)
        rejected.append({"file": os.path.basename(thumb), "box": [round(float(v), 1) for v in face.box],
                         "detector": face.detector, "detector_score": round(float(face.score), 3),
                         "check": verdict.check, "check_score": verdict.score, "reason": verdict.reason})
    return kept, rejected


def _face_outputs(
    pixels: np.ndarray,
    opts: PrepareOptions,
    cache_base: str,
) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
    faces = _detector(opts.detector).detect(pixels)
    if not faces:
        return [], ["no face found"], []
    # Confirm every box before choosing (--faces=largest must not pick a confident-looking patch).
    confirmed, rejected = _confirmed_faces(pixels, faces, opts, cache_base)
    reasons = [f"face box at ({r['box'][0]:.0f},{r['box'][1]:.0f}) rejected: {r['reason']}" for r in rejected]
    verdicts = {id(face): verdict for face, verdict in confirmed}
    outputs = []
    for k, face in enumerate(select_faces([f for f, _ in confirmed], opts.faces)):
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
        face_json = face.to_json()
        verdict = verdicts[id(face)]
        if verdict is not None:
            face_json["check"], face_json["check_score"] = verdict.check, verdict.score
        outputs.append(
            {
                "file": os.path.basename(path),
                "face_index": k,
                "face": face_json,
                "quad": np.round(quad, 2).tolist(),
                "quad_side": round(side, 1),
                "padded": bool(result.padded),
                "output_landmarks": np.round(map_points(points, quad, opts.resolution), 2).tolist(),
                "sharpness": round(sharp, 1),
                "dhash": f"{dhash(result.pixels):016x}",
            }
        )
    return outputs, reasons, rejected


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
    if item.kind == "skip":  # decided while scanning; not cached, the next scan decides again
        return {"outputs": [], "reasons": [item.reason], "grayscale": False}
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
            record["outputs"], record["reasons"], record["rejected"] = _face_outputs(loaded.pixels, opts, base)
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


# Workers are started fresh, not forked: a forked copy of a process in which dlib's CNN has run waits
# forever on its thread pool (the threads do not survive fork), and the same holds for torch's threads.
_SPAWN = multiprocessing.get_context("spawn")


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
            with cf.ProcessPoolExecutor(max_workers=1 if solo else workers, mp_context=_SPAWN) as pool:
                while queue or in_flight:
                    while queue and len(in_flight) < window:
                        i = queue[0]  # taken off the queue only once submitted: submit() raises on a broken pool
                        in_flight[pool.submit(process_item, items[i], opts, cache_dir)] = i
                        queue.popleft()
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
    if opts.confirm_faces not in CHECKS:
        raise PrepareError(f"--confirm-faces must be one of {', '.join(CHECKS)}, not {opts.confirm_faces!r}")
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
    return _prepare_in(opts, log, start, work_dir, report_dir, cache_dir, made_work=not os.path.exists(work_dir))


def _prepare_in(
    opts: PrepareOptions,
    log: Callable[[str], None],
    start: float,
    work_dir: str,
    report_dir: str,
    cache_dir: str,
    made_work: bool,
) -> PrepareResult:
    try:
        items = _checked_items(opts, log, work_dir, cache_dir)
    except PrepareError:
        if made_work:  # a request refused before any work leaves no side folder behind
            shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return _process(opts, log, start, items, report_dir, cache_dir)


def _checked_items(opts: PrepareOptions, log: Callable[[str], None], work_dir: str, cache_dir: str) -> list[SourceItem]:
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, "options.json"), "w") as f:
        json.dump(asdict(opts), f, indent=1, default=list)

    if opts.labels not in (None, "none", "folders"):
        _label_table(opts.labels)  # a broken label file should stop us before hours of work
    if opts.mode in FACE_MODES:
        try:
            detector = _detector(opts.detector)  # fail fast (and say what to install) before the batch
            check = _face_check(opts.confirm_faces)
        except DetectorUnavailable as exc:
            raise PrepareError(str(exc)) from None
        log(f"face detector: {detector.name}; each face confirmed by: {check.name if check else 'nothing (--confirm-faces=off)'}")

    items = _list_items(opts, work_dir)
    if not items:
        raise PrepareError(f"no files found in {', '.join(opts.sources)}")
    return items


def _process(
    opts: PrepareOptions,
    log: Callable[[str], None],
    start: float,
    items: list[SourceItem],
    report_dir: str,
    cache_dir: str,
) -> PrepareResult:
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


def _skip_entry(item: SourceItem, reason: str) -> dict[str, Any]:
    return {"source": item.name, "path": display_name(item.origin or item.path), "reason": reason}


def _read_png(path: str) -> np.ndarray:
    try:
        with PIL.Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except OSError:
        return np.zeros((96, 96, 3), np.uint8)  # a cache file removed meanwhile: a blank thumbnail


def _label_table(path: str) -> dict[str, Any]:
    try:
        table = load_label_table(path)
    except LabelError as exc:
        raise PrepareError(str(exc)) from None
    problem = inconsistency(list(table.values()))
    if problem:
        raise PrepareError(f"label file {path} mixes {problem}; use one kind of label")
    return table


Kept = tuple[SourceItem, dict[str, Any], dict[str, Any]]


def _assign_labels(
    opts: PrepareOptions,
    kept: list[Kept],
) -> tuple[list[tuple[SourceItem, dict[str, Any], dict[str, Any], Any]], list[dict[str, Any]], list[str]]:
    """(item, record, output, label) for each image that stays, report entries, class names (--labels=folders)."""
    notes: list[dict[str, Any]] = []
    classes: list[str] = []
    labelled = []
    if opts.labels == "folders":
        classes = sorted({item.label_key.split("/")[0] for item, _, _ in kept if "/" in item.label_key})
    table = _label_table(opts.labels) if opts.labels not in (None, "none", "folders") else None
    for item, record, out in kept:
        if opts.labels == "folders":
            if "/" not in item.label_key:
                notes.append(_skip_entry(item, "not inside a class sub-folder (needed by --labels=folders)"))
                continue
            label: Any = classes.index(item.label_key.split("/")[0])
        elif table is not None:
            label = lookup_label(table, item.label_key)
            if label is None:
                notes.append(_skip_entry(item, f"no label for it in {opts.labels}"))
                continue
        elif opts.labels == "none":
            label = None
        else:
            label = item.label
        labelled.append((item, record, out, label))
    if opts.labels is None and labelled and any(x[3] is not None for x in labelled):
        # Labels the source carries are all-or-nothing: say why they were not used instead of dropping them quietly.
        missing = [x[0].name for x in labelled if x[3] is None]
        problem = inconsistency([x[3] for x in labelled if x[3] is not None])
        if missing or problem:
            why = problem or f"{len(missing)} of {len(labelled)} images have no usable label (e.g. {missing[0]})"
            notes.append({"source": "(labels)", "path": "", "reason": f"the source's labels are not used: {why}; "
                          "the dataset is written without labels (fix the source's dataset.json, or pass --labels)"})
            labelled = [(a, b, c, None) for a, b, c, _ in labelled]
    return labelled, notes, classes


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
    rejected: list[dict[str, Any]] = []
    thumbs_rejected: list[np.ndarray] = []
    kept: list[tuple[SourceItem, dict[str, Any], dict[str, Any]]] = []
    for item, record in results:
        for reason in record["reasons"]:
            skipped.append(_skip_entry(item, reason))
        for box in record.get("rejected", []):
            rejected.append({"source": item.name, "source_path": display_name(item.origin or item.path),
                             **{k: v for k, v in box.items() if k != "file"}})
            if len(thumbs_rejected) < 400:  # as many as the page shows
                thumbs_rejected.append(_read_png(os.path.join(cache_dir, box["file"])))
        for out in record["outputs"]:
            kept.append((item, record, out))
    if opts.max_images is not None:
        kept = kept[: opts.max_images]

    labelled, label_notes, classes = _assign_labels(opts, kept)
    skipped.extend(label_notes)

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
        skipped.append(_skip_entry(labelled[j][0], "near-duplicate (dropped by --drop-duplicates)"))
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
                entry = {"image": name, "source": item.name, "source_path": display_name(item.origin or item.path), "label": label}
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
        "rejected_face_boxes": len(rejected) if opts.mode in FACE_MODES else None,
        "mode": opts.mode,
        "resolution": opts.resolution,
        "channels": channels,
        "classes": classes or None,
        "cached_files": sum(1 for _, r in results if r.get("cached")),
        "seconds": round(time.time() - start, 1),
    }
    report = write_report(report_dir, f"Dataset {os.path.basename(opts.dest)}", summary, entries, thumbs, skipped, duplicates,
                          rejected=rejected, rejected_thumbs=thumbs_rejected)
    log(
        f"{len(entries)} images -> {dest_path or '(nothing written)'}; {len(skipped)} skipped; "
        + (f"{len(rejected)} face boxes rejected; " if rejected else "")
        + f"{len(duplicates)} near-duplicate pair{'' if len(duplicates) == 1 else 's'}; report: {report['html']}"
    )
    return PrepareResult(dest_path, len(entries), skipped, report, duplicates, time.time() - start)
