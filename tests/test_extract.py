"""Frame extraction and probing, on clips made by the real ffmpeg."""

import json
import os
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from painterly.errors import PainterlyError
from painterly.media.extract import _decode_from, chunk_source, decode_frames, extract_frames, probe, scan_video
from painterly.media.io import is_video, picture_digest

from .media import VFR_TICKS, frame_pixels, get_ffmpeg_exe, write_clip, write_vfr_clip


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mkv"
    write_clip(path, frames=8)
    return path


@pytest.fixture
def vfr_clip(tmp_path):
    path = tmp_path / "vfr.mp4"
    write_vfr_clip(path)
    return path


def ffmpeg(*args):
    subprocess.run([get_ffmpeg_exe(), "-v", "error", "-y", *map(str, args)], check=True)


def frame_times(meta) -> list[float]:
    return [float(pts * Fraction(meta["time_base"])) for pts in meta["frame_pts"]]


def test_extraction_is_deterministic(tmp_path, clip):
    extract_frames(clip, tmp_path / "a", tmp_path / "a.json", size=32)
    extract_frames(clip, tmp_path / "b", tmp_path / "b.json", size=32)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"{i:06d}.png" for i in range(8)]
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
    meta = json.loads((tmp_path / "a.json").read_text())
    assert meta["frame_count"] == 8 and meta["fps"] == 10 and meta["has_audio"] is True
    assert (meta["width"], meta["height"]) == (32, 24)
    assert frame_times(meta) == pytest.approx([i / 10 for i in range(8)]) and meta["duration_seconds"] == 0.8


def test_frame_range_and_fps_subsampling(tmp_path, clip):
    meta = extract_frames(clip, tmp_path / "f", tmp_path / "f.json", size=32, fps=5, start=2, end=8)
    assert meta["frame_count"] == 3 and meta["fps"] == 5 and meta["start_seconds"] == pytest.approx(0.2)
    assert frame_times(meta) == pytest.approx([0, 0.2, 0.4]) and meta["duration_seconds"] == pytest.approx(0.6)


def test_variable_frame_rate_gives_each_picture_once_with_its_time(tmp_path, vfr_clip):
    """15 pictures over 3.0 s: once a raw pipe at the stream's 25 fps made 30 of them over 4.8 s.
    The last one lasts to the end of the file (its sound), not the track's 1/25 s."""
    meta = extract_frames(vfr_clip, tmp_path / "f", tmp_path / "f.json", size=32)
    starts = np.cumsum((0, *VFR_TICKS[:-1])) / 25
    assert meta["frame_count"] == len(VFR_TICKS) == len(list((tmp_path / "f").iterdir()))
    assert frame_times(meta) == pytest.approx(starts) and meta["duration_seconds"] == pytest.approx(3.0)
    first = np.asarray(Image.open(tmp_path / "f" / "000001.png"), dtype=float)
    second = np.asarray(Image.open(tmp_path / "f" / "000002.png"), dtype=float)
    assert np.abs(first - second).mean() > 1  # distinct pictures, not a held one repeated


def test_variable_frame_rate_range_and_subsampling(tmp_path, vfr_clip):
    starts = np.cumsum((0, *VFR_TICKS)) / 25  # and the end, 3.0 s
    meta = extract_frames(vfr_clip, tmp_path / "r", tmp_path / "r.json", size=32, start=2, end=10)
    assert meta["frame_count"] == 8 and meta["start_seconds"] == pytest.approx(starts[2])
    assert meta["duration_seconds"] == pytest.approx(starts[10] - starts[2])
    # At most 3 fps: the first picture at or after each third of a second, the span kept whole.
    meta = extract_frames(vfr_clip, tmp_path / "s", tmp_path / "s.json", size=32, fps=3)
    kept = frame_times(meta)
    assert kept == pytest.approx([0.0, 0.4, 0.8, 1.0, 1.48, 1.84, 2.0, 2.36]) and meta["duration_seconds"] == 3.0


def test_b_frames_in_avi_keep_their_display_times(tmp_path, clip):
    """AVI stamps pictures with their packets' pts in decode order; times must still run 0.1 s apart."""
    avi = tmp_path / "bframes.avi"
    ffmpeg("-i", clip, "-c:v", "libx264", "-bf", "2", "-c:a", "mp3", avi)
    meta = extract_frames(avi, tmp_path / "f", tmp_path / "f.json", size=32)
    assert meta["frame_count"] == 8 and frame_times(meta) == pytest.approx([i / 10 for i in range(8)])
    # MP3 frames of 1152 samples pad the 0.8 s of sound to 0.9 s: the last picture holds to the end.
    assert meta["duration_seconds"] == pytest.approx(0.9)


