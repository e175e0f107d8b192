"""`dummy-train`: a long, checkpointing loop with no tensors, to exercise the runner end to end
(progress -> heartbeats, checkpoints -> store, SIGTERM -> checkpoint + exit 143, resume).

params: steps (int), stepSeconds (float), checkpointEvery (int), failAt (int|null: raise a
permanent error at that step), crashAt (int|null: exit 1 at that step, as a crash would — only in an attempt that did not
resume, so the retried attempt gets past it), reportEnv (bool: list the names of the process's
environment variables in the summary, so a test can check that no worker secret reached it).
The output `counter.json` holds the sum of step indices, so a resumed run is checkably equal.
"""
from __future__ import annotations

import json
import os
import sys
import time

from ..params import ParamReader
from ..protocol import PermanentError, Preempted, Preemption, Spec, atomic_write, checkpoint_written, progress, result


def _save(path: str, state: dict[str, int]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(state, handle)

    atomic_write(path, write)


def run(spec: Spec, preemption: Preemption) -> None:
    p = ParamReader.of(spec)
    steps = p.int("steps")
    step_seconds = p.float("stepSeconds", 0.05)
    every = p.at_least("checkpointEvery", p.int("checkpointEvery", 10), 1)
    fail_at = p.int("failAt", None)
    crash_at = p.int("crashAt", None)
    report_env = p.bool("reportEnv", False)
    state = {"step": 0, "total": 0}
    if spec.resume_from:
        with open(spec.resume_from, encoding="utf-8") as handle:
            state = json.load(handle)
    ckpt = spec.out("checkpoint.json")
    started_at = state["step"]
    while state["step"] < steps:
        if fail_at is not None and state["step"] == fail_at:
            raise PermanentError(f"dummy-train: asked to fail at step {fail_at}")
        if crash_at is not None and state["step"] == crash_at and not spec.resume_from:
            sys.stderr.write("dummy-train: simulated crash\n")
            os._exit(1)
        time.sleep(step_seconds)
        state["total"] += state["step"]
        state["step"] += 1
        if state["step"] % every == 0 or preemption.requested:
            _save(ckpt, state)
            checkpoint_written(ckpt, state["step"])
            if preemption.requested:
                raise Preempted()
        progress("train", state["step"], steps, resumedFrom=started_at)
    out = spec.out("counter.json")
    _save(out, state)
    summary = {"steps": state["step"], "total": state["total"], "resumedFrom": started_at}
    if report_env:
        summary["env"] = sorted(os.environ)
    result({"counter": "counter.json"}, summary)
