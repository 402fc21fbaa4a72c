"""Write NVIDIA's dataset format: uncompressed zip or folder of `00000/img00000000.png` + `dataset.json`.

Writing is atomic: everything goes to a temporary sibling first and is moved into place by os.replace()
only when complete, so a killed run never leaves a truncated zip that training would choke on.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from typing import Any

import numpy as np

from ..errors import UserError
from .images import encode_png, to_gray


class DestinationError(UserError):
    """The destination cannot be written; str() says what to do."""


def archive_name(index: int) -> str:
    """NVIDIA's layout: 1000 images per folder, 8-digit running index."""
    idx = f"{index:08d}"
    return f"{idx[:5]}/img{idx}.png"


def _is_zip_dest(dest: str) -> bool:
    return dest.lower().endswith(".zip")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(parent: str, name: str) -> None:
    """Leftovers of runs that were killed (SIGKILL, power loss) before they could clean up."""
    prefix = f".{name}.tmp-"
    for entry in os.listdir(parent):
        if not entry.startswith(prefix):
            continue
        pid_text = entry[len(prefix) :].split(".")[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _pid_alive(int(pid_text)):
            path = os.path.join(parent, entry)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.remove(path)
                except OSError:
                    pass


class DatasetWriter:
    def __init__(
        self,
        dest: str,
        channels: int = 3,
    ) -> None:
        if channels not in (1, 3):
            raise DestinationError(f"channels must be 1 or 3, not {channels}")
        if not dest:
            raise DestinationError("--dest must not be empty: give a .zip file or a folder")
        self.dest = os.path.abspath(dest)
        self.channels = channels
        self.is_zip = _is_zip_dest(dest)
        self.labels: list[list[Any] | None] = []
        self.shape: tuple[int, ...] | None = None
        parent = os.path.dirname(self.dest)
        os.makedirs(parent, exist_ok=True)
        self._tmp = os.path.join(parent, f".{os.path.basename(self.dest)}.tmp-{os.getpid()}")
        _remove_stale_temporaries(parent, os.path.basename(self.dest))
        if self.is_zip:
            if os.path.isdir(self.dest):
                raise DestinationError(f"{dest} is a folder; choose a .zip file name or remove the folder")
            self._zip: zipfile.ZipFile | None = zipfile.ZipFile(self._tmp, "w", compression=zipfile.ZIP_STORED)
        else:
            if os.path.isfile(self.dest):
                raise DestinationError(f"{dest} is a file; give a folder name or a name ending in .zip")
            if os.path.isdir(self.dest) and os.listdir(self.dest) and not os.path.isfile(os.path.join(self.dest, "dataset.json")):
                # Only ever replace a folder that we (or NVIDIA's tool) wrote.
                raise DestinationError(f"{dest} exists, is not empty and is not a dataset; choose another --dest")
            shutil.rmtree(self._tmp, ignore_errors=True)
            os.makedirs(self._tmp)
            self._zip = None

    def _write(self, name: str, data: bytes) -> None:
        if self._zip is not None:
            self._zip.writestr(name, data)
        else:
            path = os.path.join(self._tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)

    def add(
        self,
        pixels: np.ndarray,
        label: Any = None,
    ) -> str:
        """Append one HxWx3 (or HxW) uint8 image; returns its archive name."""
        if pixels.ndim == 2:
            pixels = pixels[:, :, None]
        if self.channels == 1 and pixels.shape[2] == 3:
            pixels = to_gray(pixels)[:, :, None]
        elif self.channels == 3 and pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)
        if self.shape is None:
            h, w = pixels.shape[:2]
            if h != w or w & (w - 1):
                raise DestinationError(f"images must be square with a power-of-two side, got {w}x{h}")
            self.shape = pixels.shape
        elif pixels.shape != self.shape:
            raise DestinationError(f"every image must have the same shape: {pixels.shape} vs {self.shape}")
        name = archive_name(len(self.labels))
        self._write(name, encode_png(pixels))
        self.labels.append([name, label] if label is not None else None)
        return name

    def close(self) -> str:
        """Write dataset.json and move the finished dataset into place. Returns the destination. If that
        fails (a full disk while writing the zip's directory), the partial output goes and the error stays."""
        try:
            return self._finish()
        except BaseException:
            self.abort()
            raise

    def _finish(self) -> str:
        labels = self.labels if self.labels and all(x is not None for x in self.labels) else None
        self._write("dataset.json", json.dumps({"labels": labels}).encode("utf-8"))
        if self._zip is not None:
            self._zip.close()
            self._zip = None
            os.replace(self._tmp, self.dest)
        else:
            old = None
            if os.path.isdir(self.dest):
                old = self._tmp + ".old"
                os.replace(self.dest, old)
            os.replace(self._tmp, self.dest)
            if old:
                shutil.rmtree(old, ignore_errors=True)
        return self.dest

    def abort(self) -> None:
        """Drop the partial output; the previous destination (if any) is untouched."""
        if self._zip is not None:
            zf, self._zip = self._zip, None
            try:
                zf.close()  # on a full disk this fails too (it writes the directory): the file goes anyway
            except Exception:  # noqa: BLE001 - the partial file is removed below whatever went wrong
                if zf.fp is not None:
                    zf.fp.close()
        if os.path.isdir(self._tmp):
            shutil.rmtree(self._tmp, ignore_errors=True)
        elif os.path.exists(self._tmp):
            os.remove(self._tmp)

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
