"""Training loader for NVIDIA-format datasets (zip or folder of PNGs + optional dataset.json).

Same semantics as the NVlabs loader, so datasets and training options carry over: `max_size` keeps a
seeded random subset (in file order), `xflip` doubles the dataset with mirrored copies, integer labels
become one-hot vectors, `use_labels=False` gives a zero-length label.
"""

from __future__ import annotations

import json
import os
import zipfile
from typing import Any

import numpy as np
import PIL.Image
import torch.utils.data

from ..errors import UserError
from .images import image_extensions


class DatasetError(UserError):
    """The dataset cannot be used; str() says what is wrong and what to do."""


class ImageDataset(torch.utils.data.Dataset):
    def __init__(
        self,
        path: str,
        resolution: int | None = None,
        use_labels: bool = False,
        xflip: bool = False,
        max_size: int | None = None,
        random_seed: int = 0,
    ) -> None:
        self.path = str(path)
        self.name = os.path.splitext(os.path.basename(os.path.normpath(self.path)))[0]
        self._zipfile: zipfile.ZipFile | None = None
        self._zip_pid = 0  # process that opened _zipfile: a forked worker must not read through it
        if os.path.isdir(self.path):
            self._type = "dir"
            names = {
                os.path.relpath(os.path.join(root, f), self.path).replace("\\", "/")
                for root, _dirs, files in os.walk(self.path)
                for f in files
            }
        elif os.path.isfile(self.path) and self.path.lower().endswith(".zip"):
            self._type = "zip"
            try:
                names = set(self._zip().namelist())
            except zipfile.BadZipFile:
                raise DatasetError(f"{self.path} is not a valid zip; rebuild it with `stylegan2-ada prepare`") from None
        else:
            raise DatasetError(f"dataset {self.path} must be a folder or a .zip file (made by dataset_tool/prepare)")
        self._all_names = names
        exts = image_extensions()
        self._image_names = sorted(n for n in names if os.path.splitext(n)[1].lower() in exts)
        if not self._image_names:
            raise DatasetError(f"no images found in {self.path}")

        first = self._load_raw_image(0)
        self._image_shape = list(first.shape)  # CHW
        if self._image_shape[1] != self._image_shape[2]:
            raise DatasetError(f"images in {self.path} must be square, found {self._image_shape[2]}x{self._image_shape[1]}")
        if resolution is not None and self._image_shape[1] != resolution:
            raise DatasetError(
                f"{self.path} holds {self._image_shape[1]}x{self._image_shape[1]} images, not {resolution}; "
                "rebuild it with --resolution or train at its resolution"
            )
        self._use_labels = use_labels
        self._raw_labels = self._load_labels() if use_labels else None
        if self._raw_labels is None:
            self._raw_labels = np.zeros([len(self._image_names), 0], np.float32)

        # Seeded subset in file order, then mirrored copies appended (NVIDIA's order).
        raw_idx = np.arange(len(self._image_names), dtype=np.int64)
        if max_size is not None and raw_idx.size > max_size:
            np.random.RandomState(random_seed).shuffle(raw_idx)
            raw_idx = np.sort(raw_idx[:max_size])
        flips = np.zeros(raw_idx.size, np.uint8)
        if xflip:
            raw_idx = np.tile(raw_idx, 2)
            flips = np.concatenate([flips, np.ones_like(flips)])
        self._raw_idx = raw_idx
        self._xflip = flips

    # --- file access ---------------------------------------------------------------------------

    def _zip(self) -> zipfile.ZipFile:
        # A forked DataLoader worker inherits the parent's handle, and with it the one file offset that
        # every process moves: reads interleave and fail with 'Bad CRC-32'. Each process opens its own.
        if self._zipfile is None or self._zip_pid != os.getpid():
            self._zipfile = zipfile.ZipFile(self.path)
            self._zip_pid = os.getpid()
        return self._zipfile

    def _read(self, name: str) -> bytes:
        if self._type == "zip":
            return self._zip().read(name)
        with open(os.path.join(self.path, name), "rb") as f:
            return f.read()

    def _load_raw_image(self, raw_idx: int) -> np.ndarray:
        import io

        name = self._image_names[raw_idx]
        try:
            with PIL.Image.open(io.BytesIO(self._read(name))) as img:
                image = np.array(img)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{self.path}: cannot decode {name} ({exc}); rebuild the dataset") from None
        if image.ndim == 2:
            image = image[:, :, None]
        return image.transpose(2, 0, 1)  # HWC -> CHW

    def _load_labels(self) -> np.ndarray | None:
        if "dataset.json" not in self._all_names:
            return None
        try:
            labels = json.loads(self._read("dataset.json")).get("labels")
        except ValueError as exc:
            raise DatasetError(f"{self.path}: dataset.json is not valid JSON ({exc})") from None
        if labels is None:
            return None
        table = {str(k).replace("\\", "/"): v for k, v in labels}
        missing = [n for n in self._image_names if n not in table]
        if missing:
            raise DatasetError(f"{self.path}: dataset.json has no label for {missing[0]} ({len(missing)} missing)")
        arr = np.array([table[n] for n in self._image_names])
        if arr.ndim == 1:
            if not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0):
                raise DatasetError(f"{self.path}: class labels must be integers >= 0")
            return arr.astype(np.int64)
        return arr.astype(np.float32)

    def close(self) -> None:
        if self._zipfile is not None:
            if self._zip_pid == os.getpid():
                self._zipfile.close()  # closing the parent's inherited handle is the parent's job
            self._zipfile = None

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers reopen the zip themselves (a ZipFile handle does not pickle).
        return dict(self.__dict__, _zipfile=None, _zip_pid=0)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # --- Dataset API ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._raw_idx.size)

    def check_images(self) -> None:
        """Every image's header against the first image's shape (what training would find image by image),
        so a dry run fails where the run would. Reads headers only (no pixels are decoded)."""
        import io

        channels = {"1": 1, "L": 1, "P": 1, "I;16": 1, "I": 1, "F": 1, "LA": 2, "RGB": 3, "RGBA": 4}
        for name in self._image_names[1:]:
            try:
                with PIL.Image.open(io.BytesIO(self._read(name))) as img:
                    shape = [channels.get(img.mode, len(img.getbands())), img.height, img.width]
            except (OSError, ValueError) as exc:
                raise DatasetError(f"{self.path}: cannot decode {name} ({exc}); rebuild the dataset") from None
            if shape != self._image_shape:
                raise DatasetError(
                    f"{self.path}: {name} is {shape}, expected {self._image_shape} like the first image; every "
                    "image must have the same shape (rebuild the dataset with `stylegan2-ada prepare`)"
                )

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        image = self._load_raw_image(int(self._raw_idx[idx]))
        if list(image.shape) != self._image_shape:
            raise DatasetError(
                f"{self.path}: {self._image_names[self._raw_idx[idx]]} is {list(image.shape)}, expected "
                f"{self._image_shape} like the first image; every image must have the same shape"
            )
        if self._xflip[idx]:
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image, dtype=np.uint8), self.get_label(idx)

    def get_label(self, idx: int) -> np.ndarray:
        label = self._raw_labels[self._raw_idx[idx]]
        if self._raw_labels.dtype == np.int64:
            onehot = np.zeros(self.label_shape, np.float32)
            onehot[label] = 1
            return onehot
        return label.copy()

    def get_details(self, idx: int) -> dict[str, Any]:
        raw = int(self._raw_idx[idx])
        return {"raw_idx": raw, "xflip": bool(self._xflip[idx]), "name": self._image_names[raw], "raw_label": self._raw_labels[raw].copy()}

    @property
    def image_shape(self) -> list[int]:
        return list(self._image_shape)

    @property
    def num_channels(self) -> int:
        return self._image_shape[0]

    @property
    def resolution(self) -> int:
        return self._image_shape[1]

    @property
    def label_shape(self) -> list[int]:
        if self._raw_labels.dtype == np.int64:
            return [int(self._raw_labels.max()) + 1] if self._raw_labels.size else [0]
        return list(self._raw_labels.shape[1:])

    @property
    def label_dim(self) -> int:
        return self.label_shape[0]

    @property
    def has_labels(self) -> bool:
        return any(x != 0 for x in self.label_shape)

    @property
    def has_onehot_labels(self) -> bool:
        return self._raw_labels.dtype == np.int64
