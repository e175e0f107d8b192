"""FID / KID intervals over images (fid/bootstrap.py, fid/kid.py), against references computed here
with scipy / numpy, and by coverage: on Gaussian features whose true FID is known in closed form
(scipy's sqrtm), the interval holds the truth in most seeded repetitions."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from scipy import linalg

from synthmix_engine.fid.bootstrap import basic_interval, bootstrap_values, fid_of_counts
from synthmix_engine.fid.kid import kernel_inception_distance
from test_fid_support import error_of, run_engine

EXTRACTOR = {"id": "test-extractor/v0", "weightsSha256": "ab" * 32}


def reference_fid(x: np.ndarray, y: np.ndarray) -> float:
    """pytorch-fid's formula with scipy's sqrtm on explicit rows: independent of fid/bootstrap.py."""
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def true_fid(m1: np.ndarray, s1: np.ndarray, m2: np.ndarray, s2: np.ndarray) -> float:
    """The Fréchet distance of N(m1, s1) and N(m2, s2), in closed form."""
    root = linalg.sqrtm(s1).real
    return float((m1 - m2) @ (m1 - m2) + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(linalg.sqrtm(root @ s2 @ root).real))


def test_resampled_fid_from_counts_equals_scipy_on_copied_rows() -> None:
    rng = np.random.default_rng(3)
    for n1, n2, d in ((40, 30, 6), (25, 70, 12)):  # fewer and more rows than dimensions after drawing
        x = rng.normal(size=(n1, d))
        y = rng.normal(size=(n2, d)) * 1.3 + 0.4
        i, j = rng.integers(0, n1, n1), rng.integers(0, n2, n2)
        got = fid_of_counts(x, np.bincount(i, minlength=n1), y, np.bincount(j, minlength=n2))
        assert got == pytest.approx(reference_fid(x[i], y[j]), rel=1e-8)
    # A constant feature (a dead unit): the scatter is singular, the factor comes from a QR instead.
    x, y = rng.normal(size=(80, 6)), rng.normal(size=(90, 6)) + 0.5
    x[:, 2], y[:, 2] = 1.0, 3.0
    i, j = rng.integers(0, 80, 80), rng.integers(0, 90, 90)
    got = fid_of_counts(x, np.bincount(i, minlength=80), y, np.bincount(j, minlength=90))
    with warnings.catch_warnings():
        # sqrtm warns on the singular product; its zero row and column are exact, the rest is regular.
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        expected = reference_fid(x[i], y[j])
    assert got == pytest.approx(expected, rel=1e-8)


def test_basic_interval_covers_the_true_fid_where_the_percentile_one_does_not() -> None:
    d, n, reps = 8, 100, 30
    rng = np.random.default_rng(11)
    a, b = rng.normal(size=(d, d)) / np.sqrt(d), rng.normal(size=(d, d)) / np.sqrt(d)
    s1, s2 = a @ a.T + 0.5 * np.eye(d), b @ b.T + 0.5 * np.eye(d)
    m1, m2 = np.zeros(d), np.full(d, 0.3)
    truth = true_fid(m1, s1, m2, s2)
    resamples, level = 150, 0.95  # each repetition seeds its resamples with k
    basic = percentile = inside = 0
    for k in range(reps):
        draw = np.random.default_rng(100 + k)
        x, y = draw.multivariate_normal(m1, s1, n), draw.multivariate_normal(m2, s2, n)
        point = reference_fid(x, y)
        values = bootstrap_values(x, y, resamples, k)
        low, high = basic_interval(point, values, level)
        basic += low <= truth <= high
        inside += low <= point <= high
        # The rejected method on the same draws: the resampled FIDs' own percentiles.
        q_low, q_high = np.percentile(values, [2.5, 97.5])
        percentile += q_low <= truth <= q_high
        assert values.mean() > point  # duplicates shrink the sample: resampled FIDs sit above the point
    assert basic >= 0.85 * reps, (basic, reps, truth)
    assert inside == reps  # n ≫ d: the bias is small against the spread
    assert percentile < basic - 0.2 * reps, (percentile, basic)


def test_basic_interval_is_twice_the_point_minus_the_resampled_quantiles() -> None:
    values = np.random.default_rng(0).normal(10.0, 1.0, size=500)
    q_low, q_high = np.percentile(values, [5.0, 95.0])
    assert basic_interval(9.0, values, 0.9) == (pytest.approx(18.0 - q_high), pytest.approx(18.0 - q_low))
    assert basic_interval(1.0, values, 0.9) == (0.0, 0.0)  # an FID is never negative


@pytest.fixture
def one_thread() -> Iterator[None]:
    # Tiny kernels: torch's thread pool on a busy shared machine costs more than the arithmetic.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def population_kid(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD² with KID's cubic kernel on all rows (numpy): the truth, from large sets."""
    d = x.shape[1]
    kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    n, m = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())


