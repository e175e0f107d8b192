"""`train-classifier`: train ResNet-18 (scratch | finetune | frozen), keep the best epoch by
validation accuracy, checkpoint, and resume bit-identically after a kill or a preemption.

inputs: train, val (local manifests, same classes in the same order), pretrained (optional: a
        state dict .pt or .safetensors with torchvision names; needed by finetune / frozen).
params: mode ("scratch" | "finetune" | "frozen"), numClasses, width (64), stem ("auto" |
        "imagenet" | "cifar"; auto = imagenet for imageSize >= 128), imageSize, epochs,
        batchSize (32), lr (0.001), momentum (0.9), weightDecay (0), lrSchedule ("none" |
        "cosine" | "step"), lrStepEpochs (step: every max(1, epochs // 3) epochs by default),
        lrGamma (0.1), seed (0), checkpointEvery (epochs, 1), randAugment (null | {n, m, perImage (false)}),
        deterministic (true), device ("auto" | "cpu" | "cuda" | "cuda:N"), threads (torch default).
  frozen: only fc is trained; the backbone stays in eval mode, so its batch-norm running
  statistics stay the pretrained ones (see classifier/train.py). Without randAugment the backbone's
  features are computed once per image and fc trains on them (same bytes, a fraction of the time).
outputs: best.pt (state dict of the best-validation epoch, torchvision names), final.pt (state
         dict after the last epoch), metrics.json ({epochs: [{epoch, loss, trainAcc, valAcc, lr}],
         bestEpoch, bestValAcc}).
summary: {bestValAcc, bestEpoch, epochs, bestSha256, trainImages, valImages, imagesPerSec, device,
          fcReplaced, resumedFromEpoch, environment (runtime.environment: CPU, ISA, torch/BLAS build, GPU)}.
events: progress(stage="train", step=epoch, total=epochs, loss, trainAcc, valAcc, lr, imagesPerSec)
        per epoch; checkpoint(path=checkpoint.pt, step=completed epochs) every checkpointEvery
        epochs and on SIGTERM (between batches: the exact mid-epoch position is saved, nothing is
        lost; exit 143).
The promise: killed (SIGKILL or SIGTERM) and resumed from its last checkpoint, a run ends with
best.pt, final.pt and metrics.json byte-identical to an uninterrupted run on the same device and
thread count (deterministic: true).
"""
from __future__ import annotations

import json
import os
import sys

from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, atomic_write, checkpoint_written, progress, result
from ..runtime import configure_determinism, environment, select_device, set_threads, sha256_file


