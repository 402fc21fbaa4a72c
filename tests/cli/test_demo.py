"""The README's main command end to end, and its page as a browser shows it.

The default-suite run is the demo's flow at a few frames and a few dozen images of fine-tuning (about 2 minutes
on 2 cores); the slow one is the README's command as it is (defaults: 3 kimg from the face prior).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from browser import chromium, picture_regions, screenshot_pictures

REPO = Path(__file__).resolve().parents[2]
PAGE_PICTURES = (
    "dataset_report/contact_sheet.png",
    "prior/grid.png",
    "generated/grid.png",
    "mixing/grid.png",
    "video/walk.gif",
    "memorization/memorization.png",
)


def run_demo(out: Path, *flags: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "stylegan2_ada.cli", "demo", f"--outdir={out}", *flags],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return proc


@pytest.fixture(scope="module")
def quick_demo(tmp_path_factory, pyfeat_data) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    run_demo(out, "--kimg=0.05", "--every-nth-frame=12")
    return out


def test_demo_fine_tunes_the_prior_and_writes_every_part(quick_demo):
    out = quick_demo
    page = (out / "index.html").read_text()
    for picture in PAGE_PICTURES:
        assert picture in page, picture
        assert (out / picture).is_file(), picture
    assert "video/walk.mp4" in page and (out / "video" / "walk.mp4").is_file()
    assert "faces32" in page and "Style mixing between the two networks" in page
    # Both grids from the same 36 seeds: the prior's and the fine-tuned network's.
    assert len(list((out / "prior").glob("seed*.png"))) == 36
    assert len(list((out / "generated").glob("seed*.png"))) == 36
    # Two FIDs (before and after), each a real number in the page and in its metric file.
    for jsonl in (out / "prior" / "metric-fid0.2k_full.jsonl", *out.glob("runs/*/metric-fid0.2k_full.jsonl")):
        fid = json.loads(jsonl.read_text().splitlines()[-1])["results"]["fid0.2k_full"]
        assert 0 < fid < 1000
        assert f"{fid:.1f}" in page
    report = json.loads((out / "memorization" / "memorization.json").read_text())
    assert report["num_generated"] == 36 and "Of 36 generated faces" in page
    # The training run started from the prior (not from scratch), Freeze-D on its first two D layers, a short EMA.
    options = json.loads(next(out.glob("runs/*/training_options.json")).read_text())
    assert options["resume"] == "faces32" and options["freezed"] == 2 and options["ema_kimg"] == 0.5


@pytest.mark.skipif(chromium() is None, reason="no Chromium (the README's test command installs it)")
def test_demo_page_shows_its_pictures_in_a_browser(quick_demo, tmp_path):
    shot = screenshot_pictures(quick_demo / "index.html", tmp_path / "page.png", tmp_path / "profile")
    regions = picture_regions(shot)
    page = (quick_demo / "index.html").read_text()
    # Every <img> is drawn (a missing file would be a small broken-image icon, below the size asked for) ...
    assert len(regions) >= page.count("<img"), (len(regions), page.count("<img"))
    for rows, cols in regions:
        region = shot[rows, cols].astype(float)
        # ... and none is blank: real pictures vary.
        assert region.std() > 8, (rows, cols, region.std())
    # The pictures are shown enlarged (pixelated, at least 256 px wide), not at their 32 px size.
    assert max(c.stop - c.start for _, c in regions) >= 256
    assert np.mean(np.any(shot != [255, 0, 255], axis=2)) > 0.05


@pytest.mark.slow
def test_readme_main_command_as_it_is(tmp_path, pyfeat_data):
    out = tmp_path / "demo"
    run_demo(out)
    page = (out / "index.html").read_text()
    report = json.loads((out / "memorization" / "memorization.json").read_text())
    assert report["num_flagged"] == 0, "fine-tuned faces should not be copies of a frame"
    before = json.loads((out / "prior" / "metric-fid0.2k_full.jsonl").read_text().splitlines()[-1])
    after = json.loads(next(out.glob("runs/*/metric-fid0.2k_full.jsonl")).read_text().splitlines()[-1])
    assert after["results"]["fid0.2k_full"] < before["results"]["fid0.2k_full"]
    assert "none is a copy of a training frame" in page
