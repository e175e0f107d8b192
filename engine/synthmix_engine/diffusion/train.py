"""Shared training plumbing for the diffusion commands: images of a manifest, checkpoints (model +
optimizer + RNG + step, written atomically, last two kept), EMA. Devices, determinism and seeds
come from `synthmix_engine.runtime`, manifests from `synthmix_engine.manifest`."""
from __future__ import annotations

import glob
import hashlib
import json
import os
from typing import Any

import torch

from ..manifest import LocalManifest
from ..protocol import PermanentError, Spec, atomic_write, checkpoint_written


def fingerprint(command: str, params: dict[str, Any], ignore: tuple[str, ...] = ("checkpointEvery", "progressEvery")) -> str:
    kept = {k: v for k, v in params.items() if k not in ignore}
    return hashlib.sha256(json.dumps([command, kept], sort_keys=True, default=str).encode()).hexdigest()


def load_images(manifest: LocalManifest, size: int, resize: bool = False) -> torch.Tensor:
    """uint8 [N, 3, size, size]; a missing, undecodable or wrong-size file is a PermanentError naming it."""
    from PIL import Image, UnidentifiedImageError
    import numpy as np

    what = manifest.what
    out = torch.empty((len(manifest), 3, size, size), dtype=torch.uint8)
    for n, path in enumerate(manifest.files):
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
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError) as error:
            raise PermanentError(f"input '{what}': image {path} cannot be decoded: {type(error).__name__}: {error}") from error
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