@pytest.mark.usefixtures("one_thread")
def test_kid_interval_from_its_subsets_covers_the_population_kid() -> None:
    d, n, reps, shift, scale = 8, 60, 30, 0.5, np.sqrt(1.2)
    big = np.random.default_rng(1)
    truth = population_kid(big.normal(size=(3000, d)), big.normal(size=(3000, d)) * scale + shift)
    covered = 0
    for k in range(reps):
        draw = np.random.default_rng(200 + k)
        x, y = draw.normal(size=(n, d)), draw.normal(size=(n, d)) * scale + shift
        # The demo's per-class case: 60 images per side, subsets of 30.
        r = kernel_inception_distance(x, y, subsets=20, subset_size=30, seed=k)
        assert (r.subset_size, r.capped, r.level) == (30, False, 0.95)
        assert r.low < r.mean < r.high
        covered += r.low <= truth <= r.high
    assert covered >= 0.85 * reps, (covered, reps, truth)


@pytest.mark.usefixtures("one_thread")
def test_fid_table_rows_carry_both_intervals(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    y = (rng.normal(size=(30, 6)) * 1.3 + 0.4).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    boot = {"resamples": 60, "seed": 11, "level": 0.9}
    groups = {
        "groups": {"orig/cat": {"features": ["x.npy"]}, "vanilla/cat": {"features": ["y.npy"]}},
        "comparisons": [{"name": "vanilla/cat", "reference": "orig/cat", "candidate": "vanilla/cat"}],
        "kid": {"subsets": 10, "subsetSize": 12, "seed": 1},
        "bootstrap": boot,
        "extractor": EXTRACTOR,
    }
    (tmp_path / "groups.json").write_text(json.dumps(groups))
    code, _evs, work, stderr = run_engine(tmp_path, "fid-table", "boot", {"device": "cpu"}, {"groups": tmp_path / "groups.json"})
    assert code == 0, stderr
    row = json.loads((work / "fid.json").read_text())[0]

    # The documented draws (one default_rng(seed) per comparison) on copied rows, scipy's FID,
    # numpy's percentiles, the basic interval 2θ̂ − q.
    draws = np.random.default_rng(boot["seed"])
    xs, ys = x.astype(np.float64), y.astype(np.float64)
    values = []
    for _ in range(boot["resamples"]):
        i, j = draws.integers(0, len(xs), len(xs)), draws.integers(0, len(ys), len(ys))
        values.append(reference_fid(xs[i], ys[j]))
    point = reference_fid(xs, ys)
    q_low, q_high = np.percentile(values, [5.0, 95.0])
    assert row["fid"] == pytest.approx(point, rel=1e-7)
    assert row["fidLow"] == pytest.approx(max(0.0, 2 * row["fid"] - q_high), rel=1e-7)
    assert row["fidHigh"] == pytest.approx(2 * row["fid"] - q_low, rel=1e-7)
    assert row["fidBias"] == pytest.approx(float(np.mean(values)) - row["fid"], rel=1e-6)
    assert (row["fidLevel"], row["fidResamples"]) == (0.9, 60)
    kid = kernel_inception_distance(xs, ys, subsets=10, subset_size=12, seed=1)
    assert (row["kidLow"], row["kidHigh"], row["kidLevel"]) == (pytest.approx(kid.low), pytest.approx(kid.high), 0.95)

    # Without "bootstrap" the row says so with nulls; a bad setting is a permanent error naming it.
    del groups["bootstrap"]
    groups["kid"] = False
    (tmp_path / "plain.json").write_text(json.dumps(groups))
    code, _evs, work, stderr = run_engine(tmp_path, "fid-table", "plain", {"device": "cpu"}, {"groups": tmp_path / "plain.json"})
    assert code == 0, stderr
    assert json.loads((work / "fid.json").read_text())[0]["fidLow"] is None
    groups["bootstrap"] = {"resamples": 1}
    (tmp_path / "bad.json").write_text(json.dumps(groups))
    code, evs, _work, _stderr = run_engine(tmp_path, "fid-table", "bad", {"device": "cpu"}, {"groups": tmp_path / "bad.json"})
    assert code == 3 and "bootstrap" in error_of(evs) and "resamples" in error_of(evs)
