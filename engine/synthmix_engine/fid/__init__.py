"""FID / KID for synthmix (paper Table 1): streaming float64 statistics, the exact Fréchet
distance, KID, and pluggable named feature extractors (`extractors.py`)."""
from .frechet import FrechetResult, Gaussian, fid_between, fid_from_stats, frechet_distance
from .kid import KidResult, kernel_inception_distance
from .stats import RunningStats

__all__ = [
    "FrechetResult",
    "Gaussian",
    "KidResult",
    "RunningStats",
    "fid_between",
    "fid_from_stats",
    "frechet_distance",
    "kernel_inception_distance",
]
