"""In-process tests of the classifier pieces: ResNet-18 names/shapes, loading torchvision-format
weights, the data cache and its errors, the metric function, and exact mid-epoch resume."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from synthmix_engine.classifier.data import load_dataset
from synthmix_engine.classifier.evaluate import confusion_matrix, evaluation_report
from synthmix_engine.classifier.resnet import (build_resnet18, choose_stem, cpu_state_dict, load_exact,
                                               load_pretrained, read_state_dict)
from synthmix_engine.classifier.train import Trainer, TrainConfig
from synthmix_engine.protocol import PermanentError
from test_classifier_support import CLASSES, toy_images, torchvision_resnet18_shapes, write_manifest


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models on a shared 2-core machine: one intra-op thread is far faster (no spinning)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _torchvision_state(num_classes: int = 1000, seed: int = 7) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    state = {}
    for name, shape in torchvision_resnet18_shapes(num_classes):
        if name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(12345, dtype=torch.int64)
        elif name.endswith("running_var"):
            state[name] = torch.rand(shape, generator=g) + 0.5
        else:
            state[name] = torch.randn(shape, generator=g)
    return state


def test_parameter_names_and_shapes_are_torchvision_resnet18s():
    model = build_resnet18(1000, width=64, stem="imagenet")
    ours = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert ours == torchvision_resnet18_shapes(1000)
    assert sum(p.numel() for p in model.parameters()) == 11_689_512  # torchvision's resnet18 count
    small = build_resnet18(4, width=8, stem="cifar").state_dict()
    assert list(small) == [k for k, _ in torchvision_resnet18_shapes(4)]
    assert small["conv1.weight"].shape == (8, 3, 3, 3)
    assert small["layer4.1.conv2.weight"].shape == (64, 64, 3, 3) and small["fc.weight"].shape == (4, 64)
    assert choose_stem(224) == "imagenet" and choose_stem(128) == "imagenet" and choose_stem(32) == "cifar"
    assert build_resnet18(3, 8, "auto", image_size=160).stem == "imagenet"


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_torchvision_state_dict_loads_and_fc_is_replaced(tmp_path, fmt):
    state = _torchvision_state(1000)
    path = tmp_path / f"resnet18.{fmt}"
    if fmt == "pt":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    loaded = read_state_dict(str(path))
    torch.manual_seed(0)
    model = build_resnet18(10, width=64, stem="imagenet")
    fresh_fc = model.fc.weight.detach().clone()
    assert load_pretrained(model, loaded, str(path)) is True  # class count differs: fc replaced
    after = model.state_dict()
    for name, tensor in state.items():
        if not name.startswith("fc."):
            assert torch.equal(after[name], tensor), name
    assert after["fc.weight"].shape == (10, 512) and torch.equal(after["fc.weight"], fresh_fc)
    model.eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64)
        assert model.forward_features(x).shape == (2, 512)
        assert model(x).shape == (2, 10)
    same = build_resnet18(1000, width=64, stem="imagenet")
    assert load_pretrained(same, loaded) is False  # same class count: fc loaded too
    assert torch.equal(same.fc.weight, state["fc.weight"])


def test_wrong_shape_or_foreign_pretrained_names_the_parameter():
    state = _torchvision_state(1000)
    with pytest.raises(PermanentError, match=r"'conv1\.weight' has shape \(64, 3, 7, 7\).*expects \(64, 3, 3, 3\)"):
        load_pretrained(build_resnet18(10, 64, "cifar"), state, "w.pt")
    narrow = build_resnet18(10, 32, "imagenet")
    with pytest.raises(PermanentError, match=r"'conv1\.weight' has shape \(64, 3, 7, 7\).*\(32, 3, 7, 7\)"):
        load_pretrained(narrow, state, "w.pt")
    extra = dict(state, **{"layer1.2.conv1.weight": torch.zeros(64, 64, 3, 3)})
    with pytest.raises(PermanentError, match=r"layer1\.2\.conv1\.weight"):
        load_pretrained(build_resnet18(10, 64, "imagenet"), extra, "w.pt")
    missing = {k: v for k, v in state.items() if k != "layer3.1.bn2.running_var"}
    with pytest.raises(PermanentError, match=r"lack the parameter 'layer3\.1\.bn2\.running_var'"):
        load_pretrained(build_resnet18(10, 64, "imagenet"), missing, "w.pt")


def test_pretrained_without_bn_counters_loads_but_a_checkpoint_must_have_them():
    """Published torchvision files may lack `num_batches_tracked`: pretrained weights load without
    them (the counters stay 0), a checkpoint (`load_exact`, exact resume) still needs every buffer."""
    state = {k: v for k, v in _torchvision_state(1000).items() if not k.endswith("num_batches_tracked")}
    model = build_resnet18(1000, 64, "imagenet")
    assert load_pretrained(model, state, "w.pt") is False
    after = model.state_dict()
    assert torch.equal(after["layer3.1.bn2.running_var"], state["layer3.1.bn2.running_var"])
    assert after["layer3.1.bn2.num_batches_tracked"].item() == 0
    with pytest.raises(PermanentError, match=r"ckpt lack the parameter 'bn1\.num_batches_tracked'"):
        load_exact(build_resnet18(1000, 64, "imagenet"), state, "ckpt")


def test_confusion_and_per_class_numbers_are_exact():
    classes = ["a", "b", "c"]
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    preds = torch.tensor([0, 1, 0, 1, 2, 2, 2, 0, 2])
    assert confusion_matrix(labels, preds, 3) == [[2, 1, 0], [0, 1, 1], [1, 0, 3]]
    report = evaluation_report(classes + ["d"], labels, preds)
    assert report["overallAccuracy"] == 6 / 9
    assert report["perClass"]["a"] == {"correct": 2, "total": 3, "accuracy": 2 / 3}
    assert report["perClass"]["b"] == {"correct": 1, "total": 2, "accuracy": 0.5}
    assert report["perClass"]["c"] == {"correct": 3, "total": 4, "accuracy": 0.75}
    assert report["perClass"]["d"] == {"correct": 0, "total": 0, "accuracy": None}
    assert report["confusion"][3] == [0, 0, 0, 0] and report["classes"] == ["a", "b", "c", "d"]
    # Per test image, manifest order (what the report bootstraps and pairs by image).
    assert report["labels"] == labels.tolist() and report["predictions"] == preds.tolist()
    for index, name in enumerate(classes):
        pairs = [(l, q) for l, q in zip(report["labels"], report["predictions"]) if l == index]
        assert sum(l == q for l, q in pairs) == report["perClass"][name]["correct"]


def test_dataset_cache_and_bad_files(tmp_path):
    manifest = toy_images(tmp_path / "imgs", 2, 16, seed=1)
    cache = tmp_path / "work" / "cache"
    data = load_dataset(str(manifest), 16, str(cache))
    assert data.images.dtype == torch.uint8 and data.images.shape == (8, 3, 16, 16)
    assert data.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and data.classes == CLASSES
    assert len(list(cache.glob("*.pt"))) == 1
    again = load_dataset(str(manifest), 16, str(cache))  # from the cache
    assert torch.equal(again.images, data.images) and again.fingerprint == data.fingerprint

    items = json.loads(manifest.read_text())["items"]
    first = items[0]["path"]
    cases = {
        "size": (items, 32, r"is 16x16, imageSize is 32x32"),
        "class": ([dict(items[0], **{"class": "purple"})] + items[1:], 16, r"class 'purple'"),
        "missing": ([dict(items[0], path=str(tmp_path / "nope.png"))] + items[1:], 16, r"nope\.png"),
        "sha": ([dict(items[0], sha256="0" * 64)] + items[1:], 16, r"sha256 .*the manifest says 0000"),
    }
    for name, (case_items, size, pattern) in cases.items():
        path = write_manifest(tmp_path / f"{name}.json", CLASSES, case_items)
        with pytest.raises(PermanentError, match=pattern) as info:
            load_dataset(str(path), size, str(cache))
        if name in ("size", "class", "sha"):
            assert first in str(info.value)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    path = write_manifest(tmp_path / "broken.json", CLASSES, [{"path": str(broken), "class": "red"}] + items[1:])
    with pytest.raises(PermanentError, match=r"cannot decode image file .*broken\.png"):
        load_dataset(str(path), 16, str(cache))


def _trainer(train, val, **overrides) -> Trainer:
    cfg = TrainConfig(mode="scratch", num_classes=4, width=4, stem="cifar", image_size=16, epochs=3, batch_size=8,
                      lr=0.05, lr_schedule="cosine", seed=3, rand_augment={"n": 2, "m": 9}, **overrides)
    return Trainer(cfg, train, val, torch.device("cpu"))


def test_mid_epoch_stop_and_resume_is_bit_identical(tmp_path):
    """Stop between two batches of epoch 2 (as SIGTERM would), checkpoint through torch.save,
    restore into a fresh trainer: best/final weights and metrics equal the uninterrupted run's."""
    train = load_dataset(str(toy_images(tmp_path / "train", 8, 16, seed=2)), 16, str(tmp_path / "cache"))
    val = load_dataset(str(toy_images(tmp_path / "val", 3, 16, seed=3)), 16, str(tmp_path / "cache"))

    reference = _trainer(train, val)
    while reference.epoch < 3:
        assert reference.train_epoch()
        reference.finish_epoch()

    first = _trainer(train, val)
    assert first.train_epoch()
    first.finish_epoch()
    calls = iter(range(100))
    assert first.train_epoch(lambda: next(calls) >= 1) is False  # stopped after 2 of 4 batches
    assert first.batch == 2 and first.epoch == 1
    torch.save(first.checkpoint(), tmp_path / "ckpt.pt")
    torch.manual_seed(999)  # disturb the global RNG: the checkpoint must restore it
    resumed = _trainer(train, val)
    resumed.restore(torch.load(tmp_path / "ckpt.pt", weights_only=True), "ckpt.pt")
    while resumed.epoch < 3:
        assert resumed.train_epoch()
        resumed.finish_epoch()

    assert resumed.metrics == reference.metrics
    assert resumed.best_epoch == reference.best_epoch
    for name, tensor in reference.final_state().items():
        assert torch.equal(resumed.final_state()[name], tensor), name
        assert torch.equal(resumed.best_state[name], reference.best_state[name]), name


