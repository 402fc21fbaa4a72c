"""The README's main command end to end (slow: about 1.5 minutes on 2 cores even with a tiny training)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline(tmp_path, pyfeat_data):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "stylegan2_ada.cli", "demo", f"--outdir={out}", "--kimg=0.1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (out / "index.html").read_text()
    for expected in ("generated/grid.png", "mixing/grid.png", "video/walk.mp4", "video/walk.gif", "memorization.html"):
        assert expected in page
        assert (out / expected.replace("memorization.html", "memorization/memorization.html")).is_file()
    assert "FID" in page and "Near-duplicates among the crops" in page
    assert 'image-rendering:pixelated' in page
    assert len(list((out / "generated").glob("seed*.png"))) == 36
