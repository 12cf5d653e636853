"""Video in: probing a video, and reading the frames a row uses of it, deterministically:
once in order to plan it (FrameScan), and a chunk's run of them by seeking (decode_frames).

Decoding goes through PyAV (libav's API, its libraries bundled in the wheel) rather than
ffmpeg's raw-video pipe, because the pipe emits frames at one nominal rate: a
variable-frame-rate source (phones, screen recordings, an AVI that holds a picture for
seconds) comes out with pictures repeated and the timing lost. PyAV hands over each
decoded picture once with its own timestamp and duration, so each distinct frame is
read once and its time recorded; stream facts (rotation, audio, time
base) are fields, not text scraped from stderr; a damaged file raises or logs a libav
error we can quote, and there is no subprocess pipe to drain. Encoding goes through PyAV
too (``encode.py``).
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import heapq
import itertools
import json
import math
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import numpy as np
from PIL import Image

from ..errors import PainterlyError
from .io import atomic_dir, atomic_path, picture_digest, sha256_file

FRAME_PATTERN = "{:06d}.png"
FIX_DAMAGED = "copy or export the video again"
REORDER_WINDOW = 16
# Key frames before a chunk it may seek to: a demuxer that seeks by decoding time can land a
# key frame late, and the one before then lands right.
SEEK_CANDIDATES = 4


class _Video:
    """The first video stream of an opened file, decoded picture by picture."""

    def __init__(self, path: Path, container, errors: list):
        self.path, self.container, self.errors = path, container, errors
        self.stream = container.streams.video[0]
        # One decoding thread: with frame threads, how a damaged picture is concealed depends
        # on their timing (a chunk's frames then differ from the plan's at random), and a file
        # closed mid-stream could deadlock with the log capture below (a frame thread logging
        # waits for the GIL the closing thread holds). Decoding is not where a job spends time.
        self.stream.thread_count = 1
        self.has_audio = bool(container.streams.audio)
        # ffmpeg's -ss counts from the file's start, which may precede the first picture.
        self.start = Fraction(container.start_time or 0, av.time_base)

    def frames(self) -> Iterator[av.VideoFrame]:
        """Each decoded picture once, in order; read to the end, raises if the file is damaged."""
        count = 0
        try:
            for frame in self.container.decode(self.stream):
                yield frame
                count += 1
        except av.FFmpegError as error:
            raise self._damaged(count, _cause(error, self.errors)) from None
        # The demuxer logs (and does not raise) a file that ends mid-packet or mid-element;
        # decoder complaints are left alone: ffmpeg conceals those, as players do.
        demuxer = [message for _, source, message in self.errors if source == self.container.format.name]
        if demuxer:
            raise self._damaged(count, _first_line(demuxer[-1]))

    def timed_frames(self) -> Iterator[tuple[int | None, av.VideoFrame]]:
        """Each picture with its presentation time (pts in the stream's time base, or None).

        Decoders hand out pictures in display order, but some files (AVIs with B-frames)
        stamp them with their packets' pts in decode order: the times are the right set,
        on the wrong pictures. So the k-th picture gets the k-th smallest time, taken from
        a window wider than any decoder reorders (H.264 holds at most 16 pictures).
        """
        times: list[int] = []
        pending: collections.deque = collections.deque()
        for frame in self.frames():
            time = frame.pts if frame.pts is not None else frame.dts
            if time is not None:
                heapq.heappush(times, time)
            pending.append(frame)
            if len(pending) > REORDER_WINDOW:
                yield (heapq.heappop(times) if times else None), pending.popleft()
        while pending:
            yield (heapq.heappop(times) if times else None), pending.popleft()

    def end_ticks(self) -> int:
        """Where the file ends (its longest stream), in this stream's time base; 0 if unknown."""
        if self.container.duration is None:
            return 0
        end = Fraction(self.container.duration, av.time_base) + self.start
        return math.floor(end / self.stream.time_base)

    def _damaged(self, count: int, cause: str) -> PainterlyError:
        return PainterlyError(f"{self.path}: damaged or cut short after {count} frames ({cause}); {FIX_DAMAGED}")


@contextlib.contextmanager
def _open_video(path: str | Path) -> Iterator[_Video]:
    """Open ``path`` for decoding; anything unreadable is a one-line error naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise PainterlyError(f"{path}: no such video file; check the path")
    if path.stat().st_size == 0:
        raise PainterlyError(f"{path}: the file is empty; replace it with the real video")
    # PyAV drops libav's messages unless asked, and by default a message equal to the
    # previous one, even from an earlier file.
    level, skip_repeated = av.logging.get_level(), av.logging.get_skip_repeated()
    av.logging.set_level(av.logging.ERROR)
    av.logging.set_skip_repeated(False)
    try:
        with av.logging.Capture(local=False) as errors:
            try:
                container = av.open(str(path))
            except av.FFmpegError as error:
                raise PainterlyError(
                    f"{path}: not a video or image painterly can read ({_cause(error, errors)}); "
                    f"if it plays elsewhere, it is damaged or cut short: {FIX_DAMAGED}"
                ) from None
            with container:
                if not container.streams.video:
                    found = "only audio" if container.streams.audio else "no video stream"
                    raise PainterlyError(f"{path}: {found} in the file; give a video file")
                yield _Video(path, container, errors)
    finally:
        av.logging.set_level(level)
        av.logging.set_skip_repeated(skip_repeated)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _cause(error: av.FFmpegError, errors: list) -> str:
    """libav's own last word on a failure, else the error's description."""
    return _first_line(errors[-1][2]) if errors else error.strerror


def _upright(frame: av.VideoFrame) -> np.ndarray:
    """The picture as RGB, turned as the display matrix says (ffmpeg's autorotate)."""
    return np.rot90(frame.to_ndarray(format="rgb24"), round(frame.rotation / 90))


def probe(path: str | Path) -> dict:
    """Facts of a video from its first picture: size as displayed (rotation applied),
    average fps and audio. Raises a one-line error if it is not a video that decodes."""
    with _open_video(path) as video:
        first = next(video.frames(), None)
        if first is None:
            raise PainterlyError(f"{path}: its video stream has no picture that decodes; {FIX_DAMAGED}")
        width, height = display_size(first, video.stream)
        rate = video.stream.average_rate or video.stream.guessed_rate
        return {"width": width, "height": height, "fps": float(rate) if rate else None, "has_audio": video.has_audio}


def display_size(frame: av.VideoFrame, stream) -> tuple[int, int]:
    """(width, height) of a picture as players show it: its pixels' aspect ratio applied
    (anamorphic DVD, HDV and broadcast video store wide pictures in narrow pixels) and
    turned upright as ``_upright`` turns it."""
    aspect = stream.sample_aspect_ratio or 1  # None or 0: square pixels
    size = (max(1, round(frame.width * aspect)), frame.height)
    return size[::-1] if round(frame.rotation / 90) % 2 else size


def even_fit(size: tuple[int, int], long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is about ``long_side``, both sides even:
    H.264 and VP9 in yuv420p need even sides, and choosing them here means no encoder
    pads or crops the painted frames."""
    scale = long_side / max(size)
    return tuple(2 * max(1, round(side * scale / 2)) for side in size)


class _Subsampler:
    """Keeps the first frame at or after each point of a 1/fps-second grid (all without fps).

    The grid starts at the first kept frame and skips ahead over long-held frames; a
    slack of a thousandth of a step keeps every frame when ``fps`` is the source's rate
    written rounded (29.97 for 30000/1001).
    """

    def __init__(self, fps: float | None):
        self.step = 1 / Fraction(str(fps)) if fps else None
        self.next: Fraction | None = None

    def keep(self, time: Fraction) -> bool:
        if self.step is None:
            return True
        slack = self.step / 1000
        if self.next is not None and time < self.next - slack:
            return False
        base = time if self.next is None else self.next
        self.next = base + self.step * (math.floor((time + slack - base) / self.step) + 1)
        return True


class FrameScan:
    """The frames a row uses of a source, read in one pass: each distinct decoded picture
    once, those in [start, end) of decoding order, subsampled to at most ``fps``, turned
    upright and resized to long side ``size`` (both sides even, LANCZOS).

    Iterating yields (position among the kept frames, RGB uint8 array); afterwards ``meta``
    is the video's metadata: each kept frame's timestamp (``frame_pts`` in ``time_base``,
    from 0) and when the last stops showing (``end_pts``), so encoding keeps a variable
    frame rate; and ``decoded_index`` (each kept frame's place in decoding order) and
    ``keyframes`` ([decoded index, pts] of the key frames) say where a run of frames is,
    so a chunk job can seek to its own (``chunk_source``, ``decode_frames``). Same source,
    same arguments -> the same arrays.
    """

    def __init__(self, video: _Video, size: int, fps: float | None = None, start: int = 0, end: int | None = None):
        if end is not None and end <= start:
            raise PainterlyError(f"{video.path}: end {end} is not after start {start}; set end > start in the sheet")
        self.video, self.size, self.fps, self.start, self.end = video, size, fps, start, end
        self.kept: list[int] = []
        self.decoded_index: list[int] = []
        self.keyframes: list[list[int]] = []
        self.decoded, self.end_pts, self.frame_size = 0, 0, None

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        video, subsampler, previous_pts = self.video, _Subsampler(self.fps), None
        time_base = video.stream.time_base
        rate = video.stream.average_rate or video.stream.guessed_rate
        default_ticks = max(1, round(1 / (rate * time_base))) if rate else 1
        for pts, frame in video.timed_frames():
            # One without a time, or stamped no later than the last, shows right after the last.
            if pts is None or (previous_pts is not None and pts <= previous_pts):
                pts = self.end_pts
            if self.end is not None and self.decoded >= self.end:
                self.end_pts = pts  # the range ends where its first left-out frame begins
                break
            if frame.key_frame and frame.pts is not None:
                self.keyframes.append([self.decoded, frame.pts])
            self.decoded += 1
            previous_pts, self.end_pts = pts, pts + (frame.duration or default_ticks)
            if self.decoded <= self.start or not subsampler.keep(pts * time_base):
                continue
            if self.frame_size is None:  # the first frame sets the video's size
                self.frame_size = even_fit(display_size(frame, video.stream), self.size)
            picture = resize_frame(frame, self.frame_size)
            self.kept.append(pts)
            self.decoded_index.append(self.decoded - 1)
            yield len(self.kept) - 1, picture
        if self.end is None or self.decoded < self.end:
            # Read to the end: the last picture shows until the file ends, as players hold it
            # while the sound plays on (its own duration is often a default 1/25 s).
            self.end_pts = max(self.end_pts, video.end_ticks())

    @property
    def meta(self) -> dict:
        video, kept, time_base = self.video, self.kept, self.video.stream.time_base
        if not kept:
            if self.decoded == 0:
                raise PainterlyError(f"{video.path}: its video stream has no picture that decodes; {FIX_DAMAGED}")
            raise PainterlyError(f"{video.path}: start {self.start} is past its last frame (it has {self.decoded}); "
                                 f"set start below {self.decoded} in the sheet")
        duration = (self.end_pts - kept[0]) * time_base
        return {
            "source": str(video.path),
            "source_sha256": sha256_file(video.path),
            "frame_count": len(kept),
            "width": self.frame_size[0],
            "height": self.frame_size[1],
            "has_audio": video.has_audio,
            "fps": float(len(kept) / duration),
            "time_base": str(time_base),
            "frame_pts": [pts - kept[0] for pts in kept],
            "end_pts": self.end_pts - kept[0],
            "start_seconds": float(kept[0] * time_base - video.start),
            "duration_seconds": float(duration),
        }


def resize_frame(frame: av.VideoFrame, frame_size: tuple[int, int]) -> np.ndarray:
    """A decoded picture upright (ffmpeg's autorotate), at ``frame_size`` (width, height)."""
    image = Image.fromarray(np.ascontiguousarray(_upright(frame))).resize(frame_size, Image.Resampling.LANCZOS)
    return np.asarray(image)


@contextlib.contextmanager
def scan_video(source, size: int, fps: float | None = None, start: int = 0, end: int | None = None
               ) -> Iterator[FrameScan]:
    """A FrameScan of ``source``, open while the block runs."""
    with _open_video(source) as video:
        yield FrameScan(video, size, fps, start, end)


def write_meta(meta: dict, meta_path) -> None:
    with atomic_path(meta_path) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n")


def extract_frames(source, frames_dir, meta_path, size: int, fps: float | None = None, start: int = 0, end: int | None = None) -> dict:
    """Decode ``source`` into lossless PNGs ``frames_dir/000000.png`` ... (FrameScan's
    frames) and its metadata into ``meta_path``. The directory appears whole or not at all.
    The workflow reads frames straight from the source (painterly.video.shots, decode_frames);
    extracted files serve tools and tests that want the frames as files."""
    with scan_video(source, size, fps, start, end) as scan, atomic_dir(frames_dir) as tmp:
        for position, picture in scan:
            Image.fromarray(picture).save(tmp / FRAME_PATTERN.format(position), optimize=False)
        meta = scan.meta
    write_meta(meta, meta_path)
    return meta


def frames_digest(picture_digests: list[str]) -> str:
    """One digest for a run of frames, from theirs (picture_digest), in order."""
    return hashlib.sha256("\n".join(picture_digests).encode()).hexdigest()


def chunk_source(scan: FrameScan, start: int, end: int, picture_digests: list[str]) -> dict:
    """Where frames ``start`` .. ``end`` - 1 of a scanned video are in its source, and their
    digest: what a chunk job needs to decode them (decode_frames), and what changes exactly
    when they do (so Snakemake reruns only chunks whose frames changed)."""
    wanted = scan.decoded_index[start:end]
    keys = [key for key in scan.keyframes if key[0] <= wanted[0]][-SEEK_CANDIDATES - 1:]
    return {"start": start, "decoded_index": wanted, "keyframes": keys,
            "width": scan.frame_size[0], "height": scan.frame_size[1],
            "first_picture": picture_digests[start], "digest": frames_digest(picture_digests[start:end])}


def decode_frames(source, chunk: dict) -> list[np.ndarray]:
    """The frames a ``chunk_source`` record describes, decoded from ``source``: from a key
    frame before them, or, where the file does not let a decoder start there (no seek lands
    on a key frame the plan saw, or the frames differ from the record's digest), from its
    beginning."""
    # The latest first; seeking to the first key frame too, since a demuxer seeking by
    # decoding time (MPEG-TS) lands a key frame late, on one the chunk can start from.
    for target in [*reversed(chunk["keyframes"][-SEEK_CANDIDATES:]), None]:
        pictures = _decode_from(source, chunk, target)
        if pictures is not None and frames_digest([picture_digest(p) for p in pictures]) == chunk["digest"]:
            return pictures
    first = chunk["start"]
    raise PainterlyError(f"{source}: frames {first}-{first + len(chunk['decoded_index']) - 1} are not those the plan "
                         "saw; the file changed since plan_chunks ran: run the workflow again")


def _decode_from(source, chunk: dict, target: list[int] | None) -> list[np.ndarray] | None:
    """The chunk's frames, decoding after a seek to ``target`` ([decoded index, pts] of a key
    frame; None: from the beginning). Demuxers that seek by decoding time may land on
    another key frame: any the record knows, not past the chunk's first frame, will do.
    Where the frame landed on has a time no frame had (MPEG-PS guesses times after a seek),
    the chunk starts at its first picture (the record has its digest), looked for nearby.
    None if the seek lands elsewhere or the file ends first."""
    wanted, size = chunk["decoded_index"], (chunk["width"], chunk["height"])
    known = {pts: index for index, pts in chunk["keyframes"]}
    with _open_video(source) as video:
        frames = video.frames()
        if target is not None:
            video.container.seek(target[1], stream=video.stream, backward=True, any_frame=False)
        first = next(frames, None)
        if first is None:
            return None
        frames = itertools.chain([first], frames)
        landed = 0 if target is None else known.get(first.pts)
        if landed is None and "first_picture" in chunk:  # (plans before it: times only)
            frames = _from_first_picture(frames, chunk, size, target[0])
            landed = None if frames is None else wanted[0]
        if landed is None or landed > wanted[0]:
            return None
        pictures = []
        for index, frame in enumerate(frames, landed):
            if index == wanted[len(pictures)]:
                pictures.append(resize_frame(frame, size))
                if len(pictures) == len(wanted):
                    return pictures
    return None


def _from_first_picture(frames: Iterator[av.VideoFrame], chunk: dict, size: tuple[int, int], key: int
                        ) -> Iterator[av.VideoFrame] | None:
    """``frames`` from the chunk's first picture on, looked for as far past the landing as the
    key frame sought (decoded index ``key``) is before the chunk, and as far again (a landing a
    key frame early or late); None if not there."""
    search = 2 * (chunk["decoded_index"][0] - key) + 1
    for frame in itertools.islice(frames, search):
        if picture_digest(resize_frame(frame, size)) == chunk["first_picture"]:
            return itertools.chain([frame], frames)
    return None


def frame_paths(frames_dir, first: int, count: int) -> list[Path]:
    return [Path(frames_dir) / FRAME_PATTERN.format(i) for i in range(first, first + count)]


def frame_index(path: str | Path) -> int:
    """A frame's position in its video, from its name (FRAME_PATTERN)."""
    try:
        return int(Path(path).stem)
    except ValueError:
        raise PainterlyError(f"{path}: not an extracted frame (000123.png); pass the frames extract_frames wrote") from None
