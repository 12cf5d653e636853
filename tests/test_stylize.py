"""The optimization: it converges, its weights steer, it is deterministic and sized right."""

import subprocess
import sys

import pytest
import torch

from painterly.engine.color import mean_matched, rgb_to_ycbcr
from painterly.errors import PainterlyError
from painterly.media.io import image_to_tensor, resize_long_side
from painterly.engine.losses import Objective, total_variation
from painterly.engine.settings import Settings
from painterly.engine.stylize import Stylizer, network_for, style_layer_weights


def test_loss_decreases_at_every_level(make_stylizer, content_image, style_image):
    stylizer = make_stylizer(init="noise")
    result = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False)
    assert len(result.losses) == 2  # 32 px then 64 px
    for level in result.losses:
        assert level[-1] < 0.7 * level[0]


def distances(stylizer, image, content_image, style_image):
    """Unweighted content and style distances of ``image`` at the stylizer's final size."""
    settings = stylizer.settings
    content = image_to_tensor(resize_long_side(content_image, settings.size)).to(stylizer.device)
    targets = stylizer.targets([style_image])
    objective = Objective(
        stylizer.vgg, content, targets.at(settings.size, stylizer.device), settings.content_layer,
        style_layer_weights(settings), 1.0, 1.0, 1.0,
    )
    with torch.no_grad():
        terms = objective.terms(image.to(stylizer.device))
    return float(terms["content"]), float(terms["style"])


def test_style_to_content_ratio_steers_monotonically(make_stylizer, content_image, style_image):
    """beta/alpha over three orders of magnitude: style distance falls, content distance rises."""
    content_d, style_d = [], []
    for ratio in (0.1, 1.0, 10.0, 100.0):
        stylizer = make_stylizer(style_weight=ratio, tv_weight=0)
        image = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False).image
        c, s = distances(stylizer, image, content_image, style_image)
        content_d.append(c)
        style_d.append(s)
    assert all(a > b for a, b in zip(style_d, style_d[1:])), style_d
    assert all(a < b for a, b in zip(content_d, content_d[1:])), content_d
    # Not a nudge: the sweep moves each distance by a large factor.
    assert style_d[0] > 5 * style_d[-1] and content_d[-1] > 5 * content_d[0]


def test_tv_weight_lowers_total_variation(make_stylizer, content_image, style_image):
    variation = []
    for tv in (0.0, 10.0, 100.0):
        stylizer = make_stylizer(tv_weight=tv)
        image = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False).image
        variation.append(float(total_variation(image)))
    assert variation[0] > variation[1] > variation[2], variation


def test_adam_also_converges(make_stylizer, content_image, style_image):
    stylizer = make_stylizer(optimizer="adam", init="noise", iterations=60)
    result = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False)
    assert result.losses[-1][-1] < result.losses[0][0] / 2
    assert 0 <= float(result.image.min()) and float(result.image.max()) <= 1


def test_pyramid_output_has_requested_size(make_stylizer, content_image, style_image):
    stylizer = make_stylizer(size=96, pyramid_min_size=24, iterations=12)
    assert stylizer.settings.pyramid_sizes() == [24, 48, 96]
    schedule = stylizer.settings.iteration_schedule()
    assert sum(schedule) == 12 and schedule[0] > schedule[1] > schedule[2]
    result = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False)
    width, height = content_image.size
    assert tuple(result.image.shape) == (1, 3, round(height * 96 / width), 96)
    assert [len(level) for level in result.losses] == schedule


def test_preserve_colors_keeps_content_chroma(make_stylizer, content_image, style_image):
    content = image_to_tensor(resize_long_side(content_image, 64))

    def chroma_error(preserve):
        stylizer = make_stylizer(preserve_colors=preserve)
        image = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False).image
        return float((rgb_to_ycbcr(image)[:, 1:] - rgb_to_ycbcr(content)[:, 1:]).abs().mean())

    kept, changed = chroma_error(True), chroma_error(False)
    assert kept < 0.01 and changed > 3 * kept, (kept, changed)


def test_early_stop_ends_a_level_before_its_budget(make_stylizer, content_image, style_image):
    stylizer = make_stylizer(iterations=200, tolerance=0.05)
    result = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False)
    assert sum(len(level) for level in result.losses) < 200


