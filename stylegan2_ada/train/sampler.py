"""Data order that can be saved and restored: a seeded, endless stream of shuffled epochs.

The stream is a function of (seed, position) only, so a run continued from position P reads exactly
the images an uninterrupted run would have read. Every process sees the same global stream and takes
its own slice of each global batch, so the images of a step do not depend on the number of processes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch.utils.data


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


def stream_indices(n: int, seed: int, start: int, count: int) -> np.ndarray:
    """Items start .. start+count-1 of the endless stream of shuffled epochs."""
    out = np.empty(count, dtype=np.int64)
    done = 0
    while done < count:
        epoch, offset = divmod(start + done, n)
        order = epoch_order(n, seed, epoch)
        take = min(n - offset, count - done)
        out[done : done + take] = order[offset : offset + take]
        done += take
    return out


class GlobalBatchSampler(torch.utils.data.Sampler):
    """Yields this process's index list for each step, starting at global step `start_step`."""

    def __init__(
        self,
        size: int,
        batch: int,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
        start_step: int = 0,
    ) -> None:
        assert batch % world == 0, "the global batch must split evenly over the processes"
        self.size = size
        self.batch = batch
        self.seed = seed
        self.rank = rank
        self.world = world
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[int]]:
        per = self.batch // self.world
        step = self.start_step
        while True:
            idx = stream_indices(self.size, self.seed, step * self.batch, self.batch)
            yield idx[self.rank * per : (self.rank + 1) * per].tolist()
            step += 1
