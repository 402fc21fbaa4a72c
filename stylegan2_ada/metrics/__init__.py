"""Quality metrics with NVIDIA's definitions: FID, KID, precision/recall, PPL and IS.

`compute_metric(name, G, dataset, device)` runs one metric; `report_metric(result, run_dir, snapshot)`
appends it to metric-<name>.jsonl. Feature networks are found offline first (see detectors.py).
"""

from .registry import (
    compute_metric,
    is_valid_metric,
    list_metrics,
    parse_metric,
    report_metric,
)

__all__ = ["compute_metric", "is_valid_metric", "list_metrics", "parse_metric", "report_metric"]
