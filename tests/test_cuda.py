"""What only a GPU can show; run there with ``pytest -m cuda`` (skipped without one).

bf16 and TF32 reach fp32's quality, the CUDA speed settings are on, CUDA graphs and
batched chains reach what eager and lone chains reach, CPU and CUDA agree, and a size too
large for the card ends with the one-line error. tests/test_stylize.py already runs the
engine's own tests on CUDA too (its ``device`` fixture); these are the GPU-only ones.

Quality is compared through the shared evaluator (benchmarks/evaluate.py), within the
tolerances benchmarks/gpu.py reports against: L-BFGS without line search amplifies
rounding into another trajectory, so two runs agree in the quality they reach, not in
their pixels.
"""

import gc
import json
import math
import subprocess
import sys

import pytest
import torch

from painterly.media.io import fit_long_side, image_to_tensor, load_image
from painterly.engine.losses import gram_matrix
from painterly.media.segments import frame_digests, segment_names
from painterly.engine.stylize import Stylizer

from .conftest import CONTENT, CUDA, REPO, STYLE

sys.path.insert(0, str(REPO / "benchmarks"))
from evaluate import Evaluator, relative_gaps, video_quality  # noqa: E402
from gpu import PRECISION_TOLERANCE, SAME_MATH_TOLERANCE, engine_quality  # noqa: E402
from video import chunk_record, clip_frames, preset_settings, run_chains  # noqa: E402

pytestmark = [pytest.mark.cuda, CUDA]

GPU = "cuda"
# config.yaml's CPU-sized preset (192 px, 100 iterations, 20 per later frame): small enough
# for the CPU side of the comparison, large enough for the evaluator's distances to settle.
QUALITY = preset_settings("default")
CLIP_FRAMES = 6
VIDEO = REPO / "data" / "vtest.mp4"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The first frames of the bundled clip at the preset's size."""
    return clip_frames(VIDEO, tmp_path_factory.mktemp("clip") / "frames", QUALITY.size,
                       CLIP_FRAMES)


@pytest.fixture(scope="module")
def evaluator():
    return Evaluator(GPU)


def assert_same_quality(measured: dict, reference: dict, tolerance: dict) -> None:
    """Each metric of ``measured`` within its relative tolerance of ``reference``'s."""
    gaps = relative_gaps(measured, reference)
    over = {metric: gap for metric, gap in gaps.items() if not gap <= tolerance[metric]}
    assert not over, f"relative gaps {over} exceed {tolerance}; measured {measured}, reference {reference}"


def assert_same_engine_quality(measured: dict, reference: dict, tolerance: dict) -> None:
    for scope in reference:
        assert_same_quality(measured[scope], reference[scope], tolerance)


def test_bf16_is_finite_and_reaches_fp32_quality(vgg, content_image, style_image, clip, evaluator, tmp_path):
    results = {}
    for precision in ("fp32", "bf16"):
        stylizer = Stylizer(QUALITY.replace(device=GPU, precision=precision), vgg)
        results[precision] = engine_quality(stylizer, content_image, style_image, clip, tmp_path / precision, evaluator)
    # A NaN anywhere in the image would make its distances NaN; the engine stops on a NaN loss.
    assert all(math.isfinite(value) for scope in results["bf16"].values() for value in scope.values()), results
    assert_same_engine_quality(results["bf16"], results["fp32"], PRECISION_TOLERANCE)


def test_cuda_runs_channels_last_with_tf32_and_keeps_bf16_grams_in_fp32(vgg):
    stylizer = Stylizer(QUALITY.replace(device=GPU, precision="bf16"), vgg)
    convs = [module for module in stylizer.vgg.modules() if isinstance(module, torch.nn.Conv2d)]
    assert convs and all(conv.weight.is_contiguous(memory_format=torch.channels_last) for conv in convs)
    assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32 and torch.backends.cudnn.benchmark
    image = stylizer._to_device(torch.rand(1, 3, 48, 64))
    assert image.is_cuda and image.is_contiguous(memory_format=torch.channels_last)
    with stylizer.autocast():
        features = stylizer.vgg(image)["block1_conv1"]
        gram = gram_matrix(features)
    assert features.dtype == torch.bfloat16 and gram.dtype == torch.float32
    with Stylizer(QUALITY.replace(device=GPU), vgg).autocast():
        assert stylizer.vgg(image)["block1_conv1"].dtype == torch.float32