def test_best_state_is_a_copy_not_the_live_model(tmp_path):
    train = load_dataset(str(toy_images(tmp_path / "train", 4, 16, seed=4)), 16, str(tmp_path / "cache"))
    val = load_dataset(str(toy_images(tmp_path / "val", 2, 16, seed=5)), 16, str(tmp_path / "cache"))
    trainer = Trainer(
        TrainConfig(mode="scratch", num_classes=4, width=4, stem="cifar", image_size=16, epochs=2, batch_size=8,
                    lr=0.05, seed=1), train, val, torch.device("cpu"))
    trainer.train_epoch()
    trainer.finish_epoch()
    snapshot = {k: v.clone() for k, v in trainer.best_state.items()}
    trainer.best_val_acc = 2.0  # no later epoch can replace the best: it must stay epoch 1's weights
    trainer.train_epoch()
    trainer.finish_epoch()
    live = cpu_state_dict(trainer.model)
    assert not torch.equal(live["conv1.weight"], snapshot["conv1.weight"])
    for name, tensor in snapshot.items():
        assert torch.equal(trainer.best_state[name], tensor), name


def _frozen_pretrained(width: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(21)
    state = build_resnet18(10, width, "cifar").state_dict()
    for name, tensor in state.items():  # non-trivial batch-norm statistics, as a trained backbone has
        if name.endswith("running_mean"):
            tensor.copy_(torch.randn_like(tensor) * 0.1)
        elif name.endswith("running_var"):
            tensor.copy_(torch.rand_like(tensor) + 0.5)
    return state


@pytest.mark.parametrize("batch_size", [8, 9])
def test_frozen_feature_cache_gives_the_same_bytes_as_per_batch_forwards(tmp_path, batch_size):
    """Mode frozen trains fc on backbone features computed once per image: weights, metrics and a
    mid-epoch checkpoint + resume must equal the per-batch path's, byte for byte. 28 train and 28
    validation images: batches of 8 end with a short batch of 4; batches of 9 with ONE image (a
    batch of one runs other kernels: dropped in training, run by validation)."""
    train = load_dataset(str(toy_images(tmp_path / "train", 7, 16, seed=8)), 16, str(tmp_path / "cache"))
    val = load_dataset(str(toy_images(tmp_path / "val", 7, 16, seed=9)), 16, str(tmp_path / "cache"))
    cfg = TrainConfig(mode="frozen", num_classes=4, width=8, stem="cifar", image_size=16, epochs=3,
                      batch_size=batch_size,
                      lr=0.05, weight_decay=1e-4, lr_schedule="cosine", seed=5)
    pretrained = _frozen_pretrained(8)

    def run(feature_cache: bool, stop_at: int | None = None) -> Trainer:
        trainer = Trainer(cfg, train, val, torch.device("cpu"), pretrained, feature_cache=feature_cache)
        assert trainer.use_feature_cache is feature_cache
        while trainer.epoch < cfg.epochs:
            if stop_at is not None and trainer.epoch == 1:
                calls = iter(range(100))
                assert trainer.train_epoch(lambda: next(calls) >= stop_at) is False
                torch.save(trainer.checkpoint(), tmp_path / "frozen.pt")
                trainer = Trainer(cfg, train, val, torch.device("cpu"), pretrained, feature_cache=feature_cache)
                trainer.restore(torch.load(tmp_path / "frozen.pt", weights_only=True), "frozen.pt")
                stop_at = None
            assert trainer.train_epoch()
            trainer.finish_epoch()
        return trainer

    plain, cached = run(False), run(True)
    resumed = run(True, stop_at=1)
    assert len({json.dumps(t.metrics) for t in (plain, cached, resumed)}) == 1
    assert plain.best_epoch == cached.best_epoch == resumed.best_epoch
    for name, tensor in plain.final_state().items():
        for other in (cached, resumed):
            assert torch.equal(other.final_state()[name], tensor), name
            assert torch.equal(other.best_state[name], plain.best_state[name]), name
    # with RandAugment the backbone sees new pixels every epoch: no cache
    augmented = Trainer(TrainConfig(**{**cfg.__dict__, "rand_augment": {"n": 1, "m": 5}}), train, val,
                        torch.device("cpu"), pretrained)
    assert augmented.use_feature_cache is False
