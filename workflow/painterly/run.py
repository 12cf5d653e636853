"""``painterly video``: the workflow itself, run on a one-row sheet.

No second pipeline: a work directory beside the output holds the sheet, the config and
Snakemake's state, so running the same command again reuses every finished step, and
asking for another format of the same output name only encodes again. Snakemake is
asked for the video and its provenance sidecar alone (no preview or warp error table),
and both are copied beside the output; when a job fails, its log's last line, the
cause, is printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import yaml

from .engine.settings import Settings
from .errors import ERROR_PREFIX, PainterlyError
from .jobs.provenance import sidecar_path
from .media.encode import output_format
from .media.extract import probe
from .media.io import atomic_path, is_video


def workflow_dir() -> Path:
    """The checkout holding the Snakefile: $PAINTERLY_WORKFLOW, else the directory pip
    installed painterly from (``pip install -e`` records it), else the current directory."""
    candidates = [os.environ.get("PAINTERLY_WORKFLOW")]
    with contextlib.suppress(importlib.metadata.PackageNotFoundError, TypeError, ValueError):
        origin = json.loads(importlib.metadata.distribution("painterly").read_text("direct_url.json") or "{}")
        if origin.get("url", "").startswith("file://"):
            candidates.append(unquote(urlparse(origin["url"]).path))
    candidates.append(os.getcwd())
    for candidate in filter(None, candidates):
        if (Path(candidate) / "Snakefile").is_file():
            return Path(candidate)
    raise PainterlyError("no painterly workflow (Snakefile) found; install painterly from its checkout "
                         "(pip install -e .), run from that checkout, or set PAINTERLY_WORKFLOW to it")


@contextlib.contextmanager
def only_run(workdir: Path):
    """Hold a kernel lock on ``workdir`` for the run; yield whether Snakemake's own lock may
    be released: True only when we hold ours, i.e. no other `painterly video` is alive here
    (a lock the OS frees however its holder died). False where the file system has no flock."""
    with open(workdir / ".painterly.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PainterlyError(f"{workdir}: another `painterly video` is making this output; wait for it "
                                 "to finish") from None
        except OSError:
            yield False
            return
        yield True


def run_video(source, styles, output, overrides: dict, cores: int = 4, preset: str | None = None) -> None:
    repo = workflow_dir()
    snakefile = repo / "Snakefile"
    # Everything that can be refused is refused here, before any work.
    kind = output_format(output)
    for path in [source, *styles]:
        if not Path(path).is_file():
            raise PainterlyError(f"{path}: no such file; check the path")
    if not is_video(source):
        raise PainterlyError(f"{source}: is a still image, not a video; stylize it with `painterly image`")
    probe(source)
    base = yaml.safe_load((repo / "config.yaml").read_text())
    preset = preset or base["preset"]
    if preset not in base["presets"]:
        raise PainterlyError(f"--preset {preset!r} is not in {repo / 'config.yaml'}; have {sorted(base['presets'])}")
    settings = Settings.from_dict({**base["presets"][preset], **overrides}).to_dict()

    output = Path(output).resolve()
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", output.stem).lstrip("-_.") or "video"
    workdir = output.parent / ".painterly" / name
    workdir.mkdir(parents=True, exist_ok=True)
    config = {**base, "jobs": "jobs.tsv", "results": "results", "preset": "run", "presets": {"run": settings}}
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    styles = ",".join(str(Path(style).resolve()) for style in styles)
    (workdir / "jobs.tsv").write_text(f"name\tinput\tstyles\n{name}\t{Path(source).resolve()}\t{styles}\n")

    result, sidecar = f"results/{name}/{name}.{kind}", f"results/{name}/{name}.json"
    command = ["snakemake", "--snakefile", str(snakefile), "--directory", str(workdir),
               "--configfile", str(workdir / "config.yaml"), "--cores", str(cores), result, sidecar]
    started = time.time()
    with only_run(workdir) as alone:
        if alone:  # a killed earlier run left Snakemake's lock: release it, as its message says to
            subprocess.run([*command, "--unlock"], cwd=repo, capture_output=True)
        if subprocess.run(command, cwd=repo).returncode != 0:
            raise PainterlyError(failure_cause(workdir / "results" / "logs", started))
    for made, wanted in ((sidecar, sidecar_path(output)), (result, output)):
        with atomic_path(wanted) as tmp:
            shutil.copyfile(workdir / made, tmp)
    os.utime(output)


def failure_cause(logs: Path, since: float) -> str:
    """The one-line cause a failed job of this run left as its log's last line, naming the log.

    The rules send a job's output to its log, and the command line ends a failure with one
    ERROR_PREFIX line (or Python with a traceback's last line).
    """
    written = [log for log in logs.rglob("*.log") if log.stat().st_mtime >= since]
    for log in sorted(written, key=lambda log: log.stat().st_mtime, reverse=True):
        lines = log.read_text(errors="replace").strip().splitlines()
        if lines and (lines[-1].startswith(ERROR_PREFIX) or "Traceback (most recent call last):" in lines):
            return f"{lines[-1].removeprefix(ERROR_PREFIX)} (log: {log})"
    return f"the workflow failed; Snakemake's messages above say where, the job logs are in {logs}"
