"""Video out: stylized frames, with the source's timing and audio, to MP4, MOV, WebM or GIF.

PyAV (libav's API, the libraries bundled in its wheel, the same that decode) encodes each
frame at the timestamp extraction recorded and gives its packet the recorded duration,
so a variable frame rate stays variable and the video ends where the source's last frame
ends. The source's sound over the same span is decoded, cut to the sample and encoded
beside it, so it stays in sync. No ffmpeg binary, no intermediate file.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import PainterlyError
from .io import atomic_path


@dataclass(frozen=True)
class OutputFormat:
    codec: str
    pix_fmt: str
    options: dict[str, str]  # the encoder's, as ffmpeg's command line names them
    audio: str | None  # the sound's codec; None: the format has none
    audio_bit_rate: int = 0
    muxer_options: dict[str, str] = field(default_factory=dict)


# Output suffix -> encoding; each encoder is in PyAV's wheel. MOV is ProRes 422 HQ with
# PCM sound, what editors ask for; WebM is VP9 and Opus for the web.
FORMATS = {
    "mp4": OutputFormat("libx264", "yuv420p", {"crf": "18", "preset": "medium"}, "aac", 160_000,
                        {"movflags": "+faststart"}),
    "mov": OutputFormat("prores_ks", "yuv422p10le", {"profile": "hq"}, "pcm_s16le"),
    "webm": OutputFormat("libvpx-vp9", "yuv420p", {"crf": "30", "b": "0", "row-mt": "1"}, "libopus", 128_000),
    # One palette for the whole clip, computed from every frame (palettegen, then paletteuse).
    "gif": OutputFormat("gif", "pal8", {}, None),
}


def output_format(path) -> str:
    """The format ``path`` asks for by its suffix, or a one-line error listing those there are."""
    path = Path(path)
    kind = path.suffix.lower().lstrip(".")
    if path.is_dir():
        raise PainterlyError(f"{path}: is a directory; give an output file name ending in {_suffixes()}")
    if kind not in FORMATS:
        raise PainterlyError(f"{path}: cannot write {path.suffix or 'a file without a suffix'}; end the name in {_suffixes()}")
    return kind


def _suffixes() -> str:
    return ", ".join(f".{kind}" for kind in FORMATS)


def encode_video(frames, meta_path, output, audio_source=None) -> None:
    """Encode the stylized ``frames`` (in order: PNG paths, or painterly.video.seams.final_frames)
    at the extraction's timestamps, in the format ``output``'s suffix names, with the
    source's audio over the extracted span."""
    import av

    output = Path(output)
    kind = output_format(output)
    meta = json.loads(Path(meta_path).read_text())
    frames = list(frames)
    if len(frames) != meta["frame_count"]:
        raise PainterlyError(f"{output}: {len(frames)} stylized frames for {meta['frame_count']} extracted; rerun the workflow")
    encoding = FORMATS[kind]
    time_base = Fraction(meta["time_base"])
    # The output starts at 0; frame i is shown from pts[i] to pts[i + 1].
    pts = [p - meta["frame_pts"][0] for p in (*meta["frame_pts"], meta["end_pts"])]
    durations = {start: stop - start for start, stop in itertools.pairwise(pts)}
    with atomic_path(output) as tmp:
        try:
            with av.open(str(tmp), "w", format=kind, options=encoding.muxer_options) as container, \
                    contextlib.ExitStack() as inputs:
                video = _video_stream(container, encoding, meta, time_base, list(durations.values()))
                sound = None
                if audio_source and meta["has_audio"] and encoding.audio:
                    source = inputs.enter_context(av.open(str(audio_source)))
                    sound = _Sound(container, encoding, source, meta["start_seconds"], meta["duration_seconds"])
                pictures = functools.partial(_pictures, frames, (meta["width"], meta["height"]), time_base, pts)
                for picture in _palette_mapped(pictures, meta, time_base) if kind == "gif" else pictures():
                    if sound:
                        sound.write_until(float(picture.pts * time_base))
                    _mux(container, video.encode(picture), durations)
                _mux(container, video.encode(None), durations)
                if sound:
                    sound.write_until(math.inf)
        except (av.error.FFmpegError, ValueError) as error:
            raise PainterlyError(f"{output}: could not encode it ({error}); fix that and rerun") from None


def _video_stream(container, encoding: OutputFormat, meta: dict, time_base: Fraction, durations: list[int]):
    video = container.add_stream(encoding.codec, rate=Fraction(meta["fps"]).limit_denominator(100_000),
                                 options=dict(encoding.options))
    video.width, video.height = meta["width"], meta["height"]
    video.pix_fmt = encoding.pix_fmt
    video.time_base = video.codec_context.time_base = time_base
    if max(durations) - min(durations) > 1:  # a tick apart is rounding, not a variable rate
        # The MP4 muxer ends a track at the last packet in decode order: with B-frames and
        # uneven durations that would cut the last frame short.
        video.codec_context.max_b_frames = 0
    return video


def _mux(container, packets, durations: dict[int, int]) -> None:
    for packet in packets:
        # Encoders with a delay (x264, VP9) drop the frame's duration; the muxer then guesses
        # the last frame's from the rate, and a variable-rate video ends early.
        packet.duration = durations.get(packet.pts, packet.duration)
        container.mux(packet)


