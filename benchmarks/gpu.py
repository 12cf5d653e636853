"""GPU benchmark: painterly's speed, memory and quality on one CUDA GPU, from one run.

    python benchmarks/gpu.py                       # on a GPU machine: under 8 minutes on an H100
    python benchmarks/gpu.py --quick --device cpu  # smoke run of every part at tiny sizes
    python benchmarks/gpu.py --parts 1,memory      # only these parts (numbers or keys, below)

Parts (``--parts`` takes their numbers or the keys in brackets), each under a time cap
(past it a part skips its remaining rows and says so), most wanted first:

1. [stream] one stream: a temporal chain's later frames/s at 512x384 with the `default`
   preset's iterations per later frame, the engine's paths side by side (eager, CUDA graphs,
   fp32/TF32 and bf16, chains batched (flows computed on CPU threads during the run, as in
   a stylize job), and last the compiled objective in CUDA graphs, which takes minutes to compile);
2. [job] a stylize job: whole `python -m painterly.jobs stylize-frames` processes on a long shot, its chunk
   as one chain and as sub-chains advanced in one batch (decode, flows, compiling and writes included);
3. [first] a shot's first frame (the pyramid) once its levels are warm, alone and batched;
4. [roofline] milliseconds per iteration against the FLOP roofline (conv FLOPs counted by
   ``image.conv_gflops_per_iteration``; datasheet dense peaks and measured matmul peaks);
5. [hd] later frames at 1080p, fp32 and bf16;
6. [profile] a profile of one later frame's iterations: GPU time by kind of work and kernel;
7. [repro] reproducibility: two processes, byte-identical frames with `deterministic`, and
   its cost;
8. [memory] peak memory at 1080p and 4K long side, fp32 and bf16, with and without
   checkpointing;
9. [hq] the ``hq`` preset at 720 px: a chain's first frame (its whole budget) and later frames;
10. [quality] quality on the CPU against this device: evaluator distances of the same image
    and clip;
11. [seed] the seed's method against painterly on the same device and frames (``video.compare``);
12. [pastiche] one 512 px image against pastiche on the same device and weights (``image.compare``).

The tables are printed and written, as the section "GPU: ... (`benchmarks/gpu.py`)", into
benchmarks/RESULTS.md (replacing that section; --results names another file), rewritten
after every part so that a run cut short keeps what it measured. A run of some --parts
says which parts it ran.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import device_name, matmul_peak_gflops, print_table, synchronize, timed_command  # noqa: E402
from evaluate import Evaluator, relative_gaps, video_quality  # noqa: E402
from image import compare as compare_image, conv_gflops_per_iteration  # noqa: E402
from video import chunk_record, clip_frames, compare as compare_video, preset_settings, run_chains  # noqa: E402

from painterly.engine.device import configure  # noqa: E402
from painterly.media.io import image_to_tensor, load_image  # noqa: E402
from painterly.video.seams import SEAM_FRAMES  # noqa: E402
from painterly.media.segments import frame_digests, write_segment  # noqa: E402
from painterly.engine.settings import Settings  # noqa: E402
from painterly.engine.stylize import Stylizer, network_for  # noqa: E402

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
    warm_frames: int = 3  # a chain's warm-up: a later frame runs eagerly, the next is captured
    batches: tuple[int, ...] = (8,)
    # Later frames get the `default` preset's budget (config.yaml), the goal's iteration count.
    chain_settings: dict = field(default_factory=lambda: {"frame_iterations": 20})
    job_frames: int = 480
    job_settings: dict = field(default_factory=dict)
    repro_frames: int = 4
    repro_deterministic: tuple[bool, ...] = (True, False)  # the settings run as two processes each
    hd_size: int = 1920
    hd_frames: int = 2
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
    image_default_iterations: int | None = None  # painterly's default run: its own budget
    matmul_size: int = 8192


QUICK = Plan(chain_size=32, clip_frames=6, chain_frames=4, warm_frames=1, batches=(2,),
             chain_settings={"iterations": 4, "pyramid_min_size": 32, "frame_iterations": 2},
             job_frames=8, job_settings={"iterations": 4, "pyramid_min_size": 32, "frame_iterations": 2},
             repro_frames=2, repro_deterministic=(True,), hd_size=64, hd_frames=1,
             profile_iterations=3, memory_sizes=(64, 96), memory_iterations=2,
             hq_settings={"size": 48, "iterations": 4, "pyramid_min_size": 32, "frame_iterations": 2}, hq_frames=4,
             quality_settings={"size": 32, "iterations": 4, "pyramid_min_size": 24, "frame_iterations": 2},
             quality_frames=3, seed_frames=2, seed_iterations=5, image_size=32, image_budgets="5",
             image_style_weights="8", pastiche_steps=1, image_default_iterations=10, matmul_size=256)


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


# The engine's paths, as Stylizer arguments: eager, CUDA graphs (the default), and the
# compiled objective inside CUDA graphs (asked for: it takes minutes to compile).
EAGER = {"cuda_graphs": False}
GRAPHS = {}
COMPILED = {"compiled": True}


def stylizer_for(bench: Bench, settings: Settings, path: dict) -> Stylizer:
    """A stylizer on ``path``; on the CPU never compiled, so that a --quick smoke run does
    not spend minutes compiling (there the rows differ only in their labels)."""
    if bench.device.type == "cpu":
        path = {**path, "compiled": False}
    return Stylizer(settings, bench.vgg, **path)


def chain_throughput(bench: Bench) -> str:
    plan, settings = bench.plan, bench.settings
    bf16 = {"precision": "bf16"}
    configs = [("eager, fp32/TF32", {}, EAGER, 1),
               ("CUDA graphs, fp32/TF32 (the default path)", {}, GRAPHS, 1),
               ("CUDA graphs, bf16", bf16, GRAPHS, 1)]
    configs += [(f"{b} chains batched, CUDA graphs, bf16", bf16, GRAPHS, b) for b in plan.batches]
    # Last: compiling takes minutes (its warm-up column).
    if bench.args.compile:
        configs += [("compiled + CUDA graphs, fp32/TF32", {}, COMPILED, 1)]
    rows = []
    for index, (label, changes, path, chains) in enumerate(configs):
        def run(label=label, changes=changes, path=path, chains=chains, index=index):
            stylizer = stylizer_for(bench, settings.replace(**changes), path)
            windows = spread_windows(len(bench.frames), plan.chain_frames, chains)
            # Warm-up on each window's first frames: compilation, cuDNN's choice of algorithms
            # for every size, and (graphs) a later frame runs eagerly and the next is captured,
            # so the timed run replays from its second frame on, as a long chunk does.
            warm_start = time.perf_counter()
            run_chains(stylizer, bench.targets, bench.frames, [(first, plan.warm_frames) for first, _ in windows],
                       bench.out(f"chains{index}-warm"))
            warm = time.perf_counter() - warm_start
            stamps = frame_steps(stylizer, lambda: run_chains(stylizer, bench.targets, bench.frames, windows,
                                                             bench.out(f"chains{index}")))
            later = (stamps[-1] - stamps[1]) / (len(stamps) - 2)
            return [label, chains, stylizer.settings.frame_iterations, warm, stamps[1] - stamps[0], chains / later,
                    chains * plan.chain_frames / (stamps[-1] - stamps[0])]

        rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    base = rows[0][5] if rows and rows[0][0] == configs[0][0] else None
    for row in rows:
        row.append(row[5] / base if base else "n/a")
    table = print_table(["run", "chains", "iterations per later frame",
                         f"warm-up s ({plan.warm_frames} frames, compiling included)", "first frame s",
                         "later frames/s", f"frames/s over {plan.chain_frames} frames",
                         "later frames/s vs first row"], rows)
    verdict = goal_line(f"One stream in real time ({bench.args.realtime_fps:g} later frames/s at {bench.width}x"
                        f"{bench.height}, one chain)", [row for row in rows if row[1] == 1], 5,
                        bench.args.realtime_fps, " later frames/s")
    return (f"{bench.width}x{bench.height}, frames of `data/vtest.mp4` (upscaled), chains of {plan.chain_frames} "
            f"frames (starts spread over the clip): first frame {settings.iterations} iterations over the pyramid "
            f"{settings.pyramid_sizes()}, later frames {settings.frame_iterations} at full size (the `default` "
            f"preset's), early stop {settings.tolerance:g}. Each row after a warm-up on {plan.warm_frames} frames; "
            f"per-step times include reading, flows, warping and writing.\n\n{table}{verdict}")


def goal_line(goal: str, rows: list[list], column: int, target: float, unit: str, higher_is_better: bool = True) -> str:
    """A paragraph saying whether the best of ``rows`` (by ``column``) reached ``target``."""
    if not rows:
        return ""
    best = (max if higher_is_better else min)(rows, key=lambda row: row[column])
    met = best[column] >= target if higher_is_better else best[column] <= target
    return f"\n\n{goal}: {'reached' if met else 'missed'}; best {best[column]:.3g}{unit} ({best[0]})."


def long_clip(frames: list[Path], count: int, path: Path) -> Path:
    """A lossless video of ``count`` frames played forwards and backwards over ``frames`` (the
    bundled clip is 3 s): motion continues everywhere, reversing at the ends, as a long shot
    for a job to stylize. Written with PyAV (the GPU machine has no ffmpeg executable)."""
    cycle = [np.asarray(load_image(frame)) for frame in [*frames, *frames[-2:0:-1]]]
    write_segment(path, (cycle[index % len(cycle)] for index in range(count)), [str(index) for index in range(count)])
    return path


def job_throughput(bench: Bench) -> str:
    """Whole `stylize_frames` jobs as the workflow runs them (a process: start-up, model load,
    compiling, reading, flows on CPU threads, writing), on one long shot."""
    plan = bench.plan
    settings = preset_settings("default", device=bench.args.device).replace(size=plan.chain_size,
                                                                            **plan.job_settings)
    video = long_clip(bench.frames, plan.job_frames, bench.work / "job-clip.mkv")
    record = chunk_record(video, plan.chain_size, plan.job_frames, bench.out("job-plan"))
    targets = bench.work / "job-targets.pt"
    Stylizer(settings, bench.vgg).targets([bench.style]).save(targets)
    cache = bench.out("inductor-cache")  # empty when the compiled row, the only one compiling, starts
    bf16 = settings.replace(precision="bf16")
    configs = [("one chain (the default), bf16", bf16, []),
               (f"{max(plan.batches)} sub-chains, bf16", bf16.replace(sub_chains=max(plan.batches)), [])]
    if bench.device.type == "cuda" and bench.args.compile:  # the CPU never compiles: it would repeat row 1
        configs.append(("one chain, bf16, --compile (compile cache empty)", bf16, ["--compile"]))
    rows = []
    for index, (label, job_settings, options) in enumerate(configs):
        def run(index=index, job_settings=job_settings, label=label, options=options):
            out = bench.work / f"job{index}"
            seconds = timed_command(
                [sys.executable, "-m", "painterly.jobs", "stylize-frames", str(video), "--chunk-source", str(record),
                 "--targets", str(targets), "-o", str(out), "--seam-frames", str(SEAM_FRAMES), "--threads", "4", "--quiet",
                 "--settings", json.dumps(job_settings.to_dict()), *options],
                env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache)})
            sub_chains = json.loads((out / "losses.json").read_text())["sub_chains"]
            return [label, plan.job_frames, sub_chains, seconds, plan.job_frames / seconds]

        rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    table = print_table(["job", "frames", "sub-chains", "wall s (whole process)", "frames/s"], rows)
    verdict = goal_line(f"A job fills the GPU (>= {bench.args.job_fps:g} frames/s over the whole job)", rows, 4,
                        bench.args.job_fps, " frames/s")
    return (f"`python -m painterly.jobs stylize-frames` on {plan.job_frames} frames at {bench.width}x{bench.height} (the "
            f"bundled clip played back and forth: one long shot), `default` preset at {settings.size} px "
            f"({settings.iterations} iterations for each sub-chain's first frame, {settings.frame_iterations} per "
            f"later frame), seams of {SEAM_FRAMES} frames between sub-chains, flows computed inside the job. Wall "
            f"time of the whole process: start-up, model load, compiling, reading, flows, writing.\n\n"
            f"{table}{verdict}")


def first_frames(bench: Bench) -> str:
    """A shot's first frame (the whole pyramid), once its levels are warm (a film's later shots)."""
    settings = bench.settings
    configs = [("eager, fp32/TF32 (round 2's first frames)", {}, EAGER, 1),
               ("CUDA graphs, fp32/TF32", {}, GRAPHS, 1),
               ("CUDA graphs, bf16", {"precision": "bf16"}, GRAPHS, 1),
               (f"{max(bench.plan.batches)} shot starts batched, CUDA graphs, bf16", {"precision": "bf16"},
                GRAPHS, max(bench.plan.batches))]
    rows = []
    for label, changes, path, batch in configs:
        def run(changes=changes, path=path, batch=batch):
            stylizer = stylizer_for(bench, settings.replace(**changes), path)
            content = bench.frame_batch(batch)
            warm_start = time.perf_counter()
            for _ in range(2):  # eager (compiling) and capture: the first two shots of a film
                stylizer.stylize_batch(content, bench.targets)
            synchronize(bench.device)
            warm = time.perf_counter() - warm_start
            start = time.perf_counter()
            results = [stylizer.stylize_batch(content, bench.targets) for _ in range(2)]
            synchronize(bench.device)
            seconds = (time.perf_counter() - start) / 2
            iterations = sum(sum(map(len, result.losses)) for run in results for result in run) / (2 * batch)
            return [label, batch, warm, seconds, seconds / batch, iterations]

        rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    table = print_table(["run", "shots", "warm-up s (2 shots)", "s per batch", "s per first frame",
                         "iterations run (mean)"], rows)
    verdict = goal_line(f"First frames <= {bench.args.first_frame_s:g} s", rows, 4, bench.args.first_frame_s, " s",
                        higher_is_better=False)
    return (f"A shot's first frame at {bench.width}x{bench.height}: {settings.iterations} iterations over the "
            f"pyramid {settings.pyramid_sizes()} (levels {settings.iteration_schedule()}), early stop "
            f"{settings.tolerance:g}; timed after two shots (each level run eagerly, then captured), as a film's "
            f"later shots run.\n\n{table}{verdict}")


def roofline(bench: Bench) -> str:
    plan, device = bench.plan, bench.device
    per_image = conv_gflops_per_iteration(bench.settings, bench.height, bench.width)
    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16}
    measured = {name: matmul_peak_gflops(device, plan.matmul_size, dtype=dtype) for name, dtype in dtypes.items()}
    datasheet = datasheet_peaks(device)
    rows = []
    for precision in dtypes:
        for chains in (1, max(plan.batches)):
            for path_name, path in (("eager", EAGER), ("CUDA graphs", GRAPHS)):
                label = f"{precision}, B={chains}, {path_name}"

                def run(precision=precision, chains=chains, path=path):
                    settings = bench.settings.replace(precision=precision, tolerance=0)
                    stylizer = stylizer_for(bench, settings, path)
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
                    bf16_peak = datasheet["bf16"] * 1e3 if datasheet else None
                    return [label, seconds * 1e3, gflop, gflop / seconds / 1e3, gflop / peak * 1e3 if peak else "n/a",
                            gflop / seconds / peak if peak else "n/a",
                            gflop / seconds / bf16_peak if bf16_peak else "n/a",
                            gflop / seconds / measured[precision]]

                rows.append(bench.measure(label, run))
    rows = [row for row in rows if row]
    table = print_table(["run", "ms/iteration", "conv GFLOP/iteration", "achieved TFLOP/s", "roofline ms (datasheet)",
                         "fraction of its precision's datasheet peak", "fraction of the bf16 dense peak",
                         "fraction of measured matmul peak"], rows)
    sheet = (f"Datasheet dense peaks {datasheet['fp32']:g} TFLOP/s TF32 and {datasheet['bf16']:g} bf16"
             if datasheet else "No datasheet peak known for this device")
    return (f"A later frame's iterations at {bench.width}x{bench.height} ({bench.settings.frame_iterations} per frame, "
            f"no early stop; per-frame work, host checks every 10 iterations and the content forward included): "
            f"{per_image:.0f} conv GFLOP per image and iteration (forward and input gradient). {sheet}; measured "
            f"{plan.matmul_size}² matmul peaks {measured['fp32'] / 1e3:.3g} TFLOP/s fp32 (TF32) and "
            f"{measured['bf16'] / 1e3:.3g} bf16.\n\n{table}")


def profile(bench: Bench) -> str:
    device, iterations = bench.device, bench.plan.profile_iterations
    batch = max(bench.plan.batches)
    settings = bench.settings.replace(tolerance=0, frame_iterations=iterations, precision="bf16")
    # Without CUDA graphs, so that every kernel is seen; the graphs replay the same kernels.
    stylizer = stylizer_for(bench, settings, {"cuda_graphs": False})
    content = bench.frame_batch(batch)
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
    if device.type == "cuda":
        # Kernels, by name (cuDNN's, cuBLAS's and PyTorch's own are named so).
        kernels = [event for event in events if event.device_type == torch.autograd.DeviceType.CUDA
                   and not getattr(event, "is_user_annotation", False)]
        time_of, what = (lambda event: event.self_device_time_total / 1e6), "GPU"
    else:
        kernels = [event for event in events if event.device_type == torch.autograd.DeviceType.CPU]
        time_of, what = (lambda event: event.self_cpu_time_total / 1e6), "CPU"
    busy = sum(time_of(event) for event in kernels)
    groups: dict[str, list[float]] = {}
    for event in kernels:
        group = groups.setdefault(kernel_kind(event.key), [0.0, 0])
        group[0] += time_of(event)
        group[1] += event.count
    rows = [[kind, seconds * 1e3, seconds / busy if busy else 0.0, count]
            for kind, (seconds, count) in sorted(groups.items(), key=lambda item: -item[1][0])]
    table = print_table(["kind of work", f"{what} ms", f"share of {what} time", "kernels"], rows)
    top = sorted(kernels, key=time_of, reverse=True)[:10]
    top_table = print_table(["kernel or op", f"self {what} ms", f"share of {what} time", "calls"],
                            [[f"`{event.key[:90]}`", time_of(event) * 1e3, time_of(event) / busy if busy else 0.0,
                              event.count] for event in top])
    return (f"torch.profiler over one later frame of {batch} chains, bf16, without CUDA graphs (to see "
            f"each kernel), {iterations} iterations at {bench.width}x{bench.height}: wall {wall * 1e3:.1f} ms, "
            f"{what} busy {busy * 1e3:.1f} ms ({busy / wall:.0%} of the wall time; the rest is launch and host "
            f"time, which CUDA graphs remove).\n\n{table}\n\n{top_table}")


def kernel_kind(name: str) -> str:
    """A kernel's kind of work, from its name (cuDNN, cuBLAS and Triton name them so)."""
    lowered = name.lower()
    kinds = (("convolution (cuDNN)", ("conv", "cudnn", "xmma", "implicit", "sm90_", "fprop", "dgrad", "wgrad")),
             ("matrix product (Grams)", ("gemm", "bmm", "cublas", "cutlass", "matmul")),
             ("fused element-wise and reductions (Triton)", ("triton",)),
             ("pooling", ("pool",)),
             ("other element-wise (aten)", ("elementwise", "vectorized", "reduce", "copy", "fill")))
    return next((kind for kind, words in kinds if any(word in lowered for word in words)), "other")


