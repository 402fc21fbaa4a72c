"""The training loop: four phases (Gmain, Greg, Dmain, Dreg) per step, EMA generator, ADA, ticks.

Randomness is arranged so that a run can be continued exactly and does not depend on how the batch is
split: data order, latents and labels come from a generator shared by all processes (its state is
saved), and every slice of the batch (one accumulation round on one process) reseeds torch's global RNG
from (step seed, phase, slice), which drives synthesis noise, style mixing, augmentation and
path-length noise.

`training_loop` reads top to bottom: build the trainer, restore or transfer, then steps until the end,
with the per-tick maintenance (ticks.py) in between.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..device import pick_device, training_half_dtype
from ..distributed import (
    DistEnv,
    all_reduce_mean,
    broadcast_module,
    rank_device,
    reduce_gradients,
)
from ..nn import Discriminator, Generator
from ..nn.compiled import CompileReport
from ..ops import fastpath
from .loss import PHASES, StyleGAN2Loss, make_fast_passes
from .options import TrainOptions
from .sampler import GlobalBatchSampler
from .state import ResumePoint, TrainState, capture_rng, load_training_state, restore_rng
from .ticks import RunOutputs, TickClock, catch_up_metrics, end_of_tick, repair_stats


@dataclass(frozen=True)
class Phase:
    name: str  # one of loss.PHASES
    network: str  # "G" or "D": whose optimiser steps
    interval: int  # runs every `interval` steps (lazy regularisation)


def make_phases(opts: TrainOptions) -> list[Phase]:
    """In loss.PHASES order (their index seeds the per-round RNG): main passes every step, the
    regularisation passes every g_reg_interval / d_reg_interval steps."""
    intervals = {"G": opts.g_reg_interval, "D": opts.d_reg_interval}
    return [Phase(name, name[0], 1 if name.endswith("main") else intervals[name[0]]) for name in PHASES]


def make_optimizer(module: torch.nn.Module, lr: float, reg_interval: int) -> torch.optim.Optimizer:
    """Adam with lazy regularisation's correction: lr and betas scaled by mb_ratio = I / (I + 1)."""
    ratio = reg_interval / (reg_interval + 1)
    return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)


@dataclass
class Trainer:
    """The live objects of a run and its counters."""

    opts: TrainOptions
    run_dir: Path
    env: DistEnv
    device: torch.device
    half_dtype: torch.dtype | None
    dataset: Any
    G: Generator
    G_ema: Generator
    D: Discriminator
    augment_pipe: torch.nn.Module | None
    ada: Any  # the ADA controller, or None
    loss: StyleGAN2Loss
    optimizers: dict[str, torch.optim.Optimizer]  # by network: "G", "D"
    phases: list[Phase]
    shared: torch.Generator  # same stream on every process
    fast_mode: str = "off"  # the resolved --fast (ops.fastpath.resolve_mode)
    compile_report: CompileReport | None = None  # with --fast=compile: time spent compiling
    cur_nimg: int = 0
    cur_tick: int = 0
    batch_idx: int = 0

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        return {"G": self.G, "G_ema": self.G_ema, "D": self.D}

    @property
    def done(self) -> bool:
        return self.cur_nimg >= self.opts.total_kimg * 1000

    @property
    def augment_p(self) -> float:
        return float(self.augment_pipe.p) if self.augment_pipe is not None else 0.0

    def say(self, *args: Any) -> None:
        if self.env.is_main:
            print(*args)

    def state(self) -> TrainState:
        return TrainState(
            cur_nimg=self.cur_nimg,
            cur_tick=self.cur_tick,
            batch_idx=self.batch_idx,
            batch=self.opts.batch,
            G_opt=self.optimizers["G"].state_dict(),
            D_opt=self.optimizers["D"].state_dict(),
            pl_mean=self.loss.pl_mean.detach().cpu(),
            augment_p=self.augment_pipe.p.detach().cpu() if self.augment_pipe is not None else None,
            ada=self.ada.state_dict() if self.ada is not None else None,
            shared_rng=self.shared.get_state(),
            rng=capture_rng(),
        )

    def load_state(self, state: TrainState) -> None:
        self.optimizers["G"].load_state_dict(state.G_opt)
        self.optimizers["D"].load_state_dict(state.D_opt)
        self.loss.pl_mean.copy_(state.pl_mean)
        if self.augment_pipe is not None and state.augment_p is not None:
            self.augment_pipe.p.copy_(state.augment_p)
        if self.ada is not None and state.ada is not None:
            self.ada.load_state_dict(state.ada)
        self.shared.set_state(state.shared_rng)
        restore_rng(state.rng)
        self.cur_nimg, self.cur_tick, self.batch_idx = state.cur_nimg, state.cur_tick + 1, state.batch_idx


