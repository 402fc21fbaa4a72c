"""FFHQ alignment: geometry of the crop square, point mapping, and real faces landing on FFHQ's eye spots."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.data.align import align_face, box_quad, canonical_eyes, ffhq_quad, map_points, quad_side, render_quad

FRONTAL_PORTRAITS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg", "single_face.jpg")


def test_ffhq_quad_follows_the_recipe() -> None:
    eye_l, eye_r = np.array([100.0, 100.0]), np.array([160.0, 100.0])
    mouth_l, mouth_r = np.array([110.0, 170.0]), np.array([150.0, 170.0])
    quad = ffhq_quad(eye_l, eye_r, mouth_l, mouth_r)
    # eye distance 60, eye-to-mouth 70: half side = max(120, 126) = 126
    assert quad_side(quad) == pytest.approx(252.0)
    centre = quad.mean(axis=0)
    assert centre == pytest.approx([130.0, 100.0 + 0.1 * 70.0])
    assert quad[0] == pytest.approx([130 - 126, 107 - 126])  # top-left
    assert quad[2] == pytest.approx([130 + 126, 107 + 126])  # bottom-right


def test_ffhq_quad_removes_roll() -> None:
    angle = np.deg2rad(30)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    pts = np.array([[-30.0, 0.0], [30.0, 0.0], [-20.0, 70.0], [20.0, 70.0]]) @ rot.T + 300
    quad = ffhq_quad(*pts)
    top = quad[3] - quad[0]
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(30.0)


def test_map_points_agrees_with_rendering() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    img[120:123, 231:234] = 255  # a bright dot centred on (232, 121)
    angle = np.deg2rad(17)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = np.array([[-90.0, -90.0], [-90.0, 90.0], [90.0, 90.0], [90.0, -90.0]]) @ rot.T + [200.0, 150.0]
    out = render_quad(img, quad, 128, supersample=4, padding="none").pixels[..., 0].astype(np.float64)
    ys, xs = np.mgrid[: out.shape[0], : out.shape[1]]
    found = np.array([(xs * out).sum(), (ys * out).sum()]) / out.sum()
    expected = map_points(np.array([[232.0, 121.0]]), quad, 128)[0]
    assert np.abs(found - expected).max() < 0.3


def test_box_quad_is_axis_aligned_with_margin() -> None:
    quad = box_quad((10, 20, 110, 100), margin=0.5)
    assert quad_side(quad) == pytest.approx(200.0)
    assert quad.mean(axis=0) == pytest.approx([60.0, 60.0])


def _eye_error(detector, photo: np.ndarray, size: int = 256) -> float:
    faces = detector.detect(photo)
    assert faces, "the detector should find the test face"
    face = max(faces, key=lambda f: f.size)
    result = align_face(photo, face.eye_left, face.eye_right, face.mouth_left, face.mouth_right, output_size=size)
    assert result.pixels.shape == (size, size, 3)
    again = detector.detect(result.pixels)
    assert again, "the aligned crop must still contain a detectable face"
    best = max(again, key=lambda f: f.size)
    eyes = np.stack([best.eye_left, best.eye_right])
    return float(np.abs(eyes - canonical_eyes(size)).max())


@pytest.mark.parametrize("name", FRONTAL_PORTRAITS)
def test_aligned_eyes_land_on_ffhq_positions(pyfeat_data, dlib_detector, name: str) -> None:
    photo = np.asarray(PIL.Image.open(pyfeat_data / name).convert("RGB"))
    assert _eye_error(dlib_detector, photo) <= 3.0


def test_alignment_undoes_a_tilted_photo(dlib_detector, astronaut) -> None:
    # Rotate the photo 25 degrees (with room around it): alignment must bring the eyes back level.
    big = np.asarray(PIL.Image.fromarray(astronaut).rotate(25, resample=PIL.Image.Resampling.BICUBIC, expand=True))
    assert _eye_error(dlib_detector, big) <= 3.0


def test_face_at_the_border_is_reflect_padded_not_black(dlib_detector, astronaut) -> None:
    # Cut the photo right through the face: the FFHQ square leaves the image and must be synthesised.
    face = max(dlib_detector.detect(astronaut), key=lambda f: f.size)
    cut = int(face.box[0] + 0.25 * (face.box[2] - face.box[0]))
    photo = np.ascontiguousarray(astronaut[:, cut:])
    face = max(dlib_detector.detect(photo), key=lambda f: f.size)
    args = (photo, face.eye_left, face.eye_right, face.mouth_left, face.mouth_right)
    reflect = align_face(*args, output_size=128)
    coloured = align_face(*args, output_size=128, padding="color", pad_color=(255, 0, 255))
    assert reflect.padded and coloured.padded
    magenta = np.all(coloured.pixels[:, :8] == (255, 0, 255), axis=-1).mean()
    assert magenta > 0.5  # the left margin really is outside the photo
    assert np.all(reflect.pixels[:, :8] == (255, 0, 255), axis=-1).mean() == 0
    assert reflect.pixels[:, :8].std() > 1.0  # filled with blurred image content, not a flat colour


def test_fast_warp_matches_pil_quad_transform(astronaut) -> None:
    pytest.importorskip("cv2", reason="the fast path uses OpenCV")
    from stylegan2_ada.data.align import _warp_quad

    quad = ffhq_quad(np.array([200.0, 200.0]), np.array([260.0, 205.0]), np.array([205.0, 270.0]), np.array([250.0, 275.0]))
    assert quad.min() > 0 and quad.max() < 511  # inside the photo: PIL and OpenCV treat outside differently
    img = PIL.Image.fromarray(astronaut)
    fast = np.asarray(_warp_quad(img, quad, 512)).astype(int)
    reference = np.asarray(img.transform((512, 512), PIL.Image.Transform.QUAD, (quad + 0.5).flatten().tolist(), PIL.Image.Resampling.BILINEAR)).astype(int)
    diff = np.abs(fast - reference)
    # Same sampling; only fixed-point rounding differs (a level or two, a few more on sharp edges).
    assert diff.mean() < 1.0 and np.percentile(diff, 99.9) <= 2 and diff.max() <= 8
