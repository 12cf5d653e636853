"""Long-term temporal consistency: the warp error of frames 1, 5, 10 and 20 apart against the
source's own, and drift along one long shot.

    python benchmarks/long_term.py                      # bundled clip + 90 frames of vtest.avi, 96 px, CPU
    python benchmarks/long_term.py --variant strong --set-variant strong temporal_weight=200
    python benchmarks/long_term.py --drift-frames 1000  # and drift along 1,000 frames (long on a CPU)
    python benchmarks/long_term.py --pan                # and a slow pan over data/building.jpg
    python benchmarks/long_term.py --quick              # smoke run: 12 frames of the bundled clip at 32 px

Every clip is stylized as one temporal chain (painterly.video.chunk.stylize_frames: the
workflow's stylize job, without Snakemake) with the `default` preset at --size, once per
variant: "today" is the preset, each --variant NAME with its --set-variant NAME KEY=JSON
overrides beside it, in one run. Per clip and variant: the warp error (Lai et al.,
painterly.video.metrics.warp_errors, flow computed directly between the two frames) at each
distance as a ratio to the same measure on the source frames, mean style and content
distance (benchmarks/evaluate.py) and seconds per frame. With --drift-frames N: style
distance and mean brightness in five windows of 8 frames spread along N frames of one shot
(the long clip looped forth and back when shorter): each window's mean, its spread as the
frame-to-frame noise a trend must exceed, and its difference from what the chain made of
the same source frames in the loop's first pass (alike content: a difference is drift), as
a table and a plot; and the same difference on the still background alone (pixels nothing
crosses in the clip), its mean and its mean absolute value: in a whole-frame mean a still
background that brightens can cancel against crossed regions that darken.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_settings_overrides, device_name, parse_args, print_table, settings_overrides  # noqa: E402
from evaluate import Evaluator  # noqa: E402
from video import clip_frames, preset_settings  # noqa: E402

from painterly.video.chunk import stylize_frames  # noqa: E402
from painterly.media.io import load_frame, load_image  # noqa: E402
from painterly.video.metrics import warp_errors  # noqa: E402
from painterly.media.segments import load_frames  # noqa: E402
from painterly.video.seams import final_frames  # noqa: E402
from painterly.engine.stylize import Stylizer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path("/usr/share/doc/opencv-doc/examples/data")
DISTANCES = (1, 5, 10, 20)
# Drift is measured at five windows of this many consecutive frames along the shot: their
# mean, their spread as the frame-to-frame noise a trend must exceed, and their difference
# from the loop's first pass over the same source frames.
DRIFT_WINDOW = 8
# A pixel of the still background: its input value varies by less than this (levels, the
# channels' mean standard deviation) over the whole clip.
STILL_LEVELS = 3
QUICK = {"size": 32, "frames": 12, "long_clip": "", "set": ["iterations=4", "frame_iterations=2"]}


def stylize_clip(frames: list[Path], targets: Path, out: Path, settings) -> tuple[list[np.ndarray], float]:
    """The clip as one chain: its stylized frames, and seconds per frame."""
    start = time.perf_counter()
    stylize_frames(frames, targets, out, settings, progress=False)
    seconds = (time.perf_counter() - start) / len(frames)
    return list(load_frames(final_frames([out]))), seconds


def consistency(inputs: list[np.ndarray], styled: list[np.ndarray]) -> dict[int, float]:
    """Mean warp error at each distance that has pairs, as a ratio to the source's."""
    errors = warp_errors(zip(inputs, styled), DISTANCES)
    return {k: float(np.mean([e for e, _ in pairs]) / max(np.mean([s for _, s in pairs]), 1e-12))
            for k, pairs in errors.items() if pairs}


def looped(frames: list[Path], count: int, directory: Path) -> tuple[list[Path], int]:
    """``count`` frames of one shot from ``frames``: forth, back, forth... (no cut at the turns),
    as links in ``directory`` named in order (a chunk keys its frames by name); and the loop's
    period (frame i shows the picture of frame i % period)."""
    cycle = frames + frames[-2:0:-1] if len(frames) > 1 else frames
    directory.mkdir()
    links = [directory / f"{i:06d}{frames[0].suffix}" for i in range(count)]
    for i, link in enumerate(links):
        link.symlink_to(cycle[i % len(cycle)].resolve())
    return links, len(cycle)