# --- setting up ------------------------------------------------------------------------------------


def open_dataset(opts: TrainOptions) -> Any:
    from ..data.dataset import DatasetError, ImageDataset
    from ..errors import UserError

    try:
        ds = ImageDataset(
            opts.data,
            resolution=opts.resolution,
            use_labels=opts.cond,
            xflip=opts.mirror,
            max_size=opts.subset,
            random_seed=opts.seed,
        )
    except DatasetError as exc:
        raise UserError(f"--data: {exc}") from None
    if opts.mirrory:
        from .views import YFlipView

        ds = YFlipView(ds)
    return ds


def make_augment(opts: TrainOptions, device: torch.device) -> tuple[torch.nn.Module | None, Any]:
    if opts.aug == "noaug":
        return None, None
    from .ada import make_augment as make

    return make(
        opts.aug,
        opts.augpipe,
        p=opts.p,
        target=opts.target if opts.aug == "ada" else None,
        batch_size=opts.batch,
        ada_kimg=opts.ada_kimg,
        ada_interval=opts.ada_interval,
        device=device,
    )


def training_device(opts: TrainOptions, env: DistEnv) -> torch.device:
    device = rank_device(pick_device(opts.device), env)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = not opts.nobench
        torch.backends.cuda.matmul.allow_tf32 = opts.allow_tf32
        torch.backends.cudnn.allow_tf32 = opts.allow_tf32
    return device


def build_trainer(opts: TrainOptions, run_dir: Path, env: DistEnv, dataset: Any | None = None) -> Trainer:
    """Networks, optimisers, augmentation and loss for a run at step 0 (before any restore)."""
    device = training_device(opts, env)
    fast_mode = fastpath.resolve_mode(opts.fast, device)
    half_dtype = None if opts.fp32 else training_half_dtype(device, opts.precision, fast_mode)
    torch.manual_seed(opts.seed)
    np.random.seed(opts.seed)
    dataset = open_dataset(opts) if dataset is None else dataset
    G = Generator(opts.G).train().requires_grad_(False).to(device)
    D = Discriminator(opts.D).train().requires_grad_(False).to(device)
    G_ema = copy.deepcopy(G).eval()
    augment_pipe, ada = make_augment(opts, device)
    compile_report = CompileReport() if fast_mode == "compile" else None
    loss = StyleGAN2Loss(
        G,
        D,
        augment_pipe,
        r1_gamma=opts.gamma,
        style_mixing_prob=opts.style_mixing_prob,
        pl_weight=opts.pl_weight,
        half_dtype=half_dtype,
        on_real_logits=ada.accumulate if ada is not None else None,
        fast=make_fast_passes(fast_mode, G, D, device),
    )
    optimizers = {
        "G": make_optimizer(G, opts.glr, opts.g_reg_interval),
        "D": make_optimizer(D, opts.dlr, opts.d_reg_interval),
    }
    return Trainer(
        opts=opts,
        run_dir=run_dir,
        env=env,
        device=device,
        half_dtype=half_dtype,
        dataset=dataset,
        G=G,
        G_ema=G_ema,
        D=D,
        augment_pipe=augment_pipe,
        ada=ada,
        loss=loss,
        optimizers=optimizers,
        phases=make_phases(opts),
        shared=torch.Generator().manual_seed(opts.seed),
        fast_mode=fast_mode,
        compile_report=compile_report,
    )


