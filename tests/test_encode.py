"""Encoding stylized frames back to video with the real ffmpeg: timing, audio, formats, sizes."""

import numpy as np
import pytest
from PIL import Image

from painterly.media.encode import FORMATS, encode_video
from painterly.errors import PainterlyError
from painterly.media.extract import extract_frames

from .media import VFR_TICKS, probe_output, read_first_frame, write_clip, write_vfr_clip


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mkv"
    write_clip(path, frames=8)
    return path


def test_encode_keeps_fps_frames_and_audio(tmp_path, clip):
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=32)
    out = tmp_path / "out.mp4"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out, audio_source=clip)
    info = probe_output(out)
    assert info["frames"] == 8 and info["fps"] == 10 and info["audio"]
    assert "h264" in info["video"] and "yuv420p" in info["video"] and "32x24" in info["video"]
    assert info["video_seconds"] == pytest.approx(0.8) and info["audio_seconds"] == pytest.approx(0.8, abs=0.01)


def test_variable_frame_rate_keeps_its_timing_and_audio_in_sync(tmp_path):
    """Each picture once, at its own time, for as long as the source shows it; the sound as long."""
    source = tmp_path / "vfr.mp4"
    write_vfr_clip(source)
    extract_frames(source, tmp_path / "frames", tmp_path / "meta.json", size=32, start=1)
    out = tmp_path / "out.mp4"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out, audio_source=source)
    info = probe_output(out)
    starts = np.cumsum((0, *VFR_TICKS)) / 25
    assert info["frames"] == len(VFR_TICKS) - 1
    assert info["frame_times"] == pytest.approx(starts[1:-1] - starts[1], abs=1e-3)
    assert info["video_seconds"] == pytest.approx(3.0 - starts[1], abs=1 / 25)
    assert info["audio_seconds"] == pytest.approx(info["video_seconds"], abs=0.03)


@pytest.mark.parametrize("kind, codec", [("mp4", "h264"), ("mov", "prores"), ("webm", "vp9"), ("gif", "gif")])
def test_each_output_format_is_what_its_suffix_says(tmp_path, clip, kind, codec):
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=32)
    out = tmp_path / f"out.{kind}"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out, audio_source=clip)
    info = probe_output(out)
    assert f"Video: {codec}" in info["video"] and info["frames"] == 8
    assert info["video_seconds"] == pytest.approx(0.8)
    assert info["audio"] == (FORMATS[kind].audio is not None)


def test_odd_sizes_get_no_black_row_or_column(tmp_path, clip):
    """Asked for 33 px, extraction gives 32x24; the encoder once padded 33x25 to 34x26 with black."""
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=33)
    out = tmp_path / "out.mp4"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out)
    frame = np.asarray(Image.open(tmp_path / "frames" / "000000.png"), dtype=float)
    encoded = read_first_frame(out).astype(float)
    assert encoded.shape == frame.shape == (24, 32, 3)
    for edge in (np.s_[-1, :], np.s_[:, -1]):  # last row, last column
        assert np.abs(encoded[edge] - frame[edge]).mean() < 12 and encoded[edge].mean() > 40


@pytest.mark.parametrize("name", ["out.avi", "out", "out.MP4.txt"])
def test_unsupported_output_is_refused_listing_the_suffixes(tmp_path, clip, name):
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=32)
    with pytest.raises(PainterlyError, match=r"end the name in \.mp4, \.mov, \.webm, \.gif$"):
        encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", tmp_path / name)
    (tmp_path / "folder.mp4").mkdir()
    with pytest.raises(PainterlyError, match="is a directory"):
        encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", tmp_path / "folder.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "folder.mp4", "frames", "meta.json"]


def test_frames_of_another_size_are_refused(tmp_path, clip):
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=32)
    Image.new("RGB", (30, 24)).save(tmp_path / "frames" / "000003.png")
    with pytest.raises(PainterlyError, match="000003.png: 30x24, not the extracted 32x24; rerun the workflow"):
        encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("kind", ["mp4", "mov", "webm"])
def test_sound_that_names_no_layout_at_a_rate_opus_lacks_is_kept(tmp_path, kind):
    """PCM in Matroska names no channel layout (which no encoder takes), and Opus has no
    8 kHz: the sound is encoded anyway, as long as the picture."""
    clip = tmp_path / "pcm.mkv"
    write_clip(clip, frames=8, extra_args=("-c:a", "pcm_s16le", "-ar", "8000"))
    extract_frames(clip, tmp_path / "frames", tmp_path / "meta.json", size=32)
    out = tmp_path / f"out.{kind}"
    encode_video(sorted((tmp_path / "frames").glob("*.png")), tmp_path / "meta.json", out, audio_source=clip)
    info = probe_output(out)
    assert info["audio"] and info["frames"] == 8
    assert info["audio_seconds"] == pytest.approx(0.8, abs=0.03)
