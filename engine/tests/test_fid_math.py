"""FID / KID numerics against independently computed references (tests/fixtures/fid/make_fixtures.py)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from synthmix_engine.fid import RunningStats, fid_from_stats, frechet_distance, kernel_inception_distance
from synthmix_engine.protocol import PermanentError

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "fid")
CASES = ["well_conditioned", "rank_deficient"]


def load(case: str) -> dict[str, np.ndarray]:
    with np.load(os.path.join(FIXTURES, f"{case}.npz")) as data:
        return {k: data[k] for k in data.files}


def stats(x: np.ndarray, name: str = "x", batch: int | None = None) -> RunningStats:
    s = RunningStats(x.shape[1], name)
    step = batch or len(x)
    for i in range(0, len(x), step):
        s.update(x[i : i + step])
    return s


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("case", CASES)
def test_fid_matches_independent_reference(case: str) -> None:
    z = load(case)
    r = fid_from_stats(stats(z["x1"], "x1"), stats(z["x2"], "x2"))
    assert rel(r.fid, float(z["fid"])) <= 1e-6
    assert r.epsilon_used == 0.0


def test_rank_deficient_fixture_is_rank_deficient_and_beats_sqrtm() -> None:
    z = load("rank_deficient")
    assert z["x1"].shape[0] < z["x1"].shape[1]
    r = fid_from_stats(stats(z["x1"]), stats(z["x2"]))
    # the eigenvalue method is far closer to the 50-digit reference than float64 sqrtm(Σ1Σ2)
    assert rel(r.fid, float(z["fid"])) < 1e-8 < rel(float(z["fid_sqrtm_f64"]), float(z["fid"]))


@pytest.mark.parametrize("case", CASES)
def test_fid_of_a_set_with_itself_is_zero(case: str) -> None:
    x = load(case)["x1"]
    s = stats(x)
    r = fid_from_stats(s, s)
    assert abs(r.fid) <= 1e-9 * np.trace(s.covariance())


@pytest.mark.parametrize("case", CASES)
def test_fid_invariant_to_sample_order(case: str) -> None:
    z = load(case)
    rng = np.random.default_rng(1)
    base = fid_from_stats(stats(z["x1"]), stats(z["x2"])).fid
    shuffled = fid_from_stats(stats(z["x1"][rng.permutation(len(z["x1"]))]), stats(z["x2"][rng.permutation(len(z["x2"]))]))
    assert rel(shuffled.fid, base) <= 1e-9


def test_closed_form_for_diagonal_gaussians() -> None:
    rng = np.random.default_rng(3)
    d = 300
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    sd1, sd2 = rng.uniform(0.1, 3.0, size=d), rng.uniform(0.1, 3.0, size=d)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((sd1 - sd2) ** 2))
    r = frechet_distance(mu1, np.diag(sd1**2), mu2, np.diag(sd2**2))
    assert rel(r.fid, expected) <= 1e-10
    # rotated by the same orthogonal matrix: still commuting, same distance
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    r2 = frechet_distance(q @ mu1, q @ np.diag(sd1**2) @ q.T, q @ mu2, q @ np.diag(sd2**2) @ q.T)
    assert rel(r2.fid, expected) <= 1e-9


def test_streaming_equals_one_shot_and_merge() -> None:
    x = load("well_conditioned")["x1"].astype(np.float64)
    one = stats(x)
    np.testing.assert_allclose(one.mean, x.mean(0), rtol=0, atol=1e-13)
    np.testing.assert_allclose(one.covariance(), np.cov(x, rowvar=False), rtol=1e-12, atol=1e-13)
    for batch in (1, 7, 500):
        s = stats(x, batch=batch)
        assert s.n == len(x)
        np.testing.assert_allclose(s.mean, one.mean, rtol=0, atol=1e-13)
        np.testing.assert_allclose(s.covariance(), one.covariance(), rtol=1e-11, atol=1e-12)
    merged = stats(x[:300]).merge(stats(x[300:]))
    np.testing.assert_allclose(merged.covariance(), one.covariance(), rtol=1e-11, atol=1e-12)
    round_trip = RunningStats.from_arrays(merged.to_arrays())
    np.testing.assert_array_equal(round_trip.m2, merged.m2)


@pytest.mark.parametrize("case", CASES)
def test_kid_matches_double_loop_reference(case: str) -> None:
    z = load(case)
    r = kernel_inception_distance(z["x1"], z["x2"], int(z["kid_subsets"]), int(z["kid_size"]), int(z["kid_seed"]))
    assert int(z["kid_size"]) < min(len(z["x1"]), len(z["x2"]))  # fits: the reference's subsets, uncapped
    assert r.subset_size == int(z["kid_size"]) and not r.capped
    assert rel(r.mean, float(z["kid_mean"])) <= 1e-6
    assert rel(r.std, float(z["kid_std"])) <= 1e-6


def test_kid_caps_subset_size_and_is_near_zero_for_same_distribution() -> None:
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(120, 16)), rng.normal(size=(90, 16))
    r = kernel_inception_distance(a, b, subsets=20, subset_size=1000, seed=0)
    assert (r.subset_size, r.requested_size, r.capped) == (45, 1000, True)
    assert abs(r.mean) < 3 * r.std + 1e-3
    again = kernel_inception_distance(a, b, subsets=20, subset_size=1000, seed=0)
    assert (again.mean, again.std) == (r.mean, r.std)


def test_kid_subset_size_of_the_whole_set_still_varies() -> None:
    # The demo's case: 60 images per class on both sides, subset size 100. Clamping to 60 made every
    # subset the whole set (std exactly 0); capped to 30, subsets differ and so do their KIDs.
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(60, 16)), rng.normal(0.3, 1.0, size=(60, 16))
    r = kernel_inception_distance(a, b, subsets=20, subset_size=100, seed=0)
    assert (r.subset_size, r.capped) == (30, True)
    assert r.std > 0.05 * abs(r.mean)
    # Subset sizes below the smaller set are taken as asked.
    fits = kernel_inception_distance(a, b, subsets=20, subset_size=59, seed=0)
    assert (fits.subset_size, fits.capped) == (59, False)


def test_errors_name_the_set() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(PermanentError, match="dimension"):
        fid_from_stats(stats(rng.normal(size=(10, 4)), "orig/cat"), stats(rng.normal(size=(10, 5)), "vanilla/cat"))
    with pytest.raises(PermanentError, match="vanilla/cat.*at least 2"):
        fid_from_stats(stats(rng.normal(size=(10, 4)), "orig/cat"), stats(rng.normal(size=(1, 4)), "vanilla/cat"))
    with pytest.raises(PermanentError, match="dimension 5 does not match"):
        RunningStats(4, "orig/cat").update(rng.normal(size=(3, 5)))
    with pytest.raises(PermanentError, match="NaN"):
        RunningStats(2, "orig/cat").update(np.array([[0.0, np.nan]]))
    with pytest.raises(PermanentError, match="dimension"):
        kernel_inception_distance(rng.normal(size=(10, 4)), rng.normal(size=(10, 5)))
    with pytest.raises(PermanentError, match="dog.*at least 2"):
        kernel_inception_distance(rng.normal(size=(10, 4)), rng.normal(size=(1, 4)), names=("cat", "dog"))


def test_epsilon_guard_is_reported_when_used() -> None:
    # an indefinite "covariance" (not PSD): the eigenvalue path refuses it, εI is added and reported
    d = 6
    s1 = np.eye(d)
    s2 = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1e-3])
    with pytest.raises(PermanentError, match="not usable"):
        frechet_distance(np.zeros(d), s1, np.zeros(d), s2, eps=1e-6)
    s2 = np.diag([1.0, 1.0, 1.0, 1.0, 1.0, -1e-7])
    r = frechet_distance(np.zeros(d), s1, np.zeros(d), s2, eps=1e-6)
    assert r.epsilon_used == 1e-6
    ok = frechet_distance(np.zeros(d), s1, np.zeros(d), np.eye(d) * 4)
    assert ok.epsilon_used == 0.0 and rel(ok.fid, d * 1.0) <= 1e-12


# -- the pivoted-Cholesky / values-only eigensolver method against the reference method ----------

def sqrtm_fid(x1: np.ndarray, x2: np.ndarray) -> float:
    """pytorch-fid's method (np.cov + scipy.linalg.sqrtm of Σ1Σ2), float64 means."""
    import scipy.linalg

    mu1, mu2 = x1.mean(0), x2.mean(0)
    s1, s2 = np.cov(x1, rowvar=False), np.cov(x2, rowvar=False)
    covmean = np.real(scipy.linalg.sqrtm(s1 @ s2))
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def cross_gram_fid(x1: np.ndarray, x2: np.ndarray) -> float:
    """Independent of both: Tr((Σ1Σ2)^½) = Σ singular values of Xc1·Xc2ᵀ / sqrt((n1−1)(n2−1))."""
    a, b = x1 - x1.mean(0), x2 - x2.mean(0)
    sv = np.linalg.svd(a @ b.T, compute_uv=False) / np.sqrt((len(a) - 1) * (len(b) - 1))
    d = x1.mean(0) - x2.mean(0)
    return float(d @ d + np.trace(np.cov(x1, rowvar=False)) + np.trace(np.cov(x2, rowvar=False)) - 2 * sv.sum())