def test_a_later_frame_paints_what_no_earlier_result_covers_from_the_photo_in_the_paintings_colours(
        make_stylizer, content_image, style_image):
    """Pixels no earlier result reaches (uncovered, come into view) start from the photo
    shifted to the painting's colour means: from the photo as it is, 20 iterations (here 10) left them
    nearly as the photo, unlike the painting beside them."""
    stylizer = make_stylizer(frame_iterations=10)
    targets = stylizer.targets([style_image])
    painting = stylizer.stylize(content_image, targets, progress=False).image
    content = image_to_tensor(resize_long_side(content_image, 64))
    held = torch.ones_like(content[:, :1])
    held[..., 32:] = 0  # the right half: nothing earlier is reliable there
    (later,) = stylizer.stylize_batch(content, targets, previous=(painting, held))

    def right_colour(image):
        return image[..., 32:].float().cpu().mean((0, 2, 3))

    photo_off = (right_colour(content) - right_colour(painting)).abs().mean()
    later_off = (right_colour(later.image) - right_colour(painting)).abs().mean()
    assert later_off < 0.4 * photo_off, (later_off, photo_off)  # 0.03x; from the photo as it is, 0.83x


def test_colour_means_matched_over_a_region(content_image, style_image):
    """The photo shifted, channel by channel, by the painting's mean less its own over the
    region (not over the whole picture); clamped to [0, 1], its contrast kept."""
    photo, painting = (image_to_tensor(resize_long_side(image, 64)) for image in (content_image, style_image))
    painting = painting[..., : photo.shape[-2], : photo.shape[-1]]
    where = torch.zeros_like(photo[:, :1], dtype=torch.bool)
    where[..., :20, :] = True
    matched = mean_matched(photo, painting, where)
    shift = painting[..., :20, :].mean((2, 3), keepdim=True) - photo[..., :20, :].mean((2, 3), keepdim=True)
    whole_picture_shift = painting.mean((2, 3), keepdim=True) - photo.mean((2, 3), keepdim=True)
    assert (shift - whole_picture_shift).abs().max() > 0.05  # the region tells
    assert ((matched > 0) & (matched < 1)).float().mean() > 0.5  # mostly not clamped (72%)
    assert torch.allclose(matched, (photo + shift).clamp(0, 1), atol=1e-5)
    assert torch.equal(mean_matched(photo, painting, torch.zeros_like(where)), photo)  # nowhere to compare


@pytest.mark.parametrize("device", ["cpu"])
def test_an_optimization_that_diverges_delivers_its_best_iterate(make_stylizer, content_image, style_image):
    """L-BFGS takes a fixed step without a line search: too long a step (here --lr 2.5)
    climbs and does not come back, and the early stop, seeing no fall, froze the climbed
    image. The level delivers its best iterate instead, and says so."""
    stylizer = make_stylizer(size=48, pyramid_min_size=48, iterations=30, lr=2.5, tolerance=1e-3)
    targets = stylizer.targets([style_image])
    with pytest.warns(UserWarning, match=r"^the optimization diverged at 48x33 .*: kept its best iterate; a lower"):
        result = stylizer.stylize(content_image, targets, progress=False)
    (losses,) = result.losses
    assert losses[-1] > 3 * min(losses)  # it did diverge
    content = image_to_tensor(resize_long_side(content_image, 48))
    delivered, _ = stylizer.loss_and_gradient(stylizer._objective(content, targets.at(48, "cpu"), None),
                                              result.image.clone().requires_grad_(True))
    assert float(delivered.detach()) < 1.05 * min(losses)


@pytest.mark.parametrize("device", ["cpu"])
@pytest.mark.parametrize("seed_b, same", [(0, True), (1, False)])
def test_seeded_runs_are_identical_on_cpu(make_stylizer, content_image, style_image, seed_b, same):
    images = []
    for seed in (0, seed_b):
        stylizer = make_stylizer(init="noise", seed=seed, iterations=10)
        images.append(stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False).image)
    assert torch.equal(images[0], images[1]) is same


