"""Shared fixtures: the bundled sample images and one VGG-19 load per test session."""

from pathlib import Path

import pytest

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


@pytest.fixture
def make_stylizer(vgg):
    """Stylizer for tiny CPU runs that shares the session's network."""

    def make(**changes):
        settings = Settings(size=64, pyramid_min_size=32, iterations=40, device="cpu", tolerance=0).replace(**changes)
        return Stylizer(settings, vgg)

    return make
