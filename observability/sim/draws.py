"""Random draws for the simulator's hot path, served from numpy blocks.

`random.Random.gauss` costs ~0.5-1 µs per call and a signal needs a dozen draws; drawing 8,192
normals and uniforms at a time in numpy and handing them out from a list iterator costs ~0.1 µs
each. Same seed, same sequence: the stream stays deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
_BLOCK = 8192


class Draws:
    """The subset of `random.Random` the simulator uses, with the same meaning."""

    def __init__(self, seed: int) -> None:
        self._gen = np.random.Generator(np.random.PCG64(seed))
        self._normals: Iterator[float] = iter(())
        self._uniforms: Iterator[float] = iter(())

    def _normal(self) -> float:
        for value in self._normals:
            return value
        self._normals = iter(self._gen.standard_normal(_BLOCK).tolist())
        return next(self._normals)

    def random(self) -> float:
        """Uniform in [0, 1)."""
        for value in self._uniforms:
            return value
        self._uniforms = iter(self._gen.random(_BLOCK).tolist())
        return next(self._uniforms)

    def gauss(self, mu: float, sigma: float) -> float:
        return mu + sigma * self._normal()

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def randrange(self, n: int) -> int:
        return min(n - 1, int(self.random() * n))

    def randint(self, a: int, b: int) -> int:
        """Integer in [a, b], both included."""
        return a + self.randrange(b - a + 1)

    def expovariate(self, rate: float) -> float:
        return -math.log(1.0 - self.random()) / rate

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.randrange(len(seq))]
