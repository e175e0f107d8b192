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


def read_manifest(path: str) -> tuple[list[str], list[dict], bytes]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        manifest = json.loads(raw)
    except OSError as error:
        raise PermanentError(f"cannot read manifest {path}: {error}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PermanentError(f"manifest {path} is not valid JSON: {error}") from error
    if not isinstance(manifest, dict):
        raise PermanentError(f"manifest {path} must be an object with 'classes' and 'items'")
    classes, items = manifest.get("classes"), manifest.get("items")
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        raise PermanentError(f"manifest {path}: 'classes' must be a non-empty list of class names")
    if len(set(classes)) != len(classes):
        raise PermanentError(f"manifest {path}: 'classes' has duplicates")
    if not isinstance(items, list) or not items:
        raise PermanentError(f"manifest {path}: 'items' must be a non-empty list")
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("class"), str):
            raise PermanentError(f"manifest {path}: item {index} needs string fields 'path' and 'class'")
    return classes, items, raw


def _resolve(manifest_path: str, item_path: str) -> str:
    if os.path.isabs(item_path):
        return item_path
    return os.path.join(os.path.dirname(os.path.abspath(manifest_path)), item_path)


def _cache_key(raw: bytes, items: list[dict], manifest_path: str, image_size: int) -> str:
    digest = hashlib.sha256()
    digest.update(CACHE_FORMAT.encode())
    digest.update(f"|{image_size}|".encode())
    digest.update(raw)
    for item in items:
        if not item.get("sha256"):  # no content hash: key on the file's size and mtime instead
            try:
                stat = os.stat(_resolve(manifest_path, item["path"]))
                digest.update(f"{item['path']}|{stat.st_size}|{stat.st_mtime_ns}".encode())
            except OSError:
                digest.update(f"{item['path']}|missing".encode())
    return digest.hexdigest()


def _decode(manifest_path: str, item: dict, class_index: dict[str, int], image_size: int) -> tuple[np.ndarray, int]:
    from PIL import Image, UnidentifiedImageError

    path = _resolve(manifest_path, item["path"])
    if item["class"] not in class_index:
        raise PermanentError(
            f"manifest {manifest_path}: file {path} has class '{item['class']}', which is not in 'classes' {sorted(class_index)}"
        )
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise PermanentError(f"manifest {manifest_path}: cannot read image file {path}: {error.strerror or error}") from error
    expected = item.get("sha256")
    if expected:
        actual = hashlib.sha256(data).hexdigest()
        if actual != str(expected).lower():
            raise PermanentError(
                f"manifest {manifest_path}: file {path} has sha256 {actual}, the manifest says {expected} (corrupted or changed file)"
            )
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            rgb = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise PermanentError(f"manifest {manifest_path}: cannot decode image file {path}: {error}") from error
    if rgb.size != (image_size, image_size):
        raise PermanentError(
            f"manifest {manifest_path}: image file {path} is {rgb.size[0]}x{rgb.size[1]}, imageSize is {image_size}x{image_size}"
        )
    return np.asarray(rgb, dtype=np.uint8), class_index[item["class"]]


def _fingerprint(classes: list[str], images: torch.Tensor, labels: torch.Tensor) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(classes).encode())
    digest.update(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    digest.update(labels.numpy().tobytes())
    return digest.hexdigest()


def load_dataset(manifest_path: str, image_size: int, cache_dir: str) -> Dataset:
    """Decode (or load the cached decode of) every image of a local manifest; see the module doc."""
    image_size = int(image_size)
    if image_size < 1:
        raise PermanentError(f"imageSize must be positive, got {image_size}")
    classes, items, raw = read_manifest(manifest_path)
    key = _cache_key(raw, items, manifest_path, image_size)
    cache_path = os.path.join(cache_dir, f"{key}.pt")
    if os.path.isfile(cache_path):
        try:
            cached = torch.load(cache_path, map_location="cpu", weights_only=True)
            if cached.get("format") == CACHE_FORMAT and cached.get("key") == key:
                return Dataset(list(cached["classes"]), cached["images"], cached["labels"], cached["fingerprint"], manifest_path)
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            pass
    class_index = {name: index for index, name in enumerate(classes)}
    images = np.empty((len(items), image_size, image_size, 3), dtype=np.uint8)
    labels = np.empty((len(items),), dtype=np.int64)
    for index, item in enumerate(items):
        images[index], labels[index] = _decode(manifest_path, item, class_index, image_size)
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