def restore(trainer: Trainer, point: ResumePoint) -> None:
    """Continue a run exactly from a snapshot and the training state saved with it. stats.jsonl is made to
    end at that tick (lines of ticks trained after it are trained again; a line lost to a kill comes
    back from the state), and metrics the kill interrupted are computed now."""
    nets, state = load_training_state(trainer.run_dir, point, device="cpu")
    for name, module in trainer.networks.items():
        module.load_state_dict(nets[name].state_dict())
    trainer.load_state(state)
    if trainer.env.is_main:
        for line in repair_stats(trainer.run_dir, state):
            trainer.say(line)
    catch_up_metrics(trainer, point.key)
    trainer.say(
        f"Continuing {trainer.run_dir} at kimg {trainer.cur_nimg / 1000:g}, tick {trainer.cur_tick}, "
        f"augment p {trainer.augment_p:.3f}"
    )
    if trainer.done:
        trainer.say(
            f"This run has already reached --kimg={trainer.opts.total_kimg:g}: nothing left to train. "
            "Give a larger --kimg to train longer."
        )


def transfer(trainer: Trainer) -> None:
    """Transfer learning (rank 0; broadcast after): weights from --resume, counters from 0."""
    from .transfer import apply_transfer, forget_sources, load_source

    source = trainer.opts.resume
    trainer.say(
        f"Resuming from {source!r} (transfer learning: weights only, counters start at 0; "
        "to continue a run of ours use --resume=latest or its folder)"
    )
    for report in apply_transfer(load_source(source, "cpu"), trainer.networks, trainer.opts.cfg, source):
        for line in report.lines():
            trainer.say(line)
    forget_sources()  # free the source's memory


def batch_stream(trainer: Trainer) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This process's reals for each global step, from the step the run is at."""
    opts, env = trainer.opts, trainer.env
    workers = opts.workers if opts.workers >= 0 else (3 if trainer.device.type == "cuda" else 0)
    sampler = GlobalBatchSampler(
        len(trainer.dataset), opts.batch, opts.seed, env.rank, env.world, start_step=trainer.batch_idx
    )
    loader = torch.utils.data.DataLoader(
        trainer.dataset,
        batch_sampler=sampler,
        num_workers=workers,
        pin_memory=trainer.device.type == "cuda",
        prefetch_factor=2 if workers > 0 else None,
    )
    return iter(loader)


# --- one step ----------------------------------------------------------------------------------------


def round_seed(step_seed: int, phase_idx: int, slot: int) -> int:
    return int(np.random.SeedSequence([step_seed, phase_idx, slot]).generate_state(2, np.uint64)[0] >> 1)