def run(spec: Spec, preemption: Preemption) -> None:
    import torch

    from ..classifier.data import load_dataset
    from ..classifier.resnet import read_state_dict, resolve_stem
    from ..classifier.train import TrainConfig, Trainer, read_checkpoint

    p = ParamReader.of(spec)
    image_size = p.int("imageSize")
    cfg = TrainConfig(
        mode=p.str("mode"),
        num_classes=p.int("numClasses"),
        width=p.int("width", 64),
        stem=resolve_stem(p.str("stem", "auto"), image_size),
        image_size=image_size,
        epochs=p.int("epochs"),
        batch_size=p.int("batchSize", 32),
        lr=p.float("lr", 0.001),
        momentum=p.float("momentum", 0.9),
        weight_decay=p.float("weightDecay", 0.0),
        lr_schedule=p.str("lrSchedule", "none"),
        lr_step_epochs=p.int("lrStepEpochs", 0),
        lr_gamma=p.float("lrGamma", 0.1),
        seed=p.int("seed", 0),
        rand_augment=p.raw("randAugment", None),
        deterministic=p.bool("deterministic", True),
    )
    cfg.validate()
    every = p.at_least("checkpointEvery", p.int("checkpointEvery", 1), 1)
    threads = p.at_least("threads", p.int("threads", None), 1)
    device = select_device(p.str("device", "auto"))
    set_threads(threads)
    configure_determinism("strict" if cfg.deterministic else "fast")

    cache_dir = os.path.join(spec.work_dir, "cache")
    train = load_dataset(spec.input("train"), cfg.image_size, cache_dir, "train")
    val = load_dataset(spec.input("val"), cfg.image_size, cache_dir, "val")
    if cfg.num_classes != len(train.classes):
        raise PermanentError(f"param numClasses is {cfg.num_classes}, the train manifest {spec.input('train')} "
                             f"has {len(train.classes)} classes")
    if val.classes != train.classes:
        raise PermanentError(f"the val manifest {spec.input('val')} lists classes {val.classes}, the train manifest "
                             f"lists {train.classes}: they must be the same, in the same order")

    pretrained = pretrained_sha = None
    pretrained_path = spec.inputs.get("pretrained")
    if cfg.mode == "scratch":
        if pretrained_path:
            sys.stderr.write("train-classifier: mode scratch ignores the input 'pretrained'\n")
    elif not pretrained_path:
        raise PermanentError(f"mode '{cfg.mode}' needs the input 'pretrained' (a state dict with torchvision names)")
    else:
        pretrained = read_state_dict(pretrained_path)
        pretrained_sha = sha256_file(pretrained_path, "input 'pretrained'")

    trainer = Trainer(cfg, train, val, device, pretrained, pretrained_path or "pretrained", pretrained_sha)
    resumed_from = 0
    if spec.resume_from:
        trainer.restore(read_checkpoint(spec.resume_from), spec.resume_from)
        resumed_from = trainer.epoch

    ckpt_path = spec.out("checkpoint.pt")

    def save_checkpoint() -> None:
        state = trainer.checkpoint()
        atomic_write(ckpt_path, lambda tmp: torch.save(state, tmp))
        checkpoint_written(ckpt_path, trainer.epoch)

    def preempted() -> Preempted:
        sys.stderr.write(f"train-classifier: SIGTERM: checkpointed at epoch {trainer.epoch} + batch {trainer.batch}"
                         f"/{trainer.batches_per_epoch}; exiting\n")
        return Preempted()

    while trainer.epoch < cfg.epochs:
        if preemption.requested:
            save_checkpoint()
            raise preempted()
        if not trainer.train_epoch(lambda: preemption.requested):
            save_checkpoint()  # mid-epoch, with the exact position
            raise preempted()
        record = trainer.finish_epoch()
        progress("train", record.epoch, cfg.epochs, loss=record.loss, trainAcc=record.trainAcc,
                 valAcc=record.valAcc, lr=record.lr, imagesPerSec=round(trainer.last_epoch_rate, 2))
        if trainer.epoch % every == 0 or preemption.requested:
            save_checkpoint()
        if preemption.requested:
            raise preempted()

    best_path, final_path, metrics_path = spec.out("best.pt"), spec.out("final.pt"), spec.out("metrics.json")
    best_state = trainer.best_state if trainer.best_state is not None else trainer.final_state()
    atomic_write(best_path, lambda tmp: torch.save(best_state, tmp))
    final_state = trainer.final_state()
    atomic_write(final_path, lambda tmp: torch.save(final_state, tmp))
    document = trainer.metrics_document()

    def write_metrics(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2, sort_keys=True)

    atomic_write(metrics_path, write_metrics)
    rate = trainer.images_trained / trainer.seconds_trained if trainer.seconds_trained > 0 else None
    result({"best": "best.pt", "final": "final.pt", "metrics": "metrics.json"}, {
        "bestValAcc": document["bestValAcc"],
        "bestEpoch": document["bestEpoch"],
        "epochs": cfg.epochs,
        "bestSha256": sha256_file(best_path),
        "trainImages": len(train),
        "valImages": len(val),
        "imagesPerSec": None if rate is None else round(rate, 2),
        "device": str(device),
        "fcReplaced": bool(getattr(trainer, "fc_replaced", False)),
        "resumedFromEpoch": resumed_from,
        "environment": environment(device),
    })
