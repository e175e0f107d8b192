"""A named set of feature rows spread over one or more .npy files (memory-mapped), optionally a
subset of rows (indices into the files' concatenation, in the order given)."""
from __future__ import annotations

import json
import os
from typing import Any, Iterator

import numpy as np

from ..protocol import PermanentError
from .stats import RunningStats


class FeatureSet:
    def __init__(self, name: str, paths: list[str], rows: list[int] | None = None) -> None:
        if not paths:
            raise PermanentError(f"group '{name}' lists no feature files")
        self.name = name
        self.paths = paths
        self.arrays: list[np.ndarray] = []
        dim: int | None = None
        for path in paths:
            try:
                array = np.load(path, mmap_mode="r", allow_pickle=False)
            except (OSError, ValueError) as error:
                raise PermanentError(f"group '{name}': cannot read features file {path}: {error}") from error
            if array.ndim != 2:
                raise PermanentError(f"group '{name}': {path} holds shape {array.shape}, not N×D features")
            if dim is not None and array.shape[1] != dim:
                raise PermanentError(
                    f"group '{name}': {path} has feature dimension {array.shape[1]}, other files {dim}"
                )
            dim = array.shape[1]
            self.arrays.append(array)
        assert dim is not None
        self._dim = dim
        self.offsets = np.cumsum([0] + [a.shape[0] for a in self.arrays])
        total = int(self.offsets[-1])
        self.rows: np.ndarray | None = None
        if rows is not None:
            index = np.asarray(rows)
            if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
                raise PermanentError(f"group '{name}': 'rows' must be a list of integer row indices")
            if index.size and (index.min() < 0 or index.max() >= total):
                raise PermanentError(f"group '{name}': 'rows' index out of range 0..{total - 1}")
            self.rows = index.astype(np.int64)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return int(self.rows.size) if self.rows is not None else int(self.offsets[-1])

    def _gather(self, global_index: np.ndarray) -> np.ndarray:
        out = np.empty((global_index.size, self._dim), dtype=np.float64)
        which = np.searchsorted(self.offsets, global_index, side="right") - 1
        for f in np.unique(which):
            mask = which == f
            local = global_index[mask] - self.offsets[f]
            out[mask] = self.arrays[f][local]
        return out

    def take(self, index: np.ndarray) -> np.ndarray:
        """Rows `index` (positions within this set) as float64."""
        index = np.asarray(index, dtype=np.int64)
        return self._gather(self.rows[index] if self.rows is not None else index)

    def batches(self, size: int) -> Iterator[np.ndarray]:
        if self.rows is None:
            for array in self.arrays:
                for start in range(0, array.shape[0], size):
                    yield np.asarray(array[start : start + size], dtype=np.float64)
        else:
            for start in range(0, self.rows.size, size):
                yield self._gather(self.rows[start : start + size])

    def stats(self, chunk: int = 4096) -> RunningStats:
        return RunningStats.from_batches(self.batches(chunk), self._dim, self.name)

    def sidecars(self) -> list[tuple[str, dict[str, Any]]]:
        """`x.json` beside `x.npy` (extract-features' features.json), where present."""
        found = []
        for path in self.paths:
            side = os.path.splitext(path)[0] + ".json"
            if os.path.isfile(side):
                try:
                    with open(side, encoding="utf-8") as handle:
                        meta = json.load(handle)
                except (OSError, json.JSONDecodeError):
                    continue
                if isinstance(meta, dict):
                    found.append((side, meta))
        return found