def hd_later_frames(bench: Bench) -> str:
    """Later frames at 1080p: a frame's full work, from the warped previous result."""
    plan, device = bench.plan, bench.device
    width, height = plan.hd_size, plan.hd_size * 9 // 16
    content = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    previous = (content, torch.ones_like(content[:, :1]))
    rows = []
    for precision in ("fp32", "bf16"):
        def run(precision=precision):
            settings = bench.settings.replace(size=plan.hd_size, pyramid_min_size=plan.hd_size, precision=precision)
            stylizer = stylizer_for(bench, settings, GRAPHS)
            targets = stylizer.targets([bench.style])
            if device.type == "cuda":  # from the eager frame on: a replay allocates nothing new
                torch.cuda.reset_peak_memory_stats(device)
            for _ in range(2):  # eager (cuDNN choosing algorithms) and capture
                stylizer.stylize_batch(content, targets, previous=previous)
            synchronize(device)
            start = time.perf_counter()
            for _ in range(plan.hd_frames):
                stylizer.stylize_batch(content, targets, previous=previous)
            synchronize(device)
            seconds = (time.perf_counter() - start) / plan.hd_frames
            peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else "n/a"
            return [f"{width}x{height}, {precision}, CUDA graphs", settings.frame_iterations, seconds,
                    1 / seconds, peak]

        rows.append(bench.measure(precision, run))
    rows = [row for row in rows if row]
    return (f"Later frames at {width}x{height} (one chain, {bench.settings.frame_iterations} iterations each, early "
            f"stop {bench.settings.tolerance:g}), after a warm-up of two frames; peak memory over all of them.\n\n"
            + print_table(["run", "iterations per frame", "s per later frame", "later frames/s", "peak GiB"], rows))


