"""Named random streams, all derived from the run's seed.

Each component asks for its stream by name (``streams.generator("workload.vm0")``); the stream is
``SeedSequence(seed, spawn_key=crc32(name))``, so adding a component never shifts another
component's numbers, and the order in which components are built does not matter. There is no
global RNG anywhere in the simulator (``np.random.*`` module functions are never called).
"""

from __future__ import annotations

import zlib

import numpy as np


class RngStreams:
    """A factory of independent, reproducible generators keyed by name."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def seed_sequence(self, name: str) -> np.random.SeedSequence:
        """The SeedSequence of stream ``name`` (for components that spawn sub-streams)."""
        return np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))

    def generator(self, name: str) -> np.random.Generator:
        """A fresh generator for stream ``name``; the same name always gives the same stream."""
        return np.random.default_rng(self.seed_sequence(name))