def test_cuda_graphs_reach_the_quality_of_eager_runs(vgg, content_image, style_image, clip, evaluator, tmp_path):
    results = {}
    for graphs in (True, False):
        stylizer = Stylizer(QUALITY.replace(device=GPU), vgg, cuda_graphs=graphs)
        results[graphs] = engine_quality(stylizer, content_image, style_image, clip, tmp_path / str(graphs), evaluator)
        # The chain's later frames share one level; with graphs its iterations were captured
        # (on the third frame, after the eager second) and replayed for the frames after it.
        levels = [level for (_, budget), level in stylizer._levels.items() if budget == QUALITY.frame_iterations]
        assert levels and all(bool(level.graphs) is graphs for level in levels)
    assert_same_engine_quality(results[True], results[False], SAME_MATH_TOLERANCE)


def test_batched_chains_reach_what_each_chain_reaches_alone(vgg, style_image, clip, evaluator, tmp_path):
    stylizer = Stylizer(QUALITY.replace(device=GPU), vgg)
    targets = stylizer.targets([style_image])
    windows = [(0, 4), (1, 4), (2, 4)]  # at each step every chain has another frame
    batched = run_chains(stylizer, targets, clip, windows, tmp_path / "batched")
    for index, (first, count) in enumerate(windows):
        (alone,) = run_chains(stylizer, targets, clip, [(first, count)], tmp_path / f"alone{index}")
        frames = clip[first : first + count]
        assert_same_quality(video_quality(evaluator, frames, batched[index], style_image),
                            video_quality(evaluator, frames, alone, style_image), SAME_MATH_TOLERANCE)


def test_cpu_and_cuda_reach_the_same_quality(content_image, style_image, clip, evaluator, tmp_path):
    results = {}
    for device in ("cpu", GPU):
        # Each its own network: one shared module would move between the devices.
        stylizer = Stylizer(QUALITY.replace(device=device))
        results[device] = engine_quality(stylizer, content_image, style_image, clip, tmp_path / device, evaluator)
    assert_same_engine_quality(results[GPU], results["cpu"], PRECISION_TOLERANCE)


def test_a_size_too_large_for_the_card_ends_with_the_one_line_error(content_image, tmp_path):
    """At this size the first conv's fp32 output alone (64 channels) outgrows the card: the
    objective's no-grad content forward runs out, before the optimization loop and its
    checkpointing retry. Run as a user would, so a traceback would show."""
    memory = torch.cuda.get_device_properties(0).total_memory
    width, height = content_image.size
    long_side = math.ceil(math.sqrt(1.1 * memory / (64 * 4) * max(width, height) / min(width, height)))
    out_width, out_height = fit_long_side((width, height), long_side)
    out = tmp_path / "huge.png"
    # The style at 256 px (targets are computed before stylizing and are not what is tested).
    command = [sys.executable, "-m", "painterly", "image", CONTENT, STYLE, "-o", out, "--device", GPU, "--quiet",
               "--size", long_side, "--pyramid-min-size", long_side, "--iterations", 2,
               "--style-scale", 256 / long_side]
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True, timeout=600)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert any(line.startswith("device: cuda (") for line in lines) and lines[-1] == (
        f"painterly: error: out of GPU memory stylizing {out_width}x{out_height} on cuda; "
        f"lower --size (now {long_side}) or use --precision bf16"), result.stderr
    assert not out.exists()


