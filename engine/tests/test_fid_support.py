"""Helpers for the FID tests (no tests here): tiny PNG sets with local manifests, and the engine
run as a real subprocess."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ENGINE_DIR = Path(__file__).resolve().parents[1]


def tiny_pngs(directory: Path, count: int, size: int | list[int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    sizes = size if isinstance(size, list) else [size] * count
    items = []
    for i, side in enumerate(sizes):
        pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
        path = directory / f"img_{i:03d}.png"
        Image.fromarray(pixels, "RGB").save(path)
        items.append({"path": str(path), "class": "cat" if i % 2 else "dog",
                      "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"classes": ["dog", "cat"], "items": items}))
    return manifest


def write_spec(tmp: Path, name: str, params: dict, inputs: dict, resume_from: str | None = None) -> tuple[Path, Path]:
    work = tmp / f"work-{name}"
    spec = tmp / f"spec-{name}.json"
    spec.write_text(json.dumps({"workDir": str(work), "resumeFrom": resume_from, "params": params,
                                "inputs": {k: str(v) for k, v in inputs.items()}}))
    return spec, work


def command(name: str, spec: Path) -> list[str]:
    return [sys.executable, "-m", "synthmix_engine", name, "--spec", str(spec)]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def run_engine(tmp: Path, cmd: str, name: str, params: dict, inputs: dict,
               resume_from: str | None = None) -> tuple[int, list[dict[str, Any]], Path, str]:
    spec, work = write_spec(tmp, name, params, inputs, resume_from)
    proc = subprocess.run(command(cmd, spec), cwd=ENGINE_DIR, capture_output=True, text=True, timeout=300)
    return proc.returncode, events(proc.stdout), work, proc.stderr


def start_engine(tmp: Path, cmd: str, name: str, params: dict, inputs: dict,
                 resume_from: str | None = None) -> tuple[subprocess.Popen, Path]:
    spec, work = write_spec(tmp, name, params, inputs, resume_from)
    proc = subprocess.Popen(command(cmd, spec), cwd=ENGINE_DIR, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    return proc, work


def result_of(evs: list[dict[str, Any]]) -> dict[str, Any]:
    found = [e for e in evs if e["event"] == "result"]
    assert len(found) == 1, evs
    return found[0]


def error_of(evs: list[dict[str, Any]]) -> str:
    found = [e for e in evs if e["event"] == "error"]
    assert found, evs
    return found[-1]["message"]
