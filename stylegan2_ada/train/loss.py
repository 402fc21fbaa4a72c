"""StyleGAN2 loss: non-saturating logistic loss, lazy R1 on reals, path-length regularisation, mixing.

One call of `accumulate_gradients` handles one round (a slice of the batch) of one phase:
Gmain, Greg (path length), Dmain (fakes + reals) or Dreg (R1). The caller zeroes, reduces and applies
the gradients. Values follow NVIDIA's StyleGAN2-ADA; the path-length mean is updated once per phase
from the whole global batch (identical to NVIDIA with one round on one GPU; with several rounds or
processes every slice sees the same mean, so the result does not depend on how the batch is split).

The fast path (`FastPasses`): every phase runs the fast ops (ops/fastpath.py); with `compiled` passes the
main phases (Gmain, Dmain) call torch.compile'd synthesis and D. The regularisation phases stay eager:
R1 and path length differentiate a gradient (create_graph=True), and compiled graphs do not support
double backward in torch 2.13; those run every 16 and 4 steps, so eager costs little there. Mapping,
style mixing and the augment pipe stay eager too (random draws in NVIDIA's order, data-dependent skips).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..nn import Discriminator, Generator
from ..nn.compiled import compile_pass
from ..ops import fastpath

PHASES = ("Gmain", "Greg", "Dmain", "Dreg")


class StatSums:
    """Running sums of scalars on the device (no host sync per step); read once per tick."""

    def __init__(self) -> None:
        self.sums: dict[str, list[torch.Tensor]] = {}

    def add(self, name: str, values: torch.Tensor) -> None:
        values = values.detach().float().flatten()
        n = torch.full([], float(values.numel()), device=values.device)
        s = torch.stack([n, values.sum(), values.square().sum()])
        if name in self.sums:
            self.sums[name][0] += s
        else:
            self.sums[name] = [s]

    def summary(self, reduce_sum: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, dict[str, float]]:
        """name -> {num, mean, std} over the tick (and over all processes through reduce_sum)."""
        names = sorted(self.sums)
        if not names:
            return {}
        totals = reduce_sum(torch.stack([self.sums[k][0] for k in names])).double().cpu()
        out = {}
        for name, (n, s, sq) in zip(names, totals.tolist()):
            mean = s / max(n, 1)
            out[name] = {"num": n, "mean": mean, "std": max(sq / max(n, 1) - mean**2, 0.0) ** 0.5}
        return out

    def reset(self) -> None:
        self.sums.clear()


def r1_penalty(
    real_img: torch.Tensor,
    real_logits: torch.Tensor,
) -> torch.Tensor:
    """Squared norm of dD/dx per sample, kept differentiable (R1 of Mescheder et al.)."""
    (grads,) = torch.autograd.grad(outputs=[real_logits.sum()], inputs=[real_img], create_graph=True)
    return grads.square().sum(dim=[1, 2, 3])


@dataclass
class FastPasses:
    """How the loss runs its passes: the fast ops on or off, and optionally compiled main passes (callables
    with the signatures of G.synthesis and D; see nn/compiled.py)."""

    ops: bool = False
    synthesis: Callable[..., torch.Tensor] | None = None
    D: Callable[..., torch.Tensor] | None = None


def make_fast_passes(mode: str, G: Generator, D: Discriminator, device: torch.device) -> FastPasses:
    """The passes of a resolved --fast mode (ops.fastpath.resolve_mode): "off" the reference ops, "on"
    the fast ops, "compile" the fast ops with compiled synthesis and D."""
    if mode == "off":
        return FastPasses()
    if mode == "on":
        return FastPasses(ops=True)
    assert mode == "compile", mode
    return FastPasses(ops=True, synthesis=compile_pass(G.synthesis, device), D=compile_pass(D, device))


class StyleGAN2Loss:
    def __init__(
        self,
        G: Generator,
        D: Discriminator,
        augment_pipe: torch.nn.Module | None = None,
        r1_gamma: float = 10.0,
        style_mixing_prob: float = 0.9,
        pl_weight: float = 2.0,
        pl_decay: float = 0.01,
        pl_batch_shrink: int = 2,
        half_dtype: torch.dtype | None = None,
        on_real_logits: Callable[[torch.Tensor], None] | None = None,
        fast: FastPasses | None = None,
    ) -> None:
        self.G = G
        self.D = D
        self.augment_pipe = augment_pipe
        self.r1_gamma = r1_gamma
        self.style_mixing_prob = style_mixing_prob
        self.pl_weight = pl_weight
        self.pl_decay = pl_decay
        self.pl_batch_shrink = pl_batch_shrink
        self.half_dtype = half_dtype
        self.on_real_logits = on_real_logits  # the ADA controller collects D's verdicts on reals
        self.fast = fast or FastPasses()
        device = next(G.parameters()).device
        self.pl_mean = torch.zeros([], device=device)
        self._pl_phase_sum = torch.zeros([], device=device)
        self._pl_phase_count = 0
        self.stats = StatSums()

    # --- forward passes ---------------------------------------------------------------------------

    def run_G(self, z: torch.Tensor, c: torch.Tensor, compiled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        ws = self.G.mapping(z, c)
        if self.style_mixing_prob > 0:
            # NVIDIA's draw: a cutoff in [1, num_ws), used with probability p, else no mixing.
            num_ws = ws.shape[1]
            cutoff = torch.empty([], dtype=torch.int64, device=ws.device).random_(1, num_ws)
            use = torch.rand([], device=ws.device) < self.style_mixing_prob
            cutoff = torch.where(use, cutoff, torch.full_like(cutoff, num_ws))
            ws2 = self.G.mapping(torch.randn_like(z), c, update_w_avg=False)
            mask = torch.arange(num_ws, device=ws.device)[None, :, None] >= cutoff
            ws = torch.where(mask, ws2, ws)
        synthesis = self.fast.synthesis if compiled and self.fast.synthesis is not None else self.G.synthesis
        img = synthesis(ws, half_dtype=self.half_dtype)
        return img, ws

    def run_D(self, img: torch.Tensor, c: torch.Tensor, compiled: bool = False) -> torch.Tensor:
        if self.augment_pipe is not None:
            img = self.augment_pipe(img)
        D = self.fast.D if compiled and self.fast.D is not None else self.D
        return D(img, c, half_dtype=self.half_dtype)

    def _pairable(self, num_fakes: int, num_reals: int) -> bool:
        """Whether fakes and reals can share one D pass with the same minibatch-stddev groups as two."""
        mbstd = self.D.b4.mbstd
        if num_fakes != num_reals:
            return False
        if mbstd is None:
            return True
        size = mbstd.group_size
        return size is not None and size <= num_fakes and num_fakes % size == 0

    def run_D_pair(
        self,
        gen_img: torch.Tensor,
        gen_c: torch.Tensor,
        real_img: torch.Tensor,
        real_c: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits for fakes and reals from one pass over both (fast path: half the launches, one
        backward). Each is augmented on its own, in NVIDIA's order (fakes first), and the two are
        interleaved so that every minibatch-stddev group holds only fakes or only reals: D computes
        per sample apart from those groups, so the logits equal two separate passes up to round-off."""
        if self.augment_pipe is not None:
            gen_img = self.augment_pipe(gen_img)
            real_img = self.augment_pipe(real_img)
        n = gen_img.shape[0]
        mbstd = self.D.b4.mbstd
        groups = min(mbstd.group_size, n) if mbstd is not None else 1

        def interleave(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            # MinibatchStdLayer groups sample i with i + N/g, i + 2N/g, ...: put the halves side by side
            # inside each [g, N/g] slot so that no group mixes them.
            rest = a.shape[1:]
            pair = torch.stack([a.reshape(groups, n // groups, *rest), b.reshape(groups, n // groups, *rest)], 1)
            return pair.reshape(2 * n, *rest)

        D = self.fast.D if self.fast.D is not None else self.D
        logits = D(interleave(gen_img, real_img), interleave(gen_c, real_c), half_dtype=self.half_dtype)
        logits = logits.reshape(groups, 2, n // groups, -1)
        return logits[:, 0].reshape(n, -1), logits[:, 1].reshape(n, -1)

    # --- one round of one phase -------------------------------------------------------------------

    def accumulate_gradients(
        self,
        phase: str,
        real_img: torch.Tensor,
        real_c: torch.Tensor,
        gen_z: torch.Tensor,
        gen_c: torch.Tensor,
        gain: float,
    ) -> None:
        assert phase in PHASES, phase
        # Every pass of this round on the fast ops or the reference ops, as the run chose (--fast).
        with fastpath.fast_path(self.fast.ops):
            st = self.stats
            if phase == "Gmain":
                gen_img, _ = self.run_G(gen_z, gen_c, compiled=True)
                gen_logits = self.run_D(gen_img, gen_c, compiled=True)
                st.add("Loss/scores/fake", gen_logits)
                st.add("Loss/signs/fake", gen_logits.sign())
                loss = F.softplus(-gen_logits)  # -log(sigmoid(D(G(z))))
                st.add("Loss/G/loss", loss)
                loss.mean().mul(gain).backward()

            elif phase == "Greg" and self.pl_weight != 0:
                n = max(gen_z.shape[0] // self.pl_batch_shrink, 1)
                gen_img, gen_ws = self.run_G(gen_z[:n], gen_c[:n])
                h, w = gen_img.shape[2], gen_img.shape[3]
                pl_noise = torch.randn_like(gen_img) / np.sqrt(h * w)
                (pl_grads,) = torch.autograd.grad(
                    outputs=[(gen_img * pl_noise).sum()], inputs=[gen_ws], create_graph=True
                )
                pl_lengths = pl_grads.square().sum(2).mean(1).sqrt()
                pl_mean = self.pl_mean.lerp(pl_lengths.mean(), self.pl_decay)
                self._pl_phase_sum = self._pl_phase_sum + pl_lengths.mean().detach()
                self._pl_phase_count += 1
                pl_penalty = (pl_lengths - pl_mean).square()
                st.add("Loss/pl_penalty", pl_penalty)
                loss = pl_penalty * self.pl_weight
                st.add("Loss/G/reg", loss)
                (gen_img[:, 0, 0, 0] * 0 + loss).mean().mul(gain).backward()

            elif phase == "Dmain" and self.fast.ops and self._pairable(gen_z.shape[0], real_img.shape[0]):
                gen_img, _ = self.run_G(gen_z, gen_c, compiled=True)
                gen_logits, real_logits = self.run_D_pair(gen_img, gen_c, real_img.detach(), real_c)
                st.add("Loss/scores/fake", gen_logits)
                st.add("Loss/signs/fake", gen_logits.sign())
                loss_gen = F.softplus(gen_logits)  # -log(1 - sigmoid(D(G(z))))
                self._report_real(real_logits)
                loss_real = F.softplus(-real_logits)  # -log(sigmoid(D(x)))
                st.add("Loss/D/loss", loss_gen.detach() + loss_real.detach())
                (loss_gen.mean() + loss_real.mean()).mul(gain).backward()

            elif phase == "Dmain":
                gen_img, _ = self.run_G(gen_z, gen_c, compiled=True)
                gen_logits = self.run_D(gen_img, gen_c, compiled=True)
                st.add("Loss/scores/fake", gen_logits)
                st.add("Loss/signs/fake", gen_logits.sign())
                loss_gen = F.softplus(gen_logits)  # -log(1 - sigmoid(D(G(z))))
                loss_gen.mean().mul(gain).backward()

                real_logits = self.run_D(real_img.detach(), real_c, compiled=True)
                self._report_real(real_logits)
                loss_real = F.softplus(-real_logits)  # -log(sigmoid(D(x)))
                st.add("Loss/D/loss", loss_gen.detach() + loss_real.detach())
                loss_real.mean().mul(gain).backward()

            elif phase == "Dreg" and self.r1_gamma != 0:
                real_tmp = real_img.detach().requires_grad_(True)
                real_logits = self.run_D(real_tmp, real_c)
                self._report_real(real_logits)
                penalty = r1_penalty(real_tmp, real_logits)
                st.add("Loss/r1_penalty", penalty)
                loss = penalty * (self.r1_gamma / 2)
                st.add("Loss/D/reg", loss)
                (real_logits * 0 + loss).mean().mul(gain).backward()

    def _report_real(self, real_logits: torch.Tensor) -> None:
        self.stats.add("Loss/scores/real", real_logits)
        self.stats.add("Loss/signs/real", real_logits.sign())
        if self.on_real_logits is not None:
            self.on_real_logits(real_logits.detach())

    def end_phase(
        self,
        phase: str,
        all_reduce_mean: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        """After all rounds of a phase: move the path-length mean with the mean over the global batch."""
        if phase == "Greg" and self._pl_phase_count > 0:
            mean = all_reduce_mean(self._pl_phase_sum / self._pl_phase_count)
            self.pl_mean.copy_(self.pl_mean.lerp(mean, self.pl_decay))
            self._pl_phase_sum = torch.zeros_like(self._pl_phase_sum)
            self._pl_phase_count = 0
