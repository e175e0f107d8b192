"""What the FID's bootstrap interval over images (fid/bootstrap.py) costs, per comparison, in one run
(prints figures and ratios; no assertions):

    cd engine && ../.synthmix/venv/bin/python bench/bench_fid_bootstrap.py [--resamples 200] [--shapes 60x128,600x128]

A shape NxD is one comparison, N rows a side of D features (60x128: a demo class with the built-in
extractor of width 16; 600x128: the demo's overall row; 700x2048: a paper class with InceptionV3).
Against, on the same draws: (1) the point FID as `fid-table` computes it (statistics + Fréchet
distance), (2) the naive resample — copy the drawn rows, np.cov, `fid_between` — the per-resample
time ratio and the largest relative difference of the values.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from synthmix_engine.fid.bootstrap import BootstrapConfig, fid_bootstrap, fid_of_counts  # noqa: E402
from synthmix_engine.fid.frechet import Gaussian, fid_between  # noqa: E402


def gaussian(rows: np.ndarray, name: str) -> Gaussian:
    return Gaussian(rows.mean(axis=0), np.cov(rows, rowvar=False), name, rows.shape[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--naive", type=int, default=20, help="resamples timed the naive way (copied rows)")
    parser.add_argument("--shapes", default="60x128,600x128")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    for shape in args.shapes.split(","):
        n, d = (int(v) for v in shape.split("x"))
        x = rng.normal(size=(n, d))
        y = rng.normal(size=(n, d)) * 1.1 + 0.2

        began = time.perf_counter()
        point = fid_between(gaussian(x, "x"), gaussian(y, "y")).fid
        point_s = time.perf_counter() - began

        began = time.perf_counter()
        interval = fid_bootstrap(x, y, point, BootstrapConfig(args.resamples, 0, 0.95), shape)
        boot_s = time.perf_counter() - began
        per_resample = boot_s / args.resamples

        draws = np.random.default_rng(1)
        naive_s, counts_s, worst = 0.0, 0.0, 0.0
        for _ in range(args.naive):
            i, j = draws.integers(0, n, n), draws.integers(0, n, n)
            began = time.perf_counter()
            naive = fid_between(gaussian(x[i], "x*"), gaussian(y[j], "y*")).fid
            naive_s += time.perf_counter() - began
            began = time.perf_counter()
            fast = fid_of_counts(x, np.bincount(i, minlength=n), y, np.bincount(j, minlength=n))
            counts_s += time.perf_counter() - began
            worst = max(worst, abs(fast - naive) / naive)
        print(
            f"{shape:>9}: point FID {point:9.3f} in {point_s * 1000:7.1f} ms; basic bootstrap {args.resamples} resamples "
            f"[{interval.low:.3f}, {interval.high:.3f}] (bias {interval.bias:+.3f}) in {boot_s:6.2f} s = "
            f"{per_resample / point_s:5.1f}x the point FID per resample ({per_resample * 1000:.2f} ms); "
            f"counts vs copied rows over {args.naive} resamples: {naive_s / counts_s:.1f}x faster, max rel. diff {worst:.1e}"
        )


if __name__ == "__main__":
    main()
