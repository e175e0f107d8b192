"""FID / KID / feature-extraction figures on this machine (prints them; no assertions).

    cd engine && ../.synthmix/venv/bin/python bench/bench_fid.py [--n 10000 --dim 2048 ...]

1. FID from two sets of N×D float32 features (.npy files, streamed in 4096-row chunks into float64
   statistics, as `fid-table` does): time of the statistics, of the Fréchet distance, and of KID
   (--kid-subsets subsets of --kid-size; the per-subset time gives the default 100-subset cost).
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

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from synthmix_engine.fid.features import FeatureSet  # noqa: E402
from synthmix_engine.fid.frechet import fid_from_stats  # noqa: E402
from synthmix_engine.fid.kid import kernel_inception_distance  # noqa: E402


def bench_fid(n: int, dim: int, kid_subsets: int, kid_size: int, device: str) -> None:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
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
        del feats
        a, b = FeatureSet("reference", [paths[0]]), FeatureSet("candidate", [paths[1]])
        t0 = time.perf_counter()
        sa = a.stats()
        t1 = time.perf_counter()
        sb = b.stats()
        t2 = time.perf_counter()
        fr = fid_from_stats(sa, sb)
        t3 = time.perf_counter()
        kr = kernel_inception_distance(a, b, kid_subsets, kid_size, 0, device)
        t4 = time.perf_counter()
    per_subset = (t4 - t3) / kid_subsets
    print(f"FID {n}x{dim} vs {n}x{dim}: streaming stats {t1 - t0:.2f} s + {t2 - t1:.2f} s, "
          f"Fréchet distance {t3 - t2:.2f} s (FID {fr.fid:.4f}, eps {fr.epsilon_used})")
    print(f"  FID total (stats of both sets + distance): {t3 - t0:.2f} s")
    print(f"KID {kid_subsets} subsets x {kr.subset_size} on {device}: {t4 - t3:.2f} s "
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
    args = parser.parse_args()

    import torch

    from synthmix_engine.runtime import select_device

    device = str(select_device(args.device))
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, device {device}, cpus {os.cpu_count()}")
    if not args.skip_fid:
        bench_fid(args.n, args.dim, args.kid_subsets, args.kid_size, device)
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
