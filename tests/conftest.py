"""Shared fixtures: the bundled sample images, one VGG-19 load per test session, and
workspaces built once per run for all workers."""

import fcntl
import os
import shutil
from pathlib import Path
from collections.abc import Callable

# One torch thread per process, in this one and in every command a test starts: the suite
# runs on four workers (pyproject.toml) beside the jobs they start, and OpenMP threads that
# wait on busy cores made a shared 2-core runner 12x slower than one thread each.
os.environ["OMP_NUM_THREADS"] = "1"

import pytest
import torch

from painterly.media.io import load_image
from painterly.engine.settings import Settings
from painterly.engine.stylize import Stylizer, network_for

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


def built_once(tmp_path_factory, worker_id: str, name: str, build: Callable[[Path], None]) -> Path:
    """The directory ``build`` fills, built once per test run however many pytest-xdist workers
    ask (the first builds under a lock, the others wait and share it; it is theirs to read, not
    to change). A module-scoped fixture is built once per worker instead: three times."""
    if worker_id == "master":  # not under xdist
        directory = tmp_path_factory.mktemp(name)
        build(directory)
        return directory
    root = tmp_path_factory.getbasetemp().parent  # this run's, shared by its workers
    directory, built = root / name, root / f"{name}.built"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            shutil.rmtree(directory, ignore_errors=True)  # a worker's failed build
            directory.mkdir()
            build(directory)
            built.touch()
    return directory


@pytest.fixture(scope="session")
def vgg():
    """The default network (caffe weights, seed layers), loaded once for the whole run."""
    return network_for(Settings())


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """Keep an ``xdist_group`` on one worker. pytest-xdist 3.8 marks a grouped test by
    appending ``@group`` to ``item._nodeid``, which pytest 9 no longer reads (its node id
    is ``item._id``), so the groups fell apart and a worker sat idle on the SLURM lock
    while another ran the cluster. Do what xdist means to, on the attribute pytest reads,
    and hand the groups out first: each is minutes of work that one worker does alone. The
    other slow tests come next (in file order otherwise), so that the run does not end on one
    long test while the other workers have nothing left."""
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import coerce_node_id
    except ImportError:  # an older pytest, where xdist's own marking works
        return
    for item in items:
        group = item.get_closest_marker("xdist_group")
        if group and "@" not in item.nodeid and hasattr(item, "_id"):
            item._id = coerce_node_id(f"{item.nodeid}@{group.args[0]}")
    def order(item):
        grouped = "@" in item.nodeid
        return not grouped, not grouped and item.get_closest_marker("slow") is None

    items.sort(key=order)


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