def features(rng: np.random.Generator, n: int, d: int, shift: float) -> np.ndarray:
    # non-negative and correlated, like Inception pool features (ReLU of mixed Gaussians)
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return np.maximum(rng.standard_normal((n, d)) @ mix + shift, 0.0)


@pytest.mark.parametrize("n1,n2,d", [(600, 500, 64), (900, 700, 200)])
def test_matches_sqrtm_method_on_random_full_rank_data(n1: int, n2: int, d: int) -> None:
    rng = np.random.default_rng(d)
    x1, x2 = features(rng, n1, d, 0.0), features(rng, n2, d, 0.1)
    ours = fid_from_stats(stats(x1, batch=128), stats(x2, batch=128))
    assert ours.epsilon_used == 0.0
    assert rel(ours.fid, sqrtm_fid(x1, x2)) <= 1e-9


@pytest.mark.parametrize("n1,n2,d", [(60, 80, 256), (60, 400, 128), (500, 45, 128), (30, 30, 200)])
def test_near_singular_covariances(n1: int, n2: int, d: int) -> None:
    # fewer samples than dimensions on one or both sides (per-class FID with 60 images): the exact
    # answer comes from the cross-Gram SVD; sqrtm of the singular product is itself off by more
    rng = np.random.default_rng(n1 + n2 + d)
    x1, x2 = features(rng, n1, d, 0.0), features(rng, n2, d, 0.2)
    exact = cross_gram_fid(x1, x2)
    ours = fid_from_stats(stats(x1), stats(x2))
    assert ours.epsilon_used == 0.0
    assert rel(ours.fid, exact) <= 1e-9
    assert rel(ours.fid, exact) <= max(rel(sqrtm_fid(x1, x2), exact), 1e-12)
    # Tr((Σ1Σ2)^½) is symmetric: the other order factors the other covariance
    swapped = fid_from_stats(stats(x2), stats(x1))
    assert rel(swapped.fid, ours.fid) <= 1e-9


def test_a_reused_reference_gives_the_same_bytes_as_a_fresh_one() -> None:
    from synthmix_engine.fid import Gaussian, fid_between

    rng = np.random.default_rng(11)
    ref = stats(features(rng, 60, 96, 0.0), "orig/cat")
    cands = [stats(features(rng, n, 96, 0.1 * i), f"gen{i}/cat") for i, n in enumerate((50, 200, 70))]
    kept = Gaussian.from_stats(ref)
    for cand in cands:
        again = fid_between(kept, Gaussian.from_stats(cand))
        fresh = fid_from_stats(ref, cand)
        assert again == fresh
    assert kept.factor().rank == 59  # 60 samples, ddof=1: the numerical rank is found


def test_values_only_eigensolver_matches_numpy() -> None:
    from synthmix_engine.fid.eigvalsh import eigvalsh

    rng = np.random.default_rng(2)
    for d in (1, 7, 150):
        a = rng.standard_normal((d, d))
        m = a @ a.T
        w = eigvalsh(m)
        np.testing.assert_allclose(w, np.linalg.eigvalsh(m), rtol=0, atol=1e-12 * np.abs(w).max())
    assert eigvalsh(np.zeros((0, 0))).shape == (0,)
