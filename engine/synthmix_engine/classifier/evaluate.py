"""Classification metrics: confusion matrix (rows = true class, columns = predicted class, in the
manifest's class order), per-class and overall accuracy."""
from __future__ import annotations

from typing import Any, Sequence

import torch


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> list[list[int]]:
    labels = torch.as_tensor(labels, dtype=torch.int64).flatten()
    predictions = torch.as_tensor(predictions, dtype=torch.int64).flatten()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.numel()} labels but {predictions.numel()} predictions")
    flat = torch.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat.view(num_classes, num_classes).tolist()


def evaluation_report(classes: Sequence[str], labels: torch.Tensor, predictions: torch.Tensor) -> dict[str, Any]:
    """{overallAccuracy, perClass: {class: {correct, total, accuracy}}, confusion, classes, labels,
    predictions}. A class with no test image has accuracy null. `labels` / `predictions` are the class
    indices per test image in manifest order: the report bootstraps over test images and pairs two
    classifiers image by image (same test set), which counts alone cannot do."""
    confusion = confusion_matrix(labels, predictions, len(classes))
    per_class: dict[str, dict[str, Any]] = {}
    correct_all = total_all = 0
    for index, name in enumerate(classes):
        total = sum(confusion[index])
        correct = confusion[index][index]
        per_class[name] = {"correct": correct, "total": total, "accuracy": (correct / total) if total else None}
        correct_all += correct
        total_all += total
    return {
        "overallAccuracy": (correct_all / total_all) if total_all else None,
        "perClass": per_class,
        "confusion": confusion,
        "classes": list(classes),
        "labels": torch.as_tensor(labels, dtype=torch.int64).flatten().tolist(),
        "predictions": torch.as_tensor(predictions, dtype=torch.int64).flatten().tolist(),
    }
