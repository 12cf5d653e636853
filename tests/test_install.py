"""What a plain ``pip install -e .`` brings: enough for every command the README gives it."""

from __future__ import annotations

import importlib.metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11+


def extra_requirements(package: str, extra: str) -> list[Requirement]:
    """What ``package[extra]`` adds to the plain package, read from its installed metadata."""
    added = []
    for text in importlib.metadata.requires(package) or []:
        requirement = Requirement(text)
        marker = requirement.marker
        if marker and marker.evaluate({"extra": extra}) and not marker.evaluate({"extra": ""}):
            added.append(requirement)
    return added


def test_the_plain_install_can_build_the_report():
    """`snakemake --report` refuses to run without its `reports` extra (pygments); the README
    builds the report after the plain install, so the plain dependencies, not only [test],
    must bring each package of that extra."""
    report_needs = extra_requirements("snakemake", "reports")
    assert report_needs, "snakemake's metadata lists no `reports` extra: read how its report is installed now"
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    plain = [Requirement(text) for text in project["dependencies"]]
    snakemake = next(requirement for requirement in plain if canonicalize_name(requirement.name) == "snakemake")
    named = {canonicalize_name(requirement.name) for requirement in plain}
    missing = [need.name for need in report_needs
               if "reports" not in snakemake.extras and canonicalize_name(need.name) not in named]
    assert not missing, f"the plain install lacks what `snakemake --report` imports: {missing}"
