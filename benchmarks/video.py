"""Video benchmark: the seed's per-frame method against painterly, independent and temporal.

    python benchmarks/video.py                          # 12 frames, 192 px wide, CPU
    python benchmarks/video.py --frames 24 --size 512   # on a GPU
    python benchmarks/video.py --quick                  # smoke run: 3 frames at 48 px, a few iterations

(a) the seed's method, reimplemented here as the reference (it is the TensorFlow tutorial
    recipe): every frame on its own from the content frame, 400 Adam iterations (lr 0.02,
    beta1 0.99, eps 0.1), style weight 1e-2, content weight 1e4, TV 30, content
    block5_conv2, style block1..5_conv1, Grams over H*W, TV as summed absolute differences;
(b) painterly, frames independent; (c) painterly, temporal (warped init + temporal loss).
Prints wall time, seconds per frame, warp error (Lai et al.) and mean style / content
distances from the shared evaluator.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (add_settings_overrides, device_name, parse_args, print_table, settings_overrides,  # noqa: E402
                    synchronize)
from evaluate import Evaluator, video_quality  # noqa: E402

from painterly.video.chains import Chain, stylize_chains  # noqa: E402
from painterly.video.chunk import stylize_frames  # noqa: E402
from painterly.media.io import image_to_tensor, load_image, save_image  # noqa: E402
from painterly.video.seams import final_frames  # noqa: E402
from painterly.video.shots import plan_video  # noqa: E402
from painterly.engine.settings import CONTENT_LAYER, STYLE_LAYERS, Settings  # noqa: E402
from painterly.engine.stylize import Stylizer  # noqa: E402
from painterly.media.extract import extract_frames, frame_paths  # noqa: E402
from painterly.engine.vgg import load_vgg  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# --quick: every run on a few tiny frames, each with a few iterations.
QUICK = {"frames": 3, "size": 48, "seed_iterations": 5,
         "set": ["iterations=4", "pyramid_min_size=24", "frame_iterations=2"]}


def seed_method(frames: list[Path], style_path: Path, out_dir: Path, device: torch.device, iterations: int = 400) -> None:
    """The seed report's recipe, frame by frame."""
    vgg = load_vgg("caffe", (CONTENT_LAYER, *STYLE_LAYERS)).to(device)

    def gram(features):
        _, c, h, w = features.shape
        flat = features.reshape(c, h * w)
        return flat @ flat.T / (h * w)

    for path in frames:
        content = image_to_tensor(load_image(path)).to(device)
        style = image_to_tensor(load_image(style_path).resize((content.shape[-1], content.shape[-2]))).to(device)
        with torch.no_grad():
            style_targets = {layer: gram(f) for layer, f in vgg(style).items() if layer in STYLE_LAYERS}
            content_target = vgg(content)[CONTENT_LAYER]
        image = content.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([image], lr=0.02, betas=(0.99, 0.999), eps=0.1)
        for _ in range(iterations):
            optimizer.zero_grad()
            features = vgg(image)
            style_loss = sum(((gram(features[l]) - style_targets[l]) ** 2).mean() for l in STYLE_LAYERS) / len(STYLE_LAYERS)
            content_loss = ((features[CONTENT_LAYER] - content_target) ** 2).mean()
            tv = (image[..., 1:, :] - image[..., :-1, :]).abs().sum() + (image[..., 1:] - image[..., :-1]).abs().sum()
            (1e-2 * style_loss + 1e4 * content_loss + 30 * tv).backward()
            optimizer.step()
            with torch.no_grad():
                image.clamp_(0, 1)
        save_image(image.detach().cpu(), out_dir / path.name)


def clip_frames(video, frames_dir: Path, size: int, count: int) -> list[Path]:
    """The first ``count`` frames of ``video`` as PNGs at long side ``size``."""
    meta = extract_frames(video, frames_dir, frames_dir.with_suffix(".json"), size, end=count)
    return frame_paths(frames_dir, 0, meta["frame_count"])


