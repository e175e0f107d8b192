"""The classifier training loop: ResNet-18, SGD with momentum, cross-entropy, three init modes,
model selection by best validation accuracy, and checkpoints that resume bit-identically.

Init modes:
  scratch  — random init from the seed; pretrained weights, if given, are ignored.
  finetune — pretrained weights loaded (fc replaced when the class count differs), everything trained.
  frozen   — pretrained weights loaded; every parameter but `fc` has requires_grad=False and the
             backbone stays in eval mode for the whole run, so batch-norm running statistics
             (running_mean / running_var / num_batches_tracked) are frozen too and only
             fc.weight / fc.bias change. (BN then normalises with the pretrained statistics.)

Exact resume: the whole state (weights, optimizer, epoch and batch position, the epoch's data
order and running sums, best-so-far weights + epoch, metrics, torch/CUDA/numpy/python RNG states,
the data-order generator and the RandAugment generator) goes into one checkpoint; a run resumed
from any checkpoint, at an epoch boundary or mid-epoch, continues with the same batches, the same
arithmetic and ends with the same bytes as an uninterrupted run on the same device with the same
thread count and `deterministic` on.

Frozen-feature cache: in mode frozen without RandAugment nothing that reaches the backbone changes
during the run (its weights and batch-norm statistics are fixed, eval mode, no augmentation), so
every image's backbone output is computed once (`_features`, in order, in batches of batchSize)
and each step trains fc on the cached rows: a forward pass per image per run instead of per epoch,
and validation reads cached features too. On the CPU the backbone's per-image output does not
depend on which other images share its batch, only on whether the batch has one image or more
(see `_features`; checked byte for byte against the per-batch path in
tests/test_classifier_model.py), so the weights, metrics and checkpoints are the same bytes as
without the cache; `Trainer(feature_cache=False)` keeps the per-batch path (bench/bench_cell.py).
On CUDA the cache stays off until the same check has run there.

Metrics kept in checkpoints and metrics.json hold only deterministic values (loss, accuracies, lr);
throughput (imagesPerSec) is reported in progress events and the summary only.
"""
from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..protocol import PermanentError
from ..runtime import cpu_generator, seed_everything
from .augment import SeededRandAugment, parse_randaugment
from .data import Dataset, normalize
from .resnet import ResNet18, build_resnet18, cpu_state_dict, load_exact, load_pretrained

MODES = ("scratch", "finetune", "frozen")
LR_SCHEDULES = ("none", "cosine", "step")
CHECKPOINT_FORMAT = "synthmix-classifier-checkpoint/1"
# On CUDA, keep the whole uint8 training set on the GPU when no CPU-side augmentation runs and it is small.
DEVICE_CACHE_LIMIT_BYTES = 4 << 30


