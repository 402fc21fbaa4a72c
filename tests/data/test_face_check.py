"""No junk crops: each face box is confirmed by a second detector before it is packed.

dlib's HOG detector 'finds' a face in the mission patch of skimage's astronaut photo (score 0.12), in that
patch pasted into another photo, and in a drawn cartoon face. Only real faces may reach the dataset, and
every rejected box is in the report with its reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import PIL.ImageDraw
import pytest

from stylegan2_ada.data.align import canonical_eyes
from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.face_check import CnnCheck, DetectorOwnCheck
from stylegan2_ada.data.faces import DetectorUnavailable
from stylegan2_ada.data.prepare import PrepareOptions, prepare

REAL_PHOTOS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg", "multi_face.jpg")
PATCH = (126, 335, 216, 426)  # the mission patch box HOG reports on the astronaut photo


@pytest.fixture(scope="module")
def cnn_check() -> CnnCheck:
    try:
        return CnnCheck()
    except DetectorUnavailable as exc:
        pytest.skip(str(exc))


def _patch_on_coffee(astronaut: np.ndarray) -> np.ndarray:
    """A real photo with a face-like pattern: the astronaut's mission patch, enlarged, on skimage's coffee cup."""
    skdata = pytest.importorskip("skimage.data")
    canvas = PIL.Image.fromarray(skdata.coffee())
    canvas.paste(PIL.Image.fromarray(astronaut[320:440, 110:230]).resize((240, 240)), (300, 80))
    return np.asarray(canvas)


def _drawn_face() -> np.ndarray:
    img = PIL.Image.new("RGB", (400, 400), (200, 180, 160))
    draw = PIL.ImageDraw.Draw(img)
    draw.ellipse((100, 60, 300, 340), fill=(230, 190, 160), outline=(80, 60, 40), width=4)
    draw.ellipse((140, 150, 180, 180), fill=(40, 30, 20))
    draw.ellipse((220, 150, 260, 180), fill=(40, 30, 20))
    draw.polygon([(200, 190), (185, 250), (215, 250)], fill=(190, 140, 120))
    draw.arc((150, 230, 250, 300), 20, 160, fill=(120, 30, 30), width=8)
    draw.line((130, 130, 185, 135), fill=(60, 40, 20), width=6)
    draw.line((215, 135, 270, 130), fill=(60, 40, 20), width=6)
    return np.asarray(img)


@pytest.fixture()
def photos(tmp_path: Path, pyfeat_data: Path, astronaut: np.ndarray) -> Path:
    src = tmp_path / "photos"
    src.mkdir()
    for name in REAL_PHOTOS:
        shutil.copy(pyfeat_data / name, src / name)
    PIL.Image.fromarray(astronaut).save(src / "astronaut.png")
    PIL.Image.fromarray(_patch_on_coffee(astronaut)).save(src / "patch_on_coffee.png")
    PIL.Image.fromarray(_drawn_face()).save(src / "drawn_face.png")
    return src


def _is_aligned_face(crop: np.ndarray, detector, check: CnnCheck) -> bool:
    """A face found again in the crop, with its landmarked eyes on FFHQ's spots, and confirmed by the CNN."""
    for face in detector.detect(np.ascontiguousarray(crop)):
        eyes = np.stack([face.eye_left, face.eye_right])
        if np.abs(eyes - canonical_eyes(crop.shape[0])).max() < 8 and check.confirm(crop, face).ok:
            return True
    return False


def test_only_confirmed_faces_are_packed(tmp_path: Path, photos: Path, dlib_detector, cnn_check: CnnCheck) -> None:
    # The patterns do fool the first detector: otherwise this test would prove nothing.
    for name in ("astronaut.png", "patch_on_coffee.png", "drawn_face.png"):
        assert dlib_detector.detect(np.asarray(PIL.Image.open(photos / name).convert("RGB"))), name
    opts = PrepareOptions(sources=[str(photos)], dest=str(tmp_path / "faces.zip"), resolution=128, mode="align",
                          detector="dlib", workers=1, progress=False, dup_threshold=-1)
    result = prepare(opts, log=lambda _: None)
    manifest = json.loads(Path(result.report["manifest"]).read_text())

    per_photo: dict[str, int] = {}
    for entry in manifest["images"]:
        per_photo[entry["source"]] = per_photo.get(entry["source"], 0) + 1
        assert entry["face"]["check"] == "dlib-cnn" and entry["face"]["check_score"] >= 0.5
    assert per_photo == {"0-f1-su-ph.jpg": 1, "0-f15-hao-ph.jpg": 1, "15-f13-anc-ph.jpg": 1, "45-m7-di-ph.jpg": 1,
                         "single_face.jpg": 1, "multi_face.jpg": 4, "astronaut.png": 1}
    ds = ImageDataset(str(tmp_path / "faces.zip"))
    assert len(ds) == 10
    for i in range(len(ds)):
        assert _is_aligned_face(ds[i][0].transpose(1, 2, 0), dlib_detector, cnn_check), manifest["images"][i]["source"]

    rejected = {r["source"]: r for r in manifest["rejected_faces"]}
    assert set(rejected) == {"astronaut.png", "patch_on_coffee.png", "drawn_face.png"}
    patch = rejected["astronaut.png"]
    assert np.abs(np.array(patch["box"]) - PATCH).max() <= 2
    assert patch["detector"] == "dlib" and patch["detector_score"] < 0.5
    assert "not confirmed as a face" in patch["reason"] and "CNN face detector found no face" in patch["reason"]
    skipped = [s["reason"] for s in manifest["skipped"] if s["source"] == "astronaut.png"]
    assert skipped == [f"face box at ({PATCH[0]},{PATCH[1]}) rejected: {patch['reason']}"]
    assert manifest["summary"]["rejected_face_boxes"] == 3
    page = Path(result.report["html"]).read_text()
    assert "Rejected face boxes (3)" in page and "not confirmed as a face" in page


def test_without_the_check_the_patch_becomes_a_junk_crop(tmp_path: Path, astronaut: np.ndarray, dlib_detector,
                                                          cnn_check: CnnCheck) -> None:
    PIL.Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    opts = PrepareOptions(sources=[str(tmp_path / "astronaut.png")], dest=str(tmp_path / "off.zip"), resolution=128,
                          mode="align", detector="dlib", confirm_faces="off", workers=1, progress=False)
    assert prepare(opts, log=lambda _: None).num_images == 2
    ds = ImageDataset(str(tmp_path / "off.zip"))
    verdicts = [_is_aligned_face(ds[i][0].transpose(1, 2, 0), dlib_detector, cnn_check) for i in range(2)]
    assert sorted(verdicts) == [False, True]  # the patch crop is not a face, the other one is


def test_fallback_check_without_the_cnn_uses_the_detector_score(astronaut: np.ndarray, dlib_detector) -> None:
    faces = sorted(dlib_detector.detect(astronaut), key=lambda f: f.box[1])
    verdicts = [DetectorOwnCheck().confirm(astronaut, f) for f in faces]
    assert [v.ok for v in verdicts] == [True, False]
    assert "HOG score 0.12 < 0.3" in verdicts[1].reason
