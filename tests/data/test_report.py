"""Report: near-duplicates are found (and optionally dropped); manifest and contact sheet are written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.data.prepare import PrepareOptions, prepare
from stylegan2_ada.data.report import dhash, find_near_duplicates, hamming


def test_dhash_sees_resized_recompressed_copies(astronaut: np.ndarray) -> None:
    skdata = pytest.importorskip("skimage.data")
    buf = io.BytesIO()
    PIL.Image.fromarray(astronaut).resize((300, 300)).save(buf, format="jpeg", quality=60)
    copy = np.asarray(PIL.Image.open(buf).convert("RGB"))
    other = skdata.coffee()
    assert hamming(dhash(astronaut), dhash(copy)) <= 4
    assert hamming(dhash(astronaut), dhash(other)) > 16
    assert find_near_duplicates([dhash(astronaut), dhash(other), dhash(copy)]) == [(0, 2, hamming(dhash(astronaut), dhash(copy)))]


def test_same_photo_twice_is_reported_and_can_be_dropped(tmp_path: Path, astronaut: np.ndarray) -> None:
    skdata = pytest.importorskip("skimage.data")
    src = tmp_path / "src"
    src.mkdir()
    PIL.Image.fromarray(astronaut).save(src / "original.png")
    PIL.Image.fromarray(astronaut).resize((400, 400)).save(src / "copy_from_phone.jpg", quality=70)
    PIL.Image.fromarray(skdata.coffee()).save(src / "coffee.png")
    base = dict(sources=[str(src)], resolution=64, mode="center-crop", workers=1, progress=False)
    kept = prepare(PrepareOptions(dest=str(tmp_path / "kept.zip"), **base), log=lambda _: None)
    assert kept.num_images == 3
    assert [(d["a"], d["b"]) for d in kept.duplicates] == [("copy_from_phone.jpg", "original.png")]
    dropped = prepare(PrepareOptions(dest=str(tmp_path / "dropped.zip"), drop_duplicates=True, **base), log=lambda _: None)
    assert dropped.num_images == 2
    manifest = json.loads(Path(dropped.report["manifest"]).read_text())
    assert [s["source"] for s in manifest["skipped"]] == ["original.png"]
    assert "near-duplicate" in manifest["skipped"][0]["reason"]
    sheet = PIL.Image.open(dropped.report["contact_sheet"])
    assert sheet.size[0] > 0
    html = Path(dropped.report["html"]).read_text()
    assert "coffee.png" in html and "near-duplicate" in html


def test_fast_duplicate_search_equals_all_pairs() -> None:
    rng = np.random.default_rng(7)
    base = [int(v) for v in rng.integers(0, 2**63, size=300, dtype=np.int64)]
    # Plant near copies with 0..6 flipped bits.
    hashes = base + [base[k] ^ sum(1 << int(b) for b in rng.choice(64, size=k % 7, replace=False)) for k in range(60)]
    for threshold in (0, 3, 4, 6):
        brute = [(i, j, hamming(hashes[i], hashes[j])) for i in range(len(hashes)) for j in range(i + 1, len(hashes))
                 if hamming(hashes[i], hashes[j]) <= threshold]
        assert find_near_duplicates(hashes, threshold) == brute
        assert len(brute) >= 60 * (min(threshold, 6) + 1) // 7