def test_rotation_metadata_is_applied(tmp_path, clip):
    plain, rotated = tmp_path / "plain.mp4", tmp_path / "rotated.mp4"
    ffmpeg("-i", clip, "-c:v", "libx264", "-an", plain)
    ffmpeg("-display_rotation", "90", "-i", plain, "-c", "copy", rotated)  # metadata only, pixels untouched
    assert (probe(rotated)["width"], probe(rotated)["height"]) == (48, 64)
    meta = extract_frames(rotated, tmp_path / "f", tmp_path / "f.json", size=64)
    assert (meta["width"], meta["height"]) == (48, 64)
    ffmpeg("-i", rotated, "-frames:v", "1", tmp_path / "upright.png")  # ffmpeg's own autorotate
    ours = np.asarray(Image.open(tmp_path / "f" / "000000.png"), dtype=float)
    assert np.abs(ours - np.asarray(Image.open(tmp_path / "upright.png"), dtype=float)).mean() < 3


def test_non_square_pixels_come_out_as_players_show_them(tmp_path, clip):
    """An anamorphic clip (64x48 stored, each pixel twice as wide as high: shown 128x48)
    is painted at the shape people see, as ffmpeg scales it to its display aspect."""
    wide = tmp_path / "wide.mp4"
    ffmpeg("-i", clip, "-vf", "setsar=2", "-c:v", "libx264", "-an", wide)
    assert (probe(wide)["width"], probe(wide)["height"]) == (128, 48)
    meta = extract_frames(wide, tmp_path / "f", tmp_path / "f.json", size=64)
    assert (meta["width"], meta["height"]) == (64, 24)
    ffmpeg("-i", wide, "-frames:v", "1", "-vf", "scale=64:24,setsar=1", tmp_path / "shown.png")
    ours = np.asarray(Image.open(tmp_path / "f" / "000000.png"), dtype=float)
    assert np.abs(ours - np.asarray(Image.open(tmp_path / "shown.png"), dtype=float)).mean() < 6


@pytest.mark.parametrize("name, args", [
    ("clip.ts", ["-c:v", "mpeg2video", "-c:a", "mp2", "-f", "mpegts"]),
    ("clip.mts", ["-c:v", "libx264", "-c:a", "aac", "-f", "mpegts", "-mpegts_m2ts_mode", "1"]),
    ("clip.3gp", ["-c:v", "libx264", "-c:a", "aac", "-f", "3gp"]),
    ("clip.m2v", ["-c:v", "mpeg2video", "-an", "-f", "mpeg2video"]),  # PIL knows its header, not its pictures
])
def test_videos_are_known_by_content(tmp_path, clip, name, args):
    path = tmp_path / name
    ffmpeg("-i", clip, *args, path)
    assert is_video(path)
    assert extract_frames(path, tmp_path / "f", tmp_path / "f.json", size=32)["frame_count"] == 8


def test_stills_are_images_whatever_their_name_and_animations_videos(tmp_path):
    Image.fromarray(frame_pixels(0)).save(tmp_path / "photo.mp4", format="PNG")
    Image.fromarray(frame_pixels(0)).save(tmp_path / "photo.mov", format="JPEG")
    Image.fromarray(frame_pixels(0)).save(tmp_path / "still.gif")
    pictures = [Image.fromarray(frame_pixels(i)) for i in range(3)]
    pictures[0].save(tmp_path / "anim.gif", save_all=True, append_images=pictures[1:], duration=[100, 300, 200])
    assert not is_video(tmp_path / "photo.mp4") and not is_video(tmp_path / "photo.mov")
    assert not is_video(tmp_path / "still.gif") and is_video(tmp_path / "anim.gif")
    meta = extract_frames(tmp_path / "anim.gif", tmp_path / "f", tmp_path / "f.json", size=32)
    assert frame_times(meta) == pytest.approx([0, 0.1, 0.4]) and meta["duration_seconds"] == pytest.approx(0.6)


def cut(path, fraction):
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])


def overwrite_middle(path):
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle:middle + 2000] = np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))


def make_bad(tmp_path, kind):
    """A bad input of ``kind`` and a phrase its error must contain."""
    path = tmp_path / f"{kind}.mp4"
    if kind == "missing":
        return path, "no such video file"
    if kind == "empty":
        path.write_bytes(b"")
        return path, "the file is empty"
    if kind == "random_bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
        return path, "not a video or image painterly can read"
    if kind == "audio_only":
        ffmpeg("-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", path)
        return path, "only audio in the file"
    path = path.with_suffix(".mkv")
    write_clip(path, frames=30)
    if kind == "cut_short":
        cut(path, 0.5)
    elif kind == "corrupt":
        overwrite_middle(path)
    elif kind == "cut_short_mp4":  # moov atom at the end, never written
        ffmpeg("-i", path, "-c:v", "libx264", "-c:a", "aac", path.with_suffix(".mp4"))
        path = path.with_suffix(".mp4")
        cut(path, 0.5)
        return path, "moov atom not found"
    return path, "damaged or cut short after"


