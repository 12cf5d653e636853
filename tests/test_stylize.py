"""The optimization: it converges, its weights steer, it is deterministic and sized right."""

import pytest
import torch

from painterly.color import rgb_to_ycbcr
from painterly.io import image_to_tensor, resize_long_side
from painterly.losses import Objective, total_variation
from painterly.stylize import style_layer_weights


def test_loss_decreases_at_every_level(make_stylizer, content_image, style_image):
    stylizer = make_stylizer(init="noise")
    result = stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False)
    assert len(result.losses) == 2  # 32 px then 64 px
    for level in result.losses:
        assert level[-1] < 0.7 * level[0]


def distances(stylizer, image, content_image, style_image):
    """Unweighted content and style distances of ``image`` at the stylizer's final size."""
    settings = stylizer.settings
    content = image_to_tensor(resize_long_side(content_image, settings.size))
    targets = stylizer.targets([style_image])
    objective = Objective(
        stylizer.vgg, content, targets.at(settings.size, "cpu"), settings.content_layer,
        style_layer_weights(settings), 1.0, 1.0, 1.0,
    )
    with torch.no_grad():
        terms = objective.terms(image)
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


@pytest.mark.parametrize("seed_b, same", [(0, True), (1, False)])
def test_seeded_runs_are_identical_on_cpu(make_stylizer, content_image, style_image, seed_b, same):
    images = []
    for seed in (0, seed_b):
        stylizer = make_stylizer(init="noise", seed=seed, iterations=10)
        images.append(stylizer.stylize(content_image, stylizer.targets([style_image]), progress=False).image)
    assert torch.equal(images[0], images[1]) is same
