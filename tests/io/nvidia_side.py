"""Reads pickles written by io/nvidia_export.py the way NVIDIA's code would, without NVIDIA's code.

NVIDIA's class names resolve to a builder that goes through this package's NVIDIA importer (the same
constructor-kwargs parser that reads real NVIDIA pickles) and our networks, whose state-dict names equal
NVIDIA's. Imported by name (`from nvidia_side import ...`) by tests in tests/io and tests/train.
"""

from __future__ import annotations

import functools
import io
import operator
import pickle
from typing import Any

import torch

from stylegan2_ada.io.nvidia_export import FLAVOURS
from stylegan2_ada.io.nvidia_torch import discriminator_config, generator_config
from stylegan2_ada.io.restricted_unpickler import PersistentObject
from stylegan2_ada.nn import Discriminator, Generator


def _builder(class_name: str, flavour: str) -> Any:
    """Stands in for NVIDIA's class: builds our network from the kwargs NVIDIA's would receive."""

    def build(*args: Any, **kwargs: Any) -> torch.nn.Module:
        assert not args, "the pickle must pass constructor arguments by keyword, as NVIDIA's trainer does"
        obj = PersistentObject(class_name=class_name, module_src="", state={"_init_kwargs": kwargs})
        if class_name == "Generator":
            if flavour == "stylegan3":
                assert "synthesis_kwargs" not in kwargs  # networks_stylegan2.Generator takes them flat
            return Generator(generator_config(obj))
        assert "w_avg_beta" not in kwargs["mapping_kwargs"]  # NVIDIA's D passes its own (TypeError otherwise)
        return Discriminator(discriminator_config(obj))

    return build


class NvidiaSideUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, flavour: str) -> None:
        super().__init__(file)
        self.flavour = flavour
        self.globals_seen: list[tuple[str, str]] = []

    def find_class(self, module: str, name: str) -> Any:
        self.globals_seen.append((module, name))
        if module == FLAVOURS[self.flavour] and name in ("Generator", "Discriminator"):
            return _builder(name, self.flavour)
        allowed = {
            ("builtins", "getattr"): getattr,
            ("operator", "getitem"): operator.getitem,
            ("functools", "partial"): functools.partial,
        }
        if (module, name) in allowed:
            return allowed[(module, name)]
        assert module in ("torch._utils", "torch.storage", "collections"), f"unexpected global {module}.{name}"
        return super().find_class(module, name)


def load_like_nvidia(data: bytes, flavour: str = "stylegan2-ada-pytorch") -> dict[str, Any]:
    return NvidiaSideUnpickler(io.BytesIO(data), flavour).load()
