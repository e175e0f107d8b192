"""End-to-end tests of `train-classifier` / `evaluate-classifier` as real engine subprocesses:
learning, the three init modes, SIGKILL / SIGTERM + exact resume, bad inputs, evaluation."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import torch

from synthmix_engine.classifier.resnet import build_resnet18
from test_classifier_support import (CLASSES, result_of, run_engine, sha256, start_engine, toy_images,
                                     write_manifest)

SIZE = 16
BASE = {"mode": "scratch", "numClasses": 4, "width": 8, "stem": "cifar", "imageSize": SIZE, "epochs": 5,
        "batchSize": 16, "lr": 0.05, "momentum": 0.9, "seed": 0, "threads": 1, "device": "cpu"}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    return {"train": toy_images(root / "train", 24, SIZE, seed=10),
            "val": toy_images(root / "val", 8, SIZE, seed=11),
            "test": toy_images(root / "test", 10, SIZE, seed=12),
            "root": root}


@pytest.fixture(scope="module")
def pretrained(toy) -> Path:
    """'Pretrained' weights in torchvision format: a width-8 model with random weights and
    non-trivial batch-norm statistics, 10 classes (so fc is replaced)."""
    torch.manual_seed(42)
    model = build_resnet18(10, width=8, stem="cifar")
    state = model.state_dict()
    for name, tensor in state.items():
        if name.endswith("running_mean"):
            tensor.copy_(torch.randn_like(tensor) * 0.1)
        elif name.endswith("running_var"):
            tensor.copy_(torch.rand_like(tensor) + 0.5)
        elif name.endswith("num_batches_tracked"):
            tensor.fill_(1000)
    path = toy["root"] / "pretrained.pt"
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def scratch_run(toy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scratch")
    code, events, work, stderr = run_engine("train-classifier", tmp, "run", BASE,
                                            {"train": toy["train"], "val": toy["val"]})
    assert code == 0, stderr
    return events, work


def test_scratch_learns_the_toy_task_and_evaluates(scratch_run, toy, tmp_path):
    events, work = scratch_run
    summary = result_of(events)["summary"]
    progress = [e for e in events if e["event"] == "progress" and e["stage"] == "train"]
    assert [e["step"] for e in progress] == [1, 2, 3, 4, 5] and all(e["total"] == 5 for e in progress)
    assert all({"loss", "trainAcc", "valAcc", "imagesPerSec"} <= set(e) for e in progress)
    assert summary["bestValAcc"] >= 0.9, summary  # chance is 0.25
    assert summary["trainImages"] == 96 and summary["valImages"] == 32 and summary["epochs"] == 5
    assert summary["bestSha256"] == sha256(work / "best.pt")
    # Where the numbers were computed: what decides whether another run can repeat them exactly.
    env = summary["environment"]
    assert env["torch"] == torch.__version__ and env["torchCpuCapability"] == torch.backends.cpu.get_cpu_capability()
    assert env["cpu"] and isinstance(env["isa"], list) and env["gpu"] is None
    if "BLAS_INFO=" in torch.__config__.show():
        assert env["blas"] and env["blas"] in torch.__config__.show()
    metrics = json.loads((work / "metrics.json").read_text())
    assert metrics["bestEpoch"] == summary["bestEpoch"] and metrics["bestValAcc"] == summary["bestValAcc"]
    assert [m["valAcc"] for m in metrics["epochs"]] == [e["valAcc"] for e in progress]
    assert max(m["valAcc"] for m in metrics["epochs"]) == metrics["bestValAcc"]
    assert metrics["epochs"][-1]["loss"] < metrics["epochs"][0]["loss"]
    assert len([e for e in events if e["event"] == "checkpoint"]) == 5
    best = torch.load(work / "best.pt", weights_only=True)
    assert list(best)[0] == "conv1.weight" and "layer4.1.bn2.running_var" in best and best["fc.weight"].shape == (4, 64)

    params = {k: BASE[k] for k in ("numClasses", "width", "stem", "imageSize", "threads", "device")}
    code, events, eval_work, stderr = run_engine("evaluate-classifier", tmp_path, "eval", dict(params, batchSize=32),
                                                 {"test": toy["test"], "weights": work / "best.pt"})
    assert code == 0, stderr
    report = json.loads((eval_work / "evaluation.json").read_text())
    assert report["classes"] == CLASSES and report["overallAccuracy"] >= 0.9
    assert sum(map(sum, report["confusion"])) == 40
    assert len(report["labels"]) == len(report["predictions"]) == 40
    assert sum(l == q for l, q in zip(report["labels"], report["predictions"])) / 40 == report["overallAccuracy"]
    assert result_of(events)["summary"]["overallAccuracy"] == report["overallAccuracy"]


def test_scratch_ignores_pretrained(scratch_run, toy, pretrained, tmp_path):
    code, events, _, stderr = run_engine("train-classifier", tmp_path, "run", BASE,
                                         {"train": toy["train"], "val": toy["val"], "pretrained": pretrained})
    assert code == 0, stderr
    assert result_of(events)["summary"]["bestSha256"] == result_of(scratch_run[0])["summary"]["bestSha256"]


def test_frozen_changes_only_fc_and_keeps_bn_statistics(toy, pretrained, tmp_path):
    params = dict(BASE, mode="frozen", epochs=2)
    code, events, work, stderr = run_engine("train-classifier", tmp_path, "run", params,
                                            {"train": toy["train"], "val": toy["val"], "pretrained": pretrained})
    assert code == 0, stderr
    assert result_of(events)["summary"]["fcReplaced"] is True
    before = torch.load(pretrained, weights_only=True)
    after = torch.load(work / "final.pt", weights_only=True)
    assert set(after) == set(before)
    for name, tensor in after.items():
        if name.startswith("fc."):
            assert tensor.shape[0] == 4
        else:
            assert torch.equal(tensor, before[name]), f"frozen mode changed {name}"
    torch.manual_seed(0)  # fc moved away from its fresh init
    assert not torch.equal(after["fc.weight"], build_resnet18(4, 8, "cifar").fc.weight)


def test_finetune_changes_the_backbone(toy, pretrained, tmp_path):
    params = dict(BASE, mode="finetune", epochs=1)
    code, _, work, stderr = run_engine("train-classifier", tmp_path, "run", params,
                                       {"train": toy["train"], "val": toy["val"], "pretrained": pretrained})
    assert code == 0, stderr
    before = torch.load(pretrained, weights_only=True)
    after = torch.load(work / "final.pt", weights_only=True)
    for name in ("conv1.weight", "layer1.0.conv1.weight", "layer4.1.conv2.weight", "bn1.running_mean"):
        assert not torch.equal(after[name], before[name]), name
    assert after["bn1.num_batches_tracked"].item() == 1000 + 6


# ------------------------------------------------------------------ preemption and resume
RESUME = dict(BASE, epochs=6, lrSchedule="cosine", randAugment={"n": 2, "m": 9}, seed=5, batchSize=8)


def _outputs(work: Path) -> tuple[str, str, str]:
    return sha256(work / "best.pt"), sha256(work / "final.pt"), (work / "metrics.json").read_text()


@pytest.fixture(scope="module")
def uninterrupted(toy, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("uninterrupted")
    code, events, work, stderr = run_engine("train-classifier", tmp, "run", RESUME, {"train": toy["train"], "val": toy["val"]})
    assert code == 0, stderr
    return _outputs(work), events


def _read_events_until(proc, predicate) -> list[dict]:
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if predicate(events):
            break
    return events


def test_sigkill_after_second_checkpoint_then_resume_is_bit_identical(toy, uninterrupted, tmp_path):
    inputs = {"train": toy["train"], "val": toy["val"]}
    proc, _ = start_engine("train-classifier", tmp_path, "killed", RESUME, inputs)
    events = _read_events_until(proc, lambda ev: sum(e["event"] == "checkpoint" for e in ev) == 2)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    checkpoint = [e for e in events if e["event"] == "checkpoint"][-1]
    assert checkpoint["step"] == 2
    code, resumed_events, work, stderr = run_engine("train-classifier", tmp_path, "resumed", RESUME, inputs,
                                                    resume_from=checkpoint["path"])
    assert code == 0, stderr
    summary = result_of(resumed_events)["summary"]
    assert summary["resumedFromEpoch"] >= 2
    first_step = [e for e in resumed_events if e["event"] == "progress"][0]["step"]
    assert first_step == summary["resumedFromEpoch"] + 1
    assert _outputs(work) == uninterrupted[0]
    assert summary["bestSha256"] == result_of(uninterrupted[1])["summary"]["bestSha256"]


def test_sigterm_mid_epoch_exits_143_with_checkpoint_and_resumes_exactly(toy, uninterrupted, tmp_path):
    inputs = {"train": toy["train"], "val": toy["val"]}
    proc, _ = start_engine("train-classifier", tmp_path, "term", RESUME, inputs)
    events = _read_events_until(proc, lambda ev: any(e["event"] == "checkpoint" for e in ev))
    proc.send_signal(signal.SIGTERM)
    rest, stderr = proc.communicate(timeout=120)
    events += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 143, stderr
    assert "SIGTERM: checkpointed at epoch" in stderr
    print(stderr.strip().splitlines()[-1])
    assert events[-1]["event"] == "checkpoint" and not any(e["event"] == "result" for e in events)
    completed = max(e["step"] for e in events if e["event"] == "progress")
    ckpt = torch.load(events[-1]["path"], weights_only=True)
    assert ckpt["epoch"] == completed >= 1  # no completed epoch lost
    assert ckpt["epoch"] < RESUME["epochs"]
    if ckpt["batch"] > 0:  # stopped between two batches: the exact position is kept
        assert ckpt["perm"] is not None and ckpt["batch"] < 12
    code, resumed_events, work, stderr = run_engine("train-classifier", tmp_path, "resumed", RESUME, inputs,
                                                    resume_from=events[-1]["path"])
    assert code == 0, stderr
    assert _outputs(work) == uninterrupted[0]


def test_resume_with_other_params_is_refused(toy, tmp_path):
    inputs = {"train": toy["train"], "val": toy["val"]}
    code, events, work, _ = run_engine("train-classifier", tmp_path, "one", dict(BASE, epochs=1), inputs)
    assert code == 0
    code, events, _, _ = run_engine("train-classifier", tmp_path, "two", dict(BASE, epochs=1, lr=0.1), inputs,
                                    resume_from=str(work / "checkpoint.pt"))
    assert code == 3 and "lr: 0.05 -> 0.1" in events[-1]["message"]


# ------------------------------------------------------------------ bad inputs
def _bad_manifest(toy, tmp: Path, kind: str) -> Path:
    manifest = json.loads(toy["train"].read_text())
    items = manifest["items"]
    if kind == "missing":
        items[3] = dict(items[3], path=str(tmp / "gone.png"))
    elif kind == "corrupt":
        bad = tmp / "corrupt.png"
        data = bytearray(Path(items[5]["path"]).read_bytes())
        data[60:80] = b"\x00" * 20
        bad.write_bytes(bytes(data))
        items[5] = dict(items[5], path=str(bad))  # sha256 is the original file's
    return write_manifest(tmp / f"{kind}.json", manifest["classes"], items)


@pytest.mark.parametrize("kind,expected", [
    ("missing", "gone.png"),
    ("corrupt", "corrupt.png"),
    ("classes", "numClasses is 5"),
    ("shape", "'conv1.weight' has shape (8, 3, 3, 3)"),
    ("nopretrained", "needs the input 'pretrained'"),
])
def test_bad_inputs_exit_3_naming_the_problem(toy, pretrained, tmp_path, kind, expected):
    inputs = {"train": toy["train"], "val": toy["val"]}
    params = dict(BASE, epochs=1)
    if kind in ("missing", "corrupt"):
        inputs["train"] = _bad_manifest(toy, tmp_path, kind)
    elif kind == "classes":
        params["numClasses"] = 5
    elif kind == "shape":  # width-8 cifar weights into a width-8 imagenet-stem model
        params.update(mode="finetune", stem="imagenet")
        inputs["pretrained"] = pretrained
    elif kind == "nopretrained":
        params["mode"] = "frozen"
    code, events, _, stderr = run_engine("train-classifier", tmp_path, "bad", params, inputs)
    assert code == 3, stderr
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "permanent"
    assert expected in events[-1]["message"], events[-1]["message"]
    if kind == "shape":
        assert "(8, 3, 7, 7)" in events[-1]["message"]


def test_evaluate_exact_numbers_with_a_known_predictor(toy, tmp_path):
    """Weights whose fc ignores the image and always says class 2 ('blue'): every number is known."""
    counts = {"red": 3, "green": 2, "blue": 4, "yellow": 1}
    source = json.loads(toy["test"].read_text())["items"]
    items = [item for name, n in counts.items() for item in [i for i in source if i["class"] == name][:n]]
    manifest = write_manifest(tmp_path / "test.json", CLASSES, items)
    model = build_resnet18(4, 8, "cifar")
    with torch.no_grad():
        model.fc.weight.zero_()
        model.fc.bias.copy_(torch.tensor([0.0, 0.0, 5.0, 0.0]))
    weights = tmp_path / "constant.pt"
    torch.save(model.state_dict(), weights)
    params = {"numClasses": 4, "width": 8, "stem": "cifar", "imageSize": SIZE, "batchSize": 4, "threads": 1}
    code, events, work, stderr = run_engine("evaluate-classifier", tmp_path, "eval", params,
                                            {"test": manifest, "weights": weights})
    assert code == 0, stderr
    report = json.loads((work / "evaluation.json").read_text())
    assert report["overallAccuracy"] == 0.4
    assert report["confusion"] == [[0, 0, 3, 0], [0, 0, 2, 0], [0, 0, 4, 0], [0, 0, 1, 0]]
    assert report["perClass"] == {"red": {"correct": 0, "total": 3, "accuracy": 0.0},
                                  "green": {"correct": 0, "total": 2, "accuracy": 0.0},
                                  "blue": {"correct": 4, "total": 4, "accuracy": 1.0},
                                  "yellow": {"correct": 0, "total": 1, "accuracy": 0.0}}
    summary = result_of(events)["summary"]
    assert summary["perClass"] == {"red": 0.0, "green": 0.0, "blue": 1.0, "yellow": 0.0}
    code, events, _, _ = run_engine("evaluate-classifier", tmp_path, "eval5", dict(params, numClasses=5),
                                    {"test": manifest, "weights": weights})
    assert code == 3 and "numClasses is 5" in events[-1]["message"]
