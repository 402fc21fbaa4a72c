"""NVIDIA dataset format: the writer (atomic, layout, labels) and the training loader."""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stylegan2_ada.data.dataset import DatasetError, ImageDataset
from stylegan2_ada.data.dataset_writer import DatasetWriter, DestinationError, archive_name


def _images(n: int, size: int = 8, channels: int = 3, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (size, size, channels), dtype=np.uint8) for _ in range(n)]


def test_archive_names_follow_nvidia_layout() -> None:
    assert archive_name(0) == "00000/img00000000.png"
    assert archive_name(1234) == "00001/img00001234.png"


@pytest.mark.parametrize("dest", ["data.zip", "data_folder"])
def test_round_trip_with_class_labels(tmp_path: Path, dest: str) -> None:
    images = _images(1003)  # crosses the 1000-per-folder boundary
    path = str(tmp_path / dest)
    with DatasetWriter(path) as writer:
        for i, img in enumerate(images):
            writer.add(img, label=i % 4)
    ds = ImageDataset(path, use_labels=True)
    assert len(ds) == 1003 and ds.resolution == 8 and ds.num_channels == 3
    assert ds.label_dim == 4 and ds.has_labels and ds.has_onehot_labels
    pixels, label = ds[1001]
    assert pixels.dtype == np.uint8 and pixels.shape == (3, 8, 8)
    assert np.array_equal(pixels, images[1001].transpose(2, 0, 1))
    assert label.tolist() == [0.0, 1.0, 0.0, 0.0]
    if dest.endswith(".zip"):
        with zipfile.ZipFile(path) as zf:
            assert "00001/img00001002.png" in zf.namelist()
            assert json.loads(zf.read("dataset.json"))["labels"][5] == ["00000/img00000005.png", 1]
    unlabelled = ImageDataset(path)
    assert not unlabelled.has_labels and unlabelled[0][1].shape == (0,)


def test_float_labels_grayscale_xflip_and_max_size(tmp_path: Path) -> None:
    images = _images(10, channels=1)
    with DatasetWriter(str(tmp_path / "g.zip"), channels=1) as writer:
        for i, img in enumerate(images):
            writer.add(img, label=[i * 0.5, -1.0])
    ds = ImageDataset(str(tmp_path / "g.zip"), use_labels=True, xflip=True, max_size=4)
    assert len(ds) == 8 and ds.num_channels == 1 and ds.label_dim == 2 and not ds.has_onehot_labels
    raw = [ds.get_details(i)["raw_idx"] for i in range(4)]
    assert raw == sorted(raw) and [ds.get_details(i + 4)["raw_idx"] for i in range(4)] == raw
    img, label = ds[5]
    assert np.array_equal(img, images[raw[1]].transpose(2, 0, 1)[:, :, ::-1])  # mirrored copy
    assert label.tolist() == [raw[1] * 0.5, -1.0]
    # A DataLoader worker receives a pickled dataset: the open zip handle must not travel.
    clone = pickle.loads(pickle.dumps(ds))
    assert np.array_equal(clone[0][0], ds[0][0])


def test_killed_write_leaves_the_previous_dataset_intact(tmp_path: Path) -> None:
    path = str(tmp_path / "d.zip")
    with DatasetWriter(path) as writer:
        writer.add(_images(1)[0])
    before = Path(path).read_bytes()
    with pytest.raises(RuntimeError):
        with DatasetWriter(path) as writer:
            writer.add(_images(1, seed=5)[0])
            raise RuntimeError("simulated crash mid-write")
    assert Path(path).read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["d.zip"]  # no temp file left behind


def test_writer_rejects_inconsistent_or_unsafe_output(tmp_path: Path) -> None:
    with pytest.raises(DestinationError, match="power-of-two"):
        DatasetWriter(str(tmp_path / "a.zip")).add(np.zeros((6, 6, 3), np.uint8))
    writer = DatasetWriter(str(tmp_path / "b.zip"))
    writer.add(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DestinationError, match="same shape"):
        writer.add(np.zeros((16, 16, 3), np.uint8))
    writer.abort()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("precious")
    with pytest.raises(DestinationError, match="not a dataset"):
        DatasetWriter(str(tmp_path / "mine"))


def test_loader_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="folder or a .zip"):
        ImageDataset(str(tmp_path / "missing.zip"))
    with DatasetWriter(str(tmp_path / "d.zip")) as writer:
        writer.add(_images(1)[0])
    with pytest.raises(DatasetError, match="not 16"):
        ImageDataset(str(tmp_path / "d.zip"), resolution=16)


def test_sigkill_mid_write_keeps_old_dataset_and_next_run_cleans_up(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    path = tmp_path / "d.zip"
    with DatasetWriter(str(path)) as writer:
        writer.add(_images(1)[0])
    before = path.read_bytes()
    script = (
        "import sys, time, numpy as np\n"
        "from stylegan2_ada.data.dataset_writer import DatasetWriter\n"
        f"w = DatasetWriter({str(path)!r})\n"
        "for i in range(5): w.add(np.full((8, 8, 3), i, np.uint8))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=repo, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == before  # the killed run never touched the dataset
    assert len(os.listdir(tmp_path)) == 2  # ... only left its temporary file
    with DatasetWriter(str(path)) as writer:
        writer.add(_images(1, seed=3)[0])
    assert sorted(os.listdir(tmp_path)) == ["d.zip"]
    assert len(ImageDataset(str(path))) == 1
