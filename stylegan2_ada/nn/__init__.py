"""StyleGAN2 networks with NVIDIA's state-dict names."""

from .discriminator import Discriminator
from .generator import Generator
from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork

__all__ = ["Discriminator", "Generator", "MappingNetwork", "SynthesisNetwork"]
