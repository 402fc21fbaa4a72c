"""The kill drill of benchmarks/kill_drill.py, shortened: a training run killed 12 times (between writes and
at random moments) and continued each time ends bit-identical to an uninterrupted run, with every file
loadable after every kill. Minutes on a 2-core CPU: `python -m pytest -m slow tests/train/test_kill_drills.py`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_kill_drill(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("kill_drill", ROOT / "benchmarks" / "kill_drill.py")
    drill = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(drill)
    stats = drill.run_drill(kills=12, seed=1, work=tmp_path, kimg=0.4, log=lambda line: None)
    assert stats["problems"] == []
    assert stats["kills"] >= 10 and stats["between_writes"] >= 5
    assert stats["final_equal_to_uninterrupted"] and stats["stats_ticks_once_each"]
