"""Helpers for the oracle tests (no tests here): the real libraries that synthmix re-implements
(torchvision's ResNet-18, pytorch-fid's Inception v3) run in their own venv, `.synthmix/oracle-venv`
(engine/oracle-requirements.txt), because PyPI's torchvision does not import beside the engine's
torch 2.13 CPU build. An oracle script (`tests/oracles/*.py`) runs there as a subprocess and writes
files (state dicts, inputs, outputs); the test loads those into synthmix's code in the engine venv."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ENGINE_DIR = Path(__file__).resolve().parents[1]
ORACLE_VENV = ENGINE_DIR.parent / ".synthmix" / "oracle-venv"
ORACLE_PYTHON = ORACLE_VENV / "bin" / "python"
ORACLES_DIR = Path(__file__).resolve().parent / "oracles"
SETUP_HINT = "npx tsx infra/setup.ts --oracles"


def run_oracle(script: str, out_dir: Path, *args: str) -> dict[str, str]:
    """Runs `tests/oracles/<script> OUT_DIR ARGS...` with the oracle venv's python; returns the library
    versions it wrote (versions.json). A missing venv fails the test (never a skip) saying how to make it."""
    if not ORACLE_PYTHON.exists():
        pytest.fail(f"the oracle venv {ORACLE_VENV} is missing (torchvision and pytorch-fid, the references of "
                    f"this test): run `{SETUP_HINT}`", pytrace=False)
    # The oracle's own torch: nothing of the engine's path or venv may leak into it.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([str(ORACLE_PYTHON), str(ORACLES_DIR / script), str(out_dir), *args],
                          cwd=out_dir.parent, env=env, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"oracle {script} failed (exit {proc.returncode}); if its libraries are broken, run "
                    f"`{SETUP_HINT}`:\n{proc.stderr[-4000:]}", pytrace=False)
    return json.loads((out_dir / "versions.json").read_text())
