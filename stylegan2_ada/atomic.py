"""Files written so that a crash, a kill or a full disk never leaves a truncated file under the final name.

Standard library only: the data-preparation workers use it without importing torch.
"""

from __future__ import annotations

import errno
import os
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Libraries that write files themselves (safetensors, torch.save, PIL, zipfile) report a full disk in their
# own exception types; these words in such a message, or a nearly full file system, mean the same.
_FULL_DISK_WORDS = ("no space left", "disk quota", "file write failed", "write failed", "out of space")
_NEARLY_FULL_BYTES = 1 << 20


def disk_full_error(exc: BaseException, path: str | Path) -> OSError | None:
    """An OSError(ENOSPC) for `exc` when it is a full disk in another library's words, else None."""
    if isinstance(exc, OSError):
        return exc if exc.errno in (errno.ENOSPC, errno.EDQUOT) else None
    if not isinstance(exc, Exception):
        return None  # KeyboardInterrupt, SystemExit: not a disk problem
    text = str(exc).lower()
    try:
        stats = os.statvfs(Path(path).parent)
        nearly_full = stats.f_bavail * stats.f_frsize < _NEARLY_FULL_BYTES
    except OSError:
        nearly_full = False
    if nearly_full or any(words in text for words in _FULL_DISK_WORDS):
        return OSError(errno.ENOSPC, "No space left on device", str(path))
    return None


def atomic_write(path: str | Path, write: Callable[[Path], Any], durable: bool = True) -> None:
    """Calls write(tmp_path) then moves the finished file into place; on any failure the temporary file is
    removed and the final name keeps what it had. A full disk is raised as OSError(ENOSPC), whichever
    library did the writing, so every command reports it the same way.

    durable=False skips the fsync: for cache files that are cheap to recompute, written by the thousand."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # name the file the user asked for, not our temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    os.close(fd)
    try:
        write(Path(tmp))
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        # mkstemp makes the file private (0600); give it the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        full = disk_full_error(exc, path)
        if full is not None and full is not exc:
            raise full from exc
        raise
    drill_point()


# --- kill drills -------------------------------------------------------------------------------------

DRILL_ENV = "STYLEGAN2_ADA_DRILL_KILL_AFTER_WRITES"
_writes_done = 0


def drill_point() -> None:
    """Called after each completed write (atomic files, appended log lines). With $STYLEGAN2_ADA_DRILL_KILL_
    AFTER_WRITES=N the process kills itself (SIGKILL) after the Nth: how benchmarks/kill_drill.py lands a
    kill exactly between two writes. Unset, it only counts."""
    global _writes_done
    _writes_done += 1
    limit = os.environ.get(DRILL_ENV)
    if limit and _writes_done >= int(limit):
        os.kill(os.getpid(), signal.SIGKILL)


def atomic_write_bytes(path: str | Path, data: bytes, durable: bool = True) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data), durable)
