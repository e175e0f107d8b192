"""Streaming, mergeable mean / covariance in float64.

Each batch is reduced to (n, mean, M2 = centred scatter matrix) in float64 and merged with
Chan et al.'s parallel update
    n = na + nb,  mean = ma + (mb - ma)·nb/n,  M2 = M2a + M2b + (mb - ma)(mb - ma)ᵀ·na·nb/n,
so 50k×2048 features never need to be in memory at once and per-file / per-worker statistics
can be merged exactly (up to float64 rounding). Covariance uses ddof=1, as np.cov in pytorch-fid.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from ..protocol import PermanentError


class RunningStats:
    def __init__(self, dim: int, name: str = "features") -> None:
        if dim < 1:
            raise ValueError("dim must be >= 1")
        self.dim = dim
        self.name = name
        self.n = 0
        self.mean = np.zeros(dim, dtype=np.float64)
        self.m2 = np.zeros((dim, dim), dtype=np.float64)

    # -- accumulation -------------------------------------------------------------------------
    def update(self, batch: np.ndarray) -> "RunningStats":
        x = np.asarray(batch)
        if x.ndim != 2:
            raise PermanentError(f"{self.name}: features must be a 2-D array (N×D), got shape {x.shape}")
        if x.shape[1] != self.dim:
            raise PermanentError(
                f"{self.name}: feature dimension {x.shape[1]} does not match the expected {self.dim}"
            )
        if x.shape[0] == 0:
            return self
        x = x.astype(np.float64, copy=False)
        if not np.isfinite(x).all():
            raise PermanentError(f"{self.name}: features contain NaN or infinite values")
        nb = x.shape[0]
        mb = x.mean(axis=0)
        xc = x - mb
        m2b = xc.T @ xc
        self._merge(nb, mb, m2b)
        return self

    def merge(self, other: "RunningStats") -> "RunningStats":
        if other.dim != self.dim:
            raise PermanentError(
                f"cannot merge statistics of '{other.name}' (dim {other.dim}) into '{self.name}' (dim {self.dim})"
            )
        if other.n:
            self._merge(other.n, other.mean, other.m2)
        return self

    def _merge(self, nb: int, mb: np.ndarray, m2b: np.ndarray) -> None:
        na = self.n
        if na == 0:
            self.n, self.mean, self.m2 = nb, mb.copy(), m2b.copy()
            return
        n = na + nb
        delta = mb - self.mean
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + m2b + np.outer(delta, delta) * (na * nb / n)
        self.n = n

    # -- results ------------------------------------------------------------------------------
    def covariance(self) -> np.ndarray:
        if self.n < 2:
            raise PermanentError(
                f"{self.name}: needs at least 2 samples for a covariance, has {self.n}"
            )
        cov = self.m2 / (self.n - 1)
        return (cov + cov.T) * 0.5  # exact symmetry despite rounding in the updates

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"n": np.array(self.n, dtype=np.int64), "mean": self.mean, "m2": self.m2}

    @staticmethod
    def from_arrays(arrays: dict[str, np.ndarray], name: str = "features") -> "RunningStats":
        mean = np.asarray(arrays["mean"], dtype=np.float64)
        stats = RunningStats(mean.shape[0], name)
        stats.n = int(arrays["n"])
        stats.mean = mean.copy()
        stats.m2 = np.asarray(arrays["m2"], dtype=np.float64).copy()
        return stats

    @staticmethod
    def from_batches(batches: Iterable[np.ndarray], dim: int, name: str = "features") -> "RunningStats":
        stats = RunningStats(dim, name)
        for batch in batches:
            stats.update(batch)
        return stats
