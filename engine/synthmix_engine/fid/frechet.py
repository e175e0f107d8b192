"""The Fréchet distance between two Gaussians, in float64:

    FID = ‖μ1 − μ2‖² + Tr(Σ1) + Tr(Σ2) − 2·Tr((Σ1Σ2)^½)

The trace term is computed from the eigenvalues of a symmetric PSD matrix similar to Σ1Σ2: with a
rank-revealing (pivoted) Cholesky factor Σa = PLLᵀPᵀ of one covariance (L: d×r, r its numerical
rank), ΣaΣb = PL·(LᵀPᵀΣbP) and M = Lᵀ(PᵀΣbP)L share their non-zero spectrum, so
Tr((Σ1Σ2)^½) = Σ sqrt(eig(M)). Unlike `scipy.linalg.sqrtm(Σ1Σ2)` (pytorch-fid) this needs no
non-symmetric square root and stays real; unlike a symmetric square root Σa^½ it needs no
eigenvectors. The cost is one pivoted Cholesky (d²r/3), two triangular/GEMM products and one
values-only symmetric eigensolve (`eigvalsh.py`) of the r×r matrix M. The factored side is the one
with the lower rank bound (min(d, n − 1)): per-class FID with 60 images gives a 59×59 M.

Rank deficiency (fewer samples than dimensions: the usual per-class case) is handled by the
pivoted Cholesky stopping at pivots below LAPACK's tolerance d·ε·max(diag Σa) (directions of Σa
below it are exact zeros), and by treating eigenvalues of M below max|λ|·r·ε (as numpy's
matrix_rank) as exact zeros; otherwise sqrt() turns round-off eigenvalues of ~1e-16·‖M‖ into
spurious terms of ~1e-8·sqrt‖M‖ each (relative error ~3e-7 on a 50×128 case, vs ~1e-9 with the
cut-off; see tests/test_fid_math.py).

`Gaussian` holds one set's mean, covariance and (computed once, on first use) its factor, so a set
compared with several others (the originals of a class against each generated set) is factored
once: see `fid_between`.

εI guard (as pytorch-fid): when the product cannot be handled — a factorization or eigensolve
fails, a result is not finite, or M has a clearly negative eigenvalue (< −1e-8·max|eig|, i.e. not
round-off) — ε·I is added to both covariances and the computation is repeated; `epsilon_used`
reports the ε actually added (0.0 when none was).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas, lapack

from ..protocol import PermanentError
from .eigvalsh import eigvalsh
from .stats import RunningStats

NEGATIVE_EIG_TOL = 1e-8


@dataclass(frozen=True)
class FrechetResult:
    fid: float
    mean_term: float  # ‖μ1 − μ2‖²
    trace_term: float  # Tr(Σ1) + Tr(Σ2) − 2·Tr((Σ1Σ2)^½)
    trace_sqrt: float  # Tr((Σ1Σ2)^½)
    epsilon_used: float


@dataclass(frozen=True)
class CholeskyFactor:
    """Σ[perm][:, perm] = l·lᵀ with l (d×rank) lower trapezoidal."""

    perm: np.ndarray
    l: np.ndarray

    @property
    def rank(self) -> int:
        return int(self.l.shape[1])


class Gaussian:
    """One feature set's mean and covariance (float64, checked), with its pivoted Cholesky factor
    computed on first use and kept: reuse the object to compare the set with several others."""

    def __init__(self, mean: np.ndarray, sigma: np.ndarray, name: str, n: int | None = None) -> None:
        mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        sigma = np.atleast_2d(np.asarray(sigma, dtype=np.float64))
        if mean.ndim != 1 or sigma.shape != (mean.shape[0], mean.shape[0]):
            raise PermanentError(f"{name}: mean shape {mean.shape} and covariance shape {sigma.shape} do not agree")
        if not (np.isfinite(mean).all() and np.isfinite(sigma).all()):
            raise PermanentError(f"{name}: mean or covariance contains NaN or infinite values")
        self.mean, self.sigma, self.name, self.n = mean, sigma, name, n
        self._factor: CholeskyFactor | None = None

    @staticmethod
    def from_stats(stats: RunningStats) -> "Gaussian":
        return Gaussian(stats.mean, stats.covariance(), stats.name, stats.n)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @property
    def rank_bound(self) -> int:
        """An upper bound of the covariance's rank known without factoring (n − 1 with ddof=1)."""
        return self.dim if self.n is None else max(0, min(self.dim, self.n - 1))

    def factor(self) -> CholeskyFactor:
        """Raises np.linalg.LinAlgError when LAPACK refuses the matrix."""
        if self._factor is None:
            c, piv, rank, info = lapack.dpstrf(self.sigma, lower=1)
            if info < 0:
                raise np.linalg.LinAlgError(f"dpstrf: illegal argument {-info}")
            self._factor = CholeskyFactor(piv.astype(np.int64) - 1, np.tril(c[:, :rank]))
        return self._factor

    def with_jitter(self, eps: float) -> "Gaussian":
        return Gaussian(self.mean, self.sigma + np.eye(self.dim) * eps, self.name, None)


