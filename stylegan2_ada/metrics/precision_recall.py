"""Improved precision and recall (Kynkäänniemi et al. 2019), as NVIDIA's pr50k3_full computes it.

Each set is a manifold of hyperspheres: around every feature vector, the radius to its k-th nearest
neighbour in the same set (k=3, the point itself excluded). Precision = share of generated features
inside the real manifold; recall = share of real features inside the generated manifold. Features are
rounded to float16 as NVIDIA stores them; distances are computed in row x column blocks so 200k x 50k
pairs never need to be in memory at once.
"""

from __future__ import annotations

import torch


def _block_distances(rows: torch.Tensor, cols: torch.Tensor, col_batch_size: int) -> torch.Tensor:
    """Euclidean distances [len(rows), len(cols)], computed in column blocks, returned as float16."""
    out = []
    for block in cols.split(col_batch_size):
        if rows.device.type == "cuda":
            d = torch.cdist(rows.unsqueeze(0), block.unsqueeze(0))[0]  # fp16 on the GPU, as NVIDIA
        else:
            d = torch.cdist(rows.float().unsqueeze(0), block.float().unsqueeze(0))[0]  # no fp16 cdist on CPU
        out.append(d.to(torch.float16))
    return torch.cat(out, dim=1)


def manifold_radii(manifold: torch.Tensor, k: int, row_batch_size: int, col_batch_size: int) -> torch.Tensor:
    """Distance of every manifold point to its k-th nearest other point (float16)."""
    radii = []
    for rows in manifold.split(row_batch_size):
        d = _block_distances(rows, manifold, col_batch_size).to(torch.float32)
        radii.append(d.kthvalue(k + 1, dim=1).values.to(torch.float16))  # +1: the point itself is at 0
    return torch.cat(radii)


def coverage(
    manifold: torch.Tensor,
    radii: torch.Tensor,
    probes: torch.Tensor,
    row_batch_size: int,
    col_batch_size: int,
) -> float:
    """Share of probes within radius of at least one manifold point."""
    inside = []
    for rows in probes.split(row_batch_size):
        d = _block_distances(rows, manifold, col_batch_size)
        inside.append((d <= radii.unsqueeze(0)).any(dim=1))
    return float(torch.cat(inside).to(torch.float32).mean())


def precision_recall(
    real: torch.Tensor,
    gen: torch.Tensor,
    k: int = 3,
    row_batch_size: int = 10000,
    col_batch_size: int = 10000,
) -> tuple[float, float]:
    """(precision, recall) of generated features `gen` against real features `real`, both [N, D]."""
    real = torch.as_tensor(real).to(torch.float16)
    gen = torch.as_tensor(gen).to(torch.float16)
    if min(real.shape[0], gen.shape[0]) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} items in each set")
    real_radii = manifold_radii(real, k, row_batch_size, col_batch_size)
    precision = coverage(real, real_radii, gen, row_batch_size, col_batch_size)
    gen_radii = manifold_radii(gen, k, row_batch_size, col_batch_size)
    recall = coverage(gen, gen_radii, real, row_batch_size, col_batch_size)
    return precision, recall
