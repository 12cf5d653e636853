"""Per-frame scheduling overhead of cluster submission, on a real one-node SLURM cluster.

    sudo python benchmarks/slurm.py     # needs root, slurm-wlm and munge (installed if missing)
    python benchmarks/slurm.py --quick --running-cluster   # smoke run on the cluster SLURM_CONF names

Runs the same tiny workload (N frames, 1 iteration at 32 px: overhead dominates) three
ways: local `snakemake --cores 2`; through SLURM with one job per chunk; through SLURM
with the chunks submitted as one job array (`--slurm-array-jobs stylize_frames`).
Overhead per frame = (SLURM wall - local wall) / frames.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
from common import parse_args, print_table  # noqa: E402
from tests.media import workflow_config  # noqa: E402
from tests.slurm_cluster import Cluster, ensure_installed, plugin_snakemake  # noqa: E402

from imageio_ffmpeg import get_ffmpeg_exe  # noqa: E402

STYLE = REPO / "data" / "starry_night.jpg"
# --quick: two chunks of two frames.
QUICK = {"frames": 4, "chunk": 2}


def workspace(root: Path, clip: Path, chunk: int) -> Path:
    root.mkdir(parents=True)
    preset = {"size": 32, "iterations": 1, "pyramid_min_size": 32, "tolerance": 0, "temporal": False}
    (root / "config.yaml").write_text(workflow_config(chunk, **preset))
    (root / "jobs.tsv").write_text(f"name\tinput\tstyles\nclip\t{clip}\t{STYLE}\n")
    return root


def timed(command: list[str], env=None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(result.stdout[-2000:] + result.stderr[-2000:])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--chunk", type=int, default=20)
    parser.add_argument("--running-cluster", action="store_true",
                        help="submit to the running cluster SLURM_CONF names instead of starting one (no root needed)")
    args = parse_args(parser, QUICK)
    if not args.running_cluster:
        ensure_installed()
    snakemake = plugin_snakemake()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mkv"
        subprocess.run([get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=25",
                        "-frames:v", str(args.frames), "-c:v", "ffv1", str(clip)], check=True)
        target = ["--snakefile", str(REPO / "Snakefile"), "results/clip/clip.mp4"]

        def run(name, extra, env=None):
            root = workspace(tmp / name, clip, args.chunk)
            return timed([*snakemake, *target, "--directory", str(root), "--configfile", str(root / "config.yaml"),
                          *extra], env)

        local = run("local", ["--cores", "2"])
        cluster = None if args.running_cluster else Cluster(tmp / "cluster").start()
        env = os.environ if cluster is None else cluster.env
        try:
            slurm = ["--workflow-profile", str(REPO / "profiles" / "slurm"), "--slurm-status-command", "squeue",
                     "--slurm-init-seconds-before-status-checks", "1", "--latency-wait", "5"]
            per_job = run("slurm", slurm, env)
            array = run("array", [*slurm, "--slurm-array-jobs", "stylize_frames"], env)
        finally:
            if cluster is not None:
                cluster.stop()
    chunks = -(-args.frames // args.chunk)
    print(f"# SLURM submission overhead: {args.frames} frames in {chunks} chunks of {args.chunk}, "
          "1 iteration at 32 px, one-node cluster on localhost (2 cores)\n")
    rows = [["local snakemake --cores 2", local, 0.0]]
    rows += [[name, seconds, (seconds - local) / args.frames]
             for name, seconds in (("SLURM, one job per chunk", per_job), ("SLURM, chunks as one job array", array))]
    print_table(["run", "wall s", "overhead s/frame vs local"], rows)


if __name__ == "__main__":
    main()
