"""Seconds per experiment cell of the demo (issue 15 point 1), where they go, and the frozen-feature
cache's effect, old path vs new path in one run (prints figures; no assertions).

    cd engine && ../.synthmix/venv/bin/python bench/bench_cell.py [--epochs 12,4,4] [--threads 1]

A demo cell: 10 classes, 510 train / 90 validation images of 32x32 (perClass 60, valFraction
0.15), ResNet-18 width 16 with the CIFAR stem, batch 32, epochs scratch 12 / finetune 4 / frozen 4,
a checkpoint every epoch (torch.save to disk, as `train-classifier` does). Each cell runs the
engine's Trainer and is split into: decoding the PNGs into the uint8 cache (once per dataset),
training steps, validation, checkpoint writes. Frozen runs twice, alternating: per-batch
backbone forwards (`feature_cache=False`, the path before) and the cached features (now); the two
must end with the same weights (printed). The "demo triple" line adds one cell of each mode.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

CLASSES = [f"class{i}" for i in range(10)]


def write_images(directory: str, per_class: int, size: int, seed: int) -> str:
    from PIL import Image

    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    items = []
    for c, name in enumerate(CLASSES):
        for i in range(per_class):
            pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
            pixels[..., c % 3] = pixels[..., c % 3] // (1 + c % 4)  # a little class signal
            path = os.path.join(directory, f"{name}_{i:03d}.png")
            Image.fromarray(pixels).save(path)
            items.append({"path": path, "class": name})
    manifest = os.path.join(directory, "manifest.json")
    with open(manifest, "w", encoding="utf-8") as handle:
        json.dump({"classes": CLASSES, "items": items}, handle)
    return manifest


def run_cell(cfg, train, val, pretrained, feature_cache: bool, ckpt_path: str):
    import torch

    from synthmix_engine.classifier.train import Trainer
    from synthmix_engine.protocol import atomic_write

    times = {"setup": 0.0, "train": 0.0, "val": 0.0, "checkpoint": 0.0}
    t = time.perf_counter()
    trainer = Trainer(cfg, train, val, torch.device("cpu"), pretrained, feature_cache=feature_cache)
    times["setup"] = time.perf_counter() - t
    while trainer.epoch < cfg.epochs:
        t0 = time.perf_counter()
        trainer.train_epoch()
        t1 = time.perf_counter()
        trainer.finish_epoch()
        t2 = time.perf_counter()
        state = trainer.checkpoint()
        atomic_write(ckpt_path, lambda tmp: torch.save(state, tmp))
        t3 = time.perf_counter()
        times["train"] += t1 - t0
        times["val"] += t2 - t1
        times["checkpoint"] += t3 - t2
    return trainer, times


def show(label: str, times: dict[str, float]) -> float:
    total = sum(times.values())
    parts = ", ".join(f"{k} {v:.2f}" for k, v in times.items())
    print(f"  {label:<28} {total:7.2f} s  ({parts})", flush=True)
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", default="12,4,4", help="scratch,finetune,frozen epochs (the demo's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="old/new frozen pairs (best of each kept)")
    args = parser.parse_args()
    scratch_epochs, finetune_epochs, frozen_epochs = (int(v) for v in args.epochs.split(","))

    t = time.perf_counter()
    import torch
    import_s = time.perf_counter() - t

    from synthmix_engine.classifier.data import load_dataset
    from synthmix_engine.classifier.resnet import build_resnet18
    from synthmix_engine.classifier.train import TrainConfig
    from synthmix_engine.runtime import configure_determinism, set_threads

    set_threads(args.threads)
    t = time.perf_counter()
    configure_determinism("strict")  # torch.use_deterministic_algorithms imports torch._inductor
    determinism_s = time.perf_counter() - t
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), cpus {os.cpu_count()}; "
          f"engine start: import torch {import_s:.2f} s, deterministic mode {determinism_s:.2f} s "
          f"(both already paid in a warm engine's fork)", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        train_manifest = write_images(os.path.join(tmp, "train"), 51, 32, 1)
        val_manifest = write_images(os.path.join(tmp, "val"), 9, 32, 2)
        t = time.perf_counter()
        train = load_dataset(train_manifest, 32, os.path.join(tmp, "cache"), "train")
        val = load_dataset(val_manifest, 32, os.path.join(tmp, "cache"), "val")
        print(f"data: decode {len(train)} + {len(val)} PNGs into the uint8 cache {time.perf_counter() - t:.2f} s "
              f"(once per workDir)", flush=True)
        torch.manual_seed(0)
        pretrained = build_resnet18(10, 16, "cifar").state_dict()
        ckpt = os.path.join(tmp, "checkpoint.pt")

        def cfg(mode: str, epochs: int) -> TrainConfig:
            return TrainConfig(mode=mode, num_classes=10, width=16, stem="cifar", image_size=32, epochs=epochs,
                               batch_size=32, lr=0.01, seed=0)

        print("per cell (seconds: setup, training steps, validation, checkpoint writes):", flush=True)
        frozen_old = frozen_new = float("inf")
        same = True
        for _ in range(args.rounds):
            old, old_times = run_cell(cfg("frozen", frozen_epochs), train, val, pretrained, False, ckpt)
            frozen_old = min(frozen_old, show(f"frozen x{frozen_epochs}, per-batch (before)", old_times))
            new, new_times = run_cell(cfg("frozen", frozen_epochs), train, val, pretrained, True, ckpt)
            frozen_new = min(frozen_new, show(f"frozen x{frozen_epochs}, cached (now)", new_times))
            same &= old.metrics == new.metrics and all(
                torch.equal(a, b) for a, b in zip(old.final_state().values(), new.final_state().values()))
        print(f"  frozen cell now / before = {frozen_new / frozen_old:.2f}; same weights and metrics: {same}",
              flush=True)
        _, scratch_times = run_cell(cfg("scratch", scratch_epochs), train, val, None, True, ckpt)
        scratch = show(f"scratch x{scratch_epochs}", scratch_times)
        _, finetune_times = run_cell(cfg("finetune", finetune_epochs), train, val, pretrained, True, ckpt)
        finetune = show(f"finetune x{finetune_epochs}", finetune_times)
    before, now = scratch + finetune + frozen_old, scratch + finetune + frozen_new
    print(f"demo triple (scratch + finetune + frozen): before {before:.2f} s, now {now:.2f} s, "
          f"now / before = {now / before:.2f}")


if __name__ == "__main__":
    main()
