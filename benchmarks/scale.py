"""Film scale: the disk a video's run leaves behind, and the DAG of a long video.

    python benchmarks/scale.py                      # 240 frames at 160x120, a 20,000-frame DAG, against eac5ec6
    python benchmarks/scale.py --quick              # smoke run: 10 frames at 48 px, a 200-frame DAG, against HEAD

One invocation measures this checkout and, side by side, the revision ``--before`` (checked
out into a temporary git worktree, its Snakefile run with its own engine):

1. a synthetic long video made here (moving texture, a cut every ``--shot`` frames), or
   ``--clip``, through the whole workflow at a trivial budget (``--iterations``):
   intermediate bytes and files per frame by kind,
   the results' total (nothing is deleted during a run, so it is the peak), and frames/s;
2. `snakemake -n` on already extracted and planned videos of ``--dag-frames`` frames and a
   quarter of that (the whole DAG built), and the line through the two carried on to a
   173,000-frame film;
3. a 2-hour 1080p film (173,000 frames at 24 fps) on paper, from (1)'s bytes per pixel;
4. lossless codecs for a finished chunk as one file, on this checkout's stylized frames of
   (1): bytes per frame against the PNGs, whether decoding gives back the exact bytes, and
   encode and decode time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import parse_args, print_table  # noqa: E402
from tests.media import workflow_config  # noqa: E402

from imageio_ffmpeg import get_ffmpeg_exe  # noqa: E402
from painterly.media.segments import load_frames  # noqa: E402
from painterly.video.seams import final_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STYLE = REPO / "data" / "starry_night.jpg"
QUICK = {"frames": 10, "size": 48, "shot": 6, "chunk": 4, "dag_frames": 200, "before": "HEAD"}
FILM_FRAMES, FILM_PIXELS = 173_000, 1920 * 1080
# What a row's own results are, not intermediates: the video, its preview, records and report.
FINAL = {"clip.mp4", "preview.jpg", "clip.json", "warp_error.tsv", "report"}


# Candidates for a finished chunk's one lossless file: ffmpeg's arguments for RGB in, RGB out.
SEGMENT_CODECS = {
    "FFV1 (intra only)": ("-c:v", "ffv1", "-level", "3", "-pix_fmt", "bgr0"),
    "H.264 lossless RGB (libx264rgb -qp 0)": ("-c:v", "libx264rgb", "-qp", "0", "-preset", "medium",
                                              "-pix_fmt", "rgb24"),
    "H.265 lossless (libx265, GBR)": ("-c:v", "libx265", "-x265-params", "lossless=1:log-level=error",
                                      "-pix_fmt", "gbrp"),
    "VP9 lossless (GBR)": ("-c:v", "libvpx-vp9", "-lossless", "1", "-pix_fmt", "gbrp", "-row-mt", "1"),
}


def segment_codecs(pictures: list[np.ndarray], work: Path) -> list[list]:
    """Each codec's file of ``pictures`` (RGB arrays, in order): KiB per frame, against a
    PNG per frame (as the engine writes them), whether it decodes to the very bytes, and ms
    per frame to encode and to decode."""
    height, width = pictures[0].shape[:2]
    raw = b"".join(picture.tobytes() for picture in pictures)
    png = 0
    for picture in pictures:
        buffer = io.BytesIO()
        Image.fromarray(picture).save(buffer, format="PNG")
        png += len(buffer.getvalue())
    rows = [["PNG per frame (before segments)", png / len(pictures) / 1024, 1.0, "yes", "-", "-"]]
    for label, arguments in SEGMENT_CODECS.items():
        segment = work / "segment.mkv"
        start = time.perf_counter()
        encoded = subprocess.run([get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
                                  "-s", f"{width}x{height}", "-r", "24", "-i", "-", *arguments, str(segment)],
                                 input=raw, capture_output=True)
        encode = time.perf_counter() - start
        if encoded.returncode != 0:
            rows.append([label, "n/a", "n/a", "encoder refused", "-", "-"])
            continue
        start = time.perf_counter()
        decoded = subprocess.run([get_ffmpeg_exe(), "-v", "error", "-i", str(segment), "-f", "rawvideo", "-pix_fmt", "rgb24",
                                  "-"], capture_output=True, check=True).stdout
        decode = time.perf_counter() - start
        size = segment.stat().st_size
        rows.append([label, size / len(pictures) / 1024, size / png, "yes" if decoded == raw else "no",
                     1000 * encode / len(pictures), 1000 * decode / len(pictures)])
    return rows


def make_clip(path: Path, frames: int, width: int, height: int, shot: int) -> None:
    """A lossless clip of a texture panning 2 px a frame, another texture from each cut on."""
    def frame(index: int) -> np.ndarray:
        rng = np.random.default_rng(index // shot)
        blocks = rng.integers(0, 255, (height // 8 + 1, width // 8 + shot, 3), dtype=np.uint8)
        texture = np.kron(blocks, np.ones((8, 8, 1), dtype=np.uint8))
        offset = 2 * (index % shot)
        return np.ascontiguousarray(texture[:height, offset:offset + width])

    command = [get_ffmpeg_exe(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
               "-r", "24", "-i", "-", "-c:v", "ffv1", str(path)]
    subprocess.run(command, input=b"".join(frame(i).tobytes() for i in range(frames)), check=True)


def checkout(revision: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(where), revision], check=True)
    return where


def snakemake(repo: Path, root: Path, *extra: str) -> float:
    """Wall seconds of the workflow of ``repo`` (its own engine first on the path) in ``root``."""
    env = {**os.environ, "PYTHONPATH": str(repo / "workflow")}
    start = time.perf_counter()
    subprocess.run(["snakemake", "--snakefile", str(repo / "Snakefile"), "--directory", str(root),
                    "--configfile", str(root / "config.yaml"), "--cores", "2", *extra],
                   check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def planning_checkpoint(repo: Path) -> str:
    """The checkpoint after which a video's DAG is whole (find_shots before the chunk plan)."""
    return "plan_chunks" if "checkpoint plan_chunks" in (repo / "workflow/rules/shots.smk").read_text() else "find_shots"


