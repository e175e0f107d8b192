"""The one reader of "local manifests" (format in protocol.py), for every command that takes images.

`read_manifest(path, what)` checks the JSON and returns a `LocalManifest`; `read_item(manifest, i)`
reads item i's bytes and checks them against the item's sha256 when it has one. Every problem is
a PermanentError naming the input, the manifest and, where it is one item's, the file.

  - items: a non-empty list of objects with a string "path"; a relative path is relative to the
    manifest's folder (the TypeScript side writes absolute ones).
  - labelled manifests (the default; extract-features reads its images unlabelled): every item
    has a string "class" listed in "classes"; "classes" (label order = index in the list) must not
    repeat a name, and when absent or empty it is the sorted set of the items' classes.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from .protocol import PermanentError


@dataclass(frozen=True)
class LocalManifest:
    path: str
    what: str  # the spec input it came from, for messages
    classes: list[str]
    items: list[dict[str, Any]]  # as listed
    files: list[str]  # files[i]: where items[i]'s image is, relative paths resolved
    raw: bytes  # the manifest's bytes (cache keys)

    def __len__(self) -> int:
        return len(self.items)

    def where(self) -> str:
        return f"input '{self.what}': manifest {self.path}"


def read_manifest(path: str, what: str, labelled: bool = True) -> LocalManifest:
    where = f"input '{what}': manifest {path}"
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as error:
        raise PermanentError(f"{where}: cannot read: {error.strerror or error}") from error
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise PermanentError(f"{where} is not valid JSON: {error}") from error
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list) or not items:
        raise PermanentError(f"{where}: 'items' must be a non-empty list")
    base = os.path.dirname(os.path.abspath(path))
    files = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise PermanentError(f"{where}: item {index} needs a string field 'path'")
        if labelled and not isinstance(item.get("class"), str):
            raise PermanentError(f"{where}: item {index} needs a string field 'class'")
        files.append(item["path"] if os.path.isabs(item["path"]) else os.path.join(base, item["path"]))
    classes: list[str] = []
    if labelled:
        classes = document.get("classes") or sorted({item["class"] for item in items})
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise PermanentError(f"{where}: 'classes' must be a list of class names")
        if len(set(classes)) != len(classes):
            raise PermanentError(f"{where}: 'classes' has duplicates")
        known = set(classes)
        for index, item in enumerate(items):
            if item["class"] not in known:
                raise PermanentError(f"{where}: file {files[index]} has class '{item['class']}', "
                                     f"which is not in 'classes' {sorted(known)}")
    return LocalManifest(path, what, list(classes), items, files, raw)


def read_item(manifest: LocalManifest, index: int) -> tuple[bytes, str]:
    """(bytes, sha256) of item `index`'s file, checked against the item's sha256 when given."""
    path = manifest.files[index]
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise PermanentError(f"{manifest.where()}: cannot read image file {path}: {error.strerror or error}") from error
    actual = hashlib.sha256(data).hexdigest()
    expected = manifest.items[index].get("sha256")
    if expected and str(expected).lower() != actual:
        raise PermanentError(f"{manifest.where()}: file {path} has sha256 {actual}, the manifest says {expected} "
                             "(corrupted or changed file)")
    return data, actual
