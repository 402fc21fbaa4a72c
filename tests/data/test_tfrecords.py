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


def test_damaged_tfrecords_keep_the_good_records(tmp_path: Path) -> None:
    """A truncated tail costs only the record it cuts; a file with no record at all is a clear error."""
    path = tmp_path / "broken-r04.tfrecords"
    _write_tfrecords(path, [np.zeros((3, 16, 16), np.uint8)] * 2)
    path.write_bytes(path.read_bytes()[:-100])
    opts = PrepareOptions(sources=[str(path)], dest=str(tmp_path / "o.zip"), resolution=16, mode="resize", workers=1, progress=False)
    result = prepare(opts, log=lambda _: None)
    assert result.num_images == 1
    (skip,) = result.skipped
    assert skip["source"].startswith("broken-r04.tfrecords@") and "the file ends inside this record" in skip["reason"]
    (tmp_path / "notrec-r04.tfrecords").write_bytes(b"hello world, not a record at all")
    opts.sources = [str(tmp_path / "notrec-r04.tfrecords")]
    with pytest.raises(PrepareError, match="not a TFRecord"):
        prepare(opts, log=lambda _: None)


def _corrupt_records(path: Path, images: list[np.ndarray]) -> dict[int, str]:
    """Damage some records of a written file in place; returns {record index: expected reason words}."""
    data = bytearray(path.read_bytes())
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        pos += 16 + struct.unpack("<Q", data[pos : pos + 8])[0]
    data[starts[1] + 12 + 400] ^= 0xFF  # a pixel byte: only the data CRC can tell
    data[starts[3] : starts[3] + 8] = b"\xde\xad\xbe\xef" * 2  # the length field: framing lost
    garbage = b"\x0a\x05\xff\xff\xff\xff\xff"  # valid CRC, but not a tf.train.Example
    record = bytes(garbage) + bytes(len(data[starts[5] + 12 : starts[6] - 4]) - len(garbage))
    data[starts[5] + 12 : starts[6] - 4] = record
    data[starts[6] - 4 : starts[6]] = struct.pack("<I", _masked(record))
    path.write_bytes(bytes(data[: starts[6] + 700]))  # the last record is cut short
    return {1: "CRC-32C mismatch", 3: "broken record framing", 5: "not a valid tf.train.Example", 6: "ends inside this record"}


def test_one_bad_record_costs_only_itself_and_labels_stay_matched(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8) for _ in range(7)]
    root = tmp_path / "tf"
    root.mkdir()
    _write_tfrecords(root / "mydata-r05.tfrecords", images)
    with open(root / "mydata-rxx.labels", "wb") as f:
        np.save(f, np.eye(7, dtype=np.float32))  # record i has class i
    expected = _corrupt_records(root / "mydata-r05.tfrecords", images)
    opts = PrepareOptions(sources=[str(root)], dest=str(tmp_path / "out.zip"), resolution=32, mode="resize", workers=2, progress=False)
    result = prepare(opts, log=lambda _: None)
    assert result.num_images == 3
    reasons = [s["reason"] for s in result.skipped]
    assert len(reasons) == 4
    for words in expected.values():
        assert sum(words in r for r in reasons) == 1, (words, reasons)
    assert "the records around them are used" in next(r for r in reasons if "framing" in r)
    ds = ImageDataset(str(tmp_path / "out.zip"), use_labels=True)
    for k, i in enumerate((0, 2, 4)):  # record 4 comes after the lost record 3: still pixel-exact, still class 4
        pixels, label = ds[k]
        assert np.array_equal(pixels, images[i]) and int(label.argmax()) == i
