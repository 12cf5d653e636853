"""``painterly video``: the workflow itself, run on a one-row sheet.

No second pipeline: a work directory beside the output holds the sheet, the config and
Snakemake's state, so running the same command again reuses every finished step.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from .errors import PainterlyError
from .io import atomic_path
from .settings import Settings

REPO = Path(__file__).resolve().parents[2]


def run_video(source, styles, output, overrides: dict, cores: int = 4, preset: str | None = None) -> None:
    snakefile = REPO / "Snakefile"
    if not snakefile.is_file():
        raise PainterlyError(f"{snakefile}: the workflow is missing; install painterly from its checkout (pip install -e .)")
    for path in [source, *styles]:
        if not Path(path).is_file():
            raise PainterlyError(f"{path}: no such file; check the path")
    base = yaml.safe_load((REPO / "config.yaml").read_text())
    preset = preset or base["preset"]
    if preset not in base["presets"]:
        raise PainterlyError(f"--preset {preset!r} is not in {REPO / 'config.yaml'}; have {sorted(base['presets'])}")
    settings = Settings.from_dict({**base["presets"][preset], **overrides}).to_dict()

    output = Path(output).resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", output.stem).lstrip("-_.") or "video"
    workdir = output.parent / ".painterly" / name
    workdir.mkdir(parents=True, exist_ok=True)
    config = {**base, "jobs": "jobs.tsv", "results": "results", "preset": "run", "presets": {"run": settings}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    styles = ",".join(str(Path(style).resolve()) for style in styles)
    (workdir / "jobs.tsv").write_text(f"name\tinput\tstyles\n{name}\t{Path(source).resolve()}\t{styles}\n")

    command = ["snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores)]
    if subprocess.run(command, cwd=REPO).returncode != 0:
        raise PainterlyError(f"the workflow failed; see the logs in {workdir / 'results' / 'logs'}")
    with atomic_path(output) as tmp:
        shutil.copyfile(workdir / "results" / name / f"{name}.mp4", tmp)
    os.utime(output)
