"""Oracle (a): torchvision's own ResNet-18, run in the oracle venv.

Run by engine/tests/test_oracle_resnet18.py with `.synthmix/oracle-venv/bin/python`, never imported
by the engine. Usage: `torchvision_resnet18.py OUT_DIR SEED`. Writes to OUT_DIR:
- resnet18.pth / resnet18-no-bn-counters.pth: `torch.save(torchvision.models.resnet18().state_dict())`
  of a seeded model whose BatchNorm affine parameters and running statistics are randomized (so that
  eval-mode batch norm is exercised), with and without the `num_batches_tracked` buffers (published
  torchvision files may lack them);
- input.pt: a fixed uint8 batch, 2 x 3 x 224 x 224 (what the classifier's datasets hold);
- logits.npy: torchvision's 1000-class logits of that batch, fed as a torchvision user does
  (ToTensor's x / 255, then transforms.Normalize with the ImageNet mean and std);
- features.npy: the pooled 512-d features before `fc` (the model with `fc = Identity`);
- versions.json: the libraries that computed them.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import torchvision
from torchvision import transforms

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def main(out_dir: Path, seed: int) -> None:
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    model = torchvision.models.resnet18()  # torchvision's own init from the seeded global RNG
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                c = module.num_features
                module.weight.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
                module.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                module.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                module.running_var.copy_(torch.empty(c).uniform_(0.5, 1.5, generator=gen))
                module.num_batches_tracked.fill_(int(torch.randint(1, 10_000, (), generator=gen)))
    model.eval()
    images = torch.randint(0, 256, (2, 3, 224, 224), generator=gen, dtype=torch.uint8)
    x = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)(images.float() / 255.0)
    with torch.no_grad():
        logits = model(x)
        fc = model.fc
        model.fc = torch.nn.Identity()
        features = model(x)
        model.fc = fc

    out_dir.mkdir(parents=True, exist_ok=True)
    state = model.state_dict()
    torch.save(state, out_dir / "resnet18.pth")
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")},
               out_dir / "resnet18-no-bn-counters.pth")
    torch.save(images, out_dir / "input.pt")
    np.save(out_dir / "logits.npy", logits.numpy())
    np.save(out_dir / "features.npy", features.numpy())
    (out_dir / "versions.json").write_text(json.dumps({"torch": torch.__version__, "torchvision": torchvision.__version__}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
