"""Workflow overhead: the Snakemake workflow against the engine looping in one process.

    python benchmarks/workflow.py                # 1,000 frames, trivial budget, CPU
    python benchmarks/workflow.py --dag-frames 10000
    python benchmarks/workflow.py --quick          # smoke run: 6 frames, one chunk size, one core, a 40-frame DAG

Both do the same work on the same clip: extract frames, compute style targets, stylize
every frame (1 iteration at 64 px, so overhead dominates), encode. Then times
`snakemake -n` (DAG building) on an already extracted and planned video of --dag-frames frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import device_name, parse_args, print_table  # noqa: E402
from tests.media import workflow_config  # noqa: E402

from painterly.media.io import load_image, save_image  # noqa: E402
from painterly.engine.settings import Settings  # noqa: E402
from painterly.engine.stylize import Stylizer  # noqa: E402
from painterly.media.encode import encode_video  # noqa: E402
from imageio_ffmpeg import get_ffmpeg_exe  # noqa: E402
from painterly.media.extract import extract_frames  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STYLE = REPO / "data" / "starry_night.jpg"
# Independent frames: this measures scheduling and start-up, not the temporal method.
# --quick: a few frames, one chunk size for each table, one core (a smoke run shares the machine).
QUICK = {"frames": 6, "chunks": "3", "cores": 1, "dag_frames": 40, "dag_chunks": "10"}
PRESET = {"size": 64, "iterations": 1, "pyramid_min_size": 64, "device": "cpu", "tolerance": 0, "temporal": False}


def make_clip(path: Path, frames: int, size: str = "128x96") -> None:
    subprocess.run([get_ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25",
                    "-frames:v", str(frames), "-c:v", "ffv1", str(path)], check=True)


def workspace(root: Path, clip: Path, chunk: int) -> Path:
    root.mkdir(parents=True)
    (root / "config.yaml").write_text(workflow_config(chunk, **PRESET))
    (root / "jobs.tsv").write_text(f"name\tinput\tstyles\nclip\t{clip}\t{STYLE}\n")
    return root


def snakemake(root: Path, cores: int, *extra: str) -> float:
    start = time.perf_counter()
    subprocess.run(["snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(root),
                    "--configfile", str(root / "config.yaml"), "--cores", str(cores), *extra],
                   check=True, capture_output=True)
    return time.perf_counter() - start


def engine_loop(root: Path, clip: Path) -> float:
    """Everything in one Python process: one import, one model load, no scheduler."""
    start = time.perf_counter()
    root.mkdir(parents=True)
    settings = Settings.from_dict(PRESET)
    meta = extract_frames(clip, root / "frames", root / "meta.json", settings.size)
    stylizer = Stylizer(settings)
    targets = stylizer.targets([load_image(STYLE)])
    (root / "styled").mkdir()
    for index in range(meta["frame_count"]):
        frame = load_image(root / "frames" / f"{index:06d}.png")
        save_image(stylizer.stylize(frame, targets, progress=False).image, root / "styled" / f"{index:06d}.png")
    encode_video(sorted((root / "styled").glob("*.png")), root / "meta.json", root / "out.mp4", audio_source=clip)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--chunks", default="100,250", help="chunk_frames values to run the workflow with")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--dag-frames", type=int, default=10000)
    parser.add_argument("--dag-chunks", default="10,100")
    args = parse_args(parser, QUICK)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tmp / "clip.mkv"
        make_clip(clip, args.frames)
        print(f"# workflow overhead: {args.frames} frames, 1 iteration at 64 px, "
              f"--cores {args.cores} on {device_name(torch.device('cpu'))}\n")
        # The engine loop uses every core in one process, as the workflow's jobs do together.
        torch.set_num_threads(args.cores)
        loop = engine_loop(tmp / "loop", clip)
        rows = [["engine loop, one process", loop, 1.0, loop / args.frames]]
        for chunk in args.chunks.split(","):
            root = workspace(tmp / f"wf{chunk}", clip, int(chunk))
            seconds = snakemake(root, args.cores, "results/clip/clip.mp4")  # the loop's work, no preview/metric
            rows.append([f"snakemake, chunk_frames={chunk}", seconds, seconds / loop, seconds / args.frames])
        print_table(["run", "wall s", "vs engine loop", "s/frame"], rows)

        big = tmp / "big.mkv"
        make_clip(big, args.dag_frames, size="32x24")
        rows = []
        for chunk in args.dag_chunks.split(","):
            root = workspace(tmp / f"dag{chunk}", big, int(chunk))
            snakemake(root, args.cores, "--until", "plan_chunks")
            seconds = snakemake(root, args.cores, "-n")
            rows.append([args.dag_frames, chunk, args.dag_frames // int(chunk), seconds])
        print(f"\n# DAG building: `snakemake -n` on an extracted {args.dag_frames}-frame video\n")
        print_table(["frames", "chunk_frames", "stylize jobs", "snakemake -n wall s"], rows)


if __name__ == "__main__":
    main()
