"""The engine <-> runner protocol.

stdout carries JSON lines, one event each (anything else goes to stderr):
  {"event": "progress", "stage": str, "step": int, "total": int, ...metrics}
  {"event": "checkpoint", "path": "<file under workDir>", "step": int}
  {"event": "artifact", "path": "<file under workDir>", ...meta}   (uploaded at once by the runner:
      for outputs that must survive a kill one by one, e.g. each generated image)
  {"event": "result", "outputs": {name: "<file under workDir>"}, "summary": {...}}
  {"event": "error", "kind": "permanent" | "transient", "message": str}

Exit codes: 0 success; 3 permanent error (bad input: retrying cannot help); 4 transient error;
143 preempted by SIGTERM after writing a checkpoint. Any other code, or death by signal, is
treated by the runner as a retryable crash.

The spec (JSON) always has:
  "workDir": a directory the engine owns for this attempt (outputs and checkpoints go here),
  "resumeFrom": path of a checkpoint file from an earlier attempt, or null,
  "params": the command's own parameters,
  "inputs": {name: local path} files (or directories) fetched by the runner.

Paths in events and in `result.outputs` may be absolute or relative to workDir; an output may be
a directory (uploaded recursively).

Image datasets are passed as a "local manifest" JSON file:
  {"classes": ["airplane", ...],            # label order = index in this list
   "items": [{"path": "/abs/file.png", "class": "airplane", "sha256": "..."}, ...]}
Images are RGB PNG files of the curated size.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any, Callable

EXIT_PERMANENT = 3
EXIT_TRANSIENT = 4
EXIT_PREEMPTED = 143

_stdout_lock = threading.Lock()
_real_stdout = sys.stdout


class PermanentError(Exception):
    """Bad input or a state retrying cannot fix. The message should say what to do."""


class TransientError(Exception):
    """A failure a later attempt may not see (e.g. out of memory on a busy device)."""


class Preempted(Exception):
    """Raised by `Preemption.check()` after SIGTERM, once the command has checkpointed."""


def emit(event: str, **fields: Any) -> None:
    line = json.dumps({"event": event, **fields}, separators=(",", ":"), default=_json_default)
    with _stdout_lock:
        _real_stdout.write(line + "\n")
        _real_stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def progress(stage: str, step: int, total: int, **metrics: Any) -> None:
    emit("progress", stage=stage, step=step, total=total, **metrics)


def checkpoint_written(path: str, step: int) -> None:
    emit("checkpoint", path=path, step=step)


def artifact_written(path: str, **meta: Any) -> None:
    emit("artifact", path=path, **meta)


def result(outputs: dict[str, str], summary: dict[str, Any]) -> None:
    emit("result", outputs=outputs, summary=summary)


class Preemption:
    """SIGTERM is a spot-instance notice: long loops call `requested` at safe points,
    write a checkpoint, then raise Preempted (exit 143)."""

    def __init__(self) -> None:
        self._requested = threading.Event()
        signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, _signum: int, _frame: Any) -> None:
        self._requested.set()

    @property
    def requested(self) -> bool:
        return self._requested.is_set()


@dataclass(frozen=True)
class Spec:
    command: str
    work_dir: str
    resume_from: str | None
    params: dict[str, Any]
    inputs: dict[str, str]

    @staticmethod
    def load(command: str, path: str) -> "Spec":
        try:
            with open(path, encoding="utf-8") as handle:
                raw = json.load(handle)
        except (OSError, json.JSONDecodeError) as error:
            raise PermanentError(f"cannot read spec {path}: {error}") from error
        for field in ("workDir", "params"):
            if field not in raw:
                raise PermanentError(f"spec {path} lacks the field '{field}'")
        os.makedirs(raw["workDir"], exist_ok=True)
        return Spec(command, raw["workDir"], raw.get("resumeFrom"), raw["params"], raw.get("inputs", {}))

    def param(self, name: str, default: Any = ...) -> Any:
        if name in self.params:
            return self.params[name]
        if default is ...:
            raise PermanentError(f"spec param '{name}' is required by '{self.command}'")
        return default

    def input(self, name: str) -> str:
        if name not in self.inputs:
            raise PermanentError(f"spec input '{name}' is required by '{self.command}'")
        return self.inputs[name]

    def out(self, *parts: str) -> str:
        path = os.path.join(self.work_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path


def read_input_json(path: str, what: str) -> Any:
    """A JSON file of the spec input `what`: unreadable or invalid JSON is bad input naming both."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise PermanentError(f"input '{what}': cannot read {path}: {error}") from error


def atomic_write(path: str, write: Callable[[str], None]) -> None:
    """Write via a temp file + rename so a kill never leaves half a checkpoint behind."""
    # Unique per writer (pid + random), never per process alone: two writers may target one file.
    tmp = f"{path}.tmp-{os.getpid()}-{secrets.token_hex(6)}"
    write(tmp)
    os.replace(tmp, path)