def chunk_record(video, size: int, count: int, work: Path) -> Path:
    """The first ``count`` frames of ``video`` at long side ``size`` planned as one chunk
    (painterly.video.shots.plan_video): the record a `stylize-frames` job reads beside the video."""
    plan_video(video, {"size": size, "end": count}, 0, count, 0, work / "plan.json", work / "meta.json",
               work / "chunks")
    return work / "chunks" / "0000.json"


def preset_values(preset: str) -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())["presets"][preset]


def preset_settings(preset: str, **overrides) -> Settings:
    """Settings of a preset of config.yaml, with ``overrides`` on top."""
    return Settings.from_dict({**preset_values(preset), **overrides})


def run_chains(stylizer: Stylizer, targets, frames: list[Path], windows: list[tuple[int, int]],
               out_dir: Path) -> list[list[Path]]:
    """Stylize the windows (first, count) of ``frames`` as temporal chains advanced in one
    batch, flows computed on the engine's threads as in a stylize job; chain b writes into
    ``out_dir/chain{b}``."""
    chains = []
    for b, (first, count) in enumerate(windows):
        window = frames[first : first + count]
        chains.append(Chain(window, [out_dir / f"chain{b}" / path.name for path in window]))
    stylize_chains(stylizer, targets, chains, progress=False)
    return [chain.outputs for chain in chains]


def compare(frames: list[Path], style_path: Path, base: Settings, device: torch.device, seed_iterations: int,
            work: Path) -> str:
    """Runs (a), (b) and (c) on ``frames``; prints their table and returns it."""
    style = load_image(style_path)
    Stylizer(base).targets([style]).save(work / "targets.pt")

    def painterly(out: Path, settings: Settings) -> None:
        stylize_frames(frames, work / "targets.pt", out, settings, progress=False)

    runs = {
        f"(a) seed: independent, {seed_iterations} Adam it":
            lambda out: (out.mkdir(), seed_method(frames, style_path, out, device, seed_iterations)),
        "(b) painterly independent": lambda out: painterly(out, base.replace(temporal=False)),
        "(c) painterly temporal": lambda out: painterly(out, base),
    }
    evaluator = Evaluator(device)
    rows = []
    for index, (name, run) in enumerate(runs.items()):
        out = work / f"run{index}"
        synchronize(device)
        start = time.perf_counter()
        run(out)
        synchronize(device)
        seconds = time.perf_counter() - start
        packed = (out / "frames.mkv").is_file()  # the engine's chunk; the seed method writes PNGs
        quality = video_quality(evaluator, frames, final_frames([out]) if packed else [out / p.name for p in frames], style)
        rows.append([name, seconds, seconds / len(frames), quality["warp error"], quality["style"], quality["content"]])
        print(f"  {name}: {seconds:.1f} s", file=sys.stderr)
    reference = rows[0]
    for row in rows:
        row += [reference[1] / row[1], row[3] / reference[3], row[4] / reference[4]]
    return print_table(["run", "wall s", "s/frame", "warp error", "style dist", "content dist",
                        "speed-up vs (a)", "warp error vs (a)", "style dist vs (a)"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(REPO / "data" / "vtest.mp4"))
    parser.add_argument("--style", default=str(REPO / "data" / "starry_night.jpg"))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed-iterations", type=int, default=400)
    parser.add_argument("--preset", default="default", help="painterly's settings: this preset of config.yaml")
    add_settings_overrides(parser)
    args = parse_args(parser, QUICK)
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        frames = clip_frames(args.video, tmp / "frames", args.size, args.frames)
        width, height = load_image(frames[0]).size
        print(f"# video benchmark: {len(frames)} frames at {width}x{height} on {device_name(device)}\n")
        preset = preset_values(args.preset)
        preset.update(settings_overrides(args.set))
        base = Settings.from_dict({**preset, "size": args.size, "device": args.device})
        print(f"painterly settings: preset {args.preset!r} at {args.size} px, {preset}\n")
        compare(frames, Path(args.style), base, device, args.seed_iterations, tmp)


if __name__ == "__main__":
    main()
