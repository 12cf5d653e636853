"""Shared fixtures: the bundled sample images and one VGG-19 load per test session."""

import os
from pathlib import Path

# One torch thread per process, in this one and in every command a test starts: the suite
# runs on two workers (pyproject.toml) beside the jobs they start, and OpenMP threads that
# wait on busy cores made a shared 2-core runner 12x slower than one thread each.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest
import torch

from painterly.io import load_image
from painterly.settings import Settings
from painterly.stylize import Stylizer, network_for

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
CONTENT = DATA / "building.jpg"
STYLE = DATA / "starry_night.jpg"


@pytest.fixture(scope="session")
def content_image():
    return load_image(CONTENT)


@pytest.fixture(scope="session")
def style_image():
    return load_image(STYLE)


@pytest.fixture(scope="session")
def vgg():
    """The default network (caffe weights, seed layers), loaded once for the whole run."""
    return network_for(Settings())


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, CUDA])])
def device(request):
    """Engine tests run on the CPU, and again on CUDA where a GPU is visible (-m cuda)."""
    return request.param


@pytest.fixture
def make_stylizer(vgg, device):
    """Stylizer for tiny runs that shares the session's network."""

    def make(**changes):
        settings = Settings(size=64, pyramid_min_size=32, iterations=40, device=device, tolerance=0).replace(**changes)
        return Stylizer(settings, vgg)

    return make
