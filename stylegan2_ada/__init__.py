"""StyleGAN2-ADA in plain PyTorch, compatible with NVIDIA's weights, seeds, file names and flags."""

__version__ = "0.1.0"