def slow_pan(photo: Path, path: Path, frames: int) -> Path:
    """A camera panning slowly over ``photo``: a 384x288 window moving 1 px a frame (half a
    pixel at 192 px, where bilinear warping blurs most), sub-pixel resampled, as H.264."""
    import av

    image = Image.open(photo).convert("RGB")
    with av.open(str(path), "w") as video:
        stream = video.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt, stream.options = 384, 288, "yuv420p", {"crf": "18"}
        for t in range(frames):
            window = image.transform((384, 288), Image.AFFINE, (1, 0, t, 0, 1, 20), resample=Image.BICUBIC)
            video.mux(stream.encode(av.VideoFrame.from_image(window)))
        video.mux(stream.encode())
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--frames", type=int, default=90, help="at most this many frames of each clip")
    parser.add_argument("--clip", default=str(REPO / "data" / "vtest.mp4"), help="the short clip")
    parser.add_argument("--long-clip", default=str(SAMPLES / "vtest.avi"),
                        help="a longer static-camera clip ('' for none)")
    parser.add_argument("--pan", action="store_true",
                        help="and a slow pan over data/building.jpg (half a pixel a frame at 192 px), H.264")
    parser.add_argument("--style", default=str(REPO / "data" / "starry_night.jpg"))
    add_settings_overrides(parser)
    parser.add_argument("--variant", action="append", default=[], help="a variant's name, beside today's")
    parser.add_argument("--set-variant", action="append", nargs=2, default=[], metavar=("NAME", "KEY=JSON"),
                        help="a setting of variant NAME (repeatable)")
    parser.add_argument("--drift-frames", type=int, default=0, help="frames of one shot to measure drift along")
    parser.add_argument("--plot", default=str(REPO / "benchmarks" / "long_term.png"), help="the drift plot")
    args = parse_args(parser, QUICK)
    if 0 < args.drift_frames < DRIFT_WINDOW:
        parser.error(f"--drift-frames {args.drift_frames}: give at least {DRIFT_WINDOW} (a window)")

    common = settings_overrides(args.set)  # every variant's
    variants = {"today": dict(common), **{name: dict(common) for name in args.variant}}
    for name, item in args.set_variant:
        if name not in variants or name == "today":
            parser.error(f"--set-variant {name}: name it with --variant first (today is the preset)")
        variants[name].update(settings_overrides([item]))
    settings = {name: preset_settings("default", size=args.size, pyramid_min_size=min(args.size, 96), device="cpu",
                                      **overrides) for name, overrides in variants.items()}
    print(f"# {device_name(torch.device('cpu'))}; default preset at {args.size} px; variants: {variants}\n")
    evaluator, style = Evaluator(), load_image(args.style)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = {Path(args.clip).stem: clip_frames(args.clip, tmp / "short", args.size, args.frames)}
        if args.long_clip:
            clips[f"{Path(args.long_clip).stem} (static camera)"] = clip_frames(args.long_clip, tmp / "long", args.size,
                                                                                args.frames)
        drift_clip = list(clips)[-1]  # the long clip, where there is one
        if args.pan:
            pan = slow_pan(REPO / "data" / "building.jpg", tmp / "pan.mp4", args.frames)
            clips["building (slow pan)"] = clip_frames(pan, tmp / "pan", args.size, args.frames)
        targets = {name: tmp / f"targets-{name}.pt" for name in settings}
        for name, chosen in settings.items():
            Stylizer(chosen).targets([style]).save(targets[name])
        for clip, frames in clips.items():
            inputs = [load_frame(frame) for frame in frames]
            for name, chosen in settings.items():
                styled, seconds = stylize_clip(frames, targets[name], tmp / f"{clip}-{name}", chosen)
                ratios = consistency(inputs, styled)
                quality = [evaluator.distances(Image.fromarray(s), load_image(f), style) for f, s in zip(frames, styled)]
                rows.append([clip, len(frames), name, *(round(ratios[k], 2) if k in ratios else "-" for k in DISTANCES),
                             round(float(np.mean([q[0] for q in quality])), 4),
                             round(float(np.mean([q[1] for q in quality])), 4), round(seconds, 2)])
        table = print_table(["clip", "frames", "variant", *(f"warp error / source's, {k} apart" for k in DISTANCES),
                             "style distance", "content distance", "s / frame"], rows)
        drift_table = None
        if args.drift_frames:
            long_frames = clips[drift_clip]
            frames, period = looped(long_frames, args.drift_frames, tmp / "drift-frames")
            still = np.array([load_frame(f) for f in long_frames], dtype=np.float32).std(0).mean(-1) < STILL_LEVELS
            drift_rows, curves = [], {}
            for name, chosen in settings.items():
                styled, _ = stylize_clip(frames, targets[name], tmp / f"drift-{name}", chosen)
                measured = {}

                def measure(i: int) -> tuple[float, float]:
                    """Frame i's style distance and mean brightness."""
                    if i not in measured:
                        distance = evaluator.distances(Image.fromarray(styled[i]), load_image(frames[i]), style)[0]
                        measured[i] = (distance, float(styled[i].mean()))
                    return measured[i]

                points = []
                for first in np.linspace(0, len(frames) - DRIFT_WINDOW, 5).astype(int):
                    window = range(first, first + DRIFT_WINDOW)
                    # The same source frames in the loop's first pass: what the chain made of
                    # them then (content alike, so a difference is drift, not the picture).
                    here, then = np.array([measure(i) for i in window]), np.array([measure(i % period) for i in window])
                    moved = np.mean([styled[i].astype(np.float32) - styled[i % period] for i in window], 0).mean(-1)
                    on_still = (round(float(moved[still].mean()), 2), round(float(np.abs(moved[still]).mean()), 2)) \
                        if still.any() else ("-", "-")
                    points.append((int(first), *here.mean(0), *here.std(0), *(here - then).mean(0),
                                   float(np.mean([load_frame(frames[i]).mean() for i in window])), *on_still))
                curves[name] = [point[:8] for point in points]
                drift_rows += [[name, first, round(s, 4), round(s_sd, 4), round(s_drift, 4), round(b, 2), round(b_sd, 2),
                                round(b_drift, 2), round(i, 1), still_drift, still_change]
                               for first, s, b, s_sd, b_sd, s_drift, b_drift, i, still_drift, still_change in points]
            print()
            drift_table = print_table(["variant", "frame", "style distance", "± (spread in window)",
                                       "− first pass's, same source frames", "mean brightness", "± (spread in window)",
                                       "− first pass's", "(input)", f"still background ({still.mean():.0%}): − first "
                                       "pass's", "its mean absolute difference"], drift_rows)
            for name, points in curves.items():
                later = [point for point in points if point[0] >= period]
                print(f"\n{name}: loop period {period} frames; the same source frames a loop or more later, "
                      + (f"style distance {np.mean([p[5] for p in later]):+.4f} (largest {max(abs(p[5]) for p in later):.4f}), "
                         f"brightness {np.mean([p[6] for p in later]):+.2f}, against a spread within a window of "
                         f"{np.mean([p[3] for p in points]):.4f} and {np.mean([p[4] for p in points]):.2f}"
                         if later else "none measured (the shot is not longer than one loop)"))
            plot_drift(curves, args.plot)
            print(f"\nplot: {args.plot}")
    return table, drift_table


def plot_drift(curves: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (style_axis, brightness_axis) = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, points in curves.items():
        first, style_d, brightness, style_sd, brightness_sd, style_drift, brightness_drift, _ = map(np.array, zip(*points))
        line = style_axis.errorbar(first, style_d, yerr=style_sd, marker="o", capsize=3, label=name)[0]
        style_axis.plot(first, style_d - style_drift, linestyle="--", marker="o", fillstyle="none",
                        color=line.get_color(), label=f"{name}: same source frames, first pass")
        brightness_axis.errorbar(first, brightness, yerr=brightness_sd, marker="o", capsize=3, color=line.get_color())
        brightness_axis.plot(first, brightness - brightness_drift, linestyle="--", marker="o", fillstyle="none",
                             color=line.get_color())
    style_axis.set(xlabel="frame (window start)", ylabel="style distance", title="Style distance along one shot")
    brightness_axis.set(xlabel="frame (window start)", ylabel="mean brightness", title="Mean brightness along one shot")
    style_axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
