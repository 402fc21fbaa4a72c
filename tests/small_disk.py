"""Run a command on a real, nearly full file system: a tmpfs of a given size, mounted in a private mount
namespace (`unshare -rm`, no root needed where user namespaces are allowed). The checks run inside the
namespace too, since the tmpfs vanishes with it. Imported by name (tests/conftest.py puts tests/ on the path)."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs argv (a command of the package) with its disk on the tmpfs, then reports what is left there.
DRIVER = r"""
import json, os, subprocess, sys
mount, argv = sys.argv[1], json.loads(sys.argv[2])
proc = subprocess.run(argv, capture_output=True, text=True)
files = sorted(os.path.relpath(os.path.join(d, f), mount) for d, _, fs in os.walk(mount) for f in fs)
loadable, broken = [], []
sys.path.insert(0, sys.argv[3])
for name in files:
    if name.endswith(".safetensors"):
        from stylegan2_ada.io.snapshot import load_snapshot
        try:
            load_snapshot(os.path.join(mount, name)); loadable.append(name)
        except Exception as exc:
            broken.append(f"{name}: {exc}")
    elif name.endswith(".pt"):
        from stylegan2_ada.train.state import TrainState
        try:
            TrainState.load(os.path.join(mount, name)); loadable.append(name)
        except Exception as exc:
            broken.append(f"{name}: {exc}")
resumable = None
if any(n.startswith("results/") for n in files):
    from stylegan2_ada.train.state import find_latest_run, latest_resumable
    try:
        run = find_latest_run(os.path.join(mount, "results"))
        point = latest_resumable(run)
        resumable = [point.key, point.nimg, point.tick]
    except Exception as exc:
        resumable = str(exc)
print(json.dumps({"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "files": files,
                  "loadable": loadable, "broken": broken, "resumable": resumable}))
"""


def unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /tmp && echo ok"],
                           capture_output=True, text=True, check=False)
    return probe.stdout.strip() == "ok"


def run_on_small_disk(mount: Path, size: str, argv: list[str], cwd: Path | None = None) -> dict:
    """argv run with `mount` a tmpfs of `size` (e.g. '12m'); returns rc, output and the files left there."""
    if not unshare_works():
        pytest.skip("cannot mount a private tmpfs here (unshare -rm is not allowed)")
    mount.mkdir(parents=True, exist_ok=True)
    quoted = " ".join(shlex.quote(str(a)) for a in (sys.executable, "-c", DRIVER, mount, json.dumps(argv), ROOT))
    script = f"mount -t tmpfs -o size={shlex.quote(size)} tmpfs {shlex.quote(str(mount))} && exec {quoted}"
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, cwd=cwd,
                          timeout=600, check=False)
    assert proc.returncode == 0 and proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])
