"""The ADA controller: tunes the augmentation probability p from how sure D is about the reals.

r_t = E[sign(D(real))] over the last `ada_interval` training steps (all processes together). Above the
target, D is overfitting the few reals, so p goes up; below, p goes down:

    p <- max(p + sign(r_t - target) * batch_size * ada_interval / (ada_kimg * 1000), 0)

so p can move by 1 in `ada_kimg` thousand images. p has no upper clamp, as NVIDIA's.

Unlike NVIDIA's trainer, the controller keeps its own step counter and pending sums in `state_dict()`,
so a resumed run adjusts p at exactly the same steps with exactly the same statistics.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from .augment import AugmentPipe, make_augment_pipe
from .augment_presets import ADA_INTERVAL, ADA_KIMG, DEFAULT_PIPE, DEFAULT_TARGET, check_augment


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class AdaController:
    """Call `accumulate(real_logits)` for every D evaluation on reals (NVIDIA counts both the main and the
    R1 passes), and `step()` once after every training step (one global batch). `batch_size` is the
    global batch over all processes.

    Under torch.distributed every process must call `step()` at the same steps: the per-step sums are
    all-reduced there (a 2-element all-reduce, no host sync), so every process holds the same totals and
    the same p, and `state_dict()` needs no communication (any rank may save it).
    """

    def __init__(
        self,
        pipe: AugmentPipe,
        target: float = DEFAULT_TARGET,
        ada_interval: int = ADA_INTERVAL,
        ada_kimg: float = ADA_KIMG,
        batch_size: int = 32,
    ) -> None:
        if ada_interval < 1 or ada_kimg <= 0 or batch_size < 1:
            raise ValueError("ada_interval and batch_size must be >= 1 and ada_kimg > 0")
        self.pipe = pipe
        self.target = float(target)
        self.ada_interval = int(ada_interval)
        self.ada_kimg = float(ada_kimg)
        self.batch_size = int(batch_size)
        self.steps = 0  # training steps seen
        # [sum of signs, count] of this process since the last step(), and of all processes since the last
        # adjustment. Signs are -1/0/1, so float32 sums are exact up to 2^24 values.
        self._pending = torch.zeros([2], device=pipe.p.device)
        self._total = torch.zeros([2], device=pipe.p.device)
        self._last_rt = torch.full([], float("nan"), device=pipe.p.device)

    @property
    def p(self) -> float:
        return float(self.pipe.p)

    @property
    def rt(self) -> float:
        """r_t = mean sign of D(real) at the latest adjustment (NaN before the first)."""
        return float(self._last_rt)

    @property
    def step_size(self) -> float:
        """How much one adjustment moves p."""
        return self.batch_size * self.ada_interval / (self.ada_kimg * 1000)

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Adds sign(D(real)) of this process's batch (no host sync)."""
        signs = real_logits.detach().sign().to(self._pending.device, torch.float32)
        count = torch.full([], float(signs.numel()), device=signs.device)
        self._pending += torch.stack([signs.sum(), count])

    __call__ = accumulate  # usable directly as the loss's on_real_logits callback

    @torch.no_grad()
    def step(self) -> bool:
        """Ends one training step; every `ada_interval` steps adjusts p. Returns whether it adjusted."""
        pending = self._pending
        if _distributed():
            dist.all_reduce(pending)
        self._total += pending
        self._pending = torch.zeros_like(pending)
        self.steps += 1
        if self.steps % self.ada_interval != 0:
            return False
        total_sum, total_count = self._total[0], self._total[1]
        seen = total_count > 0
        rt = torch.where(seen, total_sum / total_count.clamp_min(1), torch.full_like(total_sum, float("nan")))
        # No reals seen in the interval: leave p alone (NVIDIA's would turn p into NaN).
        adjust = torch.where(seen, torch.sign(rt - self.target), torch.zeros_like(rt)) * self.step_size
        p = self.pipe.p
        p.copy_((p + adjust).clamp_min(0))
        self._last_rt = rt
        self._total = torch.zeros_like(self._total)
        return True

    def state_dict(self) -> dict[str, Any]:
        """Plain tensors and numbers (loadable with torch.load(weights_only=True)); includes p."""
        return {
            "p": float(self.pipe.p),
            "steps": self.steps,
            "pending": self._pending.detach().cpu().clone(),
            "total": self._total.detach().cpu().clone(),
            "last_rt": float(self._last_rt),
            "target": self.target,
            "ada_interval": self.ada_interval,
            "ada_kimg": self.ada_kimg,
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores counters, sums and p. The settings (target, interval, kimg, batch) stay as constructed,
        so a resumed run may change them on purpose; the sums continue either way."""
        device = self.pipe.p.device
        self.steps = int(state["steps"])
        self._pending = torch.as_tensor(state["pending"], dtype=torch.float32).to(device).clone()
        self._total = torch.as_tensor(state["total"], dtype=torch.float32).to(device).clone()
        self._last_rt = torch.tensor(float(state.get("last_rt", float("nan"))), device=device)
        self.pipe.p.copy_(torch.tensor(float(state["p"])))


def make_augment(
    aug: str = "ada",
    augpipe: str | None = DEFAULT_PIPE,
    p: float | None = None,
    target: float | None = None,
    batch_size: int | None = None,
    ada_kimg: float = ADA_KIMG,
    ada_interval: int = ADA_INTERVAL,
    device: torch.device | str | None = None,
) -> tuple[AugmentPipe | None, AdaController | None]:
    """(pipe, controller) for `--aug`, `--augpipe`, `--p`, `--target`, as NVIDIA's train.py:

    - noaug: (None, None); --p (other than 0) or --target is an error.
    - fixed: a pipe with constant p (required); p = 0 means no pipe at all, as NVIDIA.
    - ada:   a pipe starting at p (default 0; NVIDIA allows only 0) and a controller with `target`
             (default DEFAULT_TARGET). `batch_size` (global) is required. Use ada_kimg=100 when fine-tuning a
             pretrained network (NVIDIA's choice for --resume), so p reacts faster at the start.
    The pipe is in train mode, requires no grad, on `device`.
    """
    check_augment(aug, augpipe, p, target)
    name = augpipe or DEFAULT_PIPE
    if aug == "noaug":
        return None, None
    if aug == "fixed":
        if p == 0:
            return None, None
        return _ready(make_augment_pipe(name, p=p), device), None

    if batch_size is None:
        raise ValueError("make_augment(aug='ada') needs the global batch_size")
    pipe = _ready(make_augment_pipe(name, p=p or 0.0), device)
    controller = AdaController(
        pipe,
        target=DEFAULT_TARGET if target is None else target,
        ada_interval=ada_interval,
        ada_kimg=ada_kimg,
        batch_size=batch_size,
    )
    return pipe, controller


def _ready(pipe: AugmentPipe, device: torch.device | str | None) -> AugmentPipe:
    pipe = pipe.train().requires_grad_(False)
    return pipe.to(device) if device is not None else pipe
