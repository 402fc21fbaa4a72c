"""Several processes on one job (training, metrics): torchrun / torch.distributed, or processes we spawn.

NCCL on CUDA, gloo on CPU; each process takes the GPU of its local rank. Training sums gradients over
processes and divides by their number (as NVIDIA's newer trainers do), so the global batch (--batch)
fixes the training dynamics.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def rank_device(device: torch.device, env: DistEnv) -> torch.device:
    """The device of this process: on CUDA the GPU of its local rank (made current), else `device` itself."""
    if device.type != "cuda":
        return device
    device = torch.device("cuda", env.local_rank)
    torch.cuda.set_device(device)
    return device


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ and "LOCAL_RANK" in os.environ


def init_from_env(device_type: str) -> DistEnv:
    """Joins the process group torchrun prepared (env:// rendezvous)."""
    env = DistEnv(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if env.world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo", init_method="env://")
    return env


def init_spawned(rank: int, world: int, init_method: str, device_type: str) -> DistEnv:
    if world > 1:
        backend = "nccl" if device_type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, init_method=init_method, rank=rank, world_size=world)
    return DistEnv(rank=rank, world=world, local_rank=rank)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    fn: Callable[..., Any],
    world: int,
    args: tuple[Any, ...],
) -> None:
    """Runs fn(rank, world, init_method, *args) in `world` fresh processes and waits for them."""
    import torch.multiprocessing as mp

    init_method = f"tcp://127.0.0.1:{free_port()}"
    mp.spawn(fn, args=(world, init_method, *args), nprocs=world, join=True)


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean(x: torch.Tensor, world: int) -> torch.Tensor:
    if world == 1:
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x / world


def all_reduce_sum(x: torch.Tensor, world: int) -> torch.Tensor:
    if world == 1:
        return x
    x = x.clone()
    dist.all_reduce(x, op=dist.ReduceOp.SUM)
    return x


def reduce_gradients(
    params: list[torch.nn.Parameter],
    world: int,
) -> None:
    """Averages gradients over processes (one flat all-reduce), then replaces NaN/inf as NVIDIA does."""
    if world == 1:
        params = [p for p in params if p.grad is not None]  # Adam skips parameters without a gradient
    if not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    if world > 1:
        flat = torch.cat([g.flatten() for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world
        grads = list(flat.split([p.numel() for p in params]))
    for p, g in zip(params, grads):
        p.grad = torch.nan_to_num(g.reshape(p.shape), nan=0, posinf=1e5, neginf=-1e5)


def broadcast_module(module: torch.nn.Module, world: int) -> None:
    """Makes every process start from rank 0's weights and buffers."""
    if world == 1:
        return
    for t in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(t.data, src=0)
