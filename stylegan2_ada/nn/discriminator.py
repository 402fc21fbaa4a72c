"""Discriminator: resnet/skip/orig blocks down to 4x4, minibatch stddev, and the label projection."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..config import DiscriminatorConfig
from ..device import resolve_half_dtype
from ..ops import fastpath
from ..ops.filters import setup_filter
from ..ops.upfirdn import downsample2d
from .layers import Conv2dLayer, FullyConnectedLayer
from .mapping import MappingNetwork


class DiscriminatorBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        first_layer_idx: int,
        architecture: str = "resnet",
        activation: str = "lrelu",
        resample_filter: Sequence[int] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
        use_fp16: bool = False,
        fp16_channels_last: bool = False,
        freeze_layers: int = 0,
    ) -> None:
        assert in_channels in (0, tmp_channels)
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution
        self.img_channels = img_channels
        self.first_layer_idx = first_layer_idx
        self.architecture = architecture
        self.use_fp16 = use_fp16
        self.channels_last = use_fp16 and fp16_channels_last
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_layers = 0

        # Layers are numbered from the input side; the first `freeze_layers` are frozen (Freeze-D).
        def trainable_flags() -> Iterator[bool]:
            while True:
                layer_idx = self.first_layer_idx + self.num_layers
                self.num_layers += 1
                yield layer_idx >= freeze_layers

        trainable = trainable_flags()
        common = dict(activation=activation, conv_clamp=conv_clamp, channels_last=self.channels_last)
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, kernel_size=1, trainable=next(trainable), **common)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, kernel_size=3, trainable=next(trainable), **common)
        self.conv1 = Conv2dLayer(
            tmp_channels,
            out_channels,
            kernel_size=3,
            down=2,
            resample_filter=resample_filter,
            trainable=next(trainable),
            **common,
        )
        if architecture == "resnet":
            self.skip = Conv2dLayer(
                tmp_channels,
                out_channels,
                kernel_size=1,
                bias=False,
                down=2,
                resample_filter=resample_filter,
                trainable=next(trainable),
                channels_last=self.channels_last,
            )

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        half_dtype: torch.dtype | None | str = "auto",
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        half_dtype = resolve_half_dtype(half_dtype, (x if x is not None else img).device)
        dtype = half_dtype if (self.use_fp16 and half_dtype is not None) else torch.float32
        # NVIDIA's --nhwc (channels-last in the half-precision blocks), or the fast path's choice.
        memory_format = (
            torch.channels_last if self.channels_last and dtype != torch.float32 else fastpath.activation_format()
        )
        if x is not None:
            assert x.shape[1:] == (self.in_channels, self.resolution, self.resolution)
            x = x.to(dtype=dtype, memory_format=memory_format)

        if self.in_channels == 0 or self.architecture == "skip":
            assert img is not None and img.shape[1:] == (self.img_channels, self.resolution, self.resolution), (
                f"images must be [N, {self.img_channels}, {self.resolution}, {self.resolution}], "
                f"got {list(img.shape) if img is not None else None}"
            )
            img = img.to(dtype=dtype, memory_format=memory_format)
            y = self.fromrgb(img)
            x = x + y if x is not None else y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None

        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x)
            x = self.conv1(x, gain=math.sqrt(0.5))
            x = y + x
        else:
            x = self.conv0(x)
            x = self.conv1(x)
        assert x.dtype == dtype
        return x, img


class MinibatchStdLayer(nn.Module):
    """Appends the stddev across groups of samples as extra feature maps (lets D see variety)."""

    def __init__(self, group_size: int | None, num_channels: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        assert n % g == 0, f"batch {n} must be divisible by the minibatch-stddev group size {g}"
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = y.square().mean(dim=0)
        y = (y + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4])
        y = y.reshape(-1, f, 1, 1)
        y = y.repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, num_channels={self.num_channels}"


class DiscriminatorEpilogue(nn.Module):
    def __init__(
        self,
        in_channels: int,
        cmap_dim: int,
        resolution: int,
        img_channels: int,
        architecture: str = "resnet",
        mbstd_group_size: int | None = 4,
        mbstd_num_channels: int = 1,
        activation: str = "lrelu",
        conv_clamp: float | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.cmap_dim = cmap_dim
        self.resolution = resolution
        self.img_channels = img_channels
        self.architecture = architecture
        if architecture == "skip":
            self.fromrgb = Conv2dLayer(img_channels, in_channels, kernel_size=1, activation=activation)
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels,
            in_channels,
            kernel_size=3,
            activation=activation,
            conv_clamp=conv_clamp,
        )
        self.fc = FullyConnectedLayer(in_channels * resolution**2, in_channels, activation=activation)
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None, cmap: torch.Tensor | None) -> torch.Tensor:
        assert x.shape[1:] == (self.in_channels, self.resolution, self.resolution)
        x = x.to(dtype=torch.float32, memory_format=torch.contiguous_format)
        if self.architecture == "skip":
            assert img is not None
            x = x + self.fromrgb(img.to(dtype=torch.float32, memory_format=torch.contiguous_format))
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.fc(x.flatten(1))
        x = self.out(x)
        if self.cmap_dim > 0:
            assert cmap is not None
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / np.sqrt(self.cmap_dim))
        return x


class Discriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.c_dim = cfg.c_dim
        self.img_resolution = cfg.img_resolution
        self.img_channels = cfg.img_channels
        log2 = int(math.log2(cfg.img_resolution))
        self.block_resolutions = [2**i for i in range(log2, 2, -1)]
        channels = {
            res: min(cfg.channel_base // res, cfg.channel_max) for res in self.block_resolutions + [4]
        }
        fp16_resolution = max(2 ** (log2 + 1 - cfg.num_fp16_res), 8)
        cmap_dim = channels[4] if cfg.cmap_dim is None else cfg.cmap_dim
        if cfg.c_dim == 0:
            cmap_dim = 0

        layer_idx = 0
        for res in self.block_resolutions:
            block = DiscriminatorBlock(
                in_channels=channels[res] if res < cfg.img_resolution else 0,
                tmp_channels=channels[res],
                out_channels=channels[res // 2],
                resolution=res,
                img_channels=cfg.img_channels,
                first_layer_idx=layer_idx,
                architecture=cfg.architecture,
                activation=cfg.activation,
                resample_filter=cfg.resample_filter,
                conv_clamp=cfg.conv_clamp,
                use_fp16=res >= fp16_resolution,
                fp16_channels_last=cfg.fp16_channels_last,
                freeze_layers=cfg.freeze_layers,
            )
            setattr(self, f"b{res}", block)
            layer_idx += block.num_layers
        if cfg.c_dim > 0:
            self.mapping = MappingNetwork(z_dim=0, c_dim=cfg.c_dim, w_dim=cmap_dim, num_ws=None, cfg=cfg.mapping)
        self.b4 = DiscriminatorEpilogue(
            channels[4],
            cmap_dim=cmap_dim,
            resolution=4,
            img_channels=cfg.img_channels,
            architecture=cfg.architecture,
            mbstd_group_size=cfg.mbstd_group_size,
            mbstd_num_channels=cfg.mbstd_num_channels,
            activation=cfg.activation,
            conv_clamp=cfg.conv_clamp,
        )

    def forward(
        self,
        img: torch.Tensor,
        c: torch.Tensor | None,
        half_dtype: torch.dtype | None | str = "auto",
    ) -> torch.Tensor:
        """Logits [N, 1] for images [N, C, H, W] in [-1, 1] and labels c [N, c_dim]. half_dtype "auto": the
        mixed-precision blocks in fp16 on CUDA, fp32 elsewhere (as NVIDIA's)."""
        half_dtype = resolve_half_dtype(half_dtype, img.device)
        x = None
        for res in self.block_resolutions:
            x, img = getattr(self, f"b{res}")(x, img, half_dtype=half_dtype)
        cmap = None
        if self.c_dim > 0:
            assert c is not None and c.shape[1:] == (self.c_dim,), f"this D is conditional: c must be [N, {self.c_dim}]"
            cmap = self.mapping(None, c)
        return self.b4(x, img, cmap)
