"""Regenerate the README's pictures from the current code: run it after a change to the look.

    python benchmarks/readme_media.py            # a few minutes on a 2-core CPU
    python benchmarks/readme_media.py --quick --out /tmp/media   # smoke run: 32 px, a few iterations

Writes, from the bundled sample (data/vtest.mp4, data/building.jpg, data/starry_night.jpg):

* docs/strip.jpg  -- input frames and the photo above their stylized results;
* docs/sample.gif -- the clip stylized, through `painterly video` (the real workflow);
* docs/dag.svg    -- the sample sheet's rule graph (`snakemake --rulegraph | dot -Tsvg`).

Every picture comes from the `painterly` command line, as a user would run it, at a small
size so that the files stay small (under 1 MB together).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# This checkout's engine and workflow, whichever painterly pip installed.
sys.path.insert(0, str(REPO / "workflow"))
ENV = {**os.environ, "PYTHONPATH": str(REPO / "workflow"), "PAINTERLY_WORKFLOW": str(REPO)}

from painterly.media.extract import scan_video  # noqa: E402  (from this checkout: after the line above)
from painterly.media.io import is_video  # noqa: E402
from painterly.media.segments import load_frames  # noqa: E402
from painterly.video.seams import final_frames  # noqa: E402

sys.path.insert(0, str(REPO / "benchmarks"))
from common import add_settings_overrides, parse_args, settings_overrides  # noqa: E402

DATA = REPO / "data"
STYLE = DATA / "starry_night.jpg"
# Frames of the clip in the strip, evenly spaced from its first to its last.
STRIP_FRAMES = 4
STRIP_HEIGHT = 150
GAP = 4
# --quick: tiny pictures from a few iterations (write them elsewhere with --out).
QUICK = {"size": 32, "set": ["iterations=4", "frame_iterations=2"]}


def painterly(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "painterly", *args], cwd=REPO, env=ENV, check=True)


def stylize_sample(work: Path, size: int, overrides: dict) -> tuple[list[Image.Image], list[Image.Image], Path]:
    """The clip through `painterly video` (GIF), the photo through `painterly image`, both
    at ``size`` with the ``overrides`` of their settings; the clip's input frames and final
    stylized frames as the workflow left them."""
    settings = ["--size", str(size), *(["--settings", json.dumps(overrides)] if overrides else [])]
    painterly("video", str(DATA / "vtest.mp4"), str(STYLE), "-o", str(work / "sample.gif"), *settings, "--cores", "2")
    painterly("image", str(DATA / "building.jpg"), str(STYLE), "-o", str(work / "building.png"), *settings, "--quiet")
    results = work / ".painterly" / "sample" / "results" / "sample"
    with scan_video(DATA / "vtest.mp4", size) as scan:
        inputs = [Image.fromarray(picture) for _, picture in scan]
    styled = final_frames(sorted((results / "styled").iterdir()), sorted((results / "seams").glob("*.mkv")))
    return inputs, [Image.fromarray(frame) for frame in load_frames(styled)], work / "building.png"


def strip(pairs: list[tuple[Path | Image.Image, Path | Image.Image]], output: Path) -> None:
    """Inputs in the top row, their stylized results below, all at one height."""
    def scaled(picture):
        image = (picture if isinstance(picture, Image.Image) else Image.open(picture)).convert("RGB")
        return image.resize((round(image.width * STRIP_HEIGHT / image.height), STRIP_HEIGHT), Image.Resampling.LANCZOS)

    columns = [(scaled(before), scaled(after)) for before, after in pairs]
    width = sum(top.width for top, _ in columns) + GAP * (len(columns) - 1)
    canvas = Image.new("RGB", (width, 2 * STRIP_HEIGHT + GAP), "white")
    x = 0
    for top, bottom in columns:
        canvas.paste(top, (x, 0))
        canvas.paste(bottom, (x, STRIP_HEIGHT + GAP))
        x += top.width + GAP
    canvas.save(output, quality=85)


def rule_graph(work: Path, output: Path) -> None:
    """The sample sheet's rule graph once its checkpoints (extraction, cuts) have run, so
    Snakemake knows the per-chunk jobs they decide; at 12-frame chunks the clip's one shot
    is split, so seams appear too. The checkpoints take seconds; nothing is stylized."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config.update(results=str(work / "results"), chunk_frames=12, seam_frames=4)
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake = ["snakemake", "--configfile", str(work / "config.yaml"), "--cores", "2"]
    with open(REPO / config["jobs"], newline="") as sheet:
        plans = [f"{config['results']}/{row['name']}/chunk_plan.json" for row in csv.DictReader(sheet, delimiter="\t")
                 if is_video(REPO / row["input"])]
    subprocess.run([*snakemake, *plans], cwd=REPO, env=ENV, check=True, capture_output=True)
    graph = subprocess.run([*snakemake, "--rulegraph"], cwd=REPO, env=ENV, check=True, capture_output=True,
                           text=True).stdout
    svg = subprocess.run(["dot", "-Tsvg"], input=graph, check=True, capture_output=True, text=True).stdout
    output.write_text(svg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=160, help="long side of the stylized pictures")
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="directory to write")
    add_settings_overrides(parser)
    args = parse_args(parser, QUICK)
    args.out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        inputs, styled, building = stylize_sample(Path(work), args.size, settings_overrides(args.set))
        shown = [round(i * (len(inputs) - 1) / (STRIP_FRAMES - 1)) for i in range(STRIP_FRAMES)]
        pairs = [(inputs[i], styled[i]) for i in shown] + [(DATA / "building.jpg", building)]
        strip(pairs, args.out / "strip.jpg")
        (args.out / "sample.gif").write_bytes((Path(work) / "sample.gif").read_bytes())
        rule_graph(Path(work), args.out / "dag.svg")
    for name in ("strip.jpg", "sample.gif", "dag.svg"):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
