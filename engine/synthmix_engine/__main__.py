"""Entry point: `python -m synthmix_engine <command> --spec spec.json`."""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
import traceback

from .commands.registry import COMMANDS, load_command
from .protocol import (
    EXIT_PERMANENT,
    EXIT_PREEMPTED,
    EXIT_TRANSIENT,
    PermanentError,
    Preempted,
    Preemption,
    Spec,
    TransientError,
    emit,
)
from .runtime import set_threads


def _die_with_parent() -> None:
    """If the worker that spawned us is SIGKILLed, go too: an orphan would keep burning the GPU
    and race the retried attempt. Linux only (prctl PR_SET_PDEATHSIG); elsewhere a no-op."""
    if os.environ.get("SYNTHMIX_ENGINE_DIE_WITH_PARENT") != "1" or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _set_threads() -> None:
    threads = os.environ.get("SYNTHMIX_ENGINE_THREADS")
    if threads and threads.isdigit() and int(threads) > 0:
        set_threads(int(threads))


def _bad_image(error: BaseException) -> bool:
    """PIL refusing an input image (a decompression bomb, a file it cannot identify) wherever a
    command decodes one: bad input that a retry cannot fix, not an engine crash."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        return False
    return isinstance(error, (Image.DecompressionBombError, UnidentifiedImageError))


# Messages of RuntimeErrors that come from the machine, not from the input or the code: a retry
# (later, or on another worker) can succeed.
_TRANSIENT_RUNTIME = ("out of memory", "cuda error", "cudnn", "nccl", "device-side assert", "resource temporarily unavailable")


def _is_transient(error: BaseException) -> bool:
    """Whether an exception no command classified is worth retrying. Retried (exit 4): the machine
    or its surroundings -- OS errors (disk, network filesystem, a lost file handle), timeouts and
    connection errors, out of memory (host or GPU), CUDA/NCCL runtime failures. Everything else
    (ValueError, KeyError, TypeError, a shape mismatch, an assertion: the same spec fails the same
    way every time) is permanent (exit 3): retrying it 10 times only hides the bug and wastes the
    GPU. The message names the exception type so the failure says what to fix."""
    if isinstance(error, (OSError, TimeoutError, ConnectionError, MemoryError)):
        return True
    try:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    if isinstance(error, RuntimeError):
        text = str(error).lower()
        return any(marker in text for marker in _TRANSIENT_RUNTIME)
    return False


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    parser = argparse.ArgumentParser(prog="synthmix_engine")
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("--spec", required=True, help="JSON spec file (see protocol.py)")
    args = parser.parse_args(argv)
    preemption = Preemption()
    try:
        spec = Spec.load(args.command, args.spec)
        _set_threads()
        load_command(args.command).run(spec, preemption)
        return 0
    except PermanentError as error:
        emit("error", kind="permanent", message=str(error))
        return EXIT_PERMANENT
    except TransientError as error:
        emit("error", kind="transient", message=str(error))
        return EXIT_TRANSIENT
    except Preempted:
        return EXIT_PREEMPTED
    except MemoryError as error:
        emit("error", kind="transient", message=f"out of memory: {error}")
        return EXIT_TRANSIENT
    except Exception as error:  # unclassified: _is_transient decides (an engine bug is permanent)
        traceback.print_exc(file=sys.stderr)
        if _bad_image(error):
            emit("error", kind="permanent", message=f"bad input image: {type(error).__name__}: {error}")
            return EXIT_PERMANENT
        if _is_transient(error):
            emit("error", kind="transient", message=f"{type(error).__name__}: {error}")
            return EXIT_TRANSIENT
        emit("error", kind="permanent", message=f"engine {args.command} failed: {type(error).__name__}: {error}")
        return EXIT_PERMANENT


if __name__ == "__main__":
    sys.exit(main())
