"""Every engine command, one line each: name -> module under synthmix_engine.commands exposing
`run(spec, preemption)`.

Modules are imported only when their command runs, so `info` stays fast and a command's heavy
imports (diffusers, ...) load only when used. A module that fails to import is an error naming it
(`CommandImportError`, exit 3): the command stays listed, never silently missing, and retrying
cannot repair a broken engine install.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from ..protocol import PermanentError

COMMANDS: dict[str, str] = {
    "info": "info",
    "dummy-train": "dummy_train",
    "pretrain-generator": "pretrain_generator",
    "finetune-generator": "finetune_generator",
    "generate-images": "generate_images",
    "train-classifier": "train_classifier",
    "evaluate-classifier": "evaluate_classifier",
    "extract-features": "extract_features",
    "fid-table": "fid_table",
    "clip-zero-shot": "clip_zero_shot",
}


class CommandImportError(PermanentError):
    """A registered command whose module cannot be imported or has no `run`."""


def load_command(name: str) -> ModuleType:
    if name not in COMMANDS:
        raise PermanentError(f"unknown engine command '{name}' (known: {', '.join(sorted(COMMANDS))})")
    module_name = f"{__package__}.{COMMANDS[name]}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CommandImportError(f"engine command '{name}': cannot import its module {module_name}: "
                                 f"{type(error).__name__}: {error}") from error
    if not callable(getattr(module, "run", None)):
        raise CommandImportError(f"engine command '{name}': module {module_name} has no run(spec, preemption)")
    return module
