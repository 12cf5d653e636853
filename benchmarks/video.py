"""Video benchmark: the seed's per-frame method against painterly, independent and temporal.

    python benchmarks/video.py                          # 12 frames, 192 px wide, CPU
    python benchmarks/video.py --frames 24 --size 512   # on a GPU

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
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, print_table, synchronize  # noqa: E402
from evaluate import Evaluator  # noqa: E402

from painterly.io import load_frame  # noqa: E402
from painterly.metrics import warp_error  # noqa: E402
from painterly.chunk import stylize_frames  # noqa: E402
from painterly.io import image_to_tensor, load_image, save_image  # noqa: E402
from painterly.settings import CONTENT_LAYER, STYLE_LAYERS, Settings  # noqa: E402
from painterly.stylize import Stylizer  # noqa: E402
from painterly.extract import extract_frames, frame_paths  # noqa: E402
from painterly.vgg import load_vgg  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", default=str(REPO / "data" / "vtest.mp4"))
    parser.add_argument("--style", default=str(REPO / "data" / "starry_night.jpg"))
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed-iterations", type=int, default=400)
    parser.add_argument("--preset", default="default", help="painterly's settings: this preset of config.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a preset setting")
    args = parser.parse_args()
    device = torch.device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        meta = extract_frames(args.video, tmp / "frames", tmp / "meta.json", args.size, end=args.frames)
        frames = frame_paths(tmp / "frames", 0, meta["frame_count"])
        print(f"# video benchmark: {len(frames)} frames at {meta['width']}x{meta['height']} on {device_name(device)}\n")
        preset = yaml.safe_load((REPO / "config.yaml").read_text())["presets"][args.preset]
        preset.update({key: json.loads(value) for key, value in (item.split("=", 1) for item in args.set)})
        base = Settings.from_dict({**preset, "size": args.size, "device": args.device})
        print(f"painterly settings: preset {args.preset!r} at {args.size} px, {preset}\n")
        style = load_image(args.style)
        Stylizer(base).targets([style]).save(tmp / "targets.pt")

        def painterly(out: Path, settings: Settings) -> None:
            stylize_frames(frame_paths(tmp / "frames", 0, len(frames)), tmp / "targets.pt", out, settings, progress=False)

        runs = {
            "(a) seed: independent, 400 Adam it": lambda out: (out.mkdir(), seed_method(frames, Path(args.style), out, device, args.seed_iterations)),
            "(b) painterly independent": lambda out: painterly(out, base.replace(temporal=False)),
            "(c) painterly temporal": lambda out: painterly(out, base),
        }
        evaluator = Evaluator(device)
        rows = []
        for index, (name, run) in enumerate(runs.items()):
            out = tmp / f"run{index}"
            synchronize(device)
            start = time.perf_counter()
            run(out)
            synchronize(device)
            seconds = time.perf_counter() - start
            styled = [out / p.name for p in frames]
            error = float(np.mean(warp_error((load_frame(f), load_frame(s)) for f, s in zip(frames, styled))))
            distances = [evaluator.distances(load_image(s), load_image(f), style) for f, s in zip(frames, styled)]
            style_d, content_d = (float(np.mean(d)) for d in zip(*distances))
            rows.append([name, seconds, seconds / len(frames), error, style_d, content_d])
            print(f"  {name}: {seconds:.1f} s", file=sys.stderr)
        reference = rows[0]
        for row in rows:
            row += [reference[1] / row[1], row[3] / reference[3], row[4] / reference[4]]
        print_table(["run", "wall s", "s/frame", "warp error", "style dist", "content dist",
                     "speed-up vs (a)", "warp error vs (a)", "style dist vs (a)"], rows)


if __name__ == "__main__":
    main()
