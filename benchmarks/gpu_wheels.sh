#!/usr/bin/env bash
# Build .whl/ (ignored by git), the wheels benchmarks/gpu_session.sh installs on the GPU
# machine, which has no internet. Run here, from any directory, before the device call:
#   bash benchmarks/gpu_wheels.sh
# PYTHON_VERSION must be the GPU image's python3 (3.12 as of 2026-11; gpu_session.sh checks
# it and says so if not). PYTHON is any python with pip, here.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
version=${PYTHON_VERSION:-3.12}
rm -rf .whl
mkdir .whl
# Binary wheels for CPython $version on x86-64 Linux; pip matches each manylinux tag exactly,
# so every tag a pinned wheel uses is named.
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64 \
    -d .whl -r benchmarks/gpu-wheels.txt
# connection-pool (a snakemake dependency) is on the index as a source archive only; it is
# pure Python, so a wheel built here installs there.
"$python" -m pip wheel --quiet --no-deps -w .whl connection-pool==0.0.3
# pydantic (snakemake's sqlmodel) needs typing-extensions >= 4.16, newer than an image may
# have; gpu_session.sh installs it only where the image's is older, so never downgrades it.
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version "$version" --implementation cp \
    -d .whl/if-needed typing-extensions==4.16.0
echo "$version" > .whl/PYTHON_VERSION
size=$(du -sm .whl | cut -f1)
echo "built .whl/: $(ls .whl/*.whl | wc -l) wheels, ${size} MB (a device call carries at most 64 MiB with the repository)"
