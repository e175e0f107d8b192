"""A warm engine: `python -m synthmix_engine.forkserver --socket PATH`.

Importing torch and diffusers costs seconds per engine process, more than many of the graph's
steps compute (a tiny sweep starts over a hundred engine processes). The forkserver pays it once
per worker: it imports the heavy modules, then forks one child per command. A child is an
ordinary engine process (`__main__.main`): own session and process group, dies with the
forkserver, which dies with the worker (PR_SET_PDEATHSIG), so no orphans.

Protocol, one Unix-socket connection per command:
  runner -> server  one JSON line {"argv": [...], "cwd": str, "env": {...}, "stderr": path}
  server -> runner  the child's stdout (the engine's JSON-line events), preceded by
                    {"event": "__pid__", "pid": N} and followed, after the child is reaped, by
                    {"event": "__exit__", "code": int|null, "signal": int|null}.
The forkserver never touches CUDA (a forked CUDA context is unusable); children may.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import selectors
import signal
import socket
import sys

# Imported once here, shared copy-on-write by every child.
PRELOAD = (
    "setproctitle",  # must initialise before any child changes its environment
    "numpy",
    "scipy.linalg",
    "PIL.Image",
    "torch",
    "torch.nn",
    "torch.optim",
    "synthmix_engine.diffusion",  # sets HF offline before diffusers loads
    "diffusers",
    "kornia.augmentation",
)


def _preload() -> list[str]:
    loaded = []
    for name in PRELOAD:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as error:  # a missing optional module only makes that command slower
            print(f"forkserver: cannot preload {name}: {error}", file=sys.stderr)
    return loaded


def _set_title(argv: list[str]) -> None:
    """Look like a spawned engine in ps / pgrep (operators and tests find engines by command)."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    setproctitle(" ".join([sys.executable, "-m", "synthmix_engine", *argv]))


def _run_child(conn: socket.socket, request: dict) -> None:
    """In the forked child: become an engine process with the request's stdio, cwd and env."""
    code = 1
    try:
        os.setsid()
        from . import __main__ as engine_main

        engine_main._die_with_parent()  # noqa: SLF001  (relative to the forkserver)
        os.dup2(conn.fileno(), 1)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(err, 2)
        os.close(err)
        conn.close()
        _set_title(request["argv"])
        os.chdir(request["cwd"])
        os.environ.update({str(k): str(v) for k, v in request.get("env", {}).items()})
        os.write(1, (json.dumps({"event": "__pid__", "pid": os.getpid()}) + "\n").encode())
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = engine_main.main(list(request["argv"]))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:  # noqa: BLE001  (report, then exit like a crashed engine)
        import traceback

        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(socket_path: str) -> None:
    from .__main__ import _die_with_parent

    _die_with_parent()
    loaded = _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    children: dict[int, socket.socket] = {}
    sys.stdout.write(json.dumps({"event": "ready", "preloaded": loaded}) + "\n")
    sys.stdout.flush()

    # Single-threaded on purpose: fork() from a process with other threads can deadlock the child.
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    while True:
        for _key, _ in selector.select(timeout=0.05):
            conn, _addr = listener.accept()
            try:
                request = json.loads(conn.makefile("r").readline())
            except (ValueError, OSError) as error:
                print(f"forkserver: bad request: {error}", file=sys.stderr)
                conn.close()
                continue
            pid = os.fork()
            if pid == 0:
                selector.close()
                listener.close()
                for other in children.values():
                    other.close()
                _run_child(conn, request)
            children[pid] = conn
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            conn = children.pop(pid, None)
            if conn is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            exit_line = {"event": "__exit__", "code": code if code >= 0 else None, "signal": -code if code < 0 else None}
            try:
                conn.sendall((json.dumps(exit_line) + "\n").encode())
            except OSError:
                pass
            conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="synthmix_engine.forkserver")
    parser.add_argument("--socket", required=True)
    args = parser.parse_args()
    # The forkserver shares the worker's process group: a SIGTERM or SIGINT meant for the worker
    # (systemd, a terminal's Ctrl-C, `kill -- -PGID`) reaches it too. Exiting then would kill every
    # child through PR_SET_PDEATHSIG before it could checkpoint; the worker instead tells each
    # engine to checkpoint and stop. The forkserver ends with the worker (PR_SET_PDEATHSIG).
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    serve(args.socket)


if __name__ == "__main__":
    main()
