#!/usr/bin/env bash
# What Colab does, proven here: a fresh venv holding only the built wheel and the notebook runner (no
# editable install, no repository on sys.path), one lesson copied into an empty folder, an empty data
# folder seeded with MovieLens, and the lesson executed and compared with its stored outputs under
# the course's tolerances.   Usage: tools/check_wheel.sh [LESSON]   (after `make dist`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lesson=${1:-03_matrix_factorization}
seed=${ML100K_SEED:-$root/../shared/data/ml-100k}
wheel=$(ls "$root"/dist/*.whl | tail -n 1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/venv"
torch=${TORCH_SPEC:-torch==2.13.0}
"$work/venv/bin/python" -m pip install --quiet --index-url "${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}" \
    --timeout 10 --retries 0 "$torch" || "$work/venv/bin/python" -m pip install --quiet "$torch"
"$work/venv/bin/python" -m pip install --quiet "$wheel" nbval ipykernel
mkdir "$work/lesson" "$work/data"
cp "$root/tutorials/$lesson.ipynb" "$work/lesson/"
cp -r "$seed" "$work/data/ml-100k"
cd "$work/lesson"
"$work/venv/bin/python" - <<'PY'
import coursekit, importlib.metadata
assert "site-packages" in coursekit.__file__, f"coursekit imported from {coursekit.__file__}, not the wheel"
print(f"coursekit-recsys {importlib.metadata.version('coursekit-recsys')} from {coursekit.__file__}")
PY
DATA_PATH="$work/data" PYTHONPATH="$root/tools" "$work/venv/bin/python" -m pytest -q -p no:cacheprovider \
    -p nbval_tolerances --nbval --nbval-current-env --nbval-sanitize-with "$root/tutorials/sanitize.cfg" "$lesson.ipynb"