def _step_latents(trainer: Trainer) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(step seed, z, c) for one global step, drawn from the shared stream; z and c are this process's
    slice, [len(PHASES), batch per process, dim]."""
    opts, env, dev = trainer.opts, trainer.env, trainer.device
    per_rank = opts.batch // env.world
    mine = slice(env.rank * per_rank, (env.rank + 1) * per_rank)
    step_seed = int(torch.randint(0, 2**62, [], generator=trainer.shared))
    all_z = torch.randn([len(PHASES), opts.batch, trainer.G.z_dim], generator=trainer.shared)[:, mine].to(dev)
    if opts.G.c_dim == 0:
        return step_seed, all_z, torch.zeros([len(PHASES), per_rank, 0], device=dev)
    idx = torch.randint(len(trainer.dataset), [len(PHASES), opts.batch], generator=trainer.shared)[:, mine]
    labels = np.stack([[trainer.dataset.get_label(int(i)) for i in row] for row in idx])
    return step_seed, all_z, torch.from_numpy(labels).float().to(dev)


@torch.no_grad()
def update_ema(G_ema: Generator, G: Generator, opts: TrainOptions, cur_nimg: int, fast: bool = False) -> None:
    """beta = 0.5 ** (batch / ema_nimg), with the ramp-up ema_nimg = min(ema_kimg*1000, cur_nimg*ramp).
    fast: the same lerps as a few multi-tensor ops (one launch for all tensors on CUDA), same values."""
    ema_nimg = opts.ema_kimg * 1000
    if opts.ema_rampup is not None:
        ema_nimg = min(ema_nimg, cur_nimg * opts.ema_rampup)
    beta = 0.5 ** (opts.batch / max(ema_nimg, 1e-8))
    if fast:
        params, ema_params = list(G.parameters()), list(G_ema.parameters())
        torch._foreach_copy_(ema_params, torch._foreach_lerp(params, ema_params, beta))
        torch._foreach_copy_(list(G_ema.buffers()), list(G.buffers()))
        return
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.copy_(p.lerp(p_ema, beta))
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def train_step(trainer: Trainer, reals: Iterator[tuple[torch.Tensor, torch.Tensor]]) -> None:
    """One global batch: every due phase (all accumulation rounds, gradients averaged over processes),
    then EMA, the counters and the ADA controller."""
    opts, env = trainer.opts, trainer.env
    real_img, real_c = next(reals)
    # Fast path: the pinned batch is copied while the GPU still works on the previous step.
    copy_async = trainer.fast_mode != "off" and trainer.device.type == "cuda"
    real_img = (real_img.to(trainer.device, non_blocking=copy_async).float() / 127.5 - 1).split(opts.batch_gpu)
    real_c = real_c.to(trainer.device, non_blocking=copy_async).float().split(opts.batch_gpu)
    step_seed, all_z, all_c = _step_latents(trainer)
    rounds = opts.rounds
    for phase_idx, phase in enumerate(trainer.phases):
        if trainer.batch_idx % phase.interval != 0:
            continue
        module, opt = trainer.networks[phase.network], trainer.optimizers[phase.network]
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        zs, cs = all_z[phase_idx].split(opts.batch_gpu), all_c[phase_idx].split(opts.batch_gpu)
        for r in range(rounds):
            torch.manual_seed(round_seed(step_seed, phase_idx, env.rank * rounds + r))
            trainer.loss.accumulate_gradients(
                phase.name, real_img[r], real_c[r], zs[r], cs[r], gain=phase.interval / rounds
            )
        module.requires_grad_(False)
        reduce_gradients(list(module.parameters()), env.world)
        opt.step()
        trainer.loss.end_phase(phase.name, lambda t: all_reduce_mean(t, env.world))

    update_ema(trainer.G_ema, trainer.G, opts, trainer.cur_nimg, fast=trainer.fast_mode != "off")
    trainer.cur_nimg += opts.batch
    trainer.batch_idx += 1
    if trainer.ada is not None:
        trainer.ada.step()  # every ada_interval steps: p += sign(E[sign(D(real))] - target) * step


# --- the loop ----------------------------------------------------------------------------------------


def training_loop(
    opts: TrainOptions,
    run_dir: Path,
    env: DistEnv | None = None,
    continue_from: ResumePoint | None = None,
    dataset: Any | None = None,
) -> dict[str, Any]:
    """Trains until opts.total_kimg; returns the final counters. Rank 0 writes all files.
    `dataset` replaces opts.data (benchmarks feed random images)."""
    clock = TickClock.start()
    trainer = build_trainer(opts, run_dir, env or DistEnv(), dataset)
    ds = trainer.dataset
    trainer.say(
        f"Dataset: {opts.data} ({len(ds)} images incl. mirrors, {opts.resolution}x{opts.resolution}, "
        f"labels {ds.label_dim if opts.cond else 0})"
    )
    if continue_from is not None:
        restore(trainer, continue_from)
    elif opts.resume and trainer.env.is_main:
        transfer(trainer)
    for module in trainer.networks.values():
        broadcast_module(module, trainer.env.world)

    outputs = RunOutputs.open(trainer, new_run=continue_from is None)
    reals = batch_stream(trainer)
    precision = str(trainer.half_dtype).replace("torch.", "") if trainer.half_dtype else "fp32"
    trainer.say(
        f"Training for {opts.total_kimg:g} kimg: batch {opts.batch} = {trainer.env.world} process(es) x "
        f"{opts.rounds} round(s) x {opts.batch_gpu}, {precision} on {trainer.device}, fast path {trainer.fast_mode}\n"
    )
    clock.begin_tick(trainer.cur_nimg)
    compile_reported = trainer.compile_report is None
    while not trainer.done:
        train_step(trainer, reals)
        if not compile_reported:  # the first step compiled the passes: say what it cost
            trainer.say(trainer.compile_report.line())
            compile_reported = True
        tick_due = trainer.cur_tick == 0 or clock.tick_nimg(trainer.cur_nimg) >= opts.kimg_per_tick * 1000
        if trainer.done or tick_due:
            end_of_tick(trainer, clock, outputs)
    outputs.close()
    trainer.say("\nExiting...")
    return {"cur_nimg": trainer.cur_nimg, "cur_tick": trainer.cur_tick, "batch_idx": trainer.batch_idx, **trainer.networks}
