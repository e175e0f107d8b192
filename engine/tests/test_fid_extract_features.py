"""`extract-features` end to end (real engine subprocesses, tiny PNGs): outputs, extractor id,
SIGKILL / SIGTERM then resume giving byte-identical features."""
from __future__ import annotations

import hashlib
import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from test_fid_support import error_of, events, result_of, run_engine, start_engine, tiny_pngs


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_inception_end_to_end_with_random_weights(tmp_path: Path) -> None:
    from synthmix_engine.fid.inception import FIDInceptionV3

    torch.manual_seed(0)
    weights = tmp_path / "pt_inception-random.pth"
    torch.save(FIDInceptionV3().state_dict(), weights)
    manifest = tiny_pngs(tmp_path / "imgs", 2, [32, 40], seed=1)  # two sizes: per-image resize to 299
    code, evs, work, stderr = run_engine(
        tmp_path, "extract-features", "incep", {"extractor": "inception-v3-fid", "batchSize": 4, "device": "cpu"},
        {"images": manifest, "weights": weights},
    )
    assert code == 0, stderr
    res = result_of(evs)
    assert res["outputs"] == {"features": "features.npy", "meta": "features.json"}
    feats = np.load(work / "features.npy")
    meta = json.loads((work / "features.json").read_text())
    assert feats.shape == (2, 2048) and feats.dtype == np.float32 and np.isfinite(feats).all()
    assert meta["extractorId"] == res["summary"]["extractorId"] == "inception-v3-fid"
    assert meta["weightsSha256"] == sha(weights)
    assert meta["officialWeights"] is False  # only pt_inception-2015-12-05-6726825d.pth is official
    assert meta["dim"] == 2048
    items = json.loads(manifest.read_text())["items"]
    assert meta["sha256s"] == [i["sha256"] for i in items]


@pytest.fixture(scope="module")
def builtin_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict, bytes]:
    from synthmix_engine.classifier.resnet import build_resnet18

    tmp = tmp_path_factory.mktemp("builtin")
    torch.manual_seed(2)
    weights = tmp / "resnet18-w16.pt"
    torch.save(build_resnet18(2, 16, "cifar").state_dict(), weights)
    manifest = tiny_pngs(tmp / "imgs", 48, 32, seed=3)
    inputs = {"images": manifest, "weights": weights}
    params = {"extractor": "synthmix-builtin-v1", "extractorOptions": {"width": 16, "stem": "cifar"},
              "batchSize": 4, "device": "cpu"}
    code, evs, work, stderr = run_engine(tmp, "extract-features", "full", params, inputs)
    assert code == 0, stderr
    assert result_of(evs)["summary"]["extractorId"] == "synthmix-builtin-v1/resnet18-w16-cifar"
    return tmp, inputs, params, (work / "features.npy").read_bytes()


def test_builtin_features_in_manifest_order(builtin_setup: tuple) -> None:
    tmp, inputs, params, full = builtin_setup
    feats = np.load(tmp / "work-full" / "features.npy")
    meta = json.loads((tmp / "work-full" / "features.json").read_text())
    assert feats.shape == (48, 128) and meta["dim"] == 128
    assert meta["weightsSha256"] == sha(inputs["weights"])
    # the first 5 images alone (other batch boundaries) give the same rows, to float tolerance
    items = json.loads(inputs["images"].read_text())["items"]
    small = tmp / "small.json"
    small.write_text(json.dumps({"classes": ["dog", "cat"], "items": items[:5]}))
    code, evs, work, stderr = run_engine(tmp, "extract-features", "small", dict(params, batchSize=5), dict(inputs, images=small))
    assert code == 0, stderr
    np.testing.assert_allclose(np.load(work / "features.npy"), feats[:5], rtol=1e-4, atol=1e-5)


def test_sigkill_then_resume_is_byte_identical(builtin_setup: tuple) -> None:
    tmp, inputs, params, full = builtin_setup
    proc, work = start_engine(tmp, "extract-features", "killed", dict(params, checkpointEvery=1), inputs)
    assert proc.stdout is not None
    for line in proc.stdout:
        if json.loads(line)["event"] == "checkpoint":
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    ckpt = work / "checkpoint.npz"  # whatever the kill left: always a complete checkpoint (atomic writes)
    with np.load(ckpt) as data:
        done = json.loads(data["meta"].tobytes())["nextBatch"]
    assert 1 <= done < 12
    code, evs, work2, stderr = run_engine(tmp, "extract-features", "resumed", params, inputs, str(ckpt))
    assert code == 0, stderr
    assert result_of(evs)["summary"]["resumedFromBatch"] == done
    assert (work2 / "features.npy").read_bytes() == full
    assert json.loads((work2 / "features.json").read_text()) == json.loads((tmp / "work-full" / "features.json").read_text())


def test_sigterm_checkpoints_exits_143_then_resume_is_byte_identical(builtin_setup: tuple) -> None:
    tmp, inputs, params, full = builtin_setup
    proc, work = start_engine(tmp, "extract-features", "termed", dict(params, checkpointEvery=1000), inputs)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "progress" and len(seen) == 1:
            proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    ckpts = [e for e in seen if e["event"] == "checkpoint"]
    assert len(ckpts) == 1 and not [e for e in seen if e["event"] == "result"]
    code, evs, work2, stderr = run_engine(tmp, "extract-features", "resumed2", params, inputs, ckpts[0]["path"])
    assert code == 0, stderr
    assert result_of(evs)["summary"]["resumedFromBatch"] == ckpts[0]["step"]
    assert (work2 / "features.npy").read_bytes() == full


def test_bad_inputs_exit_3(builtin_setup: tuple) -> None:
    tmp, inputs, params, _full = builtin_setup
    items = json.loads(inputs["images"].read_text())["items"][:3]
    broken = tmp / "broken.json"
    broken.write_text(json.dumps({"classes": ["dog", "cat"], "items": items + [{"path": str(tmp / "nope.png"), "class": "cat"}]}))
    code, evs, _w, _e = run_engine(tmp, "extract-features", "missing", params, dict(inputs, images=broken))
    assert code == 3 and "nope.png" in error_of(evs)
    tampered = tmp / "tampered.json"
    tampered.write_text(json.dumps({"classes": ["dog", "cat"], "items": [dict(items[0], sha256="0" * 64)]}))
    code, evs, _w, _e = run_engine(tmp, "extract-features", "tampered", params, dict(inputs, images=tampered))
    assert code == 3 and "sha256" in error_of(evs)
    code, evs, _w, _e = run_engine(tmp, "extract-features", "unknown", dict(params, extractor="random-conv-v1"), inputs)
    assert code == 3 and "random-conv-v1" in error_of(evs)
    # a checkpoint from another batch size is refused rather than silently mixed
    ckpt = tmp / "work-killed" / "checkpoint.npz"
    if ckpt.exists():
        code, evs, _w, _e = run_engine(tmp, "extract-features", "wrongckpt", dict(params, batchSize=3), inputs, str(ckpt))
        assert code == 3 and "checkpoint" in error_of(evs)
