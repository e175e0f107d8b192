"""Classifier throughput: ResNet-18 training and inference images/s, plain PyTorch loop vs the
engine's training loop (classifier.train.Trainer: uint8 cache indexing, normalisation, loss and
accuracy bookkeeping, preemption checks), the cost of deterministic mode, peak memory, and the
one-off PNG decode into the uint8 cache.

    cd engine && ../.synthmix/venv/bin/python bench/bench_classifier.py [--threads N] [--quick]

Each configuration runs in its own subprocess (so peak RSS is that configuration's): 32x32 at
width 16 and 64 (CIFAR stem), 224x224 at width 64 (ImageNet stem), batch 32, on the CPU and, when
present, on CUDA. Measurements alternate plain / engine so that load from other processes hits
both alike; the best of the rounds is reported. Prints one table; takes about two minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINE_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ENGINE_DIR))

CONFIGS = [  # (image size, width, stem, timed training steps, rounds)
    (32, 16, "cifar", 8, 3),
    (32, 64, "cifar", 3, 2),
    (224, 64, "imagenet", 2, 1),
]


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


class _Timer:
    """Wall and process-CPU seconds of a block (CPU time is robust to other processes' load)."""

    def __init__(self, device) -> None:
        self.device = device

    def __enter__(self) -> "_Timer":
        _sync(self.device)
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        _sync(self.device)
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def one(size: int, width: int, stem: str, steps: int, rounds: int, device_name: str, threads: int | None) -> dict:
    import torch
    import torch.nn.functional as F

    from synthmix_engine.classifier.data import Dataset, load_dataset, normalize
    from synthmix_engine.classifier.resnet import build_resnet18
    from synthmix_engine.classifier.train import Trainer, TrainConfig, predict
    from synthmix_engine.runtime import configure_determinism

    if threads:
        torch.set_num_threads(threads)
    device = torch.device(device_name)
    bs, classes = 32, 10
    configure_determinism("strict")
    if steps >= 8:
        steps = steps if device.type == "cpu" else steps * 4
    n = bs * (steps + 1)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, classes, (n,), generator=g)
    data = Dataset([str(i) for i in range(classes)], images, labels, "bench", "bench")
    val = Dataset(data.classes, images[:bs], labels[:bs], "bench", "bench")

    # plain PyTorch reference: one pre-normalised batch on the device, forward/backward/step
    torch.manual_seed(0)
    plain = build_resnet18(classes, width, stem).to(device)
    opt = torch.optim.SGD(plain.parameters(), lr=0.001, momentum=0.9)
    x = normalize(images[:bs]).to(device)
    y = labels[:bs].to(device)

    def plain_train(k: int) -> tuple[float, float]:
        plain.train()
        with _Timer(device) as t:
            for _ in range(k):
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(plain(x), y).backward()
                opt.step()
        return k * bs / t.wall, k * bs / t.cpu

    def plain_infer(k: int) -> tuple[float, float]:
        plain.eval()
        with _Timer(device) as t, torch.no_grad():
            for _ in range(k):
                plain(x)
        return k * bs / t.wall, k * bs / t.cpu

    cfg = TrainConfig(mode="scratch", num_classes=classes, width=width, stem=stem, image_size=size, epochs=1,
                      batch_size=bs, seed=0)

    def engine_train(k: int, deterministic: bool = True) -> tuple[float, float]:
        configure_determinism("strict" if deterministic else "fast")
        trainer = Trainer(cfg, data, val, device)
        done = [0]

        def stop_after(limit: int):
            done[0] = 0

            def should_stop() -> bool:
                done[0] += 1
                return done[0] >= limit
            return should_stop

        trainer.train_epoch(stop_after(1))  # warm-up batch (allocations), as the plain loop had
        with _Timer(device) as t:
            trainer.train_epoch(stop_after(k))
        configure_determinism("strict")
        return k * bs / t.wall, k * bs / t.cpu

    def engine_infer(k: int) -> tuple[float, float]:
        plain.eval()
        with _Timer(device) as t:
            predict(plain, images[: k * bs], bs, device)
        return k * bs / t.wall, k * bs / t.cpu

    def best(key: str, rates: tuple[float, float]) -> None:
        out[key] = max(out.get(key, 0.0), rates[0])
        out[key + "Cpu"] = max(out.get(key + "Cpu", 0.0), rates[1])

    plain_train(1)  # warm-up
    out: dict = {"size": size, "width": width, "stem": stem, "device": device_name, "threads": torch.get_num_threads()}
    for _ in range(rounds):
        best("plainTrain", plain_train(steps))
        best("engineTrain", engine_train(steps, True))
        best("engineTrainNondet", engine_train(steps, False))
    infer_steps = max(2, steps)
    plain_infer(1)
    for _ in range(rounds):
        best("plainInfer", plain_infer(infer_steps))
        best("engineInfer", engine_infer(infer_steps))

    if device.type == "cpu":  # the one-off decode of PNGs into the uint8 cache
        from PIL import Image

        count = 64 if size >= 128 else 256
        with tempfile.TemporaryDirectory() as tmp:
            items = []
            for i in range(count):
                path = os.path.join(tmp, f"{i}.png")
                Image.fromarray(images[i % n].permute(1, 2, 0).numpy(), "RGB").save(path)
                items.append({"path": path, "class": "0"})
            manifest = os.path.join(tmp, "m.json")
            with open(manifest, "w") as handle:
                json.dump({"classes": ["0"], "items": items}, handle)
            t = time.perf_counter()
            load_dataset(manifest, size, os.path.join(tmp, "cache"))
            out["decode"] = count / (time.perf_counter() - t)
        out["peakMiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    else:
        out["peakMiB"] = torch.cuda.max_memory_allocated(device) / 2**20
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="32x32 width 16 only")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*json.loads(args.one), args.threads)))
        return
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    started = time.time()
    load_start = os.getloadavg()[0]
    for device in devices:
        for size, width, stem, steps, rounds in CONFIGS[:1] if args.quick else CONFIGS:
            cmd = [sys.executable, __file__, "--one", json.dumps([size, width, stem, steps, rounds, device])]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ENGINE_DIR)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                raise SystemExit(f"bench config {size}px width {width} on {device} failed")
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"  done {size}px w{width} {device} ({time.time() - started:.0f}s)", file=sys.stderr)

    print(f"ResNet-18 classifier bench, batch 32, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"load average at start {load_start:.2f}, at end {os.getloadavg()[0]:.2f} (other processes skew CPU figures)")
    header = (f"{'device':6} {'size':>4} {'width':>5} {'stem':8} {'thr':>3} | {'train plain':>11} {'train engine':>12} "
              f"{'ratio':>5} | {'det off':>7} {'det on/off':>10} | {'infer plain':>11} {'infer engine':>12} {'ratio':>5} | "
              f"{'decode':>7} {'peak MiB':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['device']:6} {r['size']:>4} {r['width']:>5} {r['stem']:8} {r['threads']:>3} | "
              f"{r['plainTrain']:>11.1f} {r['engineTrain']:>12.1f} {r['engineTrain'] / r['plainTrain']:>5.2f} | "
              f"{r['engineTrainNondet']:>7.1f} {r['engineTrain'] / r['engineTrainNondet']:>10.2f} | "
              f"{r['plainInfer']:>11.1f} {r['engineInfer']:>12.1f} {r['engineInfer'] / r['plainInfer']:>5.2f} | "
              f"{r.get('decode', float('nan')):>7.0f} {r['peakMiB']:>8.0f}")
    print("images/s; ratio = engine / plain (target >= 0.90); det on/off = deterministic-mode throughput / "
          "non-deterministic; decode = PNG -> uint8 cache, images/s (once per dataset); peak = RSS (cpu) or "
          "max CUDA allocated")
    if "cpu" in devices:
        print("\nper CPU-second (process CPU time; robust to other processes' load, ≈ img/s on an idle core "
              "when threads = 1)")
        print(f"{'size':>4} {'width':>5} {'thr':>3} | {'train plain':>11} {'train engine':>12} {'ratio':>5} | "
              f"{'det off':>7} {'det on/off':>10} | {'infer plain':>11} {'infer engine':>12} {'ratio':>5}")
        for r in rows:
            if r["device"] != "cpu":
                continue
            print(f"{r['size']:>4} {r['width']:>5} {r['threads']:>3} | {r['plainTrainCpu']:>11.1f} "
                  f"{r['engineTrainCpu']:>12.1f} {r['engineTrainCpu'] / r['plainTrainCpu']:>5.2f} | "
                  f"{r['engineTrainNondetCpu']:>7.1f} {r['engineTrainCpu'] / r['engineTrainNondetCpu']:>10.2f} | "
                  f"{r['plainInferCpu']:>11.1f} {r['engineInferCpu']:>12.1f} "
                  f"{r['engineInferCpu'] / r['plainInferCpu']:>5.2f}")


if __name__ == "__main__":
    main()