def _cut(eig: np.ndarray) -> np.ndarray:
    """Eigenvalues of a symmetric PSD matrix with those below the numerical-rank tolerance
    (and round-off negatives) set to exactly 0."""
    if eig.size == 0:
        return eig
    tol = float(np.max(np.abs(eig))) * eig.size * np.finfo(np.float64).eps
    return np.where(eig > tol, eig, 0.0)


def _similar_psd(factored: Gaussian, other: Gaussian) -> np.ndarray:
    """M = lᵀ(PᵀΣbP)l, symmetric PSD with the non-zero spectrum of Σa·Σb."""
    f = factored.factor()
    sigma_b = other.sigma[np.ix_(f.perm, f.perm)]
    if f.rank == factored.dim:
        # full rank: l is square lower triangular, two TRMMs (d³ each) instead of two GEMMs (2d³)
        b = blas.dtrmm(1.0, f.l, sigma_b, side=1, lower=1)
        m = blas.dtrmm(1.0, f.l, b, side=0, lower=1, trans_a=1, overwrite_b=1)
    else:
        m = f.l.T @ (sigma_b @ f.l)
    return (m + m.T) * 0.5


def _trace_sqrt_product(g1: Gaussian, g2: Gaussian) -> float | None:
    """Tr((Σ1Σ2)^½), or None when the product is numerically unusable (caller adds εI)."""
    factored, other = (g1, g2) if g1.rank_bound <= g2.rank_bound else (g2, g1)
    try:
        eig = eigvalsh(_similar_psd(factored, other))
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(eig).all():
        return None
    scale = float(np.max(np.abs(eig))) if eig.size else 0.0
    if scale > 0.0 and float(eig.min()) < -NEGATIVE_EIG_TOL * scale:
        return None
    value = float(np.sum(np.sqrt(_cut(eig))))
    return value if np.isfinite(value) else None


def fid_between(g1: Gaussian, g2: Gaussian, eps: float = 1e-6) -> FrechetResult:
    """FID of two prepared sets; their factors are computed once and kept on the objects."""
    if g1.dim != g2.dim:
        raise PermanentError(f"feature dimension of {g1.name} ({g1.dim}) differs from {g2.name} ({g2.dim})")
    diff = g1.mean - g2.mean
    mean_term = float(diff @ diff)
    epsilon_used = 0.0
    trace_sqrt = _trace_sqrt_product(g1, g2)
    if trace_sqrt is None:
        epsilon_used = float(eps)
        g1, g2 = g1.with_jitter(epsilon_used), g2.with_jitter(epsilon_used)
        trace_sqrt = _trace_sqrt_product(g1, g2)
        if trace_sqrt is None:
            raise PermanentError(
                f"Fréchet distance {g1.name} vs {g2.name}: covariance product is not usable even "
                f"with eps={eps} added (covariances not positive semi-definite?)"
            )
    trace_term = float(np.trace(g1.sigma) + np.trace(g2.sigma) - 2.0 * trace_sqrt)
    fid = mean_term + trace_term
    if fid < 0.0:  # only round-off can make it negative (e.g. identical sets)
        fid = 0.0
    return FrechetResult(fid, mean_term, trace_term, trace_sqrt, epsilon_used)


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
    names: tuple[str, str] = ("reference", "candidate"),
) -> FrechetResult:
    g1, g2 = Gaussian(mu1, sigma1, names[0]), Gaussian(mu2, sigma2, names[1])
    if g1.dim != g2.dim:
        raise PermanentError(
            f"feature dimension of {names[0]} ({g1.dim}) differs from {names[1]} ({g2.dim})"
        )
    return fid_between(g1, g2, eps)


def fid_from_stats(a: RunningStats, b: RunningStats, eps: float = 1e-6) -> FrechetResult:
    if a.dim != b.dim:
        raise PermanentError(f"feature dimension of '{a.name}' ({a.dim}) differs from '{b.name}' ({b.dim})")
    return fid_between(Gaussian.from_stats(a), Gaussian.from_stats(b), eps)
