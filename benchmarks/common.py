"""Helpers every benchmark shares: the machine's name, its matmul peak, timing, tables, the
--quick smoke mode and settings overrides on the command line."""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time

import torch


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {torch.get_num_threads()} threads"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak_gflops(device: torch.device, n: int = 2048, repeats: int = 10, dtype=torch.float32) -> float:
    """Best matmul rate seen (fp32: TF32 allowed on CUDA, as painterly allows it there)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def timed_command(args: list[str], timeout: float | None = None, env: dict | None = None) -> float:
    """Wall seconds of a command run to completion (start-up and model load included)."""
    start = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, env=env)
    return time.perf_counter() - start


def print_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    text = "\n".join(lines)
    print(text)
    sys.stdout.flush()
    return text


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def parse_args(parser: argparse.ArgumentParser, quick: dict) -> argparse.Namespace:
    """The command line, with ``--quick``: ``quick``'s values replace the defaults of those
    arguments (a smoke run at tiny sizes; arguments given explicitly still win)."""
    shown = " ".join(f"--{name.replace('_', '-')} {value}" for name, values in quick.items()
                     for value in (values if isinstance(values, list) else [values]))
    shown = shown.replace("%", "%%")  # argparse formats help with %
    parser.add_argument("--quick", action="store_true", help=f"a smoke run at tiny sizes, as if given: {shown}")
    if parser.parse_known_args()[0].quick:
        parser.set_defaults(**quick)
    return parser.parse_args()


def add_settings_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                        help="override a setting of the preset (repeatable), e.g. --set iterations=50")


def settings_overrides(items: list[str]) -> dict:
    """{key: value} of --set KEY=JSON items."""
    return {key: json.loads(value) for key, value in (item.split("=", 1) for item in items)}
