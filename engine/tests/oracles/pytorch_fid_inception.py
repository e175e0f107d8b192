"""Oracle (b): pytorch-fid's own FID Inception v3 and its own image pipeline, run in the oracle venv.

Run by engine/tests/test_oracle_fid_inception.py with `.synthmix/oracle-venv/bin/python`, never
imported by the engine. Usage: `pytorch_fid_inception.py OUT_DIR SEED IMAGE.png...`. Writes to OUT_DIR:
- weights.pth: the seeded random state dict that pytorch-fid's `fid_inception_v3()` loaded, with
  torchvision Inception3 names (what the official pt_inception-2015-12-05 file holds);
- features.npy: pool3 features of the images from pytorch-fid's `get_activations` (its
  ImagePathDataset: PIL RGB, ToTensor; its `InceptionV3([3])`: resize to 299, 2x - 1, FID blocks),
  one image per batch so images of different sizes go through as pytorch-fid handles them;
- torchvision_blocks.npy: the first image through the same weights in torchvision's plain Inception3
  (no FID blocks), same input transform: a near miss the test must be able to tell apart;
- versions.json: the libraries that computed them.

No weights are downloaded: `load_state_dict_from_url` is replaced by a function that returns the
random state dict, so both sides hold the same architecture with the same weights.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import pytorch_fid
from pytorch_fid import fid_score, inception


def random_state(template: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """Every tensor redrawn from one seeded generator, scaled so that activations neither vanish nor
    explode through the 20-odd layers (kaiming-normal convs; BN affine and running statistics away
    from the identity so that eval-mode batch norm is really exercised)."""
    gen = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for name, tensor in template.items():
        shape = tuple(tensor.shape)
        if name.endswith("num_batches_tracked"):
            state[name] = torch.randint(1, 10_000, (), generator=gen, dtype=torch.long)
        elif name.endswith("running_var") or (name.endswith(".bn.weight")):
            state[name] = torch.empty(shape).uniform_(0.5, 1.5, generator=gen)
        elif name.endswith("running_mean") or name.endswith("bias"):
            state[name] = torch.randn(shape, generator=gen) * 0.1
        elif tensor.ndim == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            state[name] = torch.randn(shape, generator=gen) * (2.0 / fan_in) ** 0.5
        else:  # fc.weight (unused by pool3)
            state[name] = torch.randn(shape, generator=gen) * 0.01
    return state


def main(out_dir: Path, seed: int, images: list[str]) -> None:
    torch.use_deterministic_algorithms(True)
    template = inception._inception_v3(num_classes=1008, aux_logits=False, weights=None).state_dict()
    weights = random_state(template, seed)
    calls: list[str] = []

    def fake_load_state_dict_from_url(url: str, *args: object, **kwargs: object) -> dict[str, torch.Tensor]:
        calls.append(url)
        return {k: v.clone() for k, v in weights.items()}

    inception.load_state_dict_from_url = fake_load_state_dict_from_url
    model = inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
    if calls != [inception.FID_WEIGHTS_URL]:
        raise SystemExit(f"pytorch-fid did not load its FID weights through load_state_dict_from_url: {calls}")
    features = fid_score.get_activations(images, model, batch_size=1, dims=2048, device="cpu", num_workers=0)

    plain = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    plain.load_state_dict(weights)
    plain.fc = torch.nn.Identity()
    plain.eval()
    first = fid_score.ImagePathDataset(images[:1], transforms=torchvision.transforms.ToTensor())[0][None]
    with torch.no_grad():
        near_miss = plain(2 * F.interpolate(first, size=(299, 299), mode="bilinear", align_corners=False) - 1).numpy()

    out_dir.mkdir(parents=True, exist_ok=True)
    torch.save(weights, out_dir / "weights.pth")
    np.save(out_dir / "features.npy", features.astype(np.float32))
    np.save(out_dir / "torchvision_blocks.npy", near_miss.astype(np.float32))
    (out_dir / "versions.json").write_text(json.dumps({
        "torch": torch.__version__, "torchvision": torchvision.__version__, "pytorch_fid": pytorch_fid.__version__,
    }))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
