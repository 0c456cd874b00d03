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

    # Each draw reads its block inline (no helper call): a signal makes a dozen draws, and on the
    # simulator's hot path a Python call costs as much as the draw itself.

    def _refill_normals(self) -> Iterator[float]:
        self._normals = iter(self._gen.standard_normal(_BLOCK).tolist())
        return self._normals

    def _refill_uniforms(self) -> Iterator[float]:
        self._uniforms = iter(self._gen.random(_BLOCK).tolist())
        return self._uniforms

    def random(self) -> float:
        """Uniform in [0, 1)."""
        for value in self._uniforms:
            return value
        return next(self._refill_uniforms())

    def gauss(self, mu: float, sigma: float) -> float:
        for value in self._normals:
            return mu + sigma * value
        return mu + sigma * next(self._refill_normals())

    def uniform(self, a: float, b: float) -> float:
        for value in self._uniforms:
            return a + (b - a) * value
        return a + (b - a) * next(self._refill_uniforms())

    def randrange(self, n: int) -> int:
        for value in self._uniforms:
            return min(n - 1, int(value * n))
        return min(n - 1, int(next(self._refill_uniforms()) * n))

    def randint(self, a: int, b: int) -> int:
        """Integer in [a, b], both included."""
        n = b - a + 1
        for value in self._uniforms:
            return a + min(n - 1, int(value * n))
        return a + min(n - 1, int(next(self._refill_uniforms()) * n))

    def expovariate(self, rate: float) -> float:
        return -math.log(1.0 - self.random()) / rate

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.randrange(len(seq))]
