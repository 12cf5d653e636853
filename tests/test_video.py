"""Frame extraction and encoding with the real ffmpeg."""

import json

import pytest
from PIL import Image

from painterly.errors import PainterlyError
from painterly.encode import encode_video
from painterly.extract import extract_frames, probe

from .media import probe_output, write_clip


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mkv"
    write_clip(path, frames=8)
    return path


def test_extraction_is_deterministic(tmp_path, clip):
    extract_frames(clip, tmp_path / "a", tmp_path / "a.json", size=32)
    extract_frames(clip, tmp_path / "b", tmp_path / "b.json", size=32)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == [f"{i:06d}.png" for i in range(8)]
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
    meta = json.loads((tmp_path / "a.json").read_text())
    assert meta["frame_count"] == 8 and meta["fps"] == 10 and meta["has_audio"] is True
    assert (meta["width"], meta["height"]) == (32, 24)


def test_frame_range_and_fps_subsampling(tmp_path, clip):
    meta = extract_frames(clip, tmp_path / "f", tmp_path / "f.json", size=32, fps=5, start=2, end=8)
    assert meta["frame_count"] == 3 and meta["fps"] == 5 and meta["start_seconds"] == pytest.approx(0.2)


def test_rotation_metadata_is_applied(tmp_path, clip):
    from painterly.extract import ffmpeg_exe
    import subprocess

    rotated = tmp_path / "rotated.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-display_rotation", "90", "-i", str(clip), "-c:v", "libx264",
                    "-an", str(rotated)], check=True)
    assert (probe(rotated)["width"], probe(rotated)["height"]) == (48, 64)
    meta = extract_frames(rotated, tmp_path / "f", tmp_path / "f.json", size=32)
    assert (meta["width"], meta["height"]) == (24, 32)
    assert Image.open(tmp_path / "f" / "000000.png").size == (24, 32)


def test_encode_keeps_fps_frames_and_audio_with_odd_sizes(tmp_path, clip):
    meta = extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=33)  # 33x25: odd
    assert (meta["width"], meta["height"]) == (33, 25)
    out = tmp_path / "out.mp4"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out, audio_source=clip)
    info = probe_output(out)
    assert info["frames"] == 8 and info["fps"] == 10 and info["audio"]
    assert "h264" in info["video"] and "yuv420p" in info["video"] and "34x26" in info["video"]


@pytest.mark.parametrize("content, message", [(None, "missing or empty"), (b"", "missing or empty"),
                                              (b"not a video at all", "no video stream")])
def test_bad_video_is_one_line_error(tmp_path, content, message):
    path = tmp_path / "bad.mp4"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(PainterlyError, match=message) as error:
        extract_frames(path, tmp_path / "frames", tmp_path / "meta.json", size=32)
    assert str(path) in str(error.value) and not (tmp_path / "frames").exists()