def crops(image, count, size=64):
    """``count`` different content images of one size: crops of the sample photo."""
    width, height = image.size
    return torch.cat([
        image_to_tensor(resize_long_side(image.crop((i * width // 8, 0, width - (count - i) * width // 8, height)), size)
                        .resize((size, size * 3 // 4)))
        for i in range(count)
    ])


def test_a_batch_gives_each_image_what_it_gets_alone(make_stylizer, content_image, style_image):
    """Frames of several chains share every kernel but stay independent problems.

    Each image's loss and gradient in a batch are its own to float rounding. L-BFGS
    without line search amplifies rounding over its iterations (1 and 2 CPU threads
    differ by as much), so whole runs are compared by the loss they reach.
    """
    stylizer = make_stylizer(tolerance=0.1, iterations=60, pyramid_min_size=64)
    targets = stylizer.targets([style_image])
    contents = crops(content_image, 3).to(stylizer.device)

    def loss_and_grad(images):
        image = images.clone().requires_grad_(True)
        total, _ = stylizer._objective(images, targets.at(64, stylizer.device), None)(image)
        return total.detach(), torch.autograd.grad(total.sum(), image)[0]

    # Another batch size may run other convolution algorithms, which sum in another order.
    # fp32 on the CPU (unit roundoff 6e-8) stays far inside 1e-4. CUDA's convolutions run in
    # TF32 (10-bit mantissa, unit roundoff 4.9e-4): two orders of summing through 16 layers
    # differ by a few units (measured on an H200: 2.2e-4 of the gradient's norm), so the
    # bound there is 4 units.
    rounding = 1e-4 if stylizer.device.type == "cpu" else 4 * 2.0**-11
    total, grad = loss_and_grad(contents)
    batch = stylizer.stylize_batch(contents, targets)
    for b in range(3):
        alone_total, alone_grad = loss_and_grad(contents[b : b + 1])
        assert torch.allclose(total[b], alone_total[0], rtol=rounding / 10)
        assert (grad[b] - alone_grad[0]).norm() < rounding * alone_grad.norm()
        (alone,) = stylizer.stylize_batch(contents[b : b + 1], targets)
        assert abs(batch[b].losses[-1][-1] - alone.losses[-1][-1]) < 0.03 * alone.losses[-1][-1]


@pytest.mark.slow
def test_a_job_that_does_not_compile_loads_neither_the_compiler_nor_torchvision():
    """Every stylize and targets job is a fresh process: importing torch.compile's machinery and
    torchvision.models would double its start-up (2 s and 2.5 s on top of torch's 2.5 s; a
    job of a few small frames spent most of its time there). They load only where used:
    --compile, torchvision weights, RAFT flows."""
    code = ("import sys, painterly.video.chunk, painterly.cli, painterly.engine.style_targets; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torchvision' or m.startswith("
            "('torch._dynamo', 'torch._inductor'))))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_the_compiled_objective_gives_the_eager_loss_and_gradient(content_image, style_image):
    """torch.compile (the default on CUDA) fuses the work around the convolutions: the same
    function, rounded otherwise. Checked on the CPU at a shallow cut of the network, which
    compiles in a minute, with every term (a temporal term with a real mask); whole runs of
    the full network are compared on CUDA (tests/test_cuda.py): L-BFGS without line search
    turns rounding into another trajectory, so they agree in quality, not in losses."""
    settings = Settings(size=48, pyramid_min_size=48, frame_iterations=8, device="cpu", tolerance=0,
                        content_layer="block2_conv1", style_layers=("block1_conv1", "block2_conv1"))
    network = network_for(settings)
    eager, compiled = Stylizer(settings, network, compiled=False), Stylizer(settings, network, compiled=True)
    targets = eager.targets([style_image])
    contents = crops(content_image, 2, size=48)
    previous = (contents.flip(-1), (contents[:, :1] > 0.3).float())
    objective = eager._objective(contents, targets.at(48, "cpu"), previous)
    image = torch.rand(contents.shape, generator=torch.Generator().manual_seed(1)).requires_grad_(True)
    eager_total, eager_grad = eager.loss_and_gradient(objective, image)
    compiled_total, compiled_grad = compiled.loss_and_gradient(objective, image)
    assert compiled.compiled, "fell back to eager"
    assert torch.allclose(compiled_total, eager_total, rtol=1e-5)
    assert (compiled_grad - eager_grad).norm() < 1e-4 * eager_grad.norm()
    # A whole later frame through the compiled objective: the level kept and refilled works.
    for _ in range(2):
        for result in compiled.stylize_batch(contents, targets, previous=previous):
            (losses,) = result.losses
            assert len(losses) == 8 and losses[-1] < 0.5 * losses[0]
    assert compiled.compiled


def test_a_kept_level_refilled_with_other_targets_leaves_the_first_targets_alone(make_stylizer, content_image,
                                                                                  style_image):
    """Levels are kept and refilled frame after frame; another style's Grams are copied into
    the level's own tensors, never into the style targets it was made with."""
    stylizer = make_stylizer(iterations=6, frame_iterations=4)
    first, other = stylizer.targets([style_image]), stylizer.targets([content_image])
    content = crops(content_image, 1).to(stylizer.device)
    previous = (content.flip(-1), torch.ones_like(content[:, :1]))
    before = stylizer.stylize_batch(content, first, previous=previous)[0].image
    stylizer.stylize_batch(content, other, previous=previous)
    after = stylizer.stylize_batch(content, first, previous=previous)[0].image
    assert torch.equal(before, after)


def test_each_image_of_a_batch_stops_early_by_its_own_losses(make_stylizer, content_image, style_image):
    """Early stop is decided on the device, per image: the recorded losses end exactly where
    the rule (loss fell by <= tolerance over the last 10 iterations) first held."""
    tolerance = 0.1
    stylizer = make_stylizer(tolerance=tolerance, iterations=60, pyramid_min_size=64)
    batch = stylizer.stylize_batch(crops(content_image, 3), stylizer.targets([style_image]))
    lengths = []
    for result in batch:
        (losses,) = result.losses
        stop = next(i for i in range(10, 60) if losses[i - 10] - losses[i] <= tolerance * abs(losses[i]))
        assert len(losses) == stop + 1
        lengths.append(len(losses))
    assert len(set(lengths)) > 1, lengths  # each at its own time


def test_a_nan_in_the_optimization_is_one_line_naming_the_size(make_stylizer, content_image, style_image):
    stylizer = make_stylizer()
    content = crops(content_image, 1)
    content[..., 10:20, 10:20] = float("nan")
    with pytest.raises(PainterlyError, match=r"^the loss became nan at 32x24 after 0 iterations; lower") as error:
        stylizer.stylize_batch(content, stylizer.targets([style_image]))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("device", ["cpu"])
def test_out_of_memory_before_the_loop_is_one_line_naming_the_size(make_stylizer, content_image, style_image,
                                                                    monkeypatch):
    """A CUDA out-of-memory while the objective is built (the no-grad forwards of content and
    targets, before the loop and its checkpointing retry) ends as the same one-line error.
    Injected here, so it runs anywhere; tests/test_cuda.py runs out of memory for real."""
    stylizer = make_stylizer()
    targets = stylizer.targets([style_image])

    def exhausted(*args):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 45.00 GiB")

    monkeypatch.setattr(stylizer, "_objective", exhausted)
    expected = r"^out of GPU memory stylizing 64x48 on cpu; lower --size \(now 64\) or use --precision bf16$"
    with pytest.raises(PainterlyError, match=expected):
        stylizer.stylize_batch(crops(content_image, 1), targets)


def test_recomputing_activations_gives_the_same_features_and_gradient(vgg):
    image = torch.rand(1, 3, 48, 64, requires_grad=True)

    def run():
        features = vgg(image)
        (grad,) = torch.autograd.grad(sum(f.pow(2).mean() for f in features.values()), image)
        return features, grad

    plain_features, plain_grad = run()
    vgg.checkpointing = True
    try:
        features, grad = run()
    finally:
        vgg.checkpointing = False
    assert features.keys() == plain_features.keys()
    assert all(torch.allclose(features[k], plain_features[k]) for k in features)
    assert torch.allclose(grad, plain_grad, rtol=1e-4, atol=1e-7) and grad.abs().max() > 0
