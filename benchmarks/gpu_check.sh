#!/usr/bin/env bash
# The prepared GPU check (docs/scaling.md): plabel's train and infer throughput of resnet50 at
# 224 px on synthetic JPEG files against the bare forward/backward pass (bf16, channels-last),
# where decoding limits, and nvJPEG decoding on the GPU. Prints JSON lines; under 8 minutes.
#
# On a machine with CUDA, torch, torchvision and timm but no network, from the repository root:
#   here, once:  python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#                  --implementation cp --platform manylinux_2_28_x86_64 -d .whl duckdb faiss-cpu
#   there:       bash benchmarks/gpu_check.sh            (JSON also in $OUT/gpu_check.json when OUT is set)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SITE=$(mktemp -d)
if ! $PY -c "import duckdb, faiss" 2>/dev/null; then
    [ -d .whl ] || { echo '{"check": "gpu_check", "error": "duckdb or faiss missing and no .whl folder"}'; exit 1; }
    $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl
fi
# plabel itself, without its dependencies (they are there or in $SITE); build/ afresh: no stale modules
rm -rf build && $PY -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --target "$SITE" . >/dev/null
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
LOG=${OUT:-$SITE}/gpu_check.json
timeout 470 $PY benchmarks/gpu_check.py --gpu-decode "$@" | tee "$LOG"
