"""Long videos on tiny real clips: chunk planning, cuts, seams, and resuming a killed chunk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from painterly.chunk import stylize_frames
from painterly.extract import extract_frames, frame_paths
from painterly.io import load_frame
from painterly.metrics import warp_error
from painterly.seams import cross_fade, final_frames
from painterly.settings import Settings
from painterly.shots import Chunk, find_shots, plan_chunks
from painterly.stylize import Stylizer

from .media import write_clip

SETTINGS = Settings(size=48, pyramid_min_size=48, iterations=30, frame_iterations=10, device="cpu", tolerance=0)


@pytest.fixture(scope="module")
def targets(tmp_path_factory, style_image, vgg):
    path = tmp_path_factory.mktemp("targets") / "targets.pt"
    Stylizer(SETTINGS, vgg).targets([style_image]).save(path)
    return path


def test_chunks_border_at_every_cut_and_split_long_shots_evenly():
    assert plan_chunks(10, [], 4, 2) == [Chunk(0, 3, 0), Chunk(3, 7, 2), Chunk(7, 10, 2)]
    # A cut at 5: no lead-in reaches back over it, the chunk after it starts afresh.
    assert plan_chunks(12, [5], 4, 3) == [Chunk(0, 2, 0), Chunk(2, 5, 2), Chunk(5, 9, 0), Chunk(9, 12, 3)]
    assert plan_chunks(8, [3], 100, 8) == [Chunk(0, 3, 0), Chunk(3, 8, 0)]


def test_a_cut_is_found_where_the_scene_changes(tmp_path):
    write_clip(tmp_path / "clip.mkv", frames=10, audio=False, cut_at=6)
    extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=64)
    assert find_shots(tmp_path / "frames", 0.35, tmp_path / "shots.json") == [6]
    write_clip(tmp_path / "moving.mkv", frames=10, audio=False)  # continuous motion: no cut
    extract_frames(tmp_path / "moving.mkv", tmp_path / "moving", tmp_path / "meta2.json", size=64)
    assert find_shots(tmp_path / "moving", 0.35, tmp_path / "shots2.json") == []


def chain_warp_error(frames_dir, styled: list) -> list[float]:
    inputs = [load_frame(frames_dir / path.name) for path in styled]
    return warp_error(zip(inputs, [load_frame(path) for path in styled]))


def test_a_seam_hides_the_border_between_two_chunks(tmp_path, targets):
    """Two chunks of one shot: the hard border jumps; cross-fading the later chunk's lead-in
    spreads the jump so no pair stands out."""
    write_clip(tmp_path / "clip.mkv", frames=12, audio=False)
    extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=48)
    frames = frame_paths(tmp_path / "frames", 0, 12)
    stylize_frames(frames[:6], targets, tmp_path / "c0", SETTINGS, progress=False)
    stylize_frames(frames[6:], targets, tmp_path / "c1", SETTINGS, progress=False)
    stylize_frames(frames[2:], targets, tmp_path / "c1-lead", SETTINGS, progress=False, lead_in=4)
    assert sorted(p.name for p in (tmp_path / "c1-lead" / "lead-in").glob("*.png")) == [f"{i:06d}.png" for i in range(2, 6)]
    cross_fade(tmp_path / "c0", tmp_path / "c1-lead", tmp_path / "seam")

    hard = chain_warp_error(tmp_path / "frames", final_frames([tmp_path / "c0", tmp_path / "c1"]))
    seamed = chain_warp_error(tmp_path / "frames", final_frames([tmp_path / "c0", tmp_path / "c1-lead"], [tmp_path / "seam"]))
    inner = np.percentile(np.delete(hard, 5), 95)
    assert hard[5] > 3 * inner  # the border pair (5, 6) jumps
    assert max(seamed[1:7]) < 3 * inner and sum(seamed) < sum(hard)


def test_a_killed_chunk_resumes_from_its_last_frame_byte_identical(tmp_path, targets):
    write_clip(tmp_path / "clip.mkv", frames=8, audio=False)
    extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=48)
    frames = [str(p) for p in frame_paths(tmp_path / "frames", 0, 8)]
    command = [sys.executable, "-m", "painterly", "stylize-frames", *frames, "--targets", str(targets),
               "--settings", json.dumps(SETTINGS.to_dict()), "--threads", "1",
               "--quiet", "-o"]
    subprocess.run([*command, str(tmp_path / "whole")], check=True)

    partial = tmp_path / ".killed.partial"
    job = subprocess.Popen([*command, str(tmp_path / "killed")], start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(partial.glob("*.png"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    kept = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.png")}
    assert 3 <= len(kept) < 8 and not (tmp_path / "killed").exists()

    subprocess.run([*command, str(tmp_path / "killed")], check=True)
    resumed = tmp_path / "killed"
    assert {p.name: p.stat().st_mtime_ns for p in resumed.glob("*.png") if p.name in kept} == kept  # not redone
    assert sorted(p.name for p in resumed.iterdir()) == sorted(p.name for p in (tmp_path / "whole").iterdir())
    for frame in (tmp_path / "whole").glob("*.png"):
        assert (resumed / frame.name).read_bytes() == frame.read_bytes(), frame.name
    assert not partial.exists()
