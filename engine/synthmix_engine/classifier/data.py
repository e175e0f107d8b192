"""Image datasets from "local manifests" (see protocol.py), decoded once into a uint8 cache.

`load_dataset(manifest_path, image_size, cache_dir)` reads the manifest, checks every item (file
exists, sha256 when given, class in `classes`, decodes as an image of image_size x image_size) and
returns a `Dataset` holding all images as one uint8 tensor (N x 3 x H x W) and int64 labels. The
tensor is saved as `<cache_dir>/<key>.pt`, key = sha256 of the manifest bytes and the image size
(and of size + mtime of files listed without a sha256), so epochs and later runs in the same
workDir never decode a PNG again.

Normalisation (applied on the fly by `normalize`, on the training device): x / 255, then
(x - mean) / std with the ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) — what
torchvision's ImageNet ResNet-18 weights expect.

Every problem with an input is a PermanentError naming the manifest and the file (or class).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..manifest import LocalManifest, read_item, read_manifest
from ..protocol import PermanentError, atomic_write

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CACHE_FORMAT = "synthmix-image-cache/1"


@dataclass
class Dataset:
    classes: list[str]
    images: torch.Tensor  # uint8 N x 3 x H x W
    labels: torch.Tensor  # int64 N
    fingerprint: str  # sha256 of the decoded pixels + labels + classes: what training actually saw
    manifest: str

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def _cache_key(manifest: LocalManifest, image_size: int) -> str:
    digest = hashlib.sha256()
    digest.update(CACHE_FORMAT.encode())
    digest.update(f"|{image_size}|".encode())
    digest.update(manifest.raw)
    for item, file in zip(manifest.items, manifest.files):
        if not item.get("sha256"):  # no content hash: key on the file's size and mtime instead
            try:
                stat = os.stat(file)
                digest.update(f"{item['path']}|{stat.st_size}|{stat.st_mtime_ns}".encode())
            except OSError:
                digest.update(f"{item['path']}|missing".encode())
    return digest.hexdigest()


def _decode(manifest: LocalManifest, index: int, class_index: dict[str, int], image_size: int) -> tuple[np.ndarray, int]:
    from PIL import Image, UnidentifiedImageError

    path = manifest.files[index]
    data, _sha = read_item(manifest, index)
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        raise PermanentError(f"{manifest.where()}: cannot decode image file {path}: {type(error).__name__}: {error}") from error
    if rgb.size != (image_size, image_size):
        raise PermanentError(
            f"{manifest.where()}: image file {path} is {rgb.size[0]}x{rgb.size[1]}, imageSize is {image_size}x{image_size}"
        )
    return np.asarray(rgb, dtype=np.uint8), class_index[manifest.items[index]["class"]]


def _fingerprint(classes: list[str], images: torch.Tensor, labels: torch.Tensor) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(classes).encode())
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return digest.hexdigest()


def load_dataset(manifest_path: str, image_size: int, cache_dir: str, what: str = "images") -> Dataset:
    """Decode (or load the cached decode of) every image of a local manifest; see the module doc."""
    image_size = int(image_size)
    if image_size < 1:
        raise PermanentError(f"imageSize must be positive, got {image_size}")
    manifest = read_manifest(manifest_path, what)
    classes = manifest.classes
    key = _cache_key(manifest, image_size)
    cache_path = os.path.join(cache_dir, f"{key}.pt")
    if os.path.isfile(cache_path):
        try:
            cached = torch.load(cache_path, map_location="cpu", weights_only=True)
            if cached.get("format") == CACHE_FORMAT and cached.get("key") == key:
                return Dataset(list(cached["classes"]), cached["images"], cached["labels"], cached["fingerprint"], manifest_path)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            pass
    class_index = {name: index for index, name in enumerate(classes)}
    images = np.empty((len(manifest), image_size, image_size, 3), dtype=np.uint8)
    labels = np.empty((len(manifest),), dtype=np.int64)
    for index in range(len(manifest)):
        images[index], labels[index] = _decode(manifest, index, class_index, image_size)
    tensor = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    label_tensor = torch.from_numpy(labels)
    fingerprint = _fingerprint(classes, tensor, label_tensor)
    os.makedirs(cache_dir, exist_ok=True)
    payload = {"format": CACHE_FORMAT, "key": key, "classes": classes, "images": tensor,
               "labels": label_tensor, "fingerprint": fingerprint}
    atomic_write(cache_path, lambda tmp: torch.save(payload, tmp))
    return Dataset(classes, tensor, label_tensor, fingerprint, manifest_path)


def normalize(batch_uint8_or_unit: torch.Tensor) -> torch.Tensor:
    """uint8 (0..255) or float (0..1) N x 3 x H x W -> float32 normalised with ImageNet mean/std."""
    x = batch_uint8_or_unit
    if x.dtype == torch.uint8:
        x = x.to(torch.float32).div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x - mean).div_(std)
