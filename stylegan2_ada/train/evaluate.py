"""Quality metrics during training (`--metrics`): checked before a run starts, computed after each snapshot.

As NVIDIA's trainer: every process computes its share of each metric for G_ema, rank 0 appends the result
to <run>/metric-<name>.jsonl (the layout `stylegan2-ada metrics` writes) and the values go into
stats.jsonl / TensorBoard as `Metrics/<name>`. The global RNG states are put back afterwards, so a run
with metrics trains exactly as one without them and continues exactly after a resume.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from ..errors import UserError
from .state import capture_rng, restore_rng


def check_metric_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names as a tuple, or a one-line UserError (naming the valid metrics) for the first unknown one."""
    from ..metrics import parse_metric

    names = tuple(names)
    for name in names:
        try:
            parse_metric(name)
        except UserError as exc:
            raise UserError(f"--metrics: {exc}") from None
    return names


def metric_dataset(opts: Any) -> dict[str, Any]:
    """The training set as the metrics read it (the *_full metrics drop mirroring themselves)."""
    return {"path": opts.data, "resolution": opts.resolution, "use_labels": opts.cond, "xflip": opts.mirror}


def evaluate_snapshot(
    opts: Any,
    G_ema: torch.nn.Module,
    device: torch.device,
    rank: int,
    world: int,
    run_dir: Path,
    snapshot: Path,
) -> dict[str, float]:
    """Computes opts.metrics on every process; rank 0 writes metric-<name>.jsonl and gets the values
    ({result key: value}); the other ranks get {}."""
    from ..metrics import compute_metric, report_metric

    values: dict[str, float] = {}
    rng = capture_rng()  # torch (CPU), numpy and python states
    cuda_rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    try:
        for name in opts.metrics:
            result = compute_metric(
                name,
                G_ema,
                metric_dataset(opts),
                device,
                num_gpus=world,
                rank=rank,
                progress=rank == 0,  # bars on the terminal; log.txt keeps only their last state
            )
            if rank == 0:
                report_metric(result, run_dir, snapshot)  # also prints the line (into log.txt)
                values.update(result["results"])
    finally:
        restore_rng(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, device)
    return values
