"""Labels: NVIDIA's dataset.json carried by a source, and --labels files (CSV or JSON).

A label is a class index (int >= 0) or a vector (non-empty list of finite numbers). Anything else is a
problem with a one-line description, never an unpacking error: a source's bad labels are reported and not
used; a --labels file with bad labels stops the run before any work.
"""

from __future__ import annotations

import csv
import json
import math
import os
from typing import Any

from ..errors import UserError

# More problems than this in one file are summarised, not listed one by one.
MAX_LISTED_PROBLEMS = 20


class LabelError(UserError):
    """A --labels file that cannot be used; str() says what to fix."""


def normalize_label(value: Any) -> tuple[Any, str | None]:
    """(label, None) for a usable label, (None, problem) otherwise. Integral floats become class indices."""
    if isinstance(value, bool) or value is None:
        return None, f"{json.dumps(value)} is not a label (use a class number or a list of numbers)"
    if isinstance(value, int):
        return (value, None) if value >= 0 else (None, f"class {value} is negative")
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and value >= 0:
            return int(value), None
        return None, f"{value!r} is not a class number (an integer >= 0); give a list for a vector label"
    if isinstance(value, (list, tuple)):
        if not value:
            return None, "[] is an empty label"
        numbers = []
        for v in value:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                return None, f"{_short(value)} is not a list of finite numbers"
            numbers.append(float(v))
        return numbers, None
    return None, f"{_short(value)} is not a label (use a class number or a list of numbers)"


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _entries(labels: Any) -> tuple[list[tuple[str, Any]], list[str]]:
    """NVIDIA's [[name, label], ...] or a {name: label} mapping -> (name, raw label) pairs + problems."""
    if isinstance(labels, dict):
        return [(str(k), v) for k, v in labels.items()], []
    if not isinstance(labels, list):
        return [], [f"'labels' is {type(labels).__name__}, expected [[name, label], ...] or {{name: label}}"]
    pairs, problems = [], []
    for i, entry in enumerate(labels):
        if isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str):
            pairs.append((entry[0], entry[1]))
        elif isinstance(entry, (list, tuple)) and len(entry) == 1 and isinstance(entry[0], str):
            problems.append(f"entry {i} {_short(entry)}: no label after the name")
        else:
            problems.append(f"entry {i} {_short(entry)} is not a [name, label] pair")
    return pairs, problems


def parse_dataset_json(raw: bytes | str) -> tuple[dict[str, Any], list[str]]:
    """A source's dataset.json -> ({relative name: label}, problems). {"labels": null} is no labels."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return {}, [f"not valid JSON ({str(exc)[:80]}); its labels are not used"]
    if not isinstance(data, dict) or "labels" not in data:
        return {}, ["no 'labels' key (NVIDIA's format is {\"labels\": [[name, label], ...]}); not used"]
    if data["labels"] is None:
        return {}, []
    pairs, problems = _entries(data["labels"])
    table: dict[str, Any] = {}
    for name, raw_label in pairs:
        label, problem = normalize_label(raw_label)
        key = name.replace("\\", "/")
        if problem:
            problems.append(f"{key}: {problem}")
        elif key in table:
            problems.append(f"{key}: labelled twice; the first label is used")
        else:
            table[key] = label
    return table, problems


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def summarise(problems: list[str]) -> list[str]:
    """At most MAX_LISTED_PROBLEMS lines, the rest counted in one."""
    if len(problems) <= MAX_LISTED_PROBLEMS:
        return problems
    rest = len(problems) - MAX_LISTED_PROBLEMS
    return problems[:MAX_LISTED_PROBLEMS] + [f"... and {rest} more label problems"]


def inconsistency(labels: list[Any]) -> str | None:
    """Why a set of labels cannot form one dataset (classes mixed with vectors, vectors of several lengths)."""
    kinds = {"class" if isinstance(x, int) else f"vector of {len(x)}" for x in labels}
    if len(kinds) <= 1:
        return None
    return "labels of different kinds (" + ", ".join(sorted(kinds)) + ")"


# ----------------------------------------------------------------------------------------------------
# --labels files


def load_label_table(path: str) -> dict[str, Any]:
    """CSV (name,label[,more...]; header optional) or JSON ({name: label} or NVIDIA's {"labels": [...]})."""
    if not os.path.isfile(path):
        raise LabelError(f"label file {path} does not exist")
    if path.lower().endswith(".json"):
        return _load_json_table(path)
    table: dict[str, Any] = {}
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for row_no, row in enumerate(csv.reader(f)):
            if not row or not row[0].strip() or row[0].startswith("#"):
                continue
            values = [v.strip() for v in row[1:] if v.strip() != ""]
            try:
                numbers = [float(v) for v in values]
            except ValueError:
                if row_no == 0:
                    continue  # header
                raise LabelError(f"label file {path} line {row_no + 1}: labels must be numbers, got {values}") from None
            if not numbers:
                raise LabelError(f"label file {path} line {row_no + 1}: no label after the file name")
            if len(numbers) == 1 and numbers[0].is_integer():
                table[row[0].strip()] = int(numbers[0])
            else:
                table[row[0].strip()] = numbers
    return table


def _load_json_table(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except (ValueError, UnicodeDecodeError) as exc:
        raise LabelError(f"label file {path} is not valid JSON ({exc})") from None
    if isinstance(data, dict) and "labels" in data:
        pairs, problems = _entries(data["labels"])
    elif isinstance(data, dict):
        pairs, problems = [(str(k), v) for k, v in data.items()], []
    else:
        raise LabelError(f"label file {path}: expected {{name: label}} or {{\"labels\": [[name, label], ...]}}")
    table = {}
    for name, raw in pairs:
        label, problem = normalize_label(raw)
        if problem:
            problems.append(f"{name}: {problem}")
        table[name] = label
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise LabelError(f"label file {path}: {problems[0]}{more}")
    return table


def lookup_label(table: dict[str, Any], key: str) -> Any:
    """By relative path, file name, or either without extension."""
    for candidate in (key, os.path.basename(key), os.path.splitext(key)[0], os.path.splitext(os.path.basename(key))[0]):
        if candidate in table:
            return table[candidate]
    return None
