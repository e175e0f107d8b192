"""`clip-zero-shot`: the paper's §6.3 baseline — classify a test set with a CLIP model, no training.

inputs: model (a CLIP folder in transformers layout: config.json of model_type "clip", the weights,
        a tokenizer and an image processor config, as `CLIPModel` / `CLIPProcessor.save_pretrained`
        write them), test (local manifest).
params: prompts {class: [prompt, ...]} — every manifest class needs at least one (the sweep fills its
        generator templates with each class's words); batchSize (32); device ("auto"); threads.
output: evaluation.json — the shape of evaluate-classifier's (overallAccuracy, perClass {correct,
        total, accuracy}, confusion, classes, labels, predictions), so the report reads both alike;
        logits.npy — float32 N×C, row i = manifest item i, columns in manifest class order.
summary: {overallAccuracy, perClass: {class: accuracy}, testImages, prompts, environment}.

A class's text embedding is the normalized mean of its prompts' normalized embeddings (CLIP's
prompt ensemble); with one prompt per class the logits are exactly `CLIPModel(...).logits_per_image`
(engine/tests/test_clip_zero_shot.py checks that against transformers). One short pass, so no
checkpoint: on SIGTERM it stops between batches (exit 143) and a retry starts over. Progress: "text"
(prompts encoded) then "classify" (images), one event per batch (the runner heartbeats on them).
"""
from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass
from typing import Any

from ..manifest import LocalManifest, read_item, read_manifest
from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, atomic_write, progress, result

# Nothing here downloads: the model is a local folder (as for the diffusion commands).
os.environ["HF_HUB_OFFLINE"] = "1"


@dataclass(frozen=True)
class ClipZeroShotConfig:
    # (class, its prompts) in the order given; matched to the manifest's classes by name.
    prompts: tuple[tuple[str, tuple[str, ...]], ...]
    batch_size: int
    device: str
    threads: int | None

    @staticmethod
    def parse(spec: Spec) -> "ClipZeroShotConfig":
        p = ParamReader.of(spec)
        raw = p.object("prompts")
        nested = p.nested("prompts", raw)
        prompts = []
        for name in raw:
            listed = nested.strings(name)
            if not listed or any(not s.strip() for s in listed):
                raise nested.fail(name, "needs at least one non-empty prompt")
            prompts.append((name, listed))
        return ClipZeroShotConfig(
            prompts=tuple(prompts),
            batch_size=p.at_least("batchSize", p.int("batchSize", 32), 1),
            device=p.str("device", "auto"),
            threads=p.at_least("threads", p.int("threads", None), 1),
        )

    def prompts_of(self, classes: list[str], where: str) -> list[tuple[str, ...]]:
        """Each manifest class's prompts, in manifest order; a class without any is bad input."""
        given = dict(self.prompts)
        missing = [name for name in classes if name not in given]
        if missing:
            raise PermanentError(f"params.prompts: no prompts for class(es) {', '.join(repr(m) for m in missing)} of {where}")
        return [given[name] for name in classes]


def load_clip(folder: str) -> tuple[Any, Any]:
    """(CLIPModel in eval mode, its processor) from a local folder; a folder that is not a CLIP model
    is bad input naming it (retrying cannot fix it)."""
    config_path = os.path.join(folder, "config.json")
    try:
        with open(config_path, encoding="utf-8") as handle:
            model_type = json.load(handle).get("model_type")
    except (OSError, ValueError, AttributeError) as error:
        raise PermanentError(f"input 'model': {folder} is not a CLIP folder in transformers layout "
                             f"(cannot read config.json: {error})") from error
    if model_type != "clip":
        raise PermanentError(f"input 'model': {config_path} has model_type {model_type!r}, expected 'clip'")
    from transformers import AutoProcessor, CLIPModel

    try:
        model = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
        processor = AutoProcessor.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError) as error:
        raise PermanentError(f"input 'model': cannot load the CLIP model or its processor from {folder}: {error}") from error
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
        raise PermanentError(f"input 'model': {folder} has no tokenizer and image processor (CLIPProcessor) next to the model")
    return model, processor


