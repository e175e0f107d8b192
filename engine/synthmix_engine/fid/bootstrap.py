"""A 95 % (`level`) interval of the FID over images: the basic ("pivotal") bootstrap.

Why not the percentile bootstrap: a resample drawn with replacement holds ~63 % distinct images,
and the FID of a sample is biased upward (more so the fewer distinct images), so the resampled
FIDs θ* sit above the point value θ̂ and their percentiles bracket a value above it — an interval
for nothing (the rejected first attempt). The bootstrap principle says the *shift* θ* − θ̂
imitates θ̂ − θ (θ: the FID of the two image distributions), bias included; the basic interval
inverts it:

    [2θ̂ − q(1 − α/2), 2θ̂ − q(α/2)]   (q: quantiles of θ*, numpy's linear interpolation), low ≥ 0

so the upward shift is subtracted rather than reported. `bias` = mean(θ*) − θ̂ is the bootstrap's
estimate of the point value's own bias: where it exceeds the interval's half-width (few images
against many feature dimensions, e.g. a per-class FID of 60 images in 128 dimensions) the interval
lies below θ̂, and the report says so. BCa was not chosen: its bias term Φ⁻¹(#{θ* < θ̂}/B) is
infinite exactly in that case (every θ* above θ̂).

Draws, per resample b = 0..resamples-1, from ONE `numpy.random.default_rng(seed)` per comparison:
    i = rng.integers(0, n_reference, n_reference); j = rng.integers(0, n_candidate, n_candidate)
and θ*_b is the FID (means, covariances with ddof=1 as the point value) of reference[i] vs
candidate[j]. It is computed from the draw counts, never from copied rows: with w the counts,
μ* = Σ wᵢxᵢ/n and (n−1)Σ* = AᵀA where A's rows are √wᵢ(xᵢ − μ*) over the drawn rows only, so

    Tr((Σ1*Σ2*)^½) = ‖A1A2ᵀ‖_* / √((n1−1)(n2−1))      (‖·‖_*: the sum of singular values)

since Σ1*Σ2* = A1ᵀ(A1A2ᵀA2)/c shares its non-zero spectrum with (A1A2ᵀ)(A1A2ᵀ)ᵀ/c. A side with
more drawn rows than dimensions is replaced by a d×d R with RᵀR = AᵀA (Cholesky of the scatter,
or QR of A where the scatter is singular), so the SVD is at most min(rows, d) on a side: 38×38 for a demo class, d×d for a large set. No d×d square root, no
εI guard (an SVD always exists).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..params import ParamReader
from ..protocol import PermanentError


@dataclass(frozen=True)
class BootstrapConfig:
    resamples: int
    seed: int
    level: float

    @staticmethod
    def parse(value: Any, where: str) -> "BootstrapConfig | None":
        """The groups file's "bootstrap": {"resamples", "seed", "level"}, or false / null / absent for none."""
        if value is False or value is None:
            return None
        b = ParamReader(value, where)
        resamples = b.int("resamples", 200)
        level = b.float("level", 0.95)
        if resamples < 2:
            raise PermanentError(f"{where}: resamples must be at least 2, got {resamples}")
        if not 0.0 < level < 1.0:
            raise PermanentError(f"{where}: level must lie in (0, 1), got {level}")
        return BootstrapConfig(resamples, b.int("seed", 0), level)


@dataclass(frozen=True)
class FidInterval:
    low: float
    high: float
    bias: float  # mean(θ*) − θ̂: the bootstrap's estimate of the point value's upward bias
    level: float
    resamples: int


def _weighted_factor(x: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(μ*, B) with BᵀB = Σ wᵢ(xᵢ − μ*)(xᵢ − μ*)ᵀ, B having at most min(drawn rows, d) rows."""
    drawn = np.flatnonzero(counts)
    w = counts[drawn].astype(np.float64)
    rows = x[drawn]
    mean = (w @ rows) / w.sum()
    a = np.sqrt(w)[:, None] * (rows - mean)
    if a.shape[0] > a.shape[1]:
        # Cholesky of the scatter (half the flops of a QR); a singular scatter (a constant feature)
        # takes the QR, which needs no positive definiteness.
        try:
            return mean, np.linalg.cholesky(a.T @ a).T
        except np.linalg.LinAlgError:
            return mean, np.linalg.qr(a, mode="r")
    return mean, a


def fid_of_counts(x: np.ndarray, cx: np.ndarray, y: np.ndarray, cy: np.ndarray) -> float:
    """FID of the multisets (x row i taken cx[i] times, y row j cy[j] times), ddof=1 covariances."""
    n1, n2 = float(cx.sum()), float(cy.sum())
    m1, a1 = _weighted_factor(x, cx)
    m2, a2 = _weighted_factor(y, cy)
    diff = m1 - m2
    trace1 = float(np.sum(a1 * a1)) / (n1 - 1.0)
    trace2 = float(np.sum(a2 * a2)) / (n2 - 1.0)
    nuclear = float(np.sum(np.linalg.svd(a1 @ a2.T, compute_uv=False)))
    value = float(diff @ diff) + trace1 + trace2 - 2.0 * nuclear / np.sqrt((n1 - 1.0) * (n2 - 1.0))
    return max(value, 0.0)  # only round-off makes it negative


def bootstrap_values(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """θ*_b for b = 0..resamples-1 (the draws in the module docstring)."""
    n1, n2 = x.shape[0], y.shape[0]
    rng = np.random.default_rng(seed)
    values = np.empty(resamples, dtype=np.float64)
    for b in range(resamples):
        i = rng.integers(0, n1, n1)
        j = rng.integers(0, n2, n2)
        values[b] = fid_of_counts(x, np.bincount(i, minlength=n1), y, np.bincount(j, minlength=n2))
    return values


def basic_interval(point: float, values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = 1.0 - level
    q_low, q_high = np.percentile(values, [100.0 * alpha / 2.0, 100.0 * (1.0 - alpha / 2.0)])
    return max(0.0, 2.0 * point - float(q_high)), max(0.0, 2.0 * point - float(q_low))


def fid_bootstrap(x: np.ndarray, y: np.ndarray, point: float, cfg: BootstrapConfig, name: str) -> FidInterval:
    """The interval around `point` (the comparison's FID as fid_between computed it) from rows x, y (float64)."""
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise PermanentError(f"comparison '{name}': a bootstrap needs at least 2 rows per side ({x.shape[0]}, {y.shape[0]})")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise PermanentError(f"comparison '{name}': features contain NaN or infinite values")
    values = bootstrap_values(x, y, cfg.resamples, cfg.seed)
    low, high = basic_interval(point, values, cfg.level)
    return FidInterval(low, high, float(values.mean()) - point, cfg.level, cfg.resamples)
