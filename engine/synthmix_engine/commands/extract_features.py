"""`extract-features`: features of a set of images under a named extractor (for FID / KID).

inputs:  images  — local manifest (protocol.py) {"classes": [...], "items": [{"path", "class", "sha256"}]}
         weights — the extractor's weights file (required by both registered extractors)
params:  extractor        "inception-v3-fid" | "synthmix-builtin-v1" (fid/extractors.py)
         extractorOptions {} for inception; {"width", "stem", "numClasses"?, "mean"?, "std"?} for builtin
         batchSize        images per forward pass (default 50)
         device           "auto" (default: cuda when present) | "cpu" | "cuda[:i]"
         checkpointEvery  write a checkpoint every K batches (default 20); also on SIGTERM
outputs: features  features.npy  float32 N×D, row i = manifest item i
         meta      features.json {extractorId, weightsSha256, dim, count, sha256s: [per row], ...}
Resume: the checkpoint (checkpoint.npz) holds the rows of the finished batches; a resumed run
continues at the next batch with the same batch boundaries, so features.npy is byte-identical to
an uninterrupted run on the same device.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..manifest import LocalManifest, read_item, read_manifest
from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, atomic_write, checkpoint_written, progress, result

CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class ExtractFeaturesConfig:
    extractor: str
    extractor_options: dict[str, Any]
    batch_size: int
    checkpoint_every: int
    device: str

    @staticmethod
    def parse(spec: Spec) -> "ExtractFeaturesConfig":
        from ..fid.extractors import EXTRACTORS

        p = ParamReader.of(spec)
        return ExtractFeaturesConfig(
            extractor=p.choice("extractor", sorted(EXTRACTORS)),
            extractor_options=p.object("extractorOptions", {}),
            batch_size=p.at_least("batchSize", p.int("batchSize", 50), 1),
            checkpoint_every=p.at_least("checkpointEvery", p.int("checkpointEvery", 20), 1),
            device=p.str("device", "auto"),
        )


def _load_image(manifest: LocalManifest, index: int) -> tuple[np.ndarray, str]:
    from PIL import Image

    data, sha = read_item(manifest, index)
    try:
        with Image.open(io.BytesIO(data)) as image:
            array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception as error:  # noqa: BLE001 - any decode failure is bad input
        raise PermanentError(f"{manifest.where()}: image {index} ({manifest.files[index]}): cannot decode: {error}") from error
    return array, sha


def _batch_tensor(arrays: list[np.ndarray], files: list[str], start: int, same_size: bool) -> Any:
    import torch
    import torch.nn.functional as F

    tensors = [torch.from_numpy(a).permute(2, 0, 1).float().div_(255.0) for a in arrays]
    sizes = {tuple(t.shape[1:]) for t in tensors}
    if len(sizes) == 1:
        return torch.stack(tensors)
    if same_size:
        first = tuple(tensors[0].shape[1:])
        for offset, t in enumerate(tensors):
            if tuple(t.shape[1:]) != first:
                raise PermanentError(
                    f"image {start + offset} ({files[start + offset]}) is {t.shape[2]}×{t.shape[1]}, "
                    f"other images of the set are {first[1]}×{first[0]}: this extractor needs one size"
                )
    # Inception: resizing each image to 299×299 first is what the batched resize does per sample.
    from ..fid.inception import INPUT_SIZE

    return torch.cat(
        [F.interpolate(t[None], size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False) for t in tensors]
    )


def _fingerprint(items: list[dict[str, Any]], extractor_id: str, weights_sha: str, batch_size: int) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps([extractor_id, weights_sha, batch_size]).encode())
    for item in items:  # content hashes, not local paths: a retry may fetch to another cache dir
        digest.update(json.dumps(item.get("sha256") or item["path"]).encode())
    return digest.hexdigest()


def _save_checkpoint(path: str, features: np.ndarray, meta: dict[str, Any]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.savez(
                handle,
                features=features,
                meta=np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8),
            )

    atomic_write(path, write)


def _load_checkpoint(path: str) -> tuple[np.ndarray, dict[str, Any]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode())
            features = np.array(data["features"], dtype=np.float32)
    except Exception as error:  # noqa: BLE001
        raise PermanentError(f"cannot read extract-features checkpoint {path}: {error}") from error
    return features, meta


def run(spec: Spec, preemption: Preemption) -> None:
    from ..fid.extractors import load_extractor
    from ..runtime import configure_determinism, select_device

    manifest = read_manifest(spec.input("images"), "images", labelled=False)
    items = manifest.items
    cfg = ExtractFeaturesConfig.parse(spec)
    batch_size, every = cfg.batch_size, cfg.checkpoint_every
    device = select_device(cfg.device)
    configure_determinism("cudnn", device)
    extractor = load_extractor(cfg.extractor, spec.inputs.get("weights"), cfg.extractor_options, device)

    n = len(items)
    total_batches = math.ceil(n / batch_size)
    fingerprint = _fingerprint(items, extractor.id, extractor.weights_sha256, batch_size)
    features: np.ndarray | None = None
    sha256s: list[str] = []
    next_batch = 0
    if spec.resume_from:
        done, meta = _load_checkpoint(spec.resume_from)
        if meta.get("version") != CHECKPOINT_VERSION or meta.get("fingerprint") != fingerprint:
            raise PermanentError(
                f"checkpoint {spec.resume_from} belongs to another manifest / extractor / batch size; "
                "start without resumeFrom"
            )
        next_batch = int(meta["nextBatch"])
        sha256s = list(meta["sha256s"])
        if done.shape[0] != min(next_batch * batch_size, n) or len(sha256s) != done.shape[0]:
            raise PermanentError(f"checkpoint {spec.resume_from} is inconsistent (rows {done.shape[0]})")
        features = np.empty((n, done.shape[1]), dtype=np.float32)
        features[: done.shape[0]] = done
        extractor.dim = extractor.dim or int(done.shape[1])
    resumed_from = next_batch
    ckpt = spec.out("checkpoint.npz")

    def save(batches_done: int) -> None:
        assert features is not None
        rows = min(batches_done * batch_size, n)
        meta = {
            "version": CHECKPOINT_VERSION,
            "fingerprint": fingerprint,
            "nextBatch": batches_done,
            "sha256s": sha256s[:rows],
            "extractorId": extractor.id,
        }
        _save_checkpoint(ckpt, features[:rows], meta)
        checkpoint_written(ckpt, batches_done)

    for b in range(next_batch, total_batches):
        start, stop = b * batch_size, min((b + 1) * batch_size, n)
        arrays = []
        for i in range(start, stop):
            array, sha = _load_image(manifest, i)
            arrays.append(array)
            sha256s.append(sha)
        out = extractor.features(_batch_tensor(arrays, manifest.files, start, extractor.same_size_batches))
        if not np.isfinite(out).all():
            raise PermanentError(f"extractor {extractor.id} produced non-finite features for images {start}..{stop - 1}")
        if features is None:
            features = np.empty((n, out.shape[1]), dtype=np.float32)
        if out.shape[1] != features.shape[1]:
            raise PermanentError(f"extractor {extractor.id}: dimension changed from {features.shape[1]} to {out.shape[1]}")
        features[start:stop] = out
        done_batches = b + 1
        progress("extract", stop, n, batch=done_batches, batches=total_batches)
        if done_batches < total_batches and (done_batches % every == 0 or preemption.requested):
            save(done_batches)
            if preemption.requested:
                raise Preempted()

    assert features is not None
    out_path = spec.out("features.npy")

    def write_npy(tmp: str) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, features, allow_pickle=False)

    atomic_write(out_path, write_npy)
    meta = {
        "extractorId": extractor.id,
        "weightsSha256": extractor.weights_sha256,
        "dim": int(features.shape[1]),
        "count": n,
        "sha256s": sha256s,
        **extractor.info,
    }

    def write_json(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=1)

    atomic_write(spec.out("features.json"), write_json)
    result(
        {"features": "features.npy", "meta": "features.json"},
        {
            "extractorId": extractor.id,
            "weightsSha256": extractor.weights_sha256,
            "dim": int(features.shape[1]),
            "count": n,
            "resumedFromBatch": resumed_from,
            "device": str(device),
            **extractor.info,
        },
    )
