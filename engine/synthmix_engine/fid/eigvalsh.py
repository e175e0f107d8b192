"""Eigenvalues of a real symmetric matrix, values only, as fast as the bundled LAPACK allows.

numpy.linalg.eigvalsh runs LAPACK `dsyevd`, whose one-stage reduction to tridiagonal form is half
BLAS-2 (memory bound): for a 2048² covariance product it is most of an FID's time. LAPACK ≥ 3.7's
two-stage reduction (`dsyevd_2stage`, dense → band with BLAS-3, then band → tridiagonal) computes
the same eigenvalues (same `dsterf` at the end, same backward stability) about twice as fast, but
neither numpy nor scipy wraps it. numpy's wheel bundles scipy-openblas, which exports it through
LAPACKE, so it is called with ctypes; where that library or symbol is absent (another numpy build)
the result is numpy's `eigvalsh`, and `EIGVALSH_BACKEND` says which one is in use.
"""
from __future__ import annotations

import ctypes
import glob
import os
from typing import Callable

import numpy as np

_LAPACK_COL_MAJOR = 102


def _load_two_stage() -> Callable[[np.ndarray], np.ndarray] | None:
    libs_dir = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    # ILP64 build (symbol suffix 64_, 64-bit lapack_int) first, the LP64 name second
    for pattern, symbol, int_type in (
        ("libscipy_openblas64_*.so*", "scipy_LAPACKE_dsyevd_2stage64_", ctypes.c_int64),
        ("libscipy_openblas*.so*", "scipy_LAPACKE_dsyevd_2stage", ctypes.c_int32),
    ):
        for path in sorted(glob.glob(os.path.join(libs_dir, pattern))):
            try:
                fn = getattr(ctypes.CDLL(path), symbol)
            except (OSError, AttributeError):
                continue
            fn.restype = int_type
            fn.argtypes = [ctypes.c_int, ctypes.c_char, ctypes.c_char, int_type,
                           ctypes.c_void_p, int_type, ctypes.c_void_p]

            def eigvalsh(matrix: np.ndarray, fn: ctypes._CFuncPtr = fn) -> np.ndarray:
                # LAPACK overwrites its input: a private Fortran-order copy
                a = np.array(matrix, dtype=np.float64, order="F", copy=True)
                n = a.shape[0]
                w = np.empty(n, dtype=np.float64)
                if n == 0:
                    return w
                info = fn(_LAPACK_COL_MAJOR, b"N", b"L", n, a.ctypes.data, n, w.ctypes.data)
                if info != 0:
                    raise np.linalg.LinAlgError(f"dsyevd_2stage failed (info={info})")
                return w

            return eigvalsh
    return None


_TWO_STAGE = _load_two_stage()
EIGVALSH_BACKEND = "lapack dsyevd_2stage (numpy's openblas)" if _TWO_STAGE else "numpy.linalg.eigvalsh"


def eigvalsh(matrix: np.ndarray) -> np.ndarray:
    """Ascending eigenvalues of the symmetric matrix (its lower triangle is read)."""
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"eigvalsh needs a square matrix, got shape {matrix.shape}")
    if _TWO_STAGE is None:
        return np.linalg.eigvalsh(matrix)
    return _TWO_STAGE(matrix)