def class_embeddings(model: Any, processor: Any, prompts: list[tuple[str, ...]], device: Any, batch_size: int,
                     preemption: Preemption) -> Any:
    """C×D unit vectors: per class, the normalized mean of its prompts' normalized text embeddings.
    Prompts are encoded batch_size at a time (classes × templates can be tens of thousands)."""
    import torch

    flat = [prompt for listed in prompts for prompt in listed]
    parts = []
    for start in range(0, len(flat), batch_size):
        if preemption.requested:
            raise Preempted()
        tokens = processor.tokenizer(flat[start:start + batch_size], padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            pooled = model.text_model(input_ids=tokens["input_ids"].to(device),
                                      attention_mask=tokens["attention_mask"].to(device)).pooler_output
            parts.append(model.text_projection(pooled))
        progress("text", min(start + batch_size, len(flat)), len(flat))
    embeds = torch.cat(parts)
    embeds = embeds / embeds.norm(dim=-1, keepdim=True)
    rows, start = [], 0
    for listed in prompts:
        mean = embeds[start:start + len(listed)].mean(dim=0)
        rows.append(mean / mean.norm())
        start += len(listed)
    return torch.stack(rows)


def image_logits(model: Any, processor: Any, images: list[Any], text: Any, device: Any) -> Any:
    """B×C logits as CLIP scores them: exp(logit_scale) · cos(image, class text)."""
    import torch

    pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"].to(device)
    with torch.no_grad():
        embeds = model.visual_projection(model.vision_model(pixel_values=pixels).pooler_output)
        embeds = embeds / embeds.norm(dim=-1, keepdim=True)
        return model.logit_scale.exp() * embeds @ text.t()


def _image(manifest: LocalManifest, index: int) -> Any:
    from PIL import Image

    data, _ = read_item(manifest, index)
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.convert("RGB")
    except Exception as error:  # noqa: BLE001 - any decode failure is bad input
        raise PermanentError(f"{manifest.where()}: image {index} ({manifest.files[index]}): cannot decode: {error}") from error


def run(spec: Spec, preemption: Preemption) -> None:
    import numpy as np
    import torch

    from ..classifier.evaluate import evaluation_report
    from ..runtime import configure_determinism, environment, select_device, set_threads

    cfg = ClipZeroShotConfig.parse(spec)
    test = read_manifest(spec.input("test"), "test")
    prompts = cfg.prompts_of(test.classes, test.where())
    set_threads(cfg.threads)
    device = select_device(cfg.device)
    configure_determinism("strict", device)
    model, processor = load_clip(spec.input("model"))
    model.to(device)

    text = class_embeddings(model, processor, prompts, device, cfg.batch_size, preemption)
    n = len(test)
    logits = np.empty((n, len(test.classes)), dtype=np.float32)
    for start in range(0, n, cfg.batch_size):
        # A safe point: nothing is kept between batches, so a preempted run simply starts over.
        if preemption.requested:
            raise Preempted()
        stop = min(start + cfg.batch_size, n)
        batch = image_logits(model, processor, [_image(test, i) for i in range(start, stop)], text, device)
        logits[start:stop] = batch.float().cpu().numpy()
        progress("classify", stop, n)
    if not np.isfinite(logits).all():
        raise PermanentError(f"CLIP model {spec.input('model')} gave non-finite logits")

    labels = torch.tensor([test.classes.index(item["class"]) for item in test.items], dtype=torch.int64)
    report = evaluation_report(test.classes, labels, torch.from_numpy(logits).argmax(dim=1))

    def write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)

    def write_npy(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, logits, allow_pickle=False)

    atomic_write(spec.out("evaluation.json"), write_json)
    atomic_write(spec.out("logits.npy"), write_npy)
    result({"evaluation": "evaluation.json", "logits": "logits.npy"}, {
        "overallAccuracy": report["overallAccuracy"],
        "perClass": {name: entry["accuracy"] for name, entry in report["perClass"].items()},
        "testImages": n,
        "prompts": sum(len(listed) for listed in prompts),
        "environment": environment(device),
    })
