"""Oracle (a): torchvision's ResNet-18 files loaded into synthmix's classifier, against torchvision.

torchvision (in the oracle venv, tests/oracles/torchvision_resnet18.py) saves a seeded
`torchvision.models.resnet18()` (BatchNorm statistics randomized) with `torch.save`, with and
without the `num_batches_tracked` buffers, and computes its logits and pooled features of a fixed
uint8 batch. Here each file goes the way a user's `.pth` goes in `train-classifier`
(`read_state_dict`, then the `Trainer` of mode finetune or frozen: ImageNet stem, width 64):
- with the 1000-class head kept (numClasses 1000), the loaded model's eval logits are torchvision's;
- with the head replaced (a 10-class dataset: what finetune/frozen do on a user's classes), the
  backbone's features are torchvision's penultimate features — in frozen mode read from the feature
  cache that its training steps use (backbone in eval mode, as during training).
Tolerance 1e-5 absolute; two torch releases on the same CPU differ by float rounding only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from oracle_support import run_oracle
from synthmix_engine.classifier.data import Dataset, normalize
from synthmix_engine.classifier.resnet import read_state_dict
from synthmix_engine.classifier.train import TrainConfig, Trainer

ATOL = 1e-5
FILES = ["resnet18.pth", "resnet18-no-bn-counters.pth"]
MODES = ["finetune", "frozen"]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("resnet-oracle") / "oracle"
    versions = run_oracle("torchvision_resnet18.py", out, "17")
    assert versions["torchvision"].startswith("0.29.1"), versions
    return out


def trainer(oracle: Path, file: str, mode: str, num_classes: int) -> Trainer:
    images = torch.load(oracle / "input.pt", weights_only=True)
    labels = torch.arange(images.shape[0]) % num_classes
    data = Dataset([f"c{i}" for i in range(num_classes)], images, labels, "oracle-input", str(oracle / "input.pt"))
    cfg = TrainConfig(mode=mode, num_classes=num_classes, width=64, stem="imagenet", image_size=224, epochs=1,
                      batch_size=2, seed=0)
    path = oracle / file
    return Trainer(cfg, data, data, torch.device("cpu"), read_state_dict(str(path)), str(path))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("file", FILES)
def test_logits_equal_torchvisions_with_the_imagenet_head(oracle: Path, file: str, mode: str) -> None:
    run = trainer(oracle, file, mode, 1000)
    assert run.fc_replaced is False
    model = run.model.eval()
    with torch.no_grad():
        logits = model(normalize(run.images)).numpy()
    expected = np.load(oracle / "logits.npy")
    assert logits.shape == expected.shape == (2, 1000)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=ATOL)
    # not vacuous: the two images get different logits, far apart at this tolerance
    assert np.abs(expected[0] - expected[1]).max() > 1000 * ATOL


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("file", FILES)
def test_features_equal_torchvisions_when_the_head_is_replaced(oracle: Path, file: str, mode: str) -> None:
    run = trainer(oracle, file, mode, 10)
    assert run.fc_replaced is True and run.model.fc.weight.shape == (10, 512)
    expected = np.load(oracle / "features.npy")
    if mode == "frozen":
        assert [n for n, p in run.model.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]
        assert run.use_feature_cache  # what its training steps read
        features = run.train_features().numpy()
    else:
        with torch.no_grad():
            features = run.model.eval().forward_features(normalize(run.images)).numpy()
    assert features.shape == expected.shape == (2, 512)
    np.testing.assert_allclose(features, expected, rtol=0, atol=ATOL)


def test_missing_bn_counters_start_at_zero(oracle: Path) -> None:
    """A file without `num_batches_tracked` loads its running statistics; the counters keep the fresh
    model's 0 (as torch's own loader does for such files), a file with them sets theirs."""
    full = read_state_dict(str(oracle / "resnet18.pth"))
    bare = trainer(oracle, "resnet18-no-bn-counters.pth", "finetune", 1000).model.state_dict()
    kept = trainer(oracle, "resnet18.pth", "finetune", 1000).model.state_dict()
    assert torch.equal(bare["layer2.0.downsample.1.running_var"], full["layer2.0.downsample.1.running_var"])
    assert bare["layer2.0.downsample.1.num_batches_tracked"].item() == 0
    assert kept["layer2.0.downsample.1.num_batches_tracked"].item() == full["layer2.0.downsample.1.num_batches_tracked"].item() > 0
