"""What every engine command needs from its machine, in one place: the device it runs on, how
deterministic its kernels are, how its randomness is seeded, and the sha256 of files.

Devices (`select_device`): "auto" (or absent) = the first CUDA device when one is visible, else
the CPU; "cpu", "cuda" and "cuda:N" as given. Asking for CUDA on a machine without it is a
PermanentError naming the field: the spec is what is wrong (a retry runs the same spec on the same
kind of worker), so the attempt fails at once instead of burning retries; route the work to a GPU
queue or ask for "auto".

torch is imported inside the functions, not here: `fid-table` without KID and the hashing helpers
never need it, and a command that does not touch torch should not pay for importing it.
"""
from __future__ import annotations

import hashlib
import os
import random
from typing import TYPE_CHECKING, Any

from .protocol import PermanentError

if TYPE_CHECKING:
    import torch

DEVICE_TYPES = ("cpu", "cuda")

# ---- devices ------------------------------------------------------------------------------------


def select_device(name: Any, field: str = "params.device") -> "torch.device":
    """The device named by a spec value (see the module doc); bad names are PermanentErrors naming `field`."""
    import torch

    if name is None:
        name = "auto"
    if not isinstance(name, str):
        raise PermanentError(f"{field}: expected a device name (auto, cpu, cuda, cuda:N), got {name!r}")
    name = name.strip().lower() or "auto"
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise PermanentError(f"{field}: '{name}' is not a device name (auto, cpu, cuda, cuda:N)") from error
    if device.type not in DEVICE_TYPES:
        raise PermanentError(f"{field}: '{name}': only cpu and cuda are supported")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PermanentError(f"{field}: '{name}' asks for CUDA, but this machine has no CUDA device "
                             "(ask for 'auto' or run it on a GPU worker)")
    return device


def set_threads(count: int | None) -> None:
    """Intra-op threads of this process; None keeps torch's default (one per core)."""
    if count is None:
        return
    import torch

    torch.set_num_threads(int(count))


# ---- determinism --------------------------------------------------------------------------------

DETERMINISM_LEVELS = ("strict", "fast", "cuda", "cudnn")


def configure_determinism(level: str, device: "torch.device | None" = None) -> None:
    """Set torch's determinism switches. Must run before CUDA initialises (cuBLAS reads
    CUBLAS_WORKSPACE_CONFIG at start-up). The levels differ because each command's outputs were
    defined under its own settings, and changing them would change its numbers:

      strict  train/evaluate-classifier (deterministic: true): every op deterministic or an error,
              on every device, no TF32 — the byte-identical-resume promise of train-classifier.
      fast    train-classifier with deterministic: false: cuDNN autotuning, no TF32.
      cuda    the diffusion commands: on a CUDA machine, deterministic kernels where torch has them
              (warn where it has not), no TF32; CPU runs are left alone (deterministic-mode CPU
              kernels are slower and the CPU ones used are already deterministic).
      cudnn   extract-features on a CUDA device: deterministic cuDNN without autotuning; TF32 left
              at torch's default, under which its features were always computed.
    """
    import torch

    if level not in DETERMINISM_LEVELS:
        raise ValueError(f"unknown determinism level {level!r}")
    if level == "cudnn":
        if device is not None and device.type == "cuda":
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
        return
    if level != "fast":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    cuda = torch.cuda.is_available()
    if level == "cuda" and not cuda:
        return
    deterministic = level != "fast"
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic
    if cuda:  # TF32 would make CUDA results depend on more than the seed's arithmetic
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(deterministic, warn_only=level == "cuda")


# ---- seeding ------------------------------------------------------------------------------------


def seed_everything(seed: int) -> None:
    """Seed torch's, numpy's and Python's global generators (what initialises fresh weights)."""
    import numpy as np
    import torch

    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % (2**32))
    random.seed(int(seed))


def cpu_generator(seed: int) -> "torch.Generator":
    """A private CPU generator: draws from it do not depend on what else consumed randomness."""
    import torch

    return torch.Generator(device="cpu").manual_seed(int(seed))


def derived_seed(seed: int, *labels: Any) -> int:
    """A seed that is a function of (seed, labels) only, e.g. (seed, "pretrain", step)."""
    digest = hashlib.sha256(("synthmix:" + ":".join(str(x) for x in (seed, *labels))).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def step_generator(seed: int, stage: str, step: int) -> "torch.Generator":
    """All randomness of training step `step` comes from this generator, so a resumed run draws
    exactly what an uninterrupted one would (the RNG state is a function of seed and step)."""
    return cpu_generator(derived_seed(seed, stage, step))


def image_seed(seed: int, class_name: str, index: int) -> int:
    """The seed of generated image `index` of a class: a function of (seed, class, index) only, so
    two classes never start from the same noise (with a prompt the model cannot read, they would
    give the same images); < 2**53 so it stays exact in JSON read by JavaScript (the image records
    carry it). The Replicate path seeds the same way (lib/replicate/generate.ts `imageSeedFor`)."""
    digest = hashlib.sha256(f"synthmix-image:{int(seed)}:{class_name}:{int(index)}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 53) - 1)


# ---- file hashing -------------------------------------------------------------------------------


def sha256_files(paths: list[str], what: str | None = None) -> str:
    """sha256 of the files' bytes, one after the other. With `what` (e.g. "weights file"), an
    unreadable file is bad input (PermanentError naming it); without, the OSError propagates."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError as error:
            if what is None:
                raise
            raise PermanentError(f"cannot read {what} {path}: {error}") from error
    return digest.hexdigest()


def sha256_file(path: str, what: str | None = None) -> str:
    return sha256_files([path], what)


# ---- where the numbers were computed --------------------------------------------------------------

# The instruction-set extensions that decide which float kernels torch and BLAS run (AVX2 and
# AVX-512 machines give different last digits, and so can move a trained accuracy by an image).
_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile")


def _cpu_model_and_flags() -> tuple[str, list[str]]:
    import platform

    model, flags = "", set()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name" and not model:
                    model = value.strip()
                elif key == "flags" and not flags:
                    flags = set(value.split())
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), [f for f in _ISA_FLAGS if f in flags]


def _build_setting(config: str, name: str) -> str | None:
    """One `NAME=value` of torch's build settings (`torch.__config__.show()`, "Build settings: A=x, B=y")."""
    import re

    match = re.search(rf"\b{re.escape(name)}=([^,\s]*)", config)
    return (match.group(1) or None) if match else None


def environment(device: "torch.device | None" = None) -> dict[str, Any]:
    """The hardware and library build an engine computed on: CPU model and instruction set, the
    kernel level torch dispatched to, torch and its BLAS, and the GPU with CUDA when on one. The
    same config and seed give the same numbers only where this is the same."""
    import platform

    import torch

    model, isa = _cpu_model_and_flags()
    config = torch.__config__.show()
    env: dict[str, Any] = {
        "cpu": model,
        "isa": isa,
        "torchCpuCapability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
        "blas": _build_setting(config, "BLAS_INFO"),
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "gpu": None,
        "cuda": None,
    }
    if device is not None and device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env
