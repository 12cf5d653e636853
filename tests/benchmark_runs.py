"""Run a benchmark script as a user would, and read the markdown tables it prints or writes."""

from __future__ import annotations

import math
import os
import subprocess
import sys

from .conftest import REPO

BENCHMARKS = REPO / "benchmarks"


def run_benchmark(script: str, *args: str, env: dict | None = None, timeout: float = 900) -> str:
    """stdout of ``python benchmarks/<script> args`` from the repository root; fails the test
    with the output's tail unless it exits 0."""
    # One torch thread per process: a smoke run measures nothing, and on a shared 2-core
    # runner two threads per process ran 12x slower than one (OpenMP waiting on busy cores).
    env = {**(os.environ if env is None else env), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    tail = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{tail}"
    return result.stdout


def markdown_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """(header, rows of cells) of every markdown table in ``text``, in order."""
    lines, tables = text.splitlines(), []
    for index, line in enumerate(lines[:-1]):
        if line.startswith("|") and lines[index + 1].startswith("|---"):
            rows = []
            for row in lines[index + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            tables.append((_cells(line), rows))
    return tables


def finite(cell: str) -> float:
    """The number in a table cell, which must be finite."""
    value = float(cell)
    assert math.isfinite(value), cell
    return value


def assert_measured(header: list[str], rows: list[list[str]], labels: int = 1, not_measured=("n/a", "-")) -> None:
    """At least one row, each as wide as the header: ``labels`` label cells, then finite
    numbers (or a ``not_measured`` mark where there is no such number), at least one."""
    assert rows, f"no rows under {header}"
    for row in rows:
        assert len(row) == len(header), (header, row)
        numbers = [finite(cell) for cell in row[labels:] if cell not in not_measured]
        assert numbers, row


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]
