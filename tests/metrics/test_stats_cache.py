"""Dataset statistics are cached by content and invalidated when the dataset changes."""

from __future__ import annotations

import numpy as np
import torch

from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.metrics.stats import cached_dataset_stats, dataset_fingerprint


class CountingFeatures:
    """Mean colour per channel and per image quadrant; counts the images it sees."""

    def __init__(self) -> None:
        self.seen = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.seen += images.shape[0]
        x = images.float()
        h = x.shape[2] // 2
        quads = [x[:, :, :h, :h], x[:, :, :h, h:], x[:, :, h:, :h], x[:, :, h:, h:]]
        return torch.cat([q.mean(dim=[2, 3]) for q in quads], dim=1)


def _stats(dataset, fn, cache, **kw):
    return cached_dataset_stats(
        dataset, fn, "counting-test", torch.device("cpu"), cache=cache, batch_size=5, progress=False, **kw
    )


def test_second_call_reuses_the_cache(tmp_path, make_dataset, blob_images):
    path = make_dataset(tmp_path / "ds.zip", blob_images)
    fn = CountingFeatures()
    first = _stats(ImageDataset(path), fn, tmp_path / "cache", capture_mean_cov=True)
    assert fn.seen == len(blob_images)
    files = list((tmp_path / "cache" / "stats").glob("*.npz"))
    assert len(files) == 1
    second = _stats(ImageDataset(path), fn, tmp_path / "cache", capture_mean_cov=True)
    assert fn.seen == len(blob_images)  # nothing recomputed
    np.testing.assert_array_equal(first.get_mean_cov()[1], second.get_mean_cov()[1])
    # The numbers are the features of the images.
    ref = fn(torch.from_numpy(blob_images).permute(0, 3, 1, 2)).double().numpy()
    np.testing.assert_allclose(second.get_mean_cov()[0], ref.mean(axis=0), rtol=1e-6)
    # Other options (all rows, fewer items, mirrored) are separate entries.
    _stats(ImageDataset(path), fn, tmp_path / "cache", capture_all=True, max_items=10)
    _stats(ImageDataset(path, xflip=True), fn, tmp_path / "cache", capture_mean_cov=True)
    assert len(list((tmp_path / "cache" / "stats").glob("*.npz"))) == 3


def test_changed_dataset_invalidates_the_cache(tmp_path, make_dataset, blob_images):
    for name in ("ds.zip", "folder"):
        path = make_dataset(tmp_path / name, blob_images)
        fn = CountingFeatures()
        first = _stats(ImageDataset(path), fn, tmp_path / "cache", capture_all=True)
        fp_before = dataset_fingerprint(path)
        changed = blob_images.copy()
        changed[3] = 255 - changed[3]
        make_dataset(tmp_path / name, changed)  # rewritten in place, same file names and count
        assert dataset_fingerprint(path) != fp_before
        second = _stats(ImageDataset(path), fn, tmp_path / "cache", capture_all=True)
        assert fn.seen == 2 * len(blob_images)
        diff = np.abs(first.get_all() - second.get_all()).sum(axis=1)
        assert diff[3] > 0 and np.all(np.delete(diff, 3) == 0)
