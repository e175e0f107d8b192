"""Oracle (b): synthmix's FID Inception v3 (`synthmix_engine/fid/inception.py`) against pytorch-fid's.

pytorch-fid (in the oracle venv, tests/oracles/pytorch_fid_inception.py) loads a seeded random state
dict into its `InceptionV3([3])` (its `load_state_dict_from_url` answers with that dict: nothing is
downloaded) and computes pool3 features of real PNG files with its own `get_activations`. The same
state dict file and the same PNGs then go through synthmix's real `extract-features` command
(inception-v3-fid extractor). Same architecture + same weights ⇒ same features, to 1e-4 of the
features' scale. A near miss — the same weights in torchvision's plain Inception3, without the FID
blocks — must be far outside that tolerance, so the comparison can fail."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from oracle_support import run_oracle
from test_fid_support import result_of, run_engine

# (width, height): two of one size (extract-features stacks them: its first batch of 2), one
# non-square and one larger than 299 (its second batch: resized one by one), as users' files come.
SIZES = [(64, 64), (64, 64), (80, 48), (320, 320)]
RTOL = 1e-4


def write_pngs(directory: Path, seed: int) -> tuple[Path, list[str]]:
    """Smooth colour gradients plus noise (not pure noise: spatial structure reaches the deep layers)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    items, paths = [], []
    for i, (w, h) in enumerate(SIZES):
        yy, xx = np.mgrid[0:h, 0:w]
        phase = rng.uniform(0, 2 * np.pi, size=3)
        base = np.stack([np.sin(xx / (6 + 3 * c) + yy / (9 + 2 * c) + phase[c]) for c in range(3)], axis=-1)
        pixels = np.clip(127.5 + 90 * base + rng.normal(0, 20, size=(h, w, 3)), 0, 255).astype(np.uint8)
        path = directory / f"img_{i}.png"
        Image.fromarray(pixels, "RGB").save(path)
        paths.append(str(path))
        items.append({"path": str(path), "class": "a", "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"classes": ["a"], "items": items}))
    return manifest, paths


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    """Largest absolute difference per image over that image's largest |feature| (pool3 rows are
    post-ReLU means: many entries are near zero, where an element-wise ratio says nothing)."""
    scale = np.abs(ref).max(axis=1, keepdims=True)
    return float((np.abs(ours - ref) / scale).max())


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    tmp = tmp_path_factory.mktemp("fid-oracle")
    manifest, paths = write_pngs(tmp / "images", seed=5)
    versions = run_oracle("pytorch_fid_inception.py", tmp / "oracle", "11", *paths)
    assert versions["pytorch_fid"] == "0.3.0", versions
    code, evs, work, stderr = run_engine(
        tmp, "extract-features", "ours", {"extractor": "inception-v3-fid", "batchSize": 2, "device": "cpu"},
        {"images": manifest, "weights": tmp / "oracle" / "weights.pth"},
    )
    assert code == 0, stderr
    assert result_of(evs)["summary"]["extractorId"] == "inception-v3-fid"
    return {
        "ours": np.load(work / "features.npy"),
        "pytorch_fid": np.load(tmp / "oracle" / "features.npy"),
        "torchvision_blocks": np.load(tmp / "oracle" / "torchvision_blocks.npy"),
    }


def test_pool3_features_equal_pytorch_fids(compared: dict[str, np.ndarray]) -> None:
    ours, ref = compared["ours"], compared["pytorch_fid"]
    assert ours.shape == ref.shape == (len(SIZES), 2048)
    assert np.isfinite(ref).all() and (np.abs(ref).max(axis=1) > 0).all()
    assert relative_error(ours, ref) <= RTOL


def test_the_comparison_can_fail(compared: dict[str, np.ndarray]) -> None:
    """The random weights give features that tell images and architectures apart: distinct images
    differ by far more than the tolerance, and so do torchvision's plain blocks with the same weights
    (count_include_pad average pools, an average pool in Mixed_7c)."""
    ref = compared["pytorch_fid"]
    assert relative_error(ref[[1, 2, 3, 0]], ref) > 100 * RTOL
    assert relative_error(compared["torchvision_blocks"], ref[:1]) > 100 * RTOL