@dataclass(frozen=True)
class TrainConfig:
    mode: str
    num_classes: int
    width: int
    stem: str  # resolved: "imagenet" | "cifar"
    image_size: int
    epochs: int
    batch_size: int
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    lr_schedule: str = "none"
    lr_step_epochs: int = 0  # "step": decay every this many epochs (0 = max(1, epochs // 3))
    lr_gamma: float = 0.1
    seed: int = 0
    rand_augment: dict | None = None
    deterministic: bool = True

    def validate(self) -> None:
        if self.mode not in MODES:
            raise PermanentError(f"param mode must be one of {MODES}, got '{self.mode}'")
        if self.lr_schedule not in LR_SCHEDULES:
            raise PermanentError(f"param lrSchedule must be one of {LR_SCHEDULES}, got '{self.lr_schedule}'")
        for name, value in (("epochs", self.epochs), ("batchSize", self.batch_size), ("numClasses", self.num_classes),
                            ("width", self.width), ("imageSize", self.image_size)):
            if int(value) < 1:
                raise PermanentError(f"param {name} must be a positive integer, got {value}")
        if not self.lr > 0 or self.momentum < 0 or self.weight_decay < 0:
            raise PermanentError(f"params lr (> 0), momentum and weightDecay (>= 0) are out of range: "
                                 f"{self.lr}, {self.momentum}, {self.weight_decay}")

    def lr_at(self, epoch: int) -> float:
        """Learning rate of 0-based epoch `epoch` (set once per epoch, a pure function: resumable)."""
        if self.lr_schedule == "cosine":
            return self.lr * 0.5 * (1.0 + math.cos(math.pi * epoch / self.epochs))
        if self.lr_schedule == "step":
            every = self.lr_step_epochs or max(1, self.epochs // 3)
            return self.lr * (self.lr_gamma ** (epoch // every))
        return self.lr


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def predict(model: torch.nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """Argmax class of every image (uint8 N x 3 x H x W), in eval mode; CPU int64 tensor."""
    was_training = model.training
    model.eval()
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = normalize(images[start:start + batch_size].to(device, non_blocking=True))
        out.append(model(x).argmax(1).cpu())
    model.train(was_training)
    return torch.cat(out)


def _numpy_state() -> dict:
    state = np.random.get_state(legacy=False)
    return {"bit_generator": state["bit_generator"], "key": torch.from_numpy(state["state"]["key"].astype(np.int64)),
            "pos": int(state["state"]["pos"]), "has_gauss": int(state["has_gauss"]), "gauss": float(state["gauss"])}


def _set_numpy_state(saved: dict) -> None:
    np.random.set_state({"bit_generator": saved["bit_generator"],
                         "state": {"key": saved["key"].numpy().astype(np.uint32), "pos": int(saved["pos"])},
                         "has_gauss": int(saved["has_gauss"]), "gauss": float(saved["gauss"])})


def _python_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_state(saved: list) -> None:
    random.setstate((saved[0], tuple(saved[1]), saved[2]))


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    trainAcc: float
    valAcc: float
    lr: float


@dataclass
class Trainer:
    """One training run; `train_epoch` + `finish_epoch` per epoch, `checkpoint`/`restore` in between."""

    cfg: TrainConfig
    train: Dataset
    val: Dataset
    device: torch.device
    pretrained: dict[str, torch.Tensor] | None = None
    pretrained_source: str = "pretrained"
    pretrained_sha256: str | None = None
    # run state (checkpointed)
    epoch: int = 0  # completed epochs
    batch: int = 0  # completed batches of the running epoch
    perm: torch.Tensor | None = None  # data order of the running epoch
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    best_val_acc: float = -1.0
    metrics: list[dict[str, Any]] = field(default_factory=list)
    # this attempt's throughput
    images_trained: int = 0
    seconds_trained: float = 0.0
    # not run state: a pure speed-up with identical results (module doc), off only to compare
    feature_cache: bool = True

    def __post_init__(self) -> None:
        cfg = self.cfg
        cfg.validate()
        if cfg.mode in ("finetune", "frozen") and self.pretrained is None:
            raise PermanentError(f"mode '{cfg.mode}' needs the input 'pretrained' (a state dict with torchvision names)")
        seed_everything(cfg.seed)
        model: ResNet18 = build_resnet18(cfg.num_classes, cfg.width, cfg.stem)
        self.fc_replaced = False
        self.last_epoch_rate = 0.0
        if cfg.mode != "scratch":
            self.fc_replaced = load_pretrained(model, self.pretrained, self.pretrained_source)
        if cfg.mode == "frozen":
            for name, parameter in model.named_parameters():
                parameter.requires_grad_(name.startswith("fc."))
        self.model = model.to(self.device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.SGD(trainable, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        self.data_generator = cpu_generator(cfg.seed + 1)
        self.augment: SeededRandAugment | None = parse_randaugment(cfg.rand_augment, cfg.seed + 2)
        images = self.train.images
        if (self.device.type == "cuda" and self.augment is None
                and images.numel() <= DEVICE_CACHE_LIMIT_BYTES):
            images = images.to(self.device)
        self.images = images
        self.labels = self.train.labels.to(self.device)
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        self.correct = torch.zeros((), dtype=torch.int64, device=self.device)
        n, bs = len(self.train), cfg.batch_size
        # A last batch of one image is dropped: batch norm cannot train on a single sample.
        self.batches_per_epoch = n // bs + (1 if n % bs > 1 else 0)
        self.images_per_epoch = min(n, self.batches_per_epoch * bs)
        if self.batches_per_epoch == 0:
            raise PermanentError(f"train manifest {self.train.manifest} has {n} image(s): at least 2 are needed")
        # CPU only: that per-image features are independent of their batch is checked there
        # (tests/test_classifier_model.py); cuDNN picks algorithms by batch shape, unverified on a GPU.
        self.use_feature_cache = (self.feature_cache and cfg.mode == "frozen" and self.augment is None
                                  and self.device.type == "cpu")
        self._train_features: torch.Tensor | None = None
        self._val_features: torch.Tensor | None = None

    # ------------------------------------------------------------------ frozen-feature cache
    @torch.no_grad()
    def _features(self, images: torch.Tensor, single_ok: bool) -> torch.Tensor:
        """The frozen backbone's output for every image (uint8 N x 3 x H x W), in order, in
        batches of batchSize. A batch of ONE image takes other CPU kernels (other bytes) than any
        larger batch: training never runs one (it drops such a last batch), so for training
        (`single_ok` False) a lone last image is computed beside its predecessor; validation
        (`predict`) does run one, so its features keep that batch."""
        self.set_train_mode()  # backbone in eval mode, exactly as during a training step
        n, bs, out = images.shape[0], self.cfg.batch_size, []
        for start in range(0, n, bs):
            stop = min(start + bs, n)
            lone = stop - start == 1 and not single_ok and n > 1
            x = normalize(images[start - lone:stop].to(self.device, non_blocking=True))
            out.append(self.model.forward_features(x)[lone:])
        return torch.cat(out)

    def train_features(self) -> torch.Tensor:
        if self._train_features is None:
            self._train_features = self._features(self.images, single_ok=False)
        return self._train_features

    def val_features(self) -> torch.Tensor:
        if self._val_features is None:
            self._val_features = self._features(self.val.images, single_ok=True)
        return self._val_features

    # ------------------------------------------------------------------ training
    def set_train_mode(self) -> None:
        self.model.train()
        if self.cfg.mode == "frozen":  # frozen backbone: BN uses and keeps its pretrained running stats
            for module in self.model.backbone_modules():
                module.eval()

    def train_epoch(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Run (the rest of) the current epoch. Returns False when `should_stop()` turned true
        between two batches before the epoch's end (the position is kept: checkpoint, then stop)."""
        cfg, device = self.cfg, self.device
        lr = cfg.lr_at(self.epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.perm is None:
            self.perm = torch.randperm(len(self.train), generator=self.data_generator)
            self.batch = 0
            self.loss_sum.zero_()
            self.correct.zero_()
        self.set_train_mode()
        perm_device = self.perm.to(self.images.device) if self.images.device != self.perm.device else self.perm
        started, images_before = time.perf_counter(), self.images_trained
        features = self.train_features() if self.use_feature_cache else None
        completed = True
        while self.batch < self.batches_per_epoch:
            start = self.batch * cfg.batch_size
            index = perm_device[start:start + cfg.batch_size]
            y = self.labels[index.to(self.labels.device)]
            if features is not None:
                logits = self.model.fc(features[index.to(features.device)])
            else:
                x = self.images[index]
                if self.augment is not None:
                    x = self.augment(x)
                x = normalize(x.to(device, non_blocking=True))
                logits = self.model(x)
            loss = F.cross_entropy(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                self.loss_sum += loss.detach().to(torch.float64) * y.shape[0]
                self.correct += (logits.argmax(1) == y).sum()
            self.batch += 1
            self.images_trained += int(y.shape[0])
            if self.batch < self.batches_per_epoch and should_stop():
                completed = False
                break
        _sync(device)
        self.seconds_trained += time.perf_counter() - started
        self.last_epoch_rate = (self.images_trained - images_before) / max(time.perf_counter() - started, 1e-9)
        return completed

    def finish_epoch(self) -> EpochRecord:
        """After a completed `train_epoch`: validate, keep a deep copy of the best weights, log."""
        if self.use_feature_cache:
            features, bs = self.val_features(), self.cfg.batch_size
            with torch.no_grad():  # fc per batch of batchSize, as `predict` runs it: the same GEMM shapes
                predictions = torch.cat([self.model.fc(features[i:i + bs]).argmax(1).cpu()
                                         for i in range(0, features.shape[0], bs)])
        else:
            predictions = predict(self.model, self.val.images, self.cfg.batch_size, self.device)
        val_acc = float((predictions == self.val.labels).sum().item()) / len(self.val)
        record = EpochRecord(
            epoch=self.epoch + 1,
            loss=float(self.loss_sum.item()) / self.images_per_epoch,
            trainAcc=float(self.correct.item()) / self.images_per_epoch,
            valAcc=val_acc,
            lr=self.cfg.lr_at(self.epoch),
        )
        if val_acc > self.best_val_acc:  # ties keep the earlier epoch
            self.best_val_acc, self.best_epoch = val_acc, record.epoch
            self.best_state = cpu_state_dict(self.model)  # a deep copy, not the live model
        self.metrics.append(asdict(record))
        self.epoch += 1
        self.perm, self.batch = None, 0
        return record

    def final_state(self) -> dict[str, torch.Tensor]:
        return cpu_state_dict(self.model)

    def metrics_document(self) -> dict[str, Any]:
        return {"epochs": list(self.metrics), "bestEpoch": self.best_epoch,
                "bestValAcc": self.best_val_acc if self.best_epoch else None}

    # ------------------------------------------------------------------ checkpoints
    def _identity(self) -> dict[str, Any]:
        return {"config": asdict(self.cfg), "train": self.train.fingerprint, "val": self.val.fingerprint,
                "pretrained": self.pretrained_sha256 if self.cfg.mode != "scratch" else None}

    def checkpoint(self) -> dict[str, Any]:
        cuda_states = None
        if self.device.type == "cuda":
            cuda_states = [state.cpu() for state in torch.cuda.get_rng_state_all()]
        return {
            "format": CHECKPOINT_FORMAT,
            "identity": self._identity(),
            "epoch": self.epoch,
            "batch": self.batch,
            "perm": None if self.perm is None else self.perm.clone(),
            "lossSum": self.loss_sum.detach().cpu().clone(),
            "correct": self.correct.detach().cpu().clone(),
            "model": cpu_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(),
            "best": self.best_state,
            "bestEpoch": self.best_epoch,
            "bestValAcc": self.best_val_acc,
            "metrics": list(self.metrics),
            "rng": {
                "torch": torch.get_rng_state(),
                "cuda": cuda_states,
                "numpy": _numpy_state(),
                "python": _python_state(),
                "data": self.data_generator.get_state(),
                "augment": None if self.augment is None else self.augment.state(),
            },
            "device": str(self.device),
            "threads": torch.get_num_threads(),
        }

    def restore(self, ckpt: dict[str, Any], source: str) -> None:
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise PermanentError(f"resumeFrom {source} is not a classifier checkpoint ({CHECKPOINT_FORMAT})")
        saved, now = ckpt["identity"], self._identity()
        for key in ("config", "train", "val", "pretrained"):
            if key == "config":
                diffs = [f"{k}: {saved['config'].get(k)!r} -> {v!r}" for k, v in now["config"].items()
                         if saved["config"].get(k) != v]
                if diffs:
                    raise PermanentError(f"resumeFrom {source} was written with other params ({'; '.join(diffs)})")
            elif saved[key] != now[key]:
                raise PermanentError(f"resumeFrom {source} was written for a different '{key}' input (content differs)")
        if ckpt.get("device") != str(self.device) or ckpt.get("threads") != torch.get_num_threads():
            sys.stderr.write(
                f"train-classifier: resuming a checkpoint from device {ckpt.get('device')} / {ckpt.get('threads')} threads "
                f"on {self.device} / {torch.get_num_threads()} threads: results may differ from an uninterrupted run\n")
        load_exact(self.model, ckpt["model"], f"checkpoint {source}")
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.epoch, self.batch = int(ckpt["epoch"]), int(ckpt["batch"])
        self.perm = ckpt["perm"]
        self.loss_sum = ckpt["lossSum"].to(self.device)
        self.correct = ckpt["correct"].to(self.device)
        self.best_state = ckpt["best"]
        self.best_epoch, self.best_val_acc = int(ckpt["bestEpoch"]), float(ckpt["bestValAcc"])
        self.metrics = list(ckpt["metrics"])
        rng = ckpt["rng"]
        torch.set_rng_state(rng["torch"])
        if rng["cuda"] is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(rng["cuda"])
        _set_numpy_state(rng["numpy"])
        _set_python_state(rng["python"])
        self.data_generator.set_state(rng["data"])
        if self.augment is not None and rng["augment"] is not None:
            self.augment.load_state(rng["augment"])


def read_checkpoint(path: str) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as error:
        raise PermanentError(f"resumeFrom {path} does not exist") from error
    except Exception as error:  # noqa: BLE001
        raise PermanentError(f"resumeFrom {path} cannot be read as a checkpoint: {type(error).__name__}: {error}") from error
