"""torch.compile of the networks' passes: the cache folder, the compiler settings and the compile-time report.

Every compiled pass goes through `compile_pass`, so that
  - the compiled code is cached on disk under the package cache (`<cache root>/compile`, i.e.
    TORCHINDUCTOR_CACHE_DIR unless the user set it): a restart finds the FX-graph and autograd caches
    and pays seconds instead of minutes;
  - random numbers come from the eager generator (Inductor's `fallback_random`), so a compiled pass draws
    the same synthesis noise as the eager one and results stay comparable (and resumable) op by op;
  - on CPU the forward saves float activations for the backward, not boolean masks: Inductor's C++
    code stores bool tensors ~15x slower than floats (measured with torch 2.13), which made compiled
    training slower than eager;
  - the time spent compiling is counted (`CompileReport`), since it is part of what a run costs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import cache

COMPILE_SUBFOLDER = "compile"


def _torch_default_cache_dir() -> str | None:
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir
    except ImportError:
        return None
    return default_cache_dir()


def _user_cache_dir() -> str | None:
    """$TORCHINDUCTOR_CACHE_DIR when the user set it. Importing torch._dynamo writes torch's default
    (/tmp/torchinductor_<user>) into the variable, which does not count."""
    env = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    if env is None or env == _torch_default_cache_dir():
        return None
    return env


def cache_dir() -> Path:
    """Where compiled artefacts live: the user's $TORCHINDUCTOR_CACHE_DIR, else <cache root>/compile."""
    env = _user_cache_dir()
    return Path(env) if env else cache.root() / COMPILE_SUBFOLDER


def use_cache_dir() -> Path:
    """Points Inductor (and Triton, on CUDA) at cache_dir() before anything compiles; returns it. Inductor
    reads the variable whenever it opens its caches, so setting it here is enough."""
    path = cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(path)
    os.environ.setdefault("TRITON_CACHE_DIR", str(path / "triton"))
    return path


def _save_forward_values() -> Any | None:
    """An instance of SaveForwardValues: AOTAutograd's default partition, in which the backward gets the
    forward's float values (and recomputes masks from them) instead of min-cut's boolean masks; None
    where this torch has no partitioner hook. The class is made on first use (its imports are heavy) and
    kept at module level, since Inductor pickles it into its cache key."""
    cls = globals().get("SaveForwardValues")
    if cls is None:
        try:
            from torch._functorch.partitioners import default_partition
            from torch._inductor.custom_graph_pass import CustomPartitionerFn
        except ImportError:
            return None

        class SaveForwardValues(CustomPartitionerFn):
            def __call__(self, gm: torch.fx.GraphModule, joint_inputs: Any, **kwargs: Any) -> Any:
                kwargs.pop("compiler", None)
                return default_partition(gm, joint_inputs, **kwargs)

            def uuid(self) -> str:
                return "stylegan2_ada-save-forward-values-1"

        SaveForwardValues.__qualname__ = "SaveForwardValues"
        cls = globals()["SaveForwardValues"] = SaveForwardValues
    return cls()


def compile_options(device: torch.device, cuda_graphs: bool = False) -> dict[str, Any]:
    """Inductor settings for a pass on `device` (see the module doc); cuda_graphs: replay the compiled
    graph as a CUDA graph (for fixed-shape inference)."""
    import torch._inductor.config as inductor_config

    options: dict[str, Any] = {"fallback_random": True}
    if cuda_graphs and device.type == "cuda":
        options["triton.cudagraphs"] = True
    if device.type == "cpu" and hasattr(inductor_config, "custom_partitioner_fn"):
        partitioner = _save_forward_values()
        if partitioner is not None:
            options["custom_partitioner_fn"] = partitioner
    return options


# Dynamo's timers for tracing+compiling a forward and for the (lazy) compile of its backward.
_COMPILE_TIMERS = ("_compile.compile_inner", "backward._backward_impl")


def _seconds_compiling() -> float:
    from torch._dynamo.utils import compilation_time_metrics

    return float(sum(sum(compilation_time_metrics.get(name, [])) for name in _COMPILE_TIMERS))


def _graph_count() -> int:
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


@dataclass
class CompileReport:
    """Time this process spent compiling (forward and backward graphs, cache hits included) since the
    report was made, and how many graphs."""

    start_seconds: float = field(default_factory=_seconds_compiling)
    start_graphs: int = field(default_factory=_graph_count)

    @property
    def seconds(self) -> float:
        return _seconds_compiling() - self.start_seconds

    @property
    def graphs(self) -> int:
        return _graph_count() - self.start_graphs

    def line(self) -> str:
        return f"torch.compile: {self.graphs} graph(s) in {self.seconds:.1f}s (cache {cache_dir()})"


def compile_pass(fn: Callable[..., Any], device: torch.device, cuda_graphs: bool = False) -> Callable[..., Any]:
    """torch.compile(fn) with compile_options(device, cuda_graphs), its artefacts in cache_dir()."""
    use_cache_dir()
    return torch.compile(fn, options=compile_options(device, cuda_graphs))
