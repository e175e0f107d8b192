#!/bin/sh
# Builds the engine venv inside an image (deploy/Dockerfile): the pinned torch from the variant's
# index first (CPU or CUDA wheels), then engine/requirements.txt, whose `torch==X` the installed
# X+cpu / X+cu128 satisfies, so pip leaves it as is (README "GPU workers" does the same by hand).
# Usage: install-engine-venv.sh VENV_DIR REQUIREMENTS_FILE TORCH_INDEX_URL
set -eu
venv=$1
requirements=$2
torch_index=$3
torch_pin=$(grep -E '^torch==' "$requirements" || true)
if [ -z "$torch_pin" ]; then
  echo "install-engine-venv: no torch==VERSION line in $requirements (pin every package)" >&2
  exit 1
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check --index-url "$torch_index" "$torch_pin"
"$venv/bin/pip" install --no-cache-dir --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -c 'import torch, diffusers, numpy; print("engine venv: torch", torch.__version__, "cuda", torch.version.cuda)'
