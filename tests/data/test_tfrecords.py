"""TF-era .tfrecords import without TensorFlow.

The test writes the files itself from the documented layout (TFRecord framing: uint64 length, masked
CRC-32C of the length, data, masked CRC-32C of the data; tf.train.Example with an int64 `shape` list and
a raw uint8 CHW `data` bytes feature), with its own protobuf encoder and bitwise CRC, independent of the
reader under test.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.prepare import PrepareError, PrepareOptions, prepare


def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c_bitwise(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _example(image_chw: np.ndarray, packed: bool) -> bytes:
    if packed:
        ints = _field(1, b"".join(_varint(v) for v in image_chw.shape))
    else:  # unpacked repeated int64 (wire type 0), which old writers may produce
        ints = b"".join(_varint(1 << 3 | 0) + _varint(v) for v in image_chw.shape)
    shape = _field(3, ints)  # Feature.int64_list
    data = _field(1, _field(1, image_chw.tobytes()))  # Feature.bytes_list.value
    entries = _field(1, _field(1, b"shape") + _field(2, shape)) + _field(1, _field(1, b"data") + _field(2, data))
    return _field(1, entries)  # Example.features


def _write_tfrecords(path: Path, images: list[np.ndarray], packed: bool = True) -> None:
    with open(path, "wb") as f:
        for img in images:
            record = _example(img, packed)
            length = struct.pack("<Q", len(record))
            f.write(length + struct.pack("<I", _masked(length)) + record + struct.pack("<I", _masked(record)))


def _tf_dataset(root: Path, images: list[np.ndarray], labels: np.ndarray | None = None) -> None:
    """Mimic `dataset_tool.py create_from_images`: one file per resolution, highest first in size."""
    root.mkdir(parents=True)
    res = images[0].shape[1]
    lod = int(np.log2(res))
    for level in range(2, lod + 1):
        factor = 2 ** (lod - level)
        lower = [img.reshape(img.shape[0], img.shape[1] // factor, factor, img.shape[2] // factor, factor).mean(axis=(2, 4)).astype(np.uint8) for img in images]
        _write_tfrecords(root / f"mydata-r{level:02d}.tfrecords", lower, packed=level % 2 == 0)
    if labels is not None:
        with open(root / "mydata-rxx.labels", "wb") as f:
            np.save(f, labels)


def test_tfrecords_import_is_pixel_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8) for _ in range(5)]
    onehot = np.eye(3, dtype=np.float32)[[0, 2, 1, 1, 0]]
    _tf_dataset(tmp_path / "tf", images, onehot)
    opts = PrepareOptions(sources=[str(tmp_path / "tf")], dest=str(tmp_path / "out.zip"), resolution=32, mode="resize", workers=1, progress=False)
    result = prepare(opts, log=lambda _: None)
    assert result.num_images == 5
    ds = ImageDataset(str(tmp_path / "out.zip"), use_labels=True)
    assert ds.resolution == 32 and ds.num_channels == 3 and ds.label_dim == 3
    for i, expected in enumerate(images):
        pixels, label = ds[i]
        assert np.array_equal(pixels, expected)  # CHW, bit-exact
        assert np.array_equal(label, onehot[i])
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert json.loads(zf.read("dataset.json"))["labels"][1] == ["00000/img00000001.png", 2]


def test_grayscale_tfrecords_stay_one_channel(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, size=(1, 16, 16), dtype=np.uint8) for _ in range(3)]
    _tf_dataset(tmp_path / "tf", images)
    opts = PrepareOptions(sources=[str(tmp_path / "tf" / "mydata-r04.tfrecords")], dest=str(tmp_path / "gray"), resolution=16, mode="resize", workers=1, progress=False)
    prepare(opts, log=lambda _: None)
    ds = ImageDataset(str(tmp_path / "gray"))
    assert ds.num_channels == 1 and len(ds) == 3
    assert all(np.array_equal(ds[i][0], images[i]) for i in range(3))
    assert not ds.has_labels


def test_damaged_tfrecords_give_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken-r04.tfrecords"
    _write_tfrecords(path, [np.zeros((3, 16, 16), np.uint8)] * 2)
    path.write_bytes(path.read_bytes()[:-100])
    opts = PrepareOptions(sources=[str(path)], dest=str(tmp_path / "o.zip"), resolution=16, mode="resize", workers=1, progress=False)
    with pytest.raises(PrepareError, match="truncated"):
        prepare(opts, log=lambda _: None)
    (tmp_path / "notrec-r04.tfrecords").write_bytes(b"hello world, not a record at all")
    opts.sources = [str(tmp_path / "notrec-r04.tfrecords")]
    with pytest.raises(PrepareError, match="not a TFRecord"):
        prepare(opts, log=lambda _: None)
