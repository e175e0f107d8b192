"""Shared training plumbing for the diffusion commands: determinism, image manifests,
checkpoints (model + optimizer + RNG + step, written atomically, last two kept), EMA."""
from __future__ import annotations

import glob
import hashlib
import json
import os
from typing import Any

import torch

from ..protocol import PermanentError, Spec, atomic_write, checkpoint_written
from .model import cpu_generator, derived_seed


def setup_determinism(seed: int) -> None:
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(int(seed))
    if torch.cuda.is_available():
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.use_deterministic_algorithms(True, warn_only=True)


def step_generator(seed: int, stage: str, step: int) -> torch.Generator:
    """All randomness of training step `step` comes from this generator, so a resumed run draws
    exactly what an uninterrupted one would (the RNG state is a function of seed and step)."""
    return cpu_generator(derived_seed(seed, stage, step))


def fingerprint(command: str, params: dict[str, Any], ignore: tuple[str, ...] = ("checkpointEvery", "progressEvery")) -> str:
    kept = {k: v for k, v in params.items() if k not in ignore}
    return hashlib.sha256(json.dumps([command, kept], sort_keys=True, default=str).encode()).hexdigest()


def read_manifest(path: str, what: str) -> tuple[list[str], list[dict[str, Any]]]:
    if not os.path.isfile(path):
        raise PermanentError(f"input '{what}': manifest {path} does not exist")
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise PermanentError(f"input '{what}': cannot read manifest {path}: {error}") from error
    items = raw.get("items") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise PermanentError(f"input '{what}': manifest {path} has no items")
    classes = raw.get("classes") or sorted({str(item.get("class")) for item in items})
    for n, item in enumerate(items):
        if not isinstance(item, dict) or "path" not in item or "class" not in item:
            raise PermanentError(f"input '{what}': manifest {path} item {n} lacks 'path' or 'class'")
        if item["class"] not in classes:
            raise PermanentError(f"input '{what}': item {item['path']} has class {item['class']!r} not in the manifest's classes")
    return list(classes), items


def load_images(items: list[dict[str, Any]], size: int, what: str, resize: bool = False) -> torch.Tensor:
    """uint8 [N, 3, size, size]; a missing, undecodable or wrong-size file is a PermanentError naming it."""
    from PIL import Image, UnidentifiedImageError
    import numpy as np

    out = torch.empty((len(items), 3, size, size), dtype=torch.uint8)
    for n, item in enumerate(items):
        path = item["path"]
        try:
            with Image.open(path) as image:
                image.load()
                if image.size != (size, size):
                    if not resize:
                        raise PermanentError(
                            f"input '{what}': image {path} is {image.size[0]}x{image.size[1]}, expected {size}x{size} "
                            "(curate to that size or pass resizeInputs: true)")
                    image = image.resize((size, size), Image.Resampling.BICUBIC)
                array = np.asarray(image.convert("RGB"), dtype=np.uint8)
        except FileNotFoundError as error:
            raise PermanentError(f"input '{what}': image {path} does not exist") from error
        except (UnidentifiedImageError, OSError) as error:
            raise PermanentError(f"input '{what}': image {path} cannot be decoded: {error}") from error
        out[n] = torch.from_numpy(array.copy()).permute(2, 0, 1)
    return out


class Checkpoints:
    """checkpoints/step-NNNNNNN.pt under workDir, atomic, the last `keep` kept."""

    def __init__(self, spec: Spec, keep: int = 2) -> None:
        self.spec = spec
        self.keep = keep
        self.folder = os.path.join(spec.work_dir, "checkpoints")

    def save(self, state: dict[str, Any], step: int) -> str:
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"step-{step:07d}.pt")
        atomic_write(path, lambda tmp: torch.save(state, tmp))
        checkpoint_written(path, step)
        for old in sorted(glob.glob(os.path.join(self.folder, "step-*.pt")))[: -self.keep]:
            try:
                os.remove(old)
            except OSError:
                pass
        return path


def load_checkpoint(path: str, command: str, expected_fingerprint: str) -> dict[str, Any]:
    if not os.path.isfile(path):
        raise PermanentError(f"resumeFrom: checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise PermanentError(f"resumeFrom: cannot read checkpoint {path}: {error}") from error
    if state.get("command") != command:
        raise PermanentError(f"resumeFrom: {path} is a checkpoint of {state.get('command')!r}, not {command!r}")
    if state.get("fingerprint") != expected_fingerprint:
        raise PermanentError(f"resumeFrom: {path} was written with other params; start afresh or pass the same params")
    return state


class EMA:
    """Exponential moving average of parameters (float32 shadows), with the usual warm-up."""

    def __init__(self, params: list[torch.nn.Parameter], decay: float) -> None:
        self.params = list(params)
        self.decay = float(decay)
        self.shadow = [p.detach().float().clone() for p in self.params]
        self.updates = 0

    @torch.no_grad()
    def update(self) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for shadow, param in zip(self.shadow, self.params):
            shadow.lerp_(param.detach().float(), 1.0 - decay)

    @torch.no_grad()
    def copy_to(self) -> None:
        for shadow, param in zip(self.shadow, self.params):
            param.copy_(shadow.to(param.dtype))

    def state_dict(self) -> dict[str, Any]:
        return {"shadow": [s.cpu() for s in self.shadow], "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.shadow = [s.to(p.device) for s, p in zip(state["shadow"], self.params)]
        self.updates = int(state["updates"])
