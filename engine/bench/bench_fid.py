"""FID / KID / feature-extraction figures on this machine (prints them; no assertions).

    cd engine && ../.synthmix/venv/bin/python bench/bench_fid.py [--n 10000 --dim 2048 ...]

1. FID from two sets of N×D float32 features (.npy files, streamed in 4096-row chunks into float64
   statistics, as `fid-table` does): time of the statistics, of the Fréchet distance, and of KID
   (--kid-subsets subsets of --kid-size; the per-subset time gives the default 100-subset cost).
   In the same run: pytorch-fid's method (np.cov + scipy.linalg.sqrtm, its function copied below)
   on the same files — the time ratio and the relative difference of the values — and the
   arithmetic floor (two covariance products and two eigendecompositions, each timed alone).
2. Extraction throughput (images/s) of each extractor on random images: `inception-v3-fid` with
   random weights at 299×299 (the FLOPs of the real one), `synthmix-builtin-v1` ResNet-18 width 16,
   CIFAR stem, at the demo's 32×32.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings

import numpy as np
import scipy.linalg
from scipy.linalg import blas

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from synthmix_engine.fid.features import FeatureSet  # noqa: E402
from synthmix_engine.fid.eigvalsh import EIGVALSH_BACKEND, eigvalsh  # noqa: E402
from synthmix_engine.fid.frechet import Gaussian, fid_between, frechet_distance  # noqa: E402
from synthmix_engine.fid.kid import kernel_inception_distance  # noqa: E402


def calculate_frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):  # noqa: ANN001, ANN201
    """pytorch-fid 0.3.0's `fid_score.calculate_frechet_distance`, verbatim but for the comments and
    the warning filter (scipy 1.17 deprecates sqrtm's `disp`): the reference method."""
    mu1 = np.atleast_1d(mu1)
    mu2 = np.atleast_1d(mu2)
    sigma1 = np.atleast_2d(sigma1)
    sigma2 = np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape, "Training and test mean vectors have different lengths"
    assert sigma1.shape == sigma2.shape, "Training and test covariances have different dimensions"
    diff = mu1 - mu2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        covmean, _ = scipy.linalg.sqrtm(sigma1.dot(sigma2), disp=False)
        if not np.isfinite(covmean).all():
            print("fid calculation produces singular product; adding %s to diagonal of cov estimates" % eps)
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            m = np.max(np.abs(covmean.imag))
            raise ValueError("Imaginary component {}".format(m))
        covmean = covmean.real
    tr_covmean = np.trace(covmean)
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean


def previous_trace_sqrt(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """synthmix's method before the pivoted-Cholesky change, for the before/after figure:
    Σ1^½ from eigh (with eigenvectors), then one-stage eigvalsh of Σ1^½ Σ2 Σ1^½."""
    w1, v1 = np.linalg.eigh(sigma1)
    w1 = np.where(w1 > np.abs(w1).max() * w1.size * np.finfo(np.float64).eps, w1, 0.0)
    root1 = (v1 * np.sqrt(w1)) @ v1.T
    m = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((m + m.T) * 0.5)
    eig = np.where(eig > np.abs(eig).max() * eig.size * np.finfo(np.float64).eps, eig, 0.0)
    return float(np.sqrt(eig).sum())


def pytorch_fid_statistics(path: str) -> tuple[np.ndarray, np.ndarray]:
    """pytorch-fid's `calculate_activation_statistics` after the network: mean and np.cov, but the
    mean accumulated in float64: pytorch-fid's np.mean of float32 activations is a float32 mean
    whose ~1e-7 relative error alone moves FID by ~1e-8, above the 1e-9 being compared."""
    act = np.load(path)
    return np.mean(act, axis=0, dtype=np.float64), np.cov(act, rowvar=False)


def write_features(tmp: str, n: int, dim: int, rng: np.random.Generator) -> list[str]:
    paths = []
    for i, shift in enumerate((0.0, 0.1)):
        # Inception pool3 features are non-negative and correlated: ReLU of a mixed Gaussian
        mix = rng.standard_normal((dim, dim), dtype=np.float32) / np.sqrt(dim)
        feats = np.empty((n, dim), dtype=np.float32)
        for s in range(0, n, 2000):
            z = rng.standard_normal((min(2000, n - s), dim), dtype=np.float32)
            feats[s : s + 2000] = np.maximum(z @ mix + shift, 0)
        path = os.path.join(tmp, f"set{i}.npy")
        np.save(path, feats)
        paths.append(path)
    return paths


def arithmetic_floor(paths: list[str]) -> tuple[float, float]:
    """The issue's floor, each part timed alone: two centred n×d → d×d covariance products (BLAS
    syrk, float64) and two d×d symmetric eigendecompositions (values only, the fastest LAPACK
    routine at hand). Returns (covariance seconds, eigen seconds)."""
    cov_s = eig_s = 0.0
    for path in paths:
        x = np.load(path).astype(np.float64)
        x -= x.mean(axis=0)
        t0 = time.perf_counter()
        c = blas.dsyrk(1.0, x, trans=1, lower=1)
        t1 = time.perf_counter()
        c = np.tril(c) + np.tril(c, -1).T
        t2 = time.perf_counter()
        eigvalsh(c)
        cov_s += t1 - t0
        eig_s += time.perf_counter() - t2
    return cov_s, eig_s


def bench_fid(n: int, dim: int, kid_subsets: int, kid_size: int, device: str, reference: bool, reuse: int,
              previous: bool) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_features(tmp, n, dim, rng)
        a, b = FeatureSet("reference", [paths[0]]), FeatureSet("candidate", [paths[1]])
        t0 = time.perf_counter()
        sa = a.stats()
        t1 = time.perf_counter()
        sb = b.stats()
        t2 = time.perf_counter()
        ga, gb = Gaussian.from_stats(sa), Gaussian.from_stats(sb)
        fr = fid_between(ga, gb)
        t3 = time.perf_counter()
        ours = t3 - t0
        print(f"FID {n}x{dim} vs {n}x{dim} (eigenvalues: {EIGVALSH_BACKEND}): streaming stats "
              f"{t1 - t0:.2f} s + {t2 - t1:.2f} s, Fréchet distance {t3 - t2:.2f} s "
              f"(FID {fr.fid:.10f}, eps {fr.epsilon_used})")
        print(f"  FID total (stats of both sets + distance): {ours:.2f} s")
        if reuse > 0:
            # the originals of a class against several generated sets: `a` stays factored
            t4 = time.perf_counter()
            for _ in range(reuse):
                fid_between(ga, Gaussian.from_stats(sb))
            per = (time.perf_counter() - t4) / reuse
            print(f"  one more comparison against the same reference (statistics of the candidate "
                  f"given, reference factor reused): {per:.2f} s")
        if previous:
            t4 = time.perf_counter()
            prev = previous_trace_sqrt(ga.sigma, gb.sigma)
            prev_s = time.perf_counter() - t4
            print(f"  previous synthmix Fréchet distance (eigh + one-stage eigvalsh): {prev_s:.2f} s, now "
                  f"{t3 - t2:.2f} s (ratio now / previous {(t3 - t2) / prev_s:.2f}); FID total then would be "
                  f"{t2 - t0 + prev_s:.2f} s; Tr((Σ1Σ2)^½) relative difference "
                  f"{abs(prev - fr.trace_sqrt) / abs(prev):.1e}")
        cov_s, eig_s = arithmetic_floor(paths)
        floor = cov_s + eig_s
        print(f"  arithmetic floor: 2 covariance products (syrk) {cov_s:.2f} s + 2 eigendecompositions "
              f"(values only) {eig_s:.2f} s = {floor:.2f} s; FID total / floor = {ours / floor:.2f}")
        if reference:
            t5 = time.perf_counter()
            mu1, s1 = pytorch_fid_statistics(paths[0])
            mu2, s2 = pytorch_fid_statistics(paths[1])
            t6 = time.perf_counter()
            ref = float(calculate_frechet_distance(mu1, s1, mu2, s2))
            t7 = time.perf_counter()
            same_stats = frechet_distance(mu1, s1, mu2, s2).fid
            print(f"  pytorch-fid method (np.cov + scipy.linalg.sqrtm): statistics {t6 - t5:.2f} s, "
                  f"distance {t7 - t6:.2f} s, total {t7 - t5:.2f} s (FID {ref:.10f})")
            print(f"  ratio ours / pytorch-fid method = {ours / (t7 - t5):.3f} (goal <= 0.35); "
                  f"relative difference {abs(fr.fid - ref) / abs(ref):.2e} (goal <= 1e-9); "
                  f"distance alone on the same statistics {abs(same_stats - ref) / abs(ref):.2e}")
        t8 = time.perf_counter()
        kr = kernel_inception_distance(a, b, kid_subsets, kid_size, 0, device)
        t9 = time.perf_counter()
    per_subset = (t9 - t8) / kid_subsets
    print(f"KID {kid_subsets} subsets x {kr.subset_size} on {device}: {t9 - t8:.2f} s "
          f"({per_subset:.3f} s/subset -> {100 * per_subset:.1f} s for the default 100 subsets); "
          f"KID {kr.mean:.6f} ± {kr.std:.6f}")


def bench_extractor(name: str, weights_path: str, options: dict, size: int, images: int, batch: int, device: str) -> None:
    import torch

    from synthmix_engine.fid.extractors import load_extractor
    from synthmix_engine.runtime import select_device

    ext = load_extractor(name, weights_path, options, select_device(device))
    x = torch.rand(batch, 3, size, size)
    ext.features(x[:1])  # warm-up
    done = 0
    t0 = time.perf_counter()
    while done < images:
        ext.features(x)
        done += batch
    if ext.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    print(f"{ext.id} ({size}x{size} input, batch {batch}, {ext.device}): {done / elapsed:.1f} images/s "
          f"({done} images in {elapsed:.2f} s, {ext.dim}-d)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--kid-subsets", type=int, default=20)
    parser.add_argument("--kid-size", type=int, default=1000)
    parser.add_argument("--inception-images", type=int, default=16)
    parser.add_argument("--inception-batch", type=int, default=8)
    parser.add_argument("--builtin-images", type=int, default=2048)
    parser.add_argument("--builtin-batch", type=int, default=256)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-fid", action="store_true")
    parser.add_argument("--skip-extract", action="store_true")
    parser.add_argument("--skip-reference", action="store_true", help="skip pytorch-fid's method (minutes at 10k x 2048)")
    parser.add_argument("--skip-previous", action="store_true", help="skip synthmix's previous Fréchet method")
    parser.add_argument("--reuse", type=int, default=1, help="extra comparisons against the same reference")
    args = parser.parse_args()

    import torch

    from synthmix_engine.runtime import select_device

    device = str(select_device(args.device))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}, cpus {os.cpu_count()}")
    if not args.skip_fid:
        bench_fid(args.n, args.dim, args.kid_subsets, args.kid_size, device, not args.skip_reference, args.reuse,
                  not args.skip_previous)
    if args.skip_extract:
        return
    from synthmix_engine.classifier.resnet import build_resnet18
    from synthmix_engine.fid.inception import FIDInceptionV3

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        inception = os.path.join(tmp, "inception-random.pth")
        torch.save(FIDInceptionV3().state_dict(), inception)
        bench_extractor("inception-v3-fid", inception, {}, 299, args.inception_images, args.inception_batch, device)
        builtin = os.path.join(tmp, "resnet18-w16.pt")
        torch.save(build_resnet18(10, 16, "cifar").state_dict(), builtin)
        bench_extractor("synthmix-builtin-v1", builtin, {"width": 16, "stem": "cifar"}, 32,
                        args.builtin_images, args.builtin_batch, device)


if __name__ == "__main__":
    main()