def _pictures(frames: list, size: tuple[int, int], time_base: Fraction, pts: list[int]):
    """The frames as PyAV pictures at their timestamps, each checked for the extracted size."""
    import av

    from .segments import load_frames

    for ref, frame, start in zip(frames, load_frames(frames), pts):
        if frame.shape[1::-1] != size:
            raise PainterlyError(f"{getattr(ref, 'path', ref)}: {frame.shape[1]}x{frame.shape[0]}, not the "
                                 f"extracted {size[0]}x{size[1]}; rerun the workflow")
        picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
        picture.pts, picture.time_base = start, time_base
        yield picture


def _palette_mapped(pictures, meta: dict, time_base: Fraction):
    """``pictures()`` mapped to one palette made from all of them: two passes over the frames,
    so that a long GIF is never held in memory."""
    import av

    size = {"width": meta["width"], "height": meta["height"], "time_base": time_base}
    graph = av.filter.Graph()
    source, palettegen, sink = graph.add_buffer(format="rgb24", **size), graph.add("palettegen"), graph.add("buffersink")
    source.link_to(palettegen)
    palettegen.link_to(sink)
    graph.configure()
    for picture in pictures():
        source.push(picture)
    source.push(None)
    palette = sink.pull()
    palette.pts = 0  # the palette applies from the first frame on

    graph = av.filter.Graph()
    source = graph.add_buffer(format="rgb24", **size)
    palette_in = graph.add_buffer(width=palette.width, height=palette.height, format=palette.format.name,
                                  time_base=time_base)
    paletteuse, sink = graph.add("paletteuse"), graph.add("buffersink")
    source.link_to(paletteuse, 0, 0)
    palette_in.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    palette_in.push(palette)
    palette_in.push(None)
    for picture in pictures():
        source.push(picture)
        yield from _pull_all(sink)
    source.push(None)
    yield from _pull_all(sink)


def _pull_all(sink):
    import av

    while True:
        try:
            yield sink.pull()
        except (BlockingIOError, av.error.EOFError):
            return


# ffmpeg's usual layout for a count of channels (av_channel_layout_default).
USUAL_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _named_layout(layout) -> str:
    """``layout``, or where it names no channels ("1 channels": PCM in Matroska), which no
    encoder takes, the usual one for its count of channels."""
    if any(channel.name == "NONE" for channel in layout.channels):
        return USUAL_LAYOUTS.get(layout.nb_channels, "stereo")
    return layout.name


class _Sound:
    """The first audio stream of ``source`` (an open PyAV input) from ``start`` for
    ``duration`` seconds, re-encoded in ``encoding``'s codec, written as the video's time
    reaches it (interleaved, as a player reads them)."""

    def __init__(self, container, encoding: OutputFormat, source, start: float, duration: float):
        import av

        decoded = source.streams.audio[0]
        codec = av.codec.Codec(encoding.audio, "w")
        rates = codec.audio_rates
        rate = decoded.rate if not rates or decoded.rate in rates else (48000 if 48000 in rates else max(rates))
        self.stream = container.add_stream(encoding.audio, rate=rate)
        self.stream.layout = _named_layout(decoded.layout)
        self.stream.format = codec.audio_formats[0].name
        if encoding.audio_bit_rate:
            self.stream.bit_rate = encoding.audio_bit_rate
        self.container, self.rate, self._flushed = container, rate, False
        self._frames = self._cut(source, decoded, start, duration)
        self._pending = next(self._frames, None)

    def write_until(self, seconds: float) -> None:
        while self._pending is not None and self._pending.pts / self.rate <= seconds:
            _mux(self.container, self.stream.encode(self._pending), {})
            self._pending = next(self._frames, None)
        if self._pending is None and not self._flushed:
            _mux(self.container, self.stream.encode(None), {})
            self._flushed = True

    def _cut(self, source, decoded, start: float, duration: float) -> Iterator:
        """The sound from ``start`` to ``start + duration`` in the output's format, frames timed
        in samples from the video's start."""
        import av

        resampler = av.AudioResampler(format=self.stream.format.name, layout=self.stream.layout.name, rate=self.rate)
        if start > 0:
            source.seek(int(start / decoded.time_base), stream=decoded)
        decoded_frames = source.decode(decoded)
        first = next(decoded_frames, None)
        if first is None:
            return
        # Where the first decoded sample lies, in output samples; the rest follow it.
        position = round((float(first.pts * first.time_base) - start) * self.rate) if first.pts is not None else 0
        for frame in itertools.chain([first], decoded_frames, [None]):  # None: the resampler's rest
            for converted in resampler.resample(frame):
                yield from self._within(converted, position, round(duration * self.rate))
                position += converted.samples

    def _within(self, frame, first: int, end: int) -> Iterator:
        """The part of ``frame`` (its first sample at ``first``) in [0, end)."""
        import av

        keep_from, keep_to = max(0, -first), min(frame.samples, end - first)
        if keep_to <= keep_from:
            return
        if (keep_from, keep_to) != (0, frame.samples):
            samples = frame.to_ndarray()
            channels = 1 if frame.format.is_planar else len(frame.layout.channels)
            samples = samples[:, keep_from * channels:keep_to * channels]
            cut = av.AudioFrame.from_ndarray(samples, format=frame.format.name, layout=frame.layout.name)
            cut.sample_rate, frame = frame.sample_rate, cut
        frame.pts, frame.time_base = first + keep_from, Fraction(1, self.rate)
        yield frame
