"""Tiny procedural image sets (coloured shapes per class) for tests and benchmarks.

Not the project's prior-domain dataset (that one is made by the TypeScript side); just enough
structure (a shape and a colour per class, jittered position/size/background) for a small
diffusion model to learn class-recognisable images in minutes.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ..runtime import sha256_file
from .text import CIFAR10_CLASSES

_LOOK = {
    "airplane": ("triangle", (40, 90, 220)),
    "automobile": ("rect", (220, 40, 40)),
    "bird": ("circle", (240, 220, 40)),
    "cat": ("circle", (240, 140, 30)),
    "deer": ("triangle", (140, 90, 40)),
    "dog": ("square", (150, 150, 150)),
    "frog": ("circle", (40, 200, 60)),
    "horse": ("tall", (120, 60, 30)),
    "ship": ("bar", (240, 240, 240)),
    "truck": ("square", (200, 30, 160)),
}


def draw(class_name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    shape, colour = _LOOK[class_name]
    bg = tuple(int(v) for v in rng.integers(0, 90, 3))
    image = Image.new("RGB", (size, size), bg)
    pen = ImageDraw.Draw(image)
    s = size * rng.uniform(0.45, 0.7)
    cx, cy = size / 2 + rng.uniform(-0.12, 0.12) * size, size / 2 + rng.uniform(-0.12, 0.12) * size
    fill = tuple(int(np.clip(c + rng.integers(-25, 26), 0, 255)) for c in colour)
    h = s / 2
    if shape == "circle":
        pen.ellipse([cx - h, cy - h, cx + h, cy + h], fill=fill)
    elif shape == "square":
        pen.rectangle([cx - h, cy - h, cx + h, cy + h], fill=fill)
    elif shape == "rect":
        pen.rectangle([cx - h, cy - h / 2, cx + h, cy + h / 2], fill=fill)
    elif shape == "tall":
        pen.rectangle([cx - h / 2, cy - h, cx + h / 2, cy + h], fill=fill)
    elif shape == "bar":
        pen.rectangle([cx - h, cy - h / 5, cx + h, cy + h / 5], fill=fill)
    else:
        pen.polygon([(cx, cy - h), (cx - h, cy + h), (cx + h, cy + h)], fill=fill)
    return np.asarray(image, dtype=np.uint8)


def make_manifest(folder: str, per_class: int, size: int = 32, seed: int = 0,
                  classes: list[str] | None = None) -> str:
    """Write PNGs under folder/<class>/ and a local manifest folder/manifest.json; returns its path."""
    from PIL import Image

    classes = list(classes or CIFAR10_CLASSES)
    rng = np.random.default_rng(seed)
    items = []
    for name in classes:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for n in range(per_class):
            path = os.path.join(folder, name, f"{n:04d}.png")
            Image.fromarray(draw(name, size, rng)).save(path)
            items.append({"path": os.path.abspath(path), "class": name, "sha256": sha256_file(path)})
    manifest = os.path.join(folder, "manifest.json")
    with open(manifest, "w", encoding="utf-8") as handle:
        json.dump({"classes": classes, "items": items}, handle)
    return manifest
