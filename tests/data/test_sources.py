"""Sources and labels: zip input with NVIDIA labels, CSV/JSON label files, sub-folders, --max-images."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.prepare import PrepareError, PrepareOptions, prepare


def _png(value: int, size: int = 16) -> bytes:
    import io

    buf = io.BytesIO()
    rng = np.random.default_rng(value)
    PIL.Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, format="png")
    return buf.getvalue()


def _opts(tmp_path: Path, source: Path, **kw) -> PrepareOptions:
    return PrepareOptions(sources=[str(source)], dest=str(tmp_path / kw.pop("dest", "out.zip")), resolution=16, mode="resize",
                          workers=1, progress=False, **kw)


def test_zip_source_keeps_its_nvidia_labels(tmp_path: Path) -> None:
    src = tmp_path / "in.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for i in range(4):
            zf.writestr(f"imgs/{i}.png", _png(i))
        zf.writestr("__MACOSX/imgs/._0.png", b"resource fork junk")
        zf.writestr("dataset.json", json.dumps({"labels": [[f"imgs/{i}.png", [i * 1.0, 2.0]] for i in range(4)]}))
    result = prepare(_opts(tmp_path, src), log=lambda _: None)
    assert result.num_images == 4
    reasons = {s["source"]: s["reason"] for s in result.skipped}  # nothing vanishes without a word
    assert reasons == {"__MACOSX/imgs/._0.png": "macOS archive metadata folder (__MACOSX), not read",
                       "dataset.json": "the source's label file, not an image (4 labels read)"}
    ds = ImageDataset(str(tmp_path / "out.zip"), use_labels=True)
    assert ds.label_dim == 2 and ds[3][1].tolist() == [3.0, 2.0]
    with zipfile.ZipFile(src) as zf:
        original = np.asarray(PIL.Image.open(zf.open("imgs/2.png")))
    assert np.array_equal(ds[2][0], original.transpose(2, 0, 1))


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_label_files(tmp_path: Path, kind: str) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (src / name).write_bytes(_png(ord(name[0])))
    if kind == "csv":
        labels = tmp_path / "labels.csv"
        labels.write_text("file,class\na.png,2\nb,0\n")  # c.png has no label: skipped, said why
    else:
        labels = tmp_path / "labels.json"
        labels.write_text(json.dumps({"a.png": 2, "b.png": 0}))
    result = prepare(_opts(tmp_path, src, labels=str(labels)), log=lambda _: None)
    assert result.num_images == 2
    assert [s["source"] for s in result.skipped] == ["c.png"] and "no label" in result.skipped[0]["reason"]
    ds = ImageDataset(str(tmp_path / "out.zip"), use_labels=True)
    assert [int(ds[i][1].argmax()) for i in range(2)] == [2, 0] and ds.label_dim == 3


def test_broken_label_file_stops_before_work(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    (src / "a.png").write_bytes(_png(1))
    bad = tmp_path / "labels.csv"
    bad.write_text("a.png,cat\nb.png,dog\n")
    with pytest.raises(PrepareError, match="must be numbers"):
        prepare(_opts(tmp_path, src, labels=str(bad)), log=lambda _: None)


def test_max_images_and_folder_labels(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    for cls in ("dog", "cat"):
        (src / cls).mkdir(parents=True)
        for i in range(3):
            (src / cls / f"{i}.png").write_bytes(_png(i + (10 if cls == "dog" else 0)))
    (src / "loose.png").write_bytes(_png(99))
    full = prepare(_opts(tmp_path, src, labels="folders", dest="full.zip"), log=lambda _: None)
    assert full.num_images == 6 and [s["source"] for s in full.skipped] == ["loose.png"]
    ds = ImageDataset(str(tmp_path / "full.zip"), use_labels=True)
    assert [int(ds[i][1].argmax()) for i in range(6)] == [0, 0, 0, 1, 1, 1]  # cat < dog
    capped = prepare(_opts(tmp_path, src, max_images=4, dest="capped.zip"), log=lambda _: None)
    assert capped.num_images == 4 and len(ImageDataset(str(tmp_path / "capped.zip"))) == 4
