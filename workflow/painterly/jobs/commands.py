"""The workflow's jobs: one command per rule, ``python -m painterly.jobs COMMAND``, each a
thin adapter from the rule's arguments to the engine (errors as in painterly.cli)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..cli import HelpFormatter, settings_from_args
from ..engine.settings import Settings


def _extraction(args) -> dict:
    """The frames of the source a row uses (painterly.media.extract.scan_video's arguments)."""
    return {"size": args.size, "fps": args.fps, "start": args.start, "end": args.end}


def _decoded_frames(source, chunk_source) -> list:
    """The frames a chunk_sources/<chunk>.json record names, decoded from ``source``."""
    from ..media.extract import FRAME_PATTERN, decode_frames
    from ..media.io import DecodedFrame

    record = json.loads(Path(chunk_source).read_text())
    return [DecodedFrame(FRAME_PATTERN.format(record["start"] + offset), picture)
            for offset, picture in enumerate(decode_frames(source, record))]


def _run_stylize_frames(args) -> None:
    import torch

    from ..video.chunk import stylize_frames

    torch.set_num_threads(args.threads)
    stylize_frames(_decoded_frames(args.source, args.chunk_source), args.targets, args.output,
                   settings_from_args(args), not args.quiet, args.lead_in, args.seam_frames, args.compile,
                   args.earlier_chunks)


def _run_warp_error(args) -> None:
    from ..video.metrics import write_warp_error_table
    from ..video.seams import final_frames

    write_warp_error_table(args.source, _extraction(args), final_frames(args.stylized, args.seams), args.output)


def _run_plan_chunks(args) -> None:
    from ..video.shots import plan_video

    plan_video(args.source, _extraction(args), args.threshold, args.chunk_frames, args.seam_frames, args.plan,
               args.meta, args.chunk_sources, args.chunk_borders == "continue")


def _run_seam(args) -> None:
    from ..video.seams import cross_fade

    cross_fade(args.earlier, args.later, args.output)


def _run_encode(args) -> None:
    from ..media.encode import encode_video
    from ..video.seams import final_frames

    encode_video(final_frames(args.chunks, args.seams), args.meta, args.output, args.audio)


def _run_preview(args) -> None:
    from .preview import side_by_side

    content = _decoded_frames(args.content, args.chunk_source)[0] if args.chunk_source else Path(args.content)
    side_by_side(content, args.stylized, args.output)


def _run_provenance(args) -> None:
    from .provenance import write_video_sidecar

    write_video_sidecar(args.output, source=args.input, styles=args.styles,
                        settings=Settings.from_dict(json.loads(args.settings)).to_dict(), chunk_dirs=args.chunks,
                        benchmarks=args.benchmarks, workflow=json.loads(args.workflow))


def _plan(args):
    from ..video.shots import read_chunk_plan

    return read_chunk_plan(args.plan)


def _run_chunk_times(args) -> None:
    from .report import chunk_times

    chunk_times(args.benchmarks, args.chunks, _plan(args)[0], args.output)


def _run_plot_losses(args) -> None:
    from .report import plot_losses

    plot_losses(args.chunks, *_plan(args), args.output)


def _run_plot_warp_error(args) -> None:
    from .report import plot_warp_error

    plot_warp_error(args.table, *_plan(args), args.output)


def _add_extraction_arguments(parser) -> None:
    parser.add_argument("--size", type=int, required=True, help="long side of the frames")
    parser.add_argument("--fps", type=float, default=None, help="subsample to this rate")
    parser.add_argument("--start", type=int, default=0, help="first source frame")
    parser.add_argument("--end", type=int, default=None, help="source frame to stop before")


def _add_plan_arguments(parser) -> None:
    parser.add_argument("--plan", required=True, help="the video's chunk_plan.json (plan-chunks), to mark its chunks")


def build_parser() -> argparse.ArgumentParser:
    from ..video.seams import SEAM_FRAMES

    parser = argparse.ArgumentParser(prog="python -m painterly.jobs", description="The workflow's jobs, one per rule.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = HelpFormatter

    chunk = commands.add_parser("stylize-frames", help="stylize a run of frames in one process", formatter_class=formatter)
    chunk.add_argument("source", help="the video")
    chunk.add_argument("--chunk-source", required=True,
                       help="the chunk's record from plan-chunks: where its frames are in the video, their digest")
    chunk.add_argument("--lead-in", type=int, default=0, help="the first N frames are a run-up, kept as lead-in.mkv")
    chunk.add_argument("--seam-frames", type=int, default=SEAM_FRAMES,
                       help="config.yaml's seam_frames: the lead-in of each sub-chain after the first (sub_chains)")
    chunk.add_argument("--earlier-chunks", nargs="*", default=[],
                       help="the finished chunks before (chunk_borders: continue): the lead-in frames are their results, "
                       "held to, not stylized; none: the chain starts afresh")
    chunk.add_argument("--targets", required=True)
    chunk.add_argument("-o", "--output", required=True, help="directory to write (frames.mkv, lead-in.mkv, losses.json)")
    chunk.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    chunk.add_argument("--settings", default=None, help="JSON object of settings")
    chunk.add_argument("--compile", action="store_true",
                       help="torch.compile the objective: later frames ~1.3x faster on a GPU, minutes to compile")
    chunk.add_argument("--quiet", action="store_true")
    chunk.set_defaults(run=_run_stylize_frames)

    metric = commands.add_parser("warp-error", help="temporal consistency of a stylized video", formatter_class=formatter)
    metric.add_argument("source", help="the video")
    _add_extraction_arguments(metric)
    metric.add_argument("stylized", nargs="+", help="the chunks' directories of stylized frames")
    metric.add_argument("--seams", nargs="*", default=[], help="the seams' segments of cross-faded frames")
    metric.add_argument("-o", "--output", required=True, help="TSV table to write")
    metric.set_defaults(run=_run_warp_error)

    plan = commands.add_parser("plan-chunks", help="read a video once: its cuts, chunks, metadata, chunk records",
                               formatter_class=formatter)
    plan.add_argument("source", help="the video")
    _add_extraction_arguments(plan)
    plan.add_argument("--threshold", type=float, required=True, help="a cut where fewer pixels than this are explained")
    plan.add_argument("--chunk-frames", type=int, required=True, help="config.yaml's chunk_frames")
    plan.add_argument("--seam-frames", type=int, required=True,
                      help="the lead-in of a chunk inside a shot: config.yaml's seam_frames (fade), or as far back as "
                      "temporal_frames reaches (continue)")
    plan.add_argument("--chunk-borders", choices=("continue", "fade"), default="fade", help="config.yaml's chunk_borders")
    plan.add_argument("--plan", required=True, help="the chunk plan to write (JSON)")
    plan.add_argument("--meta", required=True, help="the video's metadata to write (JSON: timestamps, size, audio)")
    plan.add_argument("--chunk-sources", required=True, help="directory to write each chunk's record into")
    plan.set_defaults(run=_run_plan_chunks)

    seam = commands.add_parser("seam", help="cross-fade a chunk's lead-in into the chunk before", formatter_class=formatter)
    seam.add_argument("earlier", help="the earlier chunk's directory")
    seam.add_argument("later", help="the later chunk's directory (with lead-in.mkv)")
    seam.add_argument("-o", "--output", required=True, help="segment to write (.mkv)")
    seam.set_defaults(run=_run_seam)

    encode = commands.add_parser("encode", help="encode stylized frames to a video", formatter_class=formatter)
    encode.add_argument("chunks", nargs="+", help="the chunks' directories of stylized frames")
    encode.add_argument("--seams", nargs="*", default=[], help="the seams' segments of cross-faded frames")
    encode.add_argument("--meta", required=True)
    encode.add_argument("--audio", default=None, help="source whose audio to mux back")
    encode.add_argument("-o", "--output", required=True, help="video to write; its suffix (.mp4, .mov, .webm, .gif) picks the format")
    encode.set_defaults(run=_run_encode)

    preview = commands.add_parser("preview", help="side-by-side still", formatter_class=formatter)
    preview.add_argument("content", help="the input image, or video")
    preview.add_argument("stylized", help="the stylized image, or the first chunk's directory")
    preview.add_argument("chunk_source", nargs="?", help="a video's first chunk record (plan-chunks): its first frame "
                         "is shown")
    preview.add_argument("-o", "--output", required=True)
    preview.set_defaults(run=_run_preview)

    record = commands.add_parser("provenance", help="a stylized video's provenance sidecar",
                                 formatter_class=formatter)
    record.add_argument("input", help="the source video")
    record.add_argument("styles", nargs="+", metavar="style", help="the style images")
    record.add_argument("--settings", required=True, help="JSON object of the row's settings")
    record.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories of stylized frames")
    record.add_argument("--benchmarks", nargs="+", required=True, help="the stylize jobs' benchmark files")
    record.add_argument("--workflow", required=True, help="JSON object of the workflow settings that shaped the video")
    record.add_argument("-o", "--output", required=True, help="JSON file to write")
    record.set_defaults(run=_run_provenance)

    times = commands.add_parser("chunk-times", help="table of a video's stylize jobs",
                                formatter_class=formatter)
    times.add_argument("--benchmarks", nargs="+", required=True, help="the stylize jobs' benchmark files, in order")
    times.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories, in the same order")
    _add_plan_arguments(times)
    times.add_argument("-o", "--output", required=True, help="HTML file to write")
    times.set_defaults(run=_run_chunk_times)

    losses = commands.add_parser("plot-losses", help="plot a video's per-frame loss curves",
                                 formatter_class=formatter)
    losses.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories, in order")
    _add_plan_arguments(losses)
    losses.add_argument("-o", "--output", required=True, help="plot to write (.svg, .png)")
    losses.set_defaults(run=_run_plot_losses)

    warp = commands.add_parser("plot-warp-error", help="plot a video's warp error per frame pair",
                               formatter_class=formatter)
    warp.add_argument("table", help="the video's warp_error.tsv")
    _add_plan_arguments(warp)
    warp.add_argument("-o", "--output", required=True, help="plot to write (.svg, .png)")
    warp.set_defaults(run=_run_plot_warp_error)
    return parser
