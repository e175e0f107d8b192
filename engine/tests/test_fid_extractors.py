"""Feature extractors: the FID Inception v3 architecture (random weights only: the official file is
not available to tests) and the project's builtin ResNet-18 extractor."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from synthmix_engine.fid.extractors import BUILTIN_ID, EXTRACTORS, INCEPTION_ID, load_extractor, load_matching_state_dict
from synthmix_engine.fid.inception import FIDInceptionV3
from synthmix_engine.protocol import PermanentError


def test_registry_has_exactly_the_two_extractors() -> None:
    assert sorted(EXTRACTORS) == sorted([INCEPTION_ID, BUILTIN_ID])
    with pytest.raises(PermanentError, match="unknown extractor 'random-conv-v1'"):
        load_extractor("random-conv-v1", None, {}, torch.device("cpu"))


def test_inception_has_pytorch_fid_state_dict_names_and_shapes() -> None:
    model = FIDInceptionV3()
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_var": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7b.branch3x3_2a.conv.weight": (384, 384, 1, 3),
        "Mixed_7c.branch3x3dbl_3b.conv.weight": (384, 384, 3, 1),
        "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected.items():
        assert shapes[key] == shape, key
    assert not any(k.startswith("AuxLogits") for k in shapes)
    # torchvision Inception3 = 27,161,264 parameters; minus AuxLogits (3,326,696), fc 1000 -> 1008 classes
    assert sum(p.numel() for p in model.parameters()) == 27_161_264 - 3_326_696 + 8 * 2048 + 8


def test_inception_state_dict_loading_is_strict_but_tolerates_missing_bn_counters() -> None:
    torch.manual_seed(0)
    source = FIDInceptionV3()
    state = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    target = FIDInceptionV3()
    load_matching_state_dict(target, state, "official.pth", "inception")
    assert torch.equal(target.Mixed_7c.branch_pool.conv.weight, source.Mixed_7c.branch_pool.conv.weight)
    bad = dict(state)
    bad["Mixed_7c.branch_pool.conv.weight"] = torch.zeros(192, 1280, 1, 1)
    with pytest.raises(PermanentError, match="official.pth.*Mixed_7c.branch_pool.conv.weight"):
        load_matching_state_dict(FIDInceptionV3(), bad, "official.pth", "inception")
    missing = {k: v for k, v in state.items() if k != "Conv2d_1a_3x3.conv.weight"}
    with pytest.raises(PermanentError, match="missing.*Conv2d_1a_3x3.conv.weight"):
        load_matching_state_dict(FIDInceptionV3(), missing, "official.pth", "inception")
    extra = dict(state, **{"AuxLogits.fc.weight": torch.zeros(1008, 768)})
    with pytest.raises(PermanentError, match="unexpected.*AuxLogits"):
        load_matching_state_dict(FIDInceptionV3(), extra, "official.pth", "inception")


def test_inception_needs_a_weights_file_and_takes_no_options(tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="weights"):
        load_extractor(INCEPTION_ID, None, {}, torch.device("cpu"))
    with pytest.raises(PermanentError, match="no options"):
        load_extractor(INCEPTION_ID, str(tmp_path / "x.pth"), {"resize": False}, torch.device("cpu"))


def test_inception_preprocessing_is_pytorch_fid() -> None:
    model = FIDInceptionV3()
    x = torch.rand(2, 3, 32, 32)
    y = model.preprocess(x)
    assert y.shape == (2, 3, 299, 299)
    ref = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
    assert torch.equal(y, ref)
    assert y.min() >= -1 and y.max() <= 1


def _builtin_weights(tmp_path: Path, width: int = 16, stem: str = "cifar") -> tuple[Path, torch.nn.Module]:
    from synthmix_engine.classifier.resnet import build_resnet18

    torch.manual_seed(1)
    model = build_resnet18(4, width, stem)
    path = tmp_path / "resnet.pt"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def test_builtin_extractor_id_sha_and_features(tmp_path: Path) -> None:
    from synthmix_engine.classifier.data import normalize

    path, model = _builtin_weights(tmp_path)
    ext = load_extractor(BUILTIN_ID, str(path), {"width": 16, "stem": "cifar"}, torch.device("cpu"))
    assert ext.id == "synthmix-builtin-v1/resnet18-w16-cifar"
    assert ext.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ext.dim == 128
    x = torch.rand(3, 3, 32, 32)
    feats = ext.features(x)
    assert feats.dtype == np.float32 and feats.shape == (3, 128)
    with torch.inference_mode():
        ref = model.forward_features(normalize(x)).numpy()
    np.testing.assert_allclose(feats, ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(PermanentError, match="width"):
        load_extractor(BUILTIN_ID, str(path), {"stem": "cifar"}, torch.device("cpu"))
    with pytest.raises(PermanentError, match="resnet.pt"):
        load_extractor(BUILTIN_ID, str(path), {"width": 32, "stem": "cifar"}, torch.device("cpu"))