def test_a_shots_first_frame_is_captured_once_and_replayed(vgg, style_image, clip):
    """Every pyramid level of a first frame keeps its level: the first shot runs eagerly
    (cuDNN choosing algorithms), the second captures each iteration, the third replays them. `deterministic`:
    cuDNN's benchmark mode may choose algorithms that sum with atomics, which round
    differently in every run (seen on an H200: two replays of one graph differed), and
    L-BFGS amplifies that into other pixels."""
    stylizer = Stylizer(QUALITY.replace(device=GPU, tolerance=0, deterministic=True), vgg)
    targets = stylizer.targets([style_image])
    content = torch.cat([image_to_tensor(load_image(path)) for path in clip[:2]])
    results = [stylizer.stylize_batch(content, targets) for _ in range(3)]
    assert len(stylizer._levels) == len(QUALITY.pyramid_sizes())
    for (shape, iterations), level in stylizer._levels.items():
        assert shape[0] == 2 and len(level.graphs) == iterations
    # Replayed graphs compute what the captured ones did: the same losses, rounded alike.
    for second, third in zip(results[1], results[2]):
        assert torch.equal(second.image, third.image)


def test_no_garbage_is_collected_while_a_graph_is_captured(vgg, style_image, clip):
    """A stylizer and its levels refer to each other, so only the collector frees a dropped
    one, graphs and all; destroying a graph during another capture voids that capture (seen
    on an H200: the next stylizer's shots ran without graphs). Collections wait for it."""
    settings = QUALITY.replace(device=GPU, size=64, pyramid_min_size=64, iterations=6, tolerance=0)
    content = image_to_tensor(load_image(clip[0]).resize((64, 48)))
    capturing = []

    def note(phase, _info):
        if phase == "start":
            capturing.append(torch.cuda.is_current_stream_capturing())

    thresholds = gc.get_threshold()
    gc.callbacks.append(note)
    gc.set_threshold(1, 1000, 1000)  # a young-generation collection at nearly every allocation
    try:
        stylizer = Stylizer(settings, vgg)
        targets = stylizer.targets([style_image])
        for _ in range(2):  # eager, then captured
            stylizer.stylize_batch(content, targets)
    finally:
        gc.callbacks.remove(note)
        gc.set_threshold(*thresholds)
    assert stylizer.cuda_graphs and all(level.graphs for level in stylizer._levels.values())
    assert capturing and not any(capturing), f"{sum(capturing)} of {len(capturing)} collections inside a capture"


def test_deterministic_runs_in_two_processes_give_the_same_bytes(tmp_path):
    """Two stylize jobs, each choosing its algorithms afresh, as two nodes of a cluster: with
    `deterministic` their frames are byte-identical."""
    settings = QUALITY.replace(device=GPU, deterministic=True, precision="bf16")
    targets = tmp_path / "targets.pt"
    Stylizer(settings).targets([load_image(STYLE)]).save(targets)
    record = chunk_record(VIDEO, QUALITY.size, 3, tmp_path)
    digests = []
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        command = [sys.executable, "-m", "painterly.jobs", "stylize-frames", str(VIDEO), "--chunk-source", str(record),
                   "--targets", str(targets), "-o", str(out), "--quiet", "--settings", json.dumps(settings.to_dict())]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        digests.append(dict(zip(segment_names(out / "frames.mkv"), frame_digests(out / "frames.mkv"))))
    assert len(digests[0]) == 3 and digests[0] == digests[1]


# Last: a cold compile takes minutes, and a GPU session's test call is short.
def test_the_compiled_objective_reaches_the_quality_of_the_eager_one(vgg, content_image, style_image, clip,
                                                                     evaluator, tmp_path):
    results = {}
    for compiled in (True, False):
        stylizer = Stylizer(QUALITY.replace(device=GPU), vgg, compiled=compiled)
        results[compiled] = engine_quality(stylizer, content_image, style_image, clip, tmp_path / str(compiled),
                                           evaluator)
        assert stylizer.compiled is compiled, "torch.compile fell back to eager"
    assert_same_engine_quality(results[True], results[False], SAME_MATH_TOLERANCE)
