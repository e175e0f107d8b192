"""`evaluate-classifier`: accuracy of ResNet-18 weights on a test set, overall and per class.

inputs: test (local manifest), weights (state dict .pt or .safetensors, torchvision names, as
        train-classifier's best.pt / final.pt).
params: numClasses, width (64), stem ("auto"), imageSize, batchSize (64), device ("auto"),
        threads (torch default).
output: evaluation.json = {overallAccuracy, perClass: {class: {correct, total, accuracy}},
        confusion: [[...]] (rows = true class, columns = predicted, order = manifest classes), classes,
        labels: [int], predictions: [int] (class index per test image, manifest order)}.
summary: {overallAccuracy, perClass: {class: accuracy}, testImages}.
"""
from __future__ import annotations

import json
import os

from ..params import ParamReader
from ..protocol import PermanentError, Preemption, Spec, atomic_write, progress, result
from ..runtime import configure_determinism, select_device, set_threads


def run(spec: Spec, preemption: Preemption) -> None:  # noqa: ARG001 - one short pass, nothing to resume
    from ..classifier.data import load_dataset
    from ..classifier.evaluate import evaluation_report
    from ..classifier.resnet import build_resnet18, load_exact, read_state_dict, resolve_stem
    from ..classifier.train import predict

    p = ParamReader.of(spec)
    num_classes = p.int("numClasses")
    width = p.int("width", 64)
    image_size = p.int("imageSize")
    stem = resolve_stem(p.str("stem", "auto"), image_size)
    batch_size = p.at_least("batchSize", p.int("batchSize", 64), 1)
    threads = p.at_least("threads", p.int("threads", None), 1)
    device = select_device(p.str("device", "auto"))
    set_threads(threads)
    configure_determinism("strict")

    test = load_dataset(spec.input("test"), image_size, os.path.join(spec.work_dir, "cache"), "test")
    if len(test.classes) != num_classes:
        raise PermanentError(
            f"param numClasses is {num_classes}, the test manifest {spec.input('test')} has {len(test.classes)} classes")
    model = build_resnet18(num_classes, width, stem)
    load_exact(model, read_state_dict(spec.input("weights")), spec.input("weights"))
    model.to(device)
    predictions = predict(model, test.images, batch_size, device)
    progress("evaluate", len(test), len(test))
    report = evaluation_report(test.classes, test.labels, predictions)
    path = spec.out("evaluation.json")

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)

    atomic_write(path, write)
    result({"evaluation": "evaluation.json"}, {
        "overallAccuracy": report["overallAccuracy"],
        "perClass": {name: entry["accuracy"] for name, entry in report["perClass"].items()},
        "testImages": len(test),
    })
