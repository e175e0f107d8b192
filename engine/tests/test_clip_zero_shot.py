"""`clip-zero-shot` (§6.3 baseline) as a real engine subprocess on a tiny random CLIP saved by
transformers (tiny_models.make_tiny_clip). Oracle: transformers' own `CLIPModel(...)` forward on the
same images and prompts, run through the folder's own CLIPProcessor, computed here at test time."""
from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from synthmix_engine.commands.clip_zero_shot import ClipZeroShotConfig, load_clip
from synthmix_engine.protocol import PermanentError, Spec
from test_classifier_support import CLASSES, result_of, run_engine, start_engine, toy_images, write_manifest
from tiny_models import make_tiny_clip

# Not the model's 16 px: the processor's resize and centre crop are part of what is compared.
SIZE = 20
# Prompts within the tiny tokenizer's 16 tokens (one per character): longer ones are truncated.
ONE = {c: [f"a photo of {c}"] for c in CLASSES}
ENSEMBLE = {c: [f"a photo of {c}", f"the {c}", c] for c in CLASSES}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("clip")
    folder = root / "tiny-clip"
    make_tiny_clip(str(folder))
    return {"clip": folder, "test": toy_images(root / "test", 3, SIZE, seed=5), "root": root}


def oracle(world: dict, prompts: dict[str, list[str]]) -> np.ndarray:
    """transformers' logits for the manifest's images: `logits_per_image` of one forward over every
    prompt; with several prompts per class, CLIP's ensemble of transformers' own normalized
    `text_embeds` (mean per class, renormalized) against its `image_embeds`."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(str(world["clip"]), local_files_only=True).eval()
    processor = CLIPProcessor.from_pretrained(str(world["clip"]), local_files_only=True)
    manifest = json.loads(Path(world["test"]).read_text())
    images = [Image.open(item["path"]).convert("RGB") for item in manifest["items"]]
    flat = [p for c in manifest["classes"] for p in prompts[c]]
    inputs = processor(text=flat, images=images, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model(**inputs)
    if all(len(prompts[c]) == 1 for c in manifest["classes"]):
        return out.logits_per_image.numpy()
    rows, start = [], 0
    for c in manifest["classes"]:
        mean = out.text_embeds[start:start + len(prompts[c])].mean(dim=0)
        rows.append(mean / mean.norm())
        start += len(prompts[c])
    return (model.logit_scale.exp() * out.image_embeds @ torch.stack(rows).t()).detach().numpy()


@pytest.mark.parametrize("prompts", [ONE, ENSEMBLE], ids=["one-prompt", "ensemble"])
def test_logits_match_transformers_and_evaluation_has_evaluate_classifiers_shape(world, tmp_path, prompts):
    # batchSize 5: the 12 images go in uneven batches, which must not change a row.
    code, events, work, stderr = run_engine("clip-zero-shot", tmp_path, "run", {"prompts": prompts, "batchSize": 5,
                                            "threads": 1, "device": "cpu"}, {"model": world["clip"], "test": world["test"]})
    assert code == 0, stderr
    logits = np.load(work / "logits.npy")
    expected = oracle(world, prompts)
    assert logits.shape == (len(CLASSES) * 3, len(CLASSES))
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)

    evaluation = json.loads((work / "evaluation.json").read_text())
    labels = [CLASSES.index(item["class"]) for item in json.loads(Path(world["test"]).read_text())["items"]]
    predictions = expected.argmax(axis=1).tolist()
    assert evaluation["classes"] == CLASSES and evaluation["labels"] == labels
    assert evaluation["predictions"] == predictions
    correct = [p == t for p, t in zip(predictions, labels)]
    assert evaluation["overallAccuracy"] == pytest.approx(sum(correct) / len(correct))
    for index, name in enumerate(CLASSES):
        mine = [ok for ok, t in zip(correct, labels) if t == index]
        assert evaluation["perClass"][name] == {"correct": sum(mine), "total": 3, "accuracy": pytest.approx(sum(mine) / 3)}
    summary = result_of(events)["summary"]
    assert summary["testImages"] == 12 and summary["prompts"] == sum(len(v) for v in prompts.values())
    assert summary["perClass"] == {name: evaluation["perClass"][name]["accuracy"] for name in CLASSES}
    assert any(e["event"] == "progress" and e.get("stage") == "classify" for e in events)


def _permanent(events: list[dict]) -> str:
    assert events[-1]["event"] == "error" and events[-1]["kind"] == "permanent", events
    return events[-1]["message"]


def _config(prompts) -> ClipZeroShotConfig:
    return ClipZeroShotConfig.parse(Spec("clip-zero-shot", "/nowhere", None, {"prompts": prompts}, {}))


def test_bad_input_is_permanent_and_named(world, tmp_path):
    # Checked in-process (each engine process pays for importing torch and transformers) ...
    classes = json.loads(Path(world["test"]).read_text())["classes"]
    with pytest.raises(PermanentError, match=r"params\.prompts: no prompts for class\(es\) 'blue'"):
        _config({c: v for c, v in ONE.items() if c != "blue"}).prompts_of(classes, "the test manifest")
    with pytest.raises(PermanentError, match=r"params\.prompts\.red: needs at least one"):
        _config({**ONE, "red": []})
    with pytest.raises(PermanentError, match=r"params\.prompts\.red: expected list of str"):
        _config({**ONE, "red": "a red"})
    not_clip = tmp_path / "not-clip"
    not_clip.mkdir()
    (not_clip / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(PermanentError, match=r"model_type 'bert', expected 'clip'"):
        load_clip(str(not_clip))
    with pytest.raises(PermanentError, match=re.escape(str(tmp_path / "nowhere"))):
        load_clip(str(tmp_path / "nowhere"))
    # ... and once through the engine: exit 3, a permanent error event naming the folder.
    code, events, _, _ = run_engine("clip-zero-shot", tmp_path, "nowhere", {"prompts": ONE},
                                    {"model": tmp_path / "nowhere", "test": world["test"]})
    assert code == 3 and str(tmp_path / "nowhere") in _permanent(events)


def test_sigterm_stops_between_batches_with_exit_143_and_no_result(world, tmp_path):
    # One image listed many times, one per batch: long enough to be stopped after its first batch.
    item = json.loads(Path(world["test"]).read_text())["items"][0]
    many = write_manifest(tmp_path / "many.json", CLASSES, [item] * 3000)
    proc, work = start_engine("clip-zero-shot", tmp_path, "term", {"prompts": ONE, "batchSize": 1, "threads": 1},
                              {"model": world["clip"], "test": many})
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "progress" and events[-1].get("stage") == "classify":
            break
    proc.send_signal(signal.SIGTERM)
    rest, stderr = proc.communicate(timeout=120)
    events += [json.loads(line) for line in rest.splitlines() if line.strip()]
    assert proc.returncode == 143, stderr
    assert not any(e["event"] == "result" for e in events)
    assert not (work / "evaluation.json").exists()
