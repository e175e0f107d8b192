"""Kernel Inception Distance (Bińkowski et al. 2018), as clean-fid / torch-fidelity compute it:
the unbiased MMD² estimate with the cubic polynomial kernel k(x, y) = (xᵀy / d + 1)³, averaged over
`subsets` random subsets of `subset_size` rows drawn without replacement from each set; the result
is mean ± std (population std, ddof=0, as torch-fidelity) over subsets.

Subset size that does not fit: clean-fid / torch-fidelity clamp it to the smaller set, but then every
subset of that set is the whole set and (with equal sizes, e.g. 60 images per class against 60) the
std over subsets is exactly 0 — a "± 0.00" that says nothing. Here a subset size ≥ the smaller set
is capped to half of it (⌊n/2⌋, at least 2: the size with the most distinct subsets), and the result
says it was capped (`capped`, `requested_size`) so the report can say so.

Subset draws, per subset s = 0..subsets-1, from ONE `numpy.random.default_rng(seed)`:
    idx_x = rng.choice(n_x, m, replace=False); idx_y = rng.choice(n_y, m, replace=False)
Kernel sums are computed in float64 (torch, so it runs on CUDA when asked).

Interval over images (`level`, default 95 %): the subsets are m-out-of-n subsamples without
replacement, so their spread says how the estimate moves with the images. The mean over all
m-subsets of the unbiased MMD² is the full-set U-statistic U_n, and to first order (the
non-degenerate case: the distributions differ) Var(U_m) ≈ c/m, Var(U_n) ≈ c·h with
h = (1/n_x + 1/n_y)/2, so Var(U_m − U_n) ≈ c(1/m − h) — the finite-population correction of a
mean. With s the std over subsets, U_n's spread is s·√(m·h/(1 − m·h)); the mean over S subsets
adds its Monte-Carlo error s/√S. The interval is
    mean ± z·s·√(m·h/(1 − m·h) + 1/S),  z = Φ⁻¹(1 − (1 − level)/2)
(s with ddof=0, as reported; normal quantiles because 20–100 subsets give no usable tails).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..protocol import PermanentError


class RowSource(Protocol):
    def __len__(self) -> int: ...

    @property
    def dim(self) -> int: ...

    def take(self, index: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class KidResult:
    mean: float
    std: float
    subsets: int
    subset_size: int
    requested_size: int
    capped: bool
    low: float
    high: float
    level: float


def _as_source(data: Any) -> tuple[int, int, Any]:
    if hasattr(data, "take") and hasattr(data, "dim") and not isinstance(data, np.ndarray):
        return len(data), int(data.dim), data.take
    array = np.asarray(data)
    if array.ndim != 2:
        raise PermanentError(f"KID: features must be N×D, got shape {array.shape}")
    return array.shape[0], array.shape[1], lambda index: array[index]


def kernel_inception_distance(
    x: Any,
    y: Any,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    names: tuple[str, str] = ("reference", "candidate"),
    level: float = 0.95,
) -> KidResult:
    import torch

    n_x, d_x, take_x = _as_source(x)
    n_y, d_y, take_y = _as_source(y)
    if d_x != d_y:
        raise PermanentError(f"KID: feature dimension of {names[0]} ({d_x}) differs from {names[1]} ({d_y})")
    for name, n in zip(names, (n_x, n_y)):
        if n < 2:
            raise PermanentError(f"KID: {name} has {n} sample(s); at least 2 are needed")
    if subsets < 1 or subset_size < 2:
        raise PermanentError(f"KID: subsets must be >= 1 and subsetSize >= 2 (got {subsets}, {subset_size})")
    smaller = min(n_x, n_y)
    capped = int(subset_size) >= smaller
    m = max(2, smaller // 2) if capped else int(subset_size)
    d = float(d_x)
    rng = np.random.default_rng(seed)
    dev = torch.device(device)
    values = np.empty(subsets, dtype=np.float64)
    with torch.inference_mode():
        for s in range(subsets):
            ix = rng.choice(n_x, m, replace=False)
            iy = rng.choice(n_y, m, replace=False)
            a = torch.as_tensor(np.asarray(take_x(ix), dtype=np.float64), device=dev)
            b = torch.as_tensor(np.asarray(take_y(iy), dtype=np.float64), device=dev)
            k_xx = (a @ a.T / d + 1.0) ** 3
            k_yy = (b @ b.T / d + 1.0) ** 3
            k_xy = (a @ b.T / d + 1.0) ** 3
            off_xx = k_xx.sum() - torch.diagonal(k_xx).sum()
            off_yy = k_yy.sum() - torch.diagonal(k_yy).sum()
            mmd = (off_xx + off_yy) / (m * (m - 1)) - 2.0 * k_xy.sum() / (m * m)
            values[s] = float(mmd.item())
    if not np.isfinite(values).all():
        raise PermanentError(f"KID {names[0]} vs {names[1]}: non-finite kernel values (features contain NaN/inf?)")
    mean, std = float(values.mean()), float(values.std())
    half = _half_width(std, m, n_x, n_y, subsets, level)
    return KidResult(mean, std, int(subsets), int(m), int(subset_size), bool(capped), mean - half, mean + half, float(level))


def _half_width(std: float, m: int, n_x: int, n_y: int, subsets: int, level: float) -> float:
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        raise PermanentError(f"KID: level must lie in (0, 1), got {level}")
    mh = m * (1.0 / n_x + 1.0 / n_y) / 2.0  # < 1: m is below the smaller set
    return float(norm.ppf(1.0 - (1.0 - level) / 2.0)) * std * float(np.sqrt(mh / (1.0 - mh) + 1.0 / subsets))
