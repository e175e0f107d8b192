"""RandAugment (Cubuk et al. 2020) on the fly, from kornia (pinned in requirements.txt), seeded.

kornia's `RandAugment(n, m)` draws its choices from torch's global CPU RNG. `SeededRandAugment`
runs it inside `torch.random.fork_rng` with the global state swapped for its own saved state, so
the augmentation stream depends only on the seed (and is checkpointed by `state()` /
`load_state()`), never on the rest of the program, and never disturbs the global RNG.

It works on CPU float batches in [0, 1] (N x 3 x H x W): images are augmented on the CPU before
being moved to the training device, so the stream is the same on every device. kornia picks the
n operations once per batch (the signs and per-image parameters vary per image); m is the
magnitude on RandAugment's 0..30 scale (paper default m ≈ 9, n = 2). kornia's default policy has
15 operations: the paper's 14 minus Cutout (kornia leaves it out), plus solarize_add.
"""
from __future__ import annotations

import torch

from ..protocol import PermanentError


class SeededRandAugment:
    def __init__(self, n: int, m: int, seed: int) -> None:
        try:
            from kornia.augmentation.auto import RandAugment
        except ImportError as error:  # a missing dependency of the environment, not of the input
            raise RuntimeError("randAugment needs kornia (engine/requirements.txt): pip install kornia") from error
        try:
            self._augment = RandAugment(n=int(n), m=int(m))
        except (ValueError, TypeError) as error:
            raise PermanentError(f"randAugment {{n: {n}, m: {m}}} is invalid: {error}") from error
        self.n, self.m = int(n), int(m)
        generator = torch.Generator().manual_seed(int(seed))
        self._state = generator.get_state()

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """uint8 or [0,1] float CPU batch -> augmented float batch in [0, 1]."""
        x = batch.to(torch.float32) / 255.0 if batch.dtype == torch.uint8 else batch
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self._state)
            out = self._augment(x)
            self._state = torch.get_rng_state()
        return out.clamp_(0.0, 1.0)

    def state(self) -> torch.Tensor:
        return self._state.clone()

    def load_state(self, state: torch.Tensor) -> None:
        self._state = state.clone()


def parse_randaugment(value: object, seed: int) -> SeededRandAugment | None:
    if value is None or value is False:
        return None
    if not isinstance(value, dict) or "n" not in value or "m" not in value:
        raise PermanentError(f"param randAugment must be null or {{n, m}}, got {value!r}")
    return SeededRandAugment(value["n"], value["m"], seed)
