"""Long videos on tiny real clips: chunk planning, cuts, seams, sub-chains, and resuming a killed chunk."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from painterly.video.chunk import choose_sub_chains, split_into_sub_chains, stylize_frames
from painterly.media.extract import extract_frames, frame_paths
from painterly.media.io import load_frame, load_image
from painterly.video.metrics import warp_error
from painterly.media.segments import load_frames
from painterly.video.seams import cross_fade, final_frames
from painterly.media.segments import read_segment, segment_names, write_segment
from painterly.engine.settings import Settings
from painterly.errors import PainterlyError
from painterly.video.shots import Chunk, plan_chunks, plan_video, read_chunk_plan
from painterly.engine.stylize import Stylizer

from .conftest import DATA, REPO
from .media import write_clip

sys.path.insert(0, str(REPO / "benchmarks"))
from evaluate import Evaluator  # noqa: E402

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
    # A seam fades into the previous chunk alone: its lead-in never reaches past that one.
    assert plan_chunks(30, [], 12, 16) == [Chunk(0, 10, 0), Chunk(10, 20, 10), Chunk(20, 30, 10)]
    # Chunks that continue the chain before them: only inside a shot, never across the cut,
    # reaching into as many chunks as the lead-in needs.
    assert plan_chunks(12, [5], 4, 3, continues=True) == [Chunk(0, 2, 0), Chunk(2, 5, 2, True), Chunk(5, 9, 0),
                                                         Chunk(9, 12, 3, True)]
    assert plan_chunks(30, [], 12, 16, continues=True) == [Chunk(0, 10, 0), Chunk(10, 20, 10, True),
                                                          Chunk(20, 30, 16, True)]
    assert plan_chunks(30, [], 12, 0, continues=True)[1] == Chunk(10, 20, 0)  # temporal off: nothing to hold to


def test_a_cut_is_found_where_the_scene_changes(tmp_path):
    write_clip(tmp_path / "clip.mkv", frames=10, audio=False, cut_at=6)
    plan = plan_video(tmp_path / "clip.mkv", {"size": 64}, 0.35, 4, 2, tmp_path / "plan.json", tmp_path / "meta.json",
                      tmp_path / "chunks")
    assert plan["cuts"] == [6] and len(plan["explained"]) == 9
    # The chunks around the cut, written once for every later rule to read, with a record
    # per chunk of where its frames are (lead-in first).
    assert read_chunk_plan(tmp_path / "plan.json") == (plan_chunks(10, [6], 4, 2), [6])
    records = [json.loads(path.read_text()) for path in sorted((tmp_path / "chunks").iterdir())]
    assert [(r["start"], len(r["decoded_index"])) for r in records] == [(0, 3), (1, 5), (6, 4)]
    assert json.loads((tmp_path / "meta.json").read_text())["frame_count"] == 10
    write_clip(tmp_path / "moving.mkv", frames=10, audio=False)  # continuous motion: no cut
    assert plan_video(tmp_path / "moving.mkv", {"size": 64}, 0.35, 4, 2, tmp_path / "plan2.json",
                      tmp_path / "meta2.json", tmp_path / "chunks2")["cuts"] == []


def chain_warp_error(frames_dir, styled: list) -> list[float]:
    inputs = [load_frame(frames_dir / ref.name) for ref in styled]
    return warp_error(zip(inputs, load_frames(styled)))


def test_a_seam_hides_the_border_between_two_chunks_and_keeps_the_style(tmp_path, targets, style_image):
    """Two chunks of one shot: the hard border jumps; cross-fading the later chunk's lead-in
    spreads the jump so no pair stands out. The fade keeps the texture's contrast, so its
    frames match the style closer to one chain's same frames than a plain average of the
    two chains does (here, at 48 px and a tiny budget, at most 1.5x one chain's style
    distance against the average's 1.8x; at 96 px on real clips, 1.03x: benchmarks/RESULTS.md).
    Still pixels off: at 48 px DIS gives this clip's still background part of the square's
    motion, and the warp error measures with that flow (tests/test_flow.py says more)."""
    write_clip(tmp_path / "clip.mkv", frames=12, audio=False)
    extract_frames(tmp_path / "clip.mkv", tmp_path / "frames", tmp_path / "meta.json", size=48)
    frames = frame_paths(tmp_path / "frames", 0, 12)
    settings = SETTINGS.replace(temporal_still=False)
    stylize_frames(frames, targets, tmp_path / "one", settings, progress=False)
    stylize_frames(frames[:6], targets, tmp_path / "c0", settings, progress=False)
    stylize_frames(frames[6:], targets, tmp_path / "c1", settings, progress=False)
    stylize_frames(frames[2:], targets, tmp_path / "c1-lead", settings, progress=False, lead_in=4)
    assert segment_names(tmp_path / "c1-lead" / "lead-in.mkv") == [f"{i:06d}.png" for i in range(2, 6)]
    cross_fade(tmp_path / "c0", tmp_path / "c1-lead", tmp_path / "seam.mkv")

    seamed_refs = final_frames([tmp_path / "c0", tmp_path / "c1-lead"], [tmp_path / "seam.mkv"])
    hard = chain_warp_error(tmp_path / "frames", final_frames([tmp_path / "c0", tmp_path / "c1"]))
    seamed = chain_warp_error(tmp_path / "frames", seamed_refs)
    inner = np.percentile(np.delete(hard, 5), 95)
    assert hard[5] > 3 * inner  # the border pair (5, 6) jumps
    assert max(seamed[1:7]) < 3 * inner and sum(seamed) < sum(hard)

    evaluator = Evaluator()

    def style_distances(pictures):
        return np.array([evaluator.distances(Image.fromarray(picture), load_image(frames[i]), style_image)[0]
                         for i, picture in zip(range(2, 6), pictures)])

    one = style_distances(list(load_frames(final_frames([tmp_path / "one"])))[2:6])
    faded = style_distances(list(load_frames(seamed_refs))[2:6])
    earlier = list(load_frames(final_frames([tmp_path / "c0"])))[2:6]
    plain = style_distances([np.round((1 - w) * a.astype(np.float32) + w * b).astype(np.uint8) for w, a, b in
                             zip(np.arange(1, 5) / 5, earlier, read_segment(tmp_path / "c1-lead" / "lead-in.mkv"))])
    assert max(faded / one) <= 1.6 and max(faded / one) < max(plain / one)
    assert (faded / one).mean() <= (plain / one).mean() - 0.1


def test_a_chunk_that_continues_the_one_before_is_the_one_chain(tmp_path, targets):
    """chunk_borders: continue. Held to the earlier chunk's last results (as far back as
    temporal_frames reaches: 5 of its 8 here) instead of starting afresh, the later chunk
    makes byte for byte the frames of one chain over both (the CPU is deterministic); held
    to that chain's anchors too (its first frame and every third: temporal_keyframes), kept
    by the earlier chunk and continued by the later one."""
    extract_frames(DATA / "vtest.mp4", tmp_path / "frames", tmp_path / "meta.json", size=48, end=14)
    frames = frame_paths(tmp_path / "frames", 0, 14)
    settings = SETTINGS.replace(temporal_frames=(1, 5), temporal_keyframes=3)
    stylize_frames(frames, targets, tmp_path / "one", settings, progress=False)
    stylize_frames(frames[:8], targets, tmp_path / "c0", settings, progress=False)
    stylize_frames(frames[3:], targets, tmp_path / "c1", settings, progress=False, lead_in=5,
                   earlier_chunks=[tmp_path / "c0"])
    # No lead-in to fade; the anchor, the chain's first frame, passed on.
    assert sorted(p.name for p in (tmp_path / "c1").iterdir()) == ["anchor.mkv", "frames.mkv", "losses.json"]
    one = list(load_frames(final_frames([tmp_path / "one"])))
    chunked = list(load_frames(final_frames([tmp_path / "c0", tmp_path / "c1"])))
    assert len(chunked) == 14 and all(np.array_equal(a, b) for a, b in zip(one, chunked, strict=True))
    # The anchors at frames 0, 3, 6 (made by c0) and 9, 12 (by c1), named by frames before c1's end.
    kept = list(read_segment(tmp_path / "c1" / "anchor.mkv"))
    assert segment_names(tmp_path / "c1" / "anchor.mkv") == [f"{kind}-{14 - p}" for p in (0, 3, 6, 9, 12)
                                                              for kind in ("content", "result")]
    for p, content, result in zip((0, 3, 6, 9, 12), kept[::2], kept[1::2], strict=True):
        assert np.array_equal(result, one[p]) and np.array_equal(content, load_frame(frames[p]))
    another_size = [np.zeros((10, 12, 3), np.uint8)] * 2
    for broken, names, error in [(b"garbage", None, "not a segment"),
                                 (another_size, ["content-3", "result-3"], "12x10, not the size of the chain's frames"),
                                 (kept[:2], ["content", "result"], "not a chain's anchors"),
                                 (None, None, "no anchor.mkv, yet the next chunk continues its chain")]:
        (tmp_path / "c0" / "anchor.mkv").unlink()
        if isinstance(broken, bytes):
            (tmp_path / "c0" / "anchor.mkv").write_bytes(broken)
        elif broken:
            write_segment(tmp_path / "c0" / "anchor.mkv", broken, names)
        with pytest.raises(PainterlyError, match=error + r".*; rerun"):
            stylize_frames(frames[3:], targets, tmp_path / "c1", settings, progress=False, lead_in=5,
                           earlier_chunks=[tmp_path / "c0"])
    with pytest.raises(PainterlyError, match=r"c1/frames.mkv: no frame 000003.png, .* rerun these chunks"):
        stylize_frames(frames[3:], targets, tmp_path / "c2", settings, progress=False, lead_in=5,
                       earlier_chunks=[tmp_path / "c1"])


def test_sub_chains_in_one_batch_reach_one_chains_quality_joined_by_a_seam(tmp_path, targets, style_image):
    """16 frames of the bundled clip as two sub-chains in one batch (frames 0-7, and 4-15 faded
    in over 4-7), against the same chunk as one chain. Away from the seam they match it; the
    faded frames blend two textures, so they match the style less and move more, as at a seam
    between chunks (measured: at most 1.22x one chain's style distance in the fade, 1.35x
    before the fade kept the texture's contrast; 1.52x the mean warp error)."""
    extract_frames(DATA / "vtest.mp4", tmp_path / "frames", tmp_path / "meta.json", size=48, end=16)
    frames = frame_paths(tmp_path / "frames", 0, 16)
    styled = {}
    for count in (1, 2):
        stylize_frames(frames, targets, tmp_path / str(count), SETTINGS.replace(sub_chains=count), progress=False,
                       seam_frames=4)
        assert json.loads((tmp_path / str(count) / "losses.json").read_text())["sub_chains"] == count
        styled[count] = final_frames([tmp_path / str(count)])
        assert [ref.name for ref in styled[count]] == [frame.name for frame in frames]
    assert sorted(p.name for p in (tmp_path / "2").iterdir()) == sorted(p.name for p in (tmp_path / "1").iterdir())

    evaluator = Evaluator()
    style = {count: np.array([evaluator.distances(Image.fromarray(out), load_image(frame), style_image)[0]
                              for frame, out in zip(frames, load_frames(refs))]) for count, refs in styled.items()}
    warp = {count: np.array(chain_warp_error(tmp_path / "frames", paths)) for count, paths in styled.items()}
    faded, seam_pairs = list(range(4, 8)), list(range(3, 8))  # pair i: frames i and i+1
    ratio = style[2] / style[1]
    assert max(np.delete(ratio, faded)) <= 1.15 and max(ratio[faded]) <= 1.3
    assert style[2].mean() <= 1.15 * style[1].mean()
    assert warp[2].mean() <= 1.6 * warp[1].mean()
    assert max(warp[2][seam_pairs]) < 3 * np.percentile(np.delete(warp[2], seam_pairs), 95)


def test_a_chunk_splits_into_sub_chains_as_a_shot_into_chunks():
    # 100 own frames after a lead-in of 16: the lead-in stays with the first sub-chain.
    assert split_into_sub_chains(116, 16, 3, 16) == [Chunk(16, 49, 16), Chunk(49, 83, 16), Chunk(83, 116, 16)]
    # Sub-chains shorter than seam_frames lead in over the previous one only.
    assert split_into_sub_chains(10, 0, 4, 16) == [Chunk(0, 2, 0), Chunk(2, 5, 2), Chunk(5, 8, 2), Chunk(8, 10, 2)]


def test_a_job_runs_one_chain_unless_sub_chains_are_asked_for():
    # One by default, on every device: batching sub-chains did not pay on an H200 (RESULTS.md).
    assert choose_sub_chains(Settings(), 400) == 1
    assert choose_sub_chains(Settings(sub_chains=3), 400) == 3
    assert choose_sub_chains(Settings(sub_chains=30), 10) == 10  # one frame each at most


def kill_when_finished(command: list[str], partial, frames: int) -> None:
    """Run a stylize job and kill -9 it once ``frames`` PNGs are in its partial directory."""
    job = subprocess.Popen(command, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(partial.rglob("*.png"))) < frames and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()


@pytest.mark.parametrize("sub_chains", [1, 2])
def test_a_killed_chunk_resumes_from_its_last_frame_byte_identical(tmp_path, targets, sub_chains):
    """Killed after four frames of its chain, or two of each of its sub-chains (frames 0-3
    and 2-7, faded over 2-3), a chunk resumes from the step all of them had finished and
    ends as if never killed."""
    write_clip(tmp_path / "clip.mkv", frames=8, audio=False)
    plan_video(tmp_path / "clip.mkv", {"size": 48}, 0, 8, 0, tmp_path / "plan.json", tmp_path / "meta.json",
               tmp_path / "chunks")  # one chunk of all 8 frames
    command = [sys.executable, "-m", "painterly.jobs", "stylize-frames", str(tmp_path / "clip.mkv"), "--chunk-source",
               str(tmp_path / "chunks" / "0000.json"), "--targets", str(targets),
               "--settings", json.dumps(SETTINGS.replace(sub_chains=sub_chains, temporal_keyframes=3).to_dict()),
               "--threads", "1",
               "--seam-frames", "2", "--quiet", "-o"]
    subprocess.run([*command, str(tmp_path / "whole")], check=True)

    partial = tmp_path / ".killed.partial"
    kill_when_finished([*command, str(tmp_path / "killed")], partial, 4)
    finished = len(list(partial.rglob("*.png")))
    steps = 4 // sub_chains  # finished by every sub-chain: frames 0 .. steps-1 of the first
    kept = {p.name: p.stat().st_mtime_ns for p in partial.glob("*.png") if p.name < f"{steps:06d}.png"}
    assert 4 <= finished < 8 + 2 * (sub_chains - 1) and len(kept) == steps and not (tmp_path / "killed").exists()

    # The finished frames are PNGs in the partial directory until the chunk is packed: watch
    # them while the rerun runs (it starts with seconds of imports), to see none rewritten.
    rerun = subprocess.Popen([*command, str(tmp_path / "killed")], stderr=subprocess.PIPE, text=True)
    seen = {name: set() for name in kept}
    while rerun.poll() is None:
        for name in kept:
            with contextlib.suppress(FileNotFoundError):
                seen[name].add((partial / name).stat().st_mtime_ns)
        time.sleep(0.02)
    assert rerun.returncode == 0 and f"resuming after {steps} finished frames per chain" in rerun.stderr.read()
    assert seen == {name: {mtime} for name, mtime in kept.items()}  # kept, not redone
    resumed = tmp_path / "killed"
    assert sorted(p.name for p in resumed.iterdir()) == sorted(p.name for p in (tmp_path / "whole").iterdir())
    for segment in (tmp_path / "whole").glob("*.mkv"):
        assert (resumed / segment.name).read_bytes() == segment.read_bytes(), segment.name
    assert json.loads((resumed / "losses.json").read_text())["sub_chains"] == sub_chains
    assert not partial.exists()


def test_a_killed_chunk_that_continues_resumes_byte_identical(tmp_path, targets):
    """A chunk that continues the one before it (chunk_borders: continue), killed after two of
    its four frames, resumes held to both the earlier chunk's results and its own finished
    ones (frame 6 to frames 5 and 1) and to the anchors of both (frames 0, 2 and 4), and ends
    as if never killed."""
    write_clip(tmp_path / "clip.mkv", frames=8, audio=False)
    plan = plan_video(tmp_path / "clip.mkv", {"size": 48}, 0, 4, SETTINGS.temporal_reach, tmp_path / "plan.json",
                      tmp_path / "meta.json", tmp_path / "chunks", continues=True)
    assert [(chunk["lead_in"], chunk["continues"]) for chunk in plan["chunks"]] == [(0, False), (4, True)]

    def command(chunk: int, output: str, *more: str) -> list[str]:
        return [sys.executable, "-m", "painterly.jobs", "stylize-frames", str(tmp_path / "clip.mkv"), "--chunk-source",
                str(tmp_path / "chunks" / f"{chunk:04d}.json"), "--targets", str(targets),
                "--settings", json.dumps(SETTINGS.replace(temporal_keyframes=2).to_dict()), "--threads", "1", "--quiet",
                "-o", str(tmp_path / output),
                *more]

    subprocess.run(command(0, "c0"), check=True)
    continues = ["--lead-in", "4", "--earlier-chunks", str(tmp_path / "c0")]
    subprocess.run(command(1, "whole", *continues), check=True)
    kill_when_finished(command(1, "killed", *continues), tmp_path / ".killed.partial", 2)
    assert not (tmp_path / "killed").exists()
    rerun = subprocess.run(command(1, "killed", *continues), capture_output=True, text=True, check=True)
    assert "resuming after" in rerun.stderr
    assert segment_names(tmp_path / "killed" / "frames.mkv") == [f"{i:06d}.png" for i in range(4, 8)]
    assert (tmp_path / "killed" / "frames.mkv").read_bytes() == (tmp_path / "whole" / "frames.mkv").read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_full_disk_mid_chunk_is_one_line_and_keeps_the_finished_frames(tmp_path, targets):
    """The chunk's output on a file system with room for a few frames: the job stops with one
    line naming the file it could not write; with space freed, the rerun keeps what was done."""
    write_clip(tmp_path / "clip.mkv", frames=8, audio=False)
    plan_video(tmp_path / "clip.mkv", {"size": 48}, 0, 8, 0, tmp_path / "plan.json", tmp_path / "meta.json",
               tmp_path / "chunks")
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        free = os.statvfs(small).f_bavail * os.statvfs(small).f_frsize
        filler = small / "filler"
        filler.write_bytes(b"\0" * (free - 24 * 1024))  # room for about three frames and their records
        command = [sys.executable, "-m", "painterly.jobs", "stylize-frames", str(tmp_path / "clip.mkv"),
                   "--chunk-source", str(tmp_path / "chunks" / "0000.json"), "--targets", str(targets),
                   "--settings", json.dumps(SETTINGS.to_dict()), "--threads", "1", "--quiet", "-o", str(small / "out")]
        full = subprocess.run(command, capture_output=True, text=True, timeout=600)
        lines = full.stderr.strip().splitlines()
        assert full.returncode == 2 and len(lines) == 2 and lines[0] == "device: cpu", full.stderr
        assert re.fullmatch(rf"painterly: error: {re.escape(str(small))}/\.out\.partial/\S+: no space left on the "
                            r"device \(or over quota\) while writing it; free some space and run again: finished "
                            r"frames are kept", lines[1]), lines[1]
        assert list((small / ".out.partial").glob("*.png")) and not (small / "out").exists()  # finished frames kept

        filler.unlink()
        subprocess.run(command, check=True, timeout=600)
        assert segment_names(small / "out" / "frames.mkv") == [f"{i:06d}.png" for i in range(8)]
    finally:
        subprocess.run(["umount", str(small)], check=True)
