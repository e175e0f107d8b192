"""Shared helpers for the classifier tests (no tests here): toy image sets written as real PNG
files + local manifests, and running the engine as a real subprocess."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ENGINE_DIR = Path(__file__).resolve().parents[1]
CLASSES = ["red", "green", "blue", "yellow"]
COLOURS = {"red": (200, 40, 40), "green": (40, 190, 40), "blue": (40, 40, 210), "yellow": (210, 200, 30)}


def toy_images(directory: Path, per_class: int, size: int, seed: int, classes=CLASSES, sha: bool = True) -> Path:
    """A 4-class task: class = the colour of a randomly placed square on a noisy grey background.
    Writes PNGs and a local manifest; returns the manifest path."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    items = []
    for name in classes:
        for index in range(per_class):
            pixels = rng.integers(60, 180, size=(size, size, 3)).astype(np.int16)
            side = int(rng.integers(size // 2, size - 2))
            top, left = rng.integers(0, size - side + 1, size=2)
            colour = np.array(COLOURS[name], dtype=np.int16) + rng.integers(-25, 26, size=3)
            pixels[top:top + side, left:left + side] = colour + rng.integers(-20, 21, size=(side, side, 3))
            path = directory / f"{name}_{index:03d}.png"
            Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "RGB").save(path)
            item = {"path": str(path), "class": name}
            if sha:
                item["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
            items.append(item)
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"classes": list(classes), "items": items}))
    return manifest


def write_manifest(path: Path, classes, items) -> Path:
    path.write_text(json.dumps({"classes": list(classes), "items": items}))
    return path


def write_spec(path: Path, work_dir: Path, params: dict, inputs: dict, resume_from: str | None = None) -> Path:
    path.write_text(json.dumps({"workDir": str(work_dir), "resumeFrom": resume_from,
                                "params": params, "inputs": {k: str(v) for k, v in inputs.items()}}))
    return path


def engine_command(command: str, spec: Path) -> list[str]:
    return [sys.executable, "-m", "synthmix_engine", command, "--spec", str(spec)]


def engine_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ENGINE_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def run_engine(command: str, tmp: Path, name: str, params: dict, inputs: dict, resume_from: str | None = None,
               timeout: float = 300) -> tuple[int, list[dict], Path, str]:
    """Run a command to the end; returns (exit code, events, workDir, stderr)."""
    work = tmp / name
    spec = write_spec(tmp / f"{name}.spec.json", work, params, inputs, resume_from)
    proc = subprocess.run(engine_command(command, spec), cwd=ENGINE_DIR, env=engine_env(),
                          capture_output=True, text=True, timeout=timeout)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, work, proc.stderr


def start_engine(command: str, tmp: Path, name: str, params: dict, inputs: dict,
                 resume_from: str | None = None) -> tuple[subprocess.Popen, Path]:
    work = tmp / name
    spec = write_spec(tmp / f"{name}.spec.json", work, params, inputs, resume_from)
    proc = subprocess.Popen(engine_command(command, spec), cwd=ENGINE_DIR, env=engine_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, work


def result_of(events: list[dict]) -> dict:
    results = [e for e in events if e["event"] == "result"]
    assert len(results) == 1, events
    return results[0]


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# The exact parameter names and shapes of torchvision.models.resnet18(num_classes), in state-dict
# order, written out by hand (torchvision cannot be installed beside this torch build).
def torchvision_resnet18_shapes(num_classes: int = 1000) -> list[tuple[str, tuple[int, ...]]]:
    def bn(prefix: str, c: int) -> list:
        return [(f"{prefix}.weight", (c,)), (f"{prefix}.bias", (c,)), (f"{prefix}.running_mean", (c,)),
                (f"{prefix}.running_var", (c,)), (f"{prefix}.num_batches_tracked", ())]

    keys = [("conv1.weight", (64, 3, 7, 7))] + bn("bn1", 64)
    inplanes = 64
    for layer, planes in enumerate((64, 128, 256, 512), start=1):
        for block in (0, 1):
            p = f"layer{layer}.{block}"
            cin = inplanes if block == 0 else planes
            keys += [(f"{p}.conv1.weight", (planes, cin, 3, 3))] + bn(f"{p}.bn1", planes)
            keys += [(f"{p}.conv2.weight", (planes, planes, 3, 3))] + bn(f"{p}.bn2", planes)
            if block == 0 and layer > 1:
                keys += [(f"{p}.downsample.0.weight", (planes, inplanes, 1, 1))] + bn(f"{p}.downsample.1", planes)
        inplanes = planes
    keys += [("fc.weight", (num_classes, 512)), ("fc.bias", (num_classes,))]
    return keys
