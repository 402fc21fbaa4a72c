"""Malformed and malicious network files end in one `error:` line: no traceback, no code run, bounded memory.

The corpus (tests/io/hostile_corpus.py, generated here) holds pickles and safetensors files of every kind
of damage seen in the wild or easy to craft: code-execution payloads, 2**40 length fields, nesting and
reference bombs, opcode floods, reused storages, out-of-range or mistyped configs (NaN, true for a number,
resolution 2**20, w_dim 16384, channels 1e9), weights of another shape or dtype, truncations at many
offsets, and files of other kinds (images, archives, HTML, JSON, empty files, folders). Each is opened by
the real command (`generate` or `convert`) in a forked child capped at 1 GiB more address space than the
imported package needs (tests/io/hostile_worker.py), which also blocks and records any process start or
touch of a marker path.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_corpus import CASES, write_corpus

REPO = Path(__file__).resolve().parents[2]
MEMORY_LIMIT = 1 << 30
REFUSED = [c for c in CASES if not c.control]
CONTROLS = [c for c in CASES if c.control]


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    manifest = write_corpus(root)
    (root / "manifest.json").write_text(json.dumps(manifest))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "STYLEGAN2_ADA_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("hostile_worker.py")), str(root / "manifest.json"), str(root / "results.json")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((root / "results.json").read_text())["results"]
    cases = {c["name"]: c for c in manifest["cases"]}
    return results, cases, Path(manifest["marker_dir"])


def test_the_corpus_is_large_and_covers_both_formats():
    families = [c.family for c in REFUSED]
    assert len(REFUSED) >= 50
    assert families.count("pickle") >= 20 and families.count("safetensors") >= 20
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", REFUSED, ids=[c.name for c in REFUSED])
def test_a_hostile_file_is_one_error_line(corpus_run, case):
    results, cases, _ = corpus_run
    r = results[case.name]
    lines = r["stderr"].splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert "Traceback" not in r["stderr"], r["stderr"][-3000:]
    assert r["rc"] == 2, r
    assert len(errors) == 1 and all(line.startswith(("error:", "warning:")) for line in lines), r["stderr"]
    assert re.search(case.expect, errors[0]), errors[0]
    assert r["events"] == [] and not Path(cases[case.name]["marker"]).exists()
    out = Path(cases[case.name]["out"])
    assert not out.exists() or not any(out.iterdir())
    assert r["max_rss_bytes"] < MEMORY_LIMIT, r["max_rss_bytes"]


@pytest.mark.parametrize("case", CONTROLS, ids=[c.name for c in CONTROLS])
def test_a_good_file_loads_and_runs_none_of_its_code(corpus_run, case):
    results, cases, _ = corpus_run
    r = results[case.name]
    assert r["rc"] == 0, r["stderr"][-3000:]
    assert (Path(cases[case.name]["out"]) / "seed0000.png").is_file()
    assert r["events"] == [] and not Path(cases[case.name]["marker"]).exists()


def test_no_payload_left_anything_behind(corpus_run):
    results, _, markers = corpus_run
    assert list(markers.iterdir()) == []
    peak = max(r["max_rss_bytes"] for r in results.values())
    assert peak < MEMORY_LIMIT, peak
