"""RandAugment (Cubuk et al. 2020) on the fly, from kornia (pinned in requirements.txt), seeded.

kornia's `RandAugment(n, m)` draws its choices from torch's global CPU RNG. `SeededRandAugment`
runs it inside `torch.random.fork_rng` with the global state swapped for its own saved state, so
the augmentation stream depends only on the seed (and is checkpointed by `state()` /
`load_state()`), never on the rest of the program, and never disturbs the global RNG.

It works on CPU float batches in [0, 1] (N x 3 x H x W): images are augmented on the CPU before
being moved to the training device, so the stream is the same on every device. kornia picks the
n operations once per batch (the signs and per-image parameters vary per image); torchvision's
RandAugment, a per-image transform, draws them for every image (issue 13). `perImage: true` does
that: kornia is called on each image alone, in batch order, from the same seeded stream (one call
per image: slower, and other numbers than per batch, so it is opt-in and part of the config that
checkpoints are checked against). m is the magnitude on RandAugment's 0..30 scale (paper default
m ≈ 9, n = 2). kornia's default policy has 15 operations: the paper's 14 minus Cutout (kornia
leaves it out), plus solarize_add. `last_ops` names the operations each image of the last batch got.
"""
from __future__ import annotations

import torch

from ..protocol import PermanentError


class SeededRandAugment:
    def __init__(self, n: int, m: int, seed: int, per_image: bool = False) -> None:
        try:
            from kornia.augmentation.auto import RandAugment
        except ImportError as error:  # a missing dependency of the environment, not of the input
            raise RuntimeError("randAugment needs kornia (engine/requirements.txt): pip install kornia") from error
        try:
            self._augment = RandAugment(n=int(n), m=int(m))
        except (ValueError, TypeError) as error:
            raise PermanentError(f"randAugment {{n: {n}, m: {m}}} is invalid: {error}") from error
        self.n, self.m, self.per_image = int(n), int(m), bool(per_image)
        self.last_ops: list[tuple[str, ...]] = []
        generator = torch.Generator().manual_seed(int(seed))
        self._state = generator.get_state()

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 or [0,1] float CPU batch -> augmented float batch in [0, 1]."""
        x = batch.to(torch.float32) / 255.0 if batch.dtype == torch.uint8 else batch
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._state)
            if self.per_image:
                parts, ops = [], []
                for i in range(x.shape[0]):
                    parts.append(self._augment(x[i:i + 1]))
                    ops.append(self._chosen())
                out = torch.cat(parts) if parts else x.clone()
            else:
                out = self._augment(x)
                ops = [self._chosen()] * x.shape[0]
            self._state = torch.get_rng_state()
        self.last_ops = ops
        return out.clamp_(0.0, 1.0)

    def _chosen(self) -> tuple[str, ...]:
        """The sub-policies kornia applied in its last call (its `_params`: (name, data) items)."""
        return tuple(str(item[0]) for item in getattr(self._augment, "_params", None) or [])

    def state(self) -> torch.Tensor:
        return self._state.clone()

    def load_state(self, state: torch.Tensor) -> None:
        self._state = state.clone()


def parse_randaugment(value: object, seed: int) -> SeededRandAugment | None:
    if value is None or value is False:
        return None
    if (not isinstance(value, dict) or "n" not in value or "m" not in value
            or not set(value) <= {"n", "m", "perImage"}):
        raise PermanentError(f"param randAugment must be null or {{n, m, perImage?}}, got {value!r}")
    per_image = value.get("perImage", False)
    if not isinstance(per_image, bool):
        raise PermanentError(f"param randAugment.perImage must be true or false, got {per_image!r}")
    return SeededRandAugment(value["n"], value["m"], seed, per_image)
