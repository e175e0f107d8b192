"""RandAugment drawn per image (issue 13: kornia draws the operations once per batch; torchvision,
whose RandAugment is a per-image transform, draws them for each image): seeded, resumable, and the
images of one batch get different operations."""
from __future__ import annotations

import pytest
import torch

from synthmix_engine.classifier.augment import SeededRandAugment, parse_randaugment
from synthmix_engine.protocol import PermanentError


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    return torch.randint(0, 256, (16, 3, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))


def test_per_image_ops_differ_within_a_batch(batch):
    per_image = SeededRandAugment(2, 9, seed=4, per_image=True)
    per_image(batch)
    assert len(per_image.last_ops) == 16 and all(len(ops) == 2 for ops in per_image.last_ops)
    assert len(set(per_image.last_ops)) > 1  # 16 draws of 2 of 15 ops: all equal has odds ~1e-34
    per_batch = SeededRandAugment(2, 9, seed=4)  # the default: kornia's one draw for the batch
    per_batch(batch)
    assert len(per_batch.last_ops) == 16 and len(per_batch.last_ops[0]) == 2


def test_per_image_stream_is_seeded_resumable_and_leaves_the_global_rng_alone(batch):
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = SeededRandAugment(2, 9, seed=7, per_image=True), SeededRandAugment(2, 9, seed=7, per_image=True)
    first = a(batch)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(first, b(batch)) and a.last_ops == b.last_ops
    saved = a.state()
    second = a(batch)
    assert not torch.equal(first, second)  # the stream moves on
    c = SeededRandAugment(2, 9, seed=99, per_image=True)
    c.load_state(saved)
    assert torch.equal(c(batch), second) and c.last_ops == a.last_ops
    assert second.shape == batch.shape and second.dtype == torch.float32
    assert float(second.min()) >= 0.0 and float(second.max()) <= 1.0


def test_param_parsing():
    assert parse_randaugment(None, 0) is None
    assert parse_randaugment({"n": 1, "m": 5}, 0).per_image is False
    assert parse_randaugment({"n": 1, "m": 5, "perImage": True}, 0).per_image is True
    with pytest.raises(PermanentError, match="perImage must be true or false"):
        parse_randaugment({"n": 1, "m": 5, "perImage": "yes"}, 0)
    with pytest.raises(PermanentError, match="randAugment must be"):
        parse_randaugment({"n": 1, "m": 5, "per_image": True}, 0)
