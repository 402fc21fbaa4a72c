"""A source's own dataset.json, whatever shape its labels take: used when sound, reported when not.

The old reader unpacked every entry as (name, label): a dict or one-element lists stopped the run with
'too many/not enough values to unpack', and partial or wrong labels vanished without a word.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import pytest

from stylegan2_ada.data.dataset import ImageDataset
from stylegan2_ada.data.labels import inconsistency, normalize_label, parse_dataset_json
from stylegan2_ada.data.prepare import PrepareError, PrepareOptions, prepare


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    PIL.Image.fromarray(np.random.default_rng(seed).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(buf, format="png")
    return buf.getvalue()


@pytest.mark.parametrize(
    "value, label, problem",
    [
        (3, 3, None), (0, 0, None), (2.0, 2, None), ([0.5, 1], [0.5, 1.0], None), ([7], [7.0], None),
        (-1, None, "negative"), (2.5, None, "not a class number"), (float("nan"), None, "not a class number"),
        (True, None, "not a label"), (None, None, "not a label"), ("cat", None, "not a label"), ([], None, "empty"),
        ([1, "x"], None, "finite numbers"), ([[1, 2]], None, "finite numbers"), ({"a": 1}, None, "not a label"),
        ([1, float("inf")], None, "finite numbers"),
    ],
)
def test_every_label_shape_is_a_label_or_a_reason(value: Any, label: Any, problem: str | None) -> None:
    got, why = normalize_label(value)
    assert got == label
    assert (why is None) if problem is None else (problem in why)


@pytest.mark.parametrize(
    "text, table, problems",
    [
        ('{"labels": [["a.png", 1], ["b.png", 0]]}', {"a.png": 1, "b.png": 0}, []),
        ('{"labels": {"a.png": 1, "sub\\\\b.png": [0.5, 2]}}', {"a.png": 1, "sub/b.png": [0.5, 2.0]}, []),
        ('{"labels": [["a.png"], ["b.png", 2]]}', {"b.png": 2}, ["no label after the name"]),
        ('{"labels": [["a.png", 1, 2], "b.png", 5]}', {}, ["not a [name, label] pair"] * 3),
        ('{"labels": [["a.png", 1], ["a.png", 2]]}', {"a.png": 1}, ["labelled twice"]),
        ('{"labels": null}', {}, []),
        ('{"labels": "a.png"}', {}, ["'labels' is str"]),
        ('{"classes": 3}', {}, ["no 'labels' key"]),
        ("[1, 2]", {}, ["no 'labels' key"]),
        ("{not json", {}, ["not valid JSON"]),
        ('{"labels": [["a.png", NaN]]}', {}, ["not a class number"]),
    ],
)
def test_dataset_json_shapes(text: str, table: dict, problems: list[str]) -> None:
    got, found = parse_dataset_json(text.encode())
    assert got == table
    assert len(found) == len(problems) and all(p in f for p, f in zip(problems, found)), found


def test_inconsistent_kinds_are_named() -> None:
    assert inconsistency([1, 2, 0]) is None and inconsistency([[1.0], [2.0]]) is None
    assert "class" in inconsistency([1, [1.0]]) and "vector of 1" in inconsistency([1, [1.0]])
    assert "vector of 2" in inconsistency([[1.0], [1.0, 2.0]])


@pytest.mark.parametrize(
    "labels, expected, words",
    [
        ({"a.png": 0, "b.png": 2, "c.png": 1}, [0, 2, 1], None),  # a dict instead of pairs: used
        ([["a.png", [1, 0.5]], ["b.png", [2, 0.5]], ["c.png", [3, 0.5]]], [[1, 0.5], [2, 0.5], [3, 0.5]], None),
        ([["a.png", 0], ["b.png"], ["c.png", 1]], None, "1 of 3 images have no usable label (e.g. b.png)"),
        ([["a.png", 0], ["b.png", "dog"], ["c.png", 1]], None, "1 of 3 images have no usable label"),
        ([["a.png", 0], ["b.png", [1.0, 2.0]], ["c.png", 1]], None, "labels of different kinds (class, vector of 2)"),
        ([["a.png", 0], ["c.png", 1]], None, "1 of 3 images have no usable label (e.g. b.png)"),
    ],
)
def test_folder_labels_are_used_or_their_problem_reported(tmp_path: Path, labels: Any, expected: Any, words: str | None) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    for i, name in enumerate(("a.png", "b.png", "c.png")):
        (src / name).write_bytes(_png(i))
    (src / "dataset.json").write_text(json.dumps({"labels": labels}))
    opts = PrepareOptions(sources=[str(src)], dest=str(tmp_path / "out.zip"), resolution=16, mode="resize", workers=1, progress=False)
    result = prepare(opts, log=lambda _: None)
    assert result.num_images == 3  # labels never cost an image
    notes = [s["reason"] for s in result.skipped]
    assert any(n.startswith("the source's label file, not an image") for n in notes)
    with_labels = ImageDataset(str(tmp_path / "out.zip"), use_labels=True)
    if expected is None:
        assert not with_labels.has_labels
        assert any("the source's labels are not used" in n and words in n for n in notes), notes
    else:
        assert with_labels.has_labels
        got = [int(with_labels[i][1].argmax()) if with_labels.has_onehot_labels else with_labels[i][1].tolist() for i in range(3)]
        assert got == expected
        assert not any("not used" in n for n in notes)


def test_a_label_file_with_bad_values_stops_before_work(tmp_path: Path) -> None:
    src = tmp_path / "photos"
    src.mkdir()
    (src / "a.png").write_bytes(_png(0))
    bad = tmp_path / "labels.json"
    bad.write_text(json.dumps({"labels": [["a.png"], ["b.png", 1]]}))
    opts = PrepareOptions(sources=[str(src)], dest=str(tmp_path / "o.zip"), resolution=16, mode="resize", workers=1,
                          progress=False, labels=str(bad))
    with pytest.raises(PrepareError, match="no label after the name"):
        prepare(opts, log=lambda _: None)
    bad.write_text(json.dumps({"a.png": 1, "b.png": [1.0, 2.0]}))
    with pytest.raises(PrepareError, match="mixes labels of different kinds"):
        prepare(opts, log=lambda _: None)
