"""The workflow submitted to a real one-node SLURM cluster through the executor plugin."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image

from .benchmark_runs import assert_measured, finite, markdown_tables, run_benchmark
from .conftest import CONTENT, REPO, STYLE
from .media import probe_output, workflow_config, write_clip
from .slurm_cluster import Cluster, Unavailable, ensure_installed, plugin_snakemake

# One cluster at a time (on the machine's /etc/slurm): every test of this file on one worker
# (conftest.py keeps the group together), and a lock besides, for two test runs at once.
pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]
LOCK = Path(tempfile.gettempdir()) / "painterly-test-slurm.lock"

CONFIG = workflow_config(3, size=32, iterations=3, frame_iterations=2, pyramid_min_size=32, tolerance=0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run's cluster ends first
        try:
            ensure_installed()
            snakemake = plugin_snakemake()
            running = Cluster(tmp_path_factory.mktemp("slurm")).start()
        except Unavailable as reason:
            pytest.skip(f"SLURM unavailable: {reason}")
        yield running, snakemake
        running.stop()
        assert all(d.poll() is not None for d in running.daemons)


def test_workflow_runs_through_sbatch_with_gpu_requests(cluster, tmp_path):
    running, snakemake = cluster
    write_clip(tmp_path / "clip.mkv", frames=6)
    Image.open(STYLE).resize((48, 38)).save(tmp_path / "style.jpg")
    Image.open(CONTENT).resize((48, 33)).save(tmp_path / "photo.png")
    (tmp_path / "config.yaml").write_text(CONFIG)
    (tmp_path / "jobs.tsv").write_text("name\tinput\tstyles\nclip\tclip.mkv\tstyle.jpg\nphoto\tphoto.png\tstyle.jpg\n")
    command = [*snakemake, "--workflow-profile", str(REPO / "profiles" / "slurm"), "--snakefile", str(REPO / "Snakefile"),
               "--directory", str(tmp_path), "--configfile", str(tmp_path / "config.yaml"),
               "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
               "--latency-wait", "5"]
    result = subprocess.run(command, capture_output=True, text=True, env=running.env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    video = probe_output(tmp_path / "results/clip/clip.mp4")
    assert video["frames"] == 6 and video["audio"]
    assert (tmp_path / "results/photo/photo.png").exists()

    jobs = [dict(re.findall(r"(\w+)=(\S*)", line)) for line in running.jobs().splitlines() if line.strip()]
    by_rule = {}
    for job in jobs:
        by_rule.setdefault(job["Comment"].split("_wildcards")[0].removeprefix("rule_"), []).append(job)
    stylize = by_rule["stylize_frames"]
    assert len(stylize) == 2  # 6 frames in chunks of 3: a job does many frames
    for job in stylize + by_rule["stylize_image"] + by_rule["style_targets"]:
        assert job["Partition"] == "gpu" and "gpu:1" in job["TresPerJob"], job
    for job in by_rule["plan_chunks"] + by_rule["encode_video"]:
        assert job["Partition"] == "cpu" and "gpu" not in job.get("TresPerJob", ""), job
    # Inside the job the engine saw the GPU SLURM granted, found no CUDA device, fell back.
    log = (tmp_path / "results/logs/clip/stylize_frames/0000.log").read_text()
    assert "CUDA_VISIBLE_DEVICES=0" in log and "running on the CPU" in log


# After the test above, which counts every job the cluster ran: this one adds its own.
@pytest.mark.slow
def test_slurm_benchmark_smoke_run_on_the_running_cluster(cluster):
    """benchmarks/slurm.py --quick on this module's cluster (it would start its own on the
    same /etc/slurm otherwise): the local run, then per-chunk jobs and one job array."""
    running, _ = cluster
    output = run_benchmark("slurm.py", "--quick", "--running-cluster", env=running.env, timeout=1200)
    ((header, rows),) = markdown_tables(output)
    assert header == ["run", "wall s", "overhead s/frame vs local"]
    assert [row[0] for row in rows] == ["local snakemake --cores 2", "SLURM, one job per chunk",
                                        "SLURM, chunks as one job array"]
    assert_measured(header, rows)
    assert finite(rows[0][2]) == 0 and all(finite(row[1]) > 0 for row in rows)


# Last: it waits out a time limit, and the tests above count the jobs they find.
@pytest.mark.slow
def test_a_chunk_killed_at_its_time_limit_is_retried_with_more_time_and_resumes(cluster, tmp_path):
    """A stylize job given one minute: SLURM kills it at its limit, the profile's retry asks
    for more time, and the second try keeps the frames the first one finished.

    The first try is paused (SIGSTOP) once it has finished a few frames, so it outlives its
    limit on a machine of any speed without computing for a minute (a chunk sized to need
    two minutes finished within one on a faster machine)."""
    running, snakemake = cluster
    frames = 120
    write_clip(tmp_path / "long.mkv", frames=frames, audio=False)
    Image.open(STYLE).resize((48, 38)).save(tmp_path / "style.jpg")
    (tmp_path / "config.yaml").write_text(workflow_config(frames, size=48, iterations=3, frame_iterations=2,
                                                         pyramid_min_size=48, tolerance=0))
    (tmp_path / "jobs.tsv").write_text("name\tinput\tstyles\nlong\tlong.mkv\tstyle.jpg\n")
    command = [*snakemake, "results/long/long.mp4", "--workflow-profile", str(REPO / "profiles" / "slurm"),
               "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--configfile",
               str(tmp_path / "config.yaml"), "--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", "1", "--latency-wait", "5",
               "--set-resources", "stylize_frames:runtime=[1,30][attempt>1]"]  # minutes
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=running.env) as run:
        try:
            paused = pause_stylize_job(run, tmp_path, tmp_path / "results/long/styled/.0000.partial", finished=3)
            output = run.communicate(timeout=1200)[0]
        finally:
            run.kill()  # a no-op once it has ended
    assert run.returncode == 0, output[-6000:]
    assert paused, "the first try's stylize job was not found running"

    jobs = [dict(re.findall(r"(\w+)=(\S*)", line)) for line in running.jobs().splitlines() if line.strip()]
    tries = [job for job in jobs if job["Comment"].startswith("rule_stylize_frames_wildcards_long")]
    assert [(job["JobState"], job["TimeLimit"]) for job in sorted(tries, key=lambda job: int(job["JobId"]))] == [
        ("TIMEOUT", "00:01:00"), ("COMPLETED", "00:30:00")]
    log = (tmp_path / "results/logs/long/stylize_frames/0000.log").read_text()  # the second try's
    kept = re.search(r"resuming after (\d+) finished frames per chain", log)
    assert kept and 3 <= int(kept[1]) < frames, log
    assert probe_output(tmp_path / "results/long/long.mp4")["frames"] == frames


def pause_stylize_job(run: subprocess.Popen, workdir: Path, partial: Path, finished: int) -> list[int]:
    """Stop (SIGSTOP) the stylize job running in ``workdir`` once ``partial`` holds
    ``finished`` frames; the PIDs stopped (none if ``run``, the workflow, ended first)."""
    while run.poll() is None:
        if len(list(partial.glob("*.png"))) >= finished:
            pids = [int(proc.name) for proc in Path("/proc").iterdir() if proc.name.isdigit()
                    and _is_stylize_job(proc, workdir)]
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            return pids
        time.sleep(0.05)
    return []


def _is_stylize_job(proc: Path, workdir: Path) -> bool:
    try:
        return b"stylize-frames" in (proc / "cmdline").read_bytes() and (proc / "cwd").resolve() == workdir.resolve()
    except OSError:  # gone, or not ours to read
        return False