def reproducibility(bench: Bench) -> str:
    """Two `stylize-frames` processes with the same inputs, each choosing its algorithms
    afresh: byte-identical frames with `deterministic`, and at what cost (the default,
    uncompiled path; compiling four processes would take minutes of the run)."""
    plan = bench.plan
    record = chunk_record(bench.args.video, plan.chain_size, plan.repro_frames, bench.out("repro-plan"))
    settings = bench.settings.replace(precision="bf16")
    targets = bench.work / "repro-targets.pt"
    Stylizer(settings, bench.vgg).targets([bench.style]).save(targets)
    rows = []
    for deterministic in plan.repro_deterministic:
        label = f"deterministic {str(deterministic).lower()}"

        def run(deterministic=deterministic, label=label):
            digests, seconds = [], []
            for attempt in range(2):
                out = bench.work / f"repro-{deterministic}-{attempt}"
                job = settings.replace(deterministic=deterministic)
                seconds.append(timed_command(
                    [sys.executable, "-m", "painterly.jobs", "stylize-frames", bench.args.video, "--chunk-source",
                     str(record), "--targets", str(targets), "-o", str(out), "--quiet",
                     "--settings", json.dumps(job.to_dict())]))
                digests.append(frame_digests(out / "frames.mkv"))
            same = sum(a == b for a, b in zip(*digests))
            return [label, plan.repro_frames, same, seconds[0], seconds[1]]

        rows.append(bench.measure(label, run))
    speed = []
    for deterministic in (True, False):
        def later(deterministic=deterministic):
            stylizer = stylizer_for(bench, settings.replace(deterministic=deterministic, tolerance=0), GRAPHS)
            content = bench.frame_batch(1)
            previous = (content, torch.ones_like(content[:, :1]))
            for _ in range(2):
                stylizer.stylize_batch(content, bench.targets, previous=previous)
            synchronize(bench.device)
            start = time.perf_counter()
            for _ in range(3):
                stylizer.stylize_batch(content, bench.targets, previous=previous)
            synchronize(bench.device)
            return 3 / (time.perf_counter() - start)

        speed.append(bench.measure(f"speed, deterministic {deterministic}", later))
    configure(bench.device)  # back to the fast settings for the parts after this one
    rows = [row for row in rows if row]
    table = print_table(["setting", "frames", "byte-identical in both processes", "first process s",
                         "second process s"], rows)
    cost = ""
    if all(speed):
        cost = (f"\n\nLater frames/s in one process (CUDA graphs, bf16, no early stop): "
                f"{speed[0]:.3g} deterministic, {speed[1]:.3g} not: deterministic costs {speed[1] / speed[0]:.2f}x.")
    return (f"`python -m painterly.jobs stylize-frames` on the first {plan.repro_frames} frames at {bench.width}x{bench.height}, "
            f"bf16, twice per setting."
            f"\n\n{table}{cost}")


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
                          plan.image_style_weights, bench.out("image"), plan.pastiche_steps, bench.deadline,
                          plan.image_default_iterations)
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
    Part("stream", "One stream: temporal chain throughput", chain_throughput, 120),
    Part("job", "A stylize job: one chain and sub-chains", job_throughput, 120),
    Part("first", "First frames", first_frames, 60),
    Part("roofline", "Iteration time against the roofline", roofline, 60),
    Part("hd", "Later frames at 1080p", hd_later_frames, 40),
    Part("profile", "Profile of a later frame", profile, 20),
    Part("repro", "Reproducibility on the GPU", reproducibility, 60),
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
    parser.add_argument("--no-compile", dest="compile", action="store_false",
                        help="leave out the compiled rows (a cold compile takes minutes per variant)")
    parser.add_argument("--realtime-fps", type=float, default=24.0, help="the frame rate that counts as real time")
    parser.add_argument("--job-fps", type=float, default=60.0, help="the frames/s a stylize job should reach")
    parser.add_argument("--first-frame-s", type=float, default=1.0, help="the seconds a shot's first frame may take")
    listing = ", ".join(f"{number} {part.key}" for number, part in enumerate(PARTS, 1))
    parser.add_argument("--parts", type=chosen_parts, help=f"run only these parts, comma-separated numbers or keys "
                        f"({listing}); default: all")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    chosen = args.parts or list(enumerate(PARTS, 1))
    some = f" --parts {','.join(part.key for _, part in chosen)}" if args.parts else ""
    some += f" --budget {args.budget:g}" + ("" if args.compile else " --no-compile")
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
