"""A grayscale network made RGB without changing what it computes.

G: every to-RGB layer's single output row is copied into three, so the RGB generator draws the gray picture
in three equal channels. D: the from-RGB weights are split over the three inputs, scaled for the layer's
equalised-learning-rate gain (1/sqrt(fan-in): fan-in 1 -> 3), so D(gray in three channels) = D_gray(gray);
each output also gets random weights on the two colour-difference directions (R-G, R+G-2B: zero on gray
pixels, so the gray function is unchanged). Without them D would be blind to colour, and with Freeze-D
(which freezes the from-RGB layer first) it would stay blind: fine-tuning could never learn the person's colours.
Used for the packaged face prior (scripts/build_face_prior.py): trained in gray, fine-tuned in colour.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from .discriminator import Discriminator
from .generator import Generator


# The colour-difference directions: orthonormal, and orthogonal to gray (1, 1, 1).
_CHROMA = torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / torch.tensor([[math.sqrt(2)], [math.sqrt(6)]])


def _colour_weights(gray: torch.Tensor, seed: int) -> torch.Tensor:
    """[C, 3, k, k] random weights on the colour-difference directions, as large as the gray weights."""
    out, _, kh, kw = gray.shape
    g = torch.Generator().manual_seed(seed)
    coefs = torch.randn(out, 2, kh, kw, generator=g) * gray.std()
    return torch.einsum("oikl,ic->ockl", coefs, _CHROMA)


def gray_to_rgb(module: Generator | Discriminator, seed: int = 0) -> Generator | Discriminator:
    """An RGB copy of a 1-channel Generator or Discriminator that computes the same function on gray images
    (seed: D's colour weights)."""
    if module.cfg.img_channels != 1:
        raise ValueError(f"expected a 1-channel network, got {module.cfg.img_channels} channels")
    rgb = type(module)(dataclasses.replace(module.cfg, img_channels=3))
    source, target = module.state_dict(), rgb.state_dict()
    for key, value in target.items():
        old = source[key]
        if old.shape == value.shape:
            target[key] = old.clone()
        elif isinstance(module, Generator):  # to-RGB weight [1, C, 1, 1] or bias [1]
            assert old.shape[0] == 1 and value.shape[0] == 3, key
            target[key] = old.expand_as(value).clone()
        else:  # from-RGB weight [C, 1, k, k]: three inputs share the one, at the new fan-in's gain
            assert old.ndim == 4 and old.shape[1] == 1 and value.shape[1] == 3, key
            target[key] = (old / math.sqrt(3)).expand_as(value) + _colour_weights(old, seed)
    rgb.load_state_dict(target, strict=True)
    return rgb.train(module.training).requires_grad_(False)


def to_rgb_networks(networks: dict[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
    """gray_to_rgb of every 1-channel network (others as they are)."""
    return {name: gray_to_rgb(m) if m.cfg.img_channels == 1 else m for name, m in networks.items()}