BAD_KINDS = ["missing", "empty", "random_bytes", "audio_only", "cut_short", "corrupt", "cut_short_mp4"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_video_is_one_line_error(tmp_path, kind):
    path, phrase = make_bad(tmp_path, kind)
    with pytest.raises(PainterlyError) as error:
        extract_frames(path, tmp_path / "frames", tmp_path / "meta.json", size=32)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and phrase in message and "\n" not in message
    assert "start" not in message and "sheet" not in message  # the file is to blame, not the range
    assert not (tmp_path / "frames").exists() and not (tmp_path / "meta.json").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]


def test_range_past_the_end_blames_the_range(tmp_path, clip):
    with pytest.raises(PainterlyError, match=r"start 20 is past its last frame \(it has 8\); set start below 8"):
        extract_frames(clip, tmp_path / "f", tmp_path / "f.json", size=32, start=20)
    with pytest.raises(PainterlyError, match="end 3 is not after start 3"):
        extract_frames(clip, tmp_path / "f", tmp_path / "f.json", size=32, start=3, end=3)
    assert not (tmp_path / "f").exists()


def test_sides_are_even_so_no_encoder_pads(tmp_path, clip):
    meta = extract_frames(clip, tmp_path / "f", tmp_path / "f.json", size=33)  # 33x25 would be odd
    assert (meta["width"], meta["height"]) == (32, 24)
    assert Image.open(tmp_path / "f" / "000000.png").size == (32, 24)


KEYFRAMES_EVERY_4 = ("-c:v", "libx264", "-g", "4", "-keyint_min", "4", "-bf", "2", "-pix_fmt", "yuv444p")
MPEG2 = ("-c:v", "mpeg2video", "-g", "4", "-bf", "2", "-q:v", "2")


@pytest.mark.parametrize("name, clip_args, extraction, seeks", [
    ("h264 with B-frames.mp4", KEYFRAMES_EVERY_4, {"size": 32}, True),
    ("h264 with B-frames.avi", KEYFRAMES_EVERY_4, {"size": 32, "start": 3}, True),  # times stamped in decode order
    ("h264 with B-frames.ts", KEYFRAMES_EVERY_4, {"size": 32}, True),  # seeks by decoding time: lands a key late
    ("trimmed by stream copy.mp4", KEYFRAMES_EVERY_4, {"size": 32}, True),  # as phones and QuickTime trim
    # MPEG-PS guesses the times of frames after a seek: the chunk finds its first frame by its picture.
    ("mpeg2.mpg", MPEG2, {"size": 32}, True),
    ("mpeg4 part 2.avi", ("-c:v", "mpeg4", "-g", "4", "-bf", "2", "-q:v", "2"), {"size": 32}, True),
    ("ffv1.mkv", (), {"size": 48, "fps": 5, "start": 1, "end": 15}, False),  # one key frame, then subsampled
])
def test_a_chunk_decodes_its_own_frames_from_the_source(tmp_path, name, clip_args, extraction, seeks):
    """Each chunk's record (plan_chunks) brings back exactly the frames a whole read gives,
    seeking to a key frame before them where the file has one."""
    source = tmp_path / name
    if name.startswith("trimmed"):
        write_clip(tmp_path / "whole.mp4", frames=24, audio=False, extra_args=clip_args)
        ffmpeg("-ss", "0.5", "-i", tmp_path / "whole.mp4", "-c", "copy", source)
    else:
        write_clip(source, frames=16, audio=False, extra_args=clip_args)
    with scan_video(source, **extraction) as scan:
        pictures = [picture for _, picture in scan]
        digests = [picture_digest(picture) for picture in pictures]
        ranges = [(0, 3), (2, 7), (5, len(pictures))] + [(10, len(pictures))] * (len(pictures) > 10)
        records = [chunk_source(scan, start, end, digests) for start, end in ranges]
    for record in records:
        first = record["start"]
        decoded = decode_frames(source, record)
        assert len(decoded) == len(record["decoded_index"]) and all(
            np.array_equal(a, b) for a, b in zip(decoded, pictures[first:]))
    keyed = [record for record in records if any(index > 0 for index, _ in record["keyframes"])]
    assert keyed or not seeks  # key frames every 4: later chunks seek,
    for record in keyed:  # and a seek lands on a key frame the plan saw (or, where it cannot, none claims to)
        landed = [_decode_from(source, record, key) for key in record["keyframes"]]
        assert any(pictures is not None for pictures in landed) == seeks, name
    # Frames that are not what the plan saw (the file changed since): one line, no guess.
    with pytest.raises(PainterlyError, match=r"frames 2-6 are not those the plan saw; .* run the workflow again"):
        decode_frames(source, {**records[1], "digest": "0" * 64})
