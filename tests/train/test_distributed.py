"""Two gloo processes train the same model as one process with the same global batch."""

from __future__ import annotations

from pathlib import Path

import torch
from train_helpers import TINY_FLAGS, run_dirs, train

from stylegan2_ada.io.snapshot import load_snapshot
from stylegan2_ada.nn import Discriminator, Generator
from stylegan2_ada.train.state import latest_resumable, load_training_state

# 3 steps; step 0 runs all four phases. ADA with p=0.3: augmentation, noise, mixing are all random.
SEED = 3
COMMON = TINY_FLAGS + [
    "--aug=ada",
    "--p=0.3",
    "--target=0.1",
    "--kimg=0.012",
    "--tick=1",
    "--grid=2x2",
    f"--seed={SEED}",
]


def test_two_processes_equal_one(tmp_path: Path, tiny_zip: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    # One process: batch 4 as 2 accumulation rounds of 2. Two processes (spawned, gloo): 2 images each.
    assert train(COMMON + [f"--outdir={one}", f"--data={tiny_zip}", "--gpus=1", "--batch-gpu=2"]) == 0
    assert train(COMMON + [f"--outdir={two}", f"--data={tiny_zip}", "--gpus=2", "--batch-gpu=2"]) == 0
    (run1,), (run2,) = run_dirs(one), run_dirs(two)
    # The final snapshots (tick 0's is network-snapshot-000000, the last one of that kimg adds its images).
    last1, last2 = latest_resumable(run1), latest_resumable(run2)
    a = load_snapshot(run1 / f"network-snapshot-{last1.key}.safetensors").networks
    b = load_snapshot(run2 / f"network-snapshot-{last2.key}.safetensors").networks
    torch.manual_seed(SEED)  # the loop seeds, then builds G and D: the weights before training
    init = {"G": Generator(a["G"].cfg).requires_grad_(False), "D": Discriminator(a["D"].cfg).requires_grad_(False)}

    for net in ("G", "D"):
        pa, pb, p0 = (dict(m.named_parameters()) for m in (a[net], b[net], init[net]))
        diff = sum(float((pa[k] - pb[k]).abs().sum()) for k in pa)
        update = sum(float((pa[k] - p0[k]).abs().sum()) for k in pa)
        # Rounding (sums in another order) is all that differs: Adam can turn it into a visible
        # change only where a gradient is ~0, so compare the total difference with the training update.
        assert update > 0, f"{net} did not train"
        assert diff < 1e-3 * update, f"{net}: 1- and 2-process weights differ by {diff / update:.2e} of the update"
        for k in pa:
            assert torch.allclose(pa[k], pb[k], rtol=0, atol=2e-3), f"{net}.{k}"
    _, sa = load_training_state(run1, last1, "cpu")
    _, sb = load_training_state(run2, last2, "cpu")
    assert sa.cur_nimg == sb.cur_nimg == 12
    assert torch.allclose(sa.pl_mean, sb.pl_mean, rtol=1e-4)
    assert torch.allclose(sa.augment_p, sb.augment_p)
    assert "2 process(es) x 1 round(s) x 2" in (run2 / "log.txt").read_text()
    assert "1 process(es) x 2 round(s) x 2" in (run1 / "log.txt").read_text()
