#!/usr/bin/env bash
# What repo2docker runs for Binder, proven here: from the repository root, a fresh venv,
# `pip install -r binder/requirements.txt`, then the notebook check of every lesson.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"
python3 -m venv "$work/venv"
# Binder reaches PyTorch's CPU index; a machine that cannot should fail over to its other indexes at
# once rather than retry every package five times (the install itself is the same).
PIP_RETRIES=${PIP_RETRIES:-0} PIP_DEFAULT_TIMEOUT=${PIP_DEFAULT_TIMEOUT:-10} \
    "$work/venv/bin/python" -m pip install --quiet -r binder/requirements.txt
PYTHONPATH="$root/tools" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider -p nbval_tolerances --nbval \
    --nbval-current-env --nbval-sanitize-with tutorials/sanitize.cfg tutorials/