def workspace(root: Path, clip: Path, chunk: int, size: int, iterations: tuple[int, int] = (2, 1)) -> Path:
    root.mkdir(parents=True)
    preset = {"size": size, "iterations": iterations[0], "frame_iterations": iterations[1], "pyramid_min_size": size,
              "device": "cpu", "tolerance": 0}
    (root / "config.yaml").write_text(workflow_config(chunk, seam_frames=4, **preset))
    (root / "jobs.tsv").write_text(f"name\tinput\tstyles\nclip\t{clip}\t{STYLE}\n")
    return root


def disk_use(results: Path) -> dict[str, tuple[int, int]]:
    """(bytes, files) of each kind of intermediate of the row `clip`: its top-level entries
    that are not final results, and the logs and job timings of all its jobs."""
    kinds: dict[str, tuple[int, int]] = {}
    entries = [(path.name, path) for path in (results / "clip").iterdir() if path.name not in FINAL]
    entries += [("logs, job timings", results / "logs" / "clip"), ("logs, job timings", results / "benchmarks" / "clip")]
    for kind, path in entries:
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        size, count = kinds.get(kind, (0, 0))
        kinds[kind] = (size + sum(p.stat().st_size for p in files), count + len(files))
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--size", type=int, default=160, help="long side of the clip (4:3)")
    parser.add_argument("--shot", type=int, default=60, help="frames between cuts")
    parser.add_argument("--chunk", type=int, default=100, help="chunk_frames")
    parser.add_argument("--clip", default=None, help="a real video instead of the synthetic one (--frames, --shot unused)")
    parser.add_argument("--iterations", type=int, nargs=2, default=[2, 1], metavar=("FIRST", "LATER"),
                        help="iterations of a shot's first frame and of a later one")
    parser.add_argument("--dag-frames", type=int, default=20_000)
    parser.add_argument("--before", default="eac5ec6",
                        help="the revision to measure beside this checkout ('none': this checkout alone)")
    args = parse_args(parser, QUICK)
    width, height = args.size, args.size * 3 // 4

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        revisions = {"this checkout": REPO}
        if args.before != "none":
            revisions = {f"before ({args.before})": checkout(args.before, tmp / "before"), **revisions}
        try:
            clip = Path(args.clip).resolve() if args.clip else tmp / "clip.mkv"
            if not args.clip:
                make_clip(clip, args.frames, width, height, args.shot)
            sizes = (args.dag_frames // 4, args.dag_frames)
            for count in sizes:
                make_clip(tmp / f"dag{count}.mkv", count, 32, 24, args.shot)
            usage, speed, dag = {}, [], []
            for label, repo in revisions.items():
                root = workspace(tmp / label.split()[0] / "run", clip, args.chunk, args.size, args.iterations)
                seconds = snakemake(repo, root)
                usage[label] = disk_use(root / "results")
                meta = json.loads((root / "results/clip/frames.json").read_text())
                frames, width, height = meta["frame_count"], meta["width"], meta["height"]
                speed.append([label, seconds, frames / seconds])
                times = []
                for count in sizes:
                    root = workspace(tmp / label.split()[0] / f"dag{count}", tmp / f"dag{count}.mkv", 100, 32)
                    snakemake(repo, root, "--until", planning_checkpoint(repo))
                    times.append(snakemake(repo, root, "-n"))
                slope = (times[1] - times[0]) / (sizes[1] - sizes[0])
                # Within start-up noise the times do not grow: no line to carry on.
                dag.append([label, *times, times[1] + slope * (FILM_FRAMES - sizes[1]) if slope > 0 else "-"])
            # This checkout's final stylized frames: each chunk's own (seams aside, a few frames).
            styled = list(load_frames(final_frames(sorted(tmp.glob("this/run/results/clip/styled/*")))))
            codecs = segment_codecs(styled, tmp)
        finally:
            if args.before != "none":
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tmp / "before")], check=False)

    source = args.clip or f"synthetic, a cut every {args.shot} frames"
    print(f"# Intermediates of one video: {frames} frames at {width}x{height} ({source}), chunks of {args.chunk}, "
          f"{args.iterations[0]} iterations a first frame and {args.iterations[1]} a later one\n")
    kinds = sorted({kind for table in usage.values() for kind in table})
    rows = []
    for label, table in usage.items():
        for kind in [*kinds, "all"]:
            size, count = table.get(kind, (0, 0)) if kind != "all" else map(sum, zip(*table.values()))
            rows.append([label, kind, size / frames / 1024, count / frames, size / 2**20])
    print_table(["run", "kind", "KiB / frame", "files / frame", "total MiB (peak)"], rows)
    totals = {label: sum(size for size, _ in table.values()) for label, table in usage.items()}
    now, before = totals["this checkout"], next(iter(totals.values()))
    print(f"\nIntermediate bytes: {now / before:.2f}x of before's.\n" if args.before != "none" else "")
    print_table(["run", "wall s", "frames / s (whole workflow)"], speed)
    print("\n# DAG building: `snakemake -n` on extracted and planned videos, chunks of 100\n")
    print_table(["run", *(f"{count:,} frames, s" for count in sizes), f"{FILM_FRAMES:,} frames (linear), s"], dag)
    print(f"\n# A 2-hour 1080p film ({FILM_FRAMES:,} frames) on paper, from the bytes per pixel above\n")
    pixels = width * height
    print_table(["run", "bytes / pixel", "intermediates, TB", "files"],
                [[label, totals[label] / frames / pixels, totals[label] / frames / pixels * FILM_PIXELS
                  * FILM_FRAMES / 1e12, sum(count for _, count in usage[label].values()) / frames * FILM_FRAMES]
                 for label in usage])
    print(f"\n# A finished chunk as one lossless file: this checkout's {len(styled)} stylized frames\n")
    print_table(["codec", "KiB / frame", "vs PNG", "exact bytes back", "encode ms / frame", "decode ms / frame"],
                codecs)


if __name__ == "__main__":
    main()
