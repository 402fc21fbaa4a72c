"""Seeds to latents and class labels, by the rules of NVIDIA's tools, so a seed names the same picture.

NVIDIA's generate scripts draw `z = np.random.RandomState(seed).randn(1, z_dim)` (float64) for each seed; the
network casts it to float32. The TF-era scripts (NVlabs TF generate.py, dvschultz's `generate-images`) then
keep drawing from the same RandomState to fill the per-layer noise maps, which `seed_noise_maps` reproduces.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..errors import UserError

MAX_SEED = 2**32 - 1  # numpy's RandomState takes 32-bit seeds
_ITEM = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")


def parse_seeds(text: str) -> list[int]:
    """'0,1,4-6' -> [0, 1, 4, 5, 6]; ranges are inclusive and may be mixed with single seeds.

    Order is kept and repeats are dropped (a repeat would only overwrite the same file)."""
    if text is None or not str(text).strip():
        raise UserError("--seeds is empty: give seeds like 0,1,4-6 or 0-99")
    seeds: list[int] = []
    seen: set[int] = set()
    for item in str(text).split(","):
        m = _ITEM.match(item)
        if m is None:
            raise UserError(f"--seeds: cannot read {item.strip()!r} in {text!r}; use numbers and ranges like 0,1,4-6")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) is not None else first
        for value in (first, last):
            if value > MAX_SEED:
                raise UserError(f"--seeds: {value} is out of range; seeds go from 0 to {MAX_SEED} (2**32-1)")
        if last < first:
            raise UserError(f"--seeds: range {first}-{last} runs backwards; write it as {last}-{first}")
        for seed in range(first, last + 1):
            if seed not in seen:
                seen.add(seed)
                seeds.append(seed)
    return seeds


def check_seed(seed: int) -> int:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= int(seed) <= MAX_SEED:
        raise UserError(f"seed {seed!r} is not an integer from 0 to {MAX_SEED}")
    return int(seed)


def z_array_from_seed(seed: int, z_dim: int) -> np.ndarray:
    """RandomState(seed).randn(1, z_dim): the float64 latent exactly as NVIDIA's scripts draw it."""
    return np.random.RandomState(check_seed(seed)).randn(1, z_dim)


def z_from_seed(seed: int, z_dim: int) -> torch.Tensor:
    """The latent NVIDIA's tools use for `seed` as float32 [1, z_dim] (their networks cast it so too)."""
    return torch.from_numpy(z_array_from_seed(seed, z_dim)).to(torch.float32)


def latents_for_seeds(seeds: Sequence[int], z_dim: int) -> torch.Tensor:
    """[len(seeds), z_dim] float32, row i equal to z_from_seed(seeds[i], z_dim)."""
    if len(seeds) == 0:
        return torch.zeros([0, z_dim])
    return torch.cat([z_from_seed(s, z_dim) for s in seeds], dim=0)


def noise_map_resolutions(G: torch.nn.Module) -> list[int]:
    """Resolutions of the generator's noise inputs in the order of the TF networks' noise0, noise1, ...
    (b4.conv1, b8.conv0, b8.conv1, b16.conv0, ...): the synthesis layers in registration order."""
    return [
        int(m.resolution) for m in G.synthesis.modules() if getattr(m, "use_noise", False) and hasattr(m, "noise_const")
    ]


def seed_noise_maps(seed: int | None, resolutions: Iterable[int], z_dim: int) -> list[np.ndarray]:
    """Noise maps the TF-era scripts set before rendering a seed.

    seed given: RandomState(seed) draws z first, then one [res, res] map per noise input (NVlabs TF
    generate.py and dvschultz `generate-images`). seed None: the maps of dvschultz's --fixnoise, drawn
    from a fresh RandomState(1) with no z before them."""
    if seed is None:
        rnd = np.random.RandomState(1)
    else:
        rnd = np.random.RandomState(check_seed(seed))
        rnd.randn(1, z_dim)  # z comes first from the same stream
    return [rnd.randn(1, 1, r, r)[0, 0] for r in resolutions]


def class_labels(c_dim: int, class_idx: int | None, batch: int) -> torch.Tensor | None:
    """One-hot labels [batch, c_dim] for a conditional network; None for an unconditional one.

    As NVIDIA's generate.py: a conditional network needs a class (error); a class given to an
    unconditional network is ignored with a warning."""
    if c_dim == 0:
        if class_idx is not None:
            warnings.warn(f"--class={class_idx} ignored: the network is unconditional", stacklevel=2)
        return None
    if class_idx is None:
        raise UserError(f"this network is conditional ({c_dim} classes): choose one with --class=0..{c_dim - 1}")
    if not 0 <= int(class_idx) < c_dim:
        raise UserError(f"--class={class_idx} is out of range: this network has classes 0..{c_dim - 1}")
    c = torch.zeros([batch, c_dim])
    c[:, int(class_idx)] = 1
    return c
