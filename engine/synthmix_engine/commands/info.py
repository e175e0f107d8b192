"""`info`: versions, device and threads — what a worker reports about its engine."""
from __future__ import annotations

import json
import platform

from .. import ENGINE_VERSION
from ..protocol import Preemption, Spec, result
from ..runtime import environment


def run(spec: Spec, _preemption: Preemption) -> None:
    import torch

    cuda = torch.cuda.is_available()
    summary = {
        "engineVersion": ENGINE_VERSION,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": "cuda" if cuda else "cpu",
        "deviceName": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "environment": environment(torch.device("cuda") if cuda else None),
    }
    try:
        import diffusers

        summary["diffusers"] = diffusers.__version__
    except ImportError:
        summary["diffusers"] = None
    path = spec.out("info.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    result({"info": "info.json"}, summary)
