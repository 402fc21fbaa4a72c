"""Headless Chromium for page checks: a screenshot of a local HTML page, with its text hidden.

Chromium is Debian's package (`apt-get install chromium`, done by the README's test command). It starts with
the flags a closed network needs (no background connections, no sync, no component updates) and an empty
profile, so it touches nothing outside the test's temporary folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

# Shown behind the page instead of white: anything else in the screenshot is a picture (text is made transparent).
BACKDROP = (255, 0, 255)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
]


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def screenshot_pictures(page: Path, png: Path, profile: Path, width: int = 1200, height: int = 6000) -> np.ndarray:
    """Screenshot [H, W, 3] uint8 of `page` with a magenta backdrop and transparent text (a copy of the page
    beside it, so relative picture paths still resolve)."""
    browser = chromium()
    assert browser, "no Chromium: the README's test command installs Debian's chromium package"
    style = (
        f"<style>html,body{{background:rgb{BACKDROP} !important}}"
        "*{color:transparent !important;border-color:transparent !important;text-decoration:none !important}"
        "video{visibility:hidden}</style>"
    )
    probe = page.with_name(f".screenshot-{page.name}")
    probe.write_text(page.read_text() + style)
    try:
        subprocess.run(
            [browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}",
             f"--screenshot={png}", "--virtual-time-budget=5000", probe.resolve().as_uri()],
            check=True,
            capture_output=True,
            timeout=120,
        )
    finally:
        probe.unlink(missing_ok=True)
    import PIL.Image

    with PIL.Image.open(png) as im:
        return np.asarray(im.convert("RGB"))


def picture_regions(shot: np.ndarray, min_side: int = 64) -> list[tuple[slice, slice]]:
    """Bounding boxes of the non-backdrop regions at least `min_side` px wide and high."""
    from scipy import ndimage

    content = np.any(np.abs(shot.astype(int) - np.array(BACKDROP)) > 24, axis=2)
    labels, _ = ndimage.label(content)
    boxes = ndimage.find_objects(labels)
    return [b for b in boxes if b[0].stop - b[0].start >= min_side and b[1].stop - b[1].start >= min_side]
