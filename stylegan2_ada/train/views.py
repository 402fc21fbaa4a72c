"""Dataset views used by training: vertical mirroring (dvschultz's --mirrory) on top of ImageDataset."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch.utils.data


class YFlipView(torch.utils.data.Dataset):
    """Doubles a dataset with upside-down copies (after any x-flips), as dvschultz's --mirrory does."""

    def __init__(self, base: Any) -> None:
        self.base = base

    def __len__(self) -> int:
        return 2 * len(self.base)

    def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray]:
        n = len(self.base)
        image, label = self.base[idx % n]
        if idx >= n:
            image = np.ascontiguousarray(image[:, ::-1, :])
        return image, label

    def get_label(self, idx: int) -> np.ndarray:
        return self.base.get_label(idx % len(self.base))

    def __getattr__(self, name: str) -> Any:
        if name == "base":
            raise AttributeError(name)
        return getattr(self.base, name)
