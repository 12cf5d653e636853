"""The conda env files hold what their rules import: each is built as a venv from its pip
list and the real workflow runs its jobs in it.

No conda channel is needed: the env files list only pip packages (plus python and pip), so
a venv with the same pip list is the env, but for the interpreter, which is the test's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image
from torchvision.models.optical_flow import raft_small

from .conftest import CONTENT, REPO, STYLE
from .media import probe_output, workflow_config, write_clip

# The envs are built once, on one worker.
pytestmark = pytest.mark.xdist_group("envs")

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))

# Every rule that runs something, and the env file it names (None: no conda directive),
# read from the parsed workflow through Snakemake's API, in a process of its own since
# loading the workflow changes directory and environment.
RULE_ENVS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings

snakefile, configfile, workdir = map(Path, sys.argv[1:])
with SnakemakeApi() as api:
    workflow = api.workflow(ResourceSettings(), ConfigSettings(configfiles=[configfile]),
                            snakefile=snakefile, workdir=workdir)._workflow
    envs = {rule.name: rule.conda_env and str((Path(rule.basedir) / rule.conda_env).resolve())
            for rule in workflow.rules if not rule.norun}
print(json.dumps(envs))
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A tiny sheet that uses every rule: a photo, and a 4-frame clip in two chunks joined by
    a seam (temporal mode, RAFT flow)."""
    workdir = tmp_path_factory.mktemp("envs")
    write_clip(workdir / "clip.mkv", frames=4)
    Image.open(STYLE).resize((48, 38)).save(workdir / "style.jpg")
    Image.open(CONTENT).resize((48, 33)).save(workdir / "photo.png")
    # An untrained RAFT: the stylize job's flows then need torchvision from the env.
    torch.save(raft_small(weights=None).state_dict(), workdir / "raft_small.pth")
    (workdir / "config.yaml").write_text(workflow_config(
        2, seam_frames=1, size=32, iterations=3, frame_iterations=2, pyramid_min_size=32, tolerance=0, device="cpu",
        temporal=True, flow_method="raft_small.pth"))
    (workdir / "jobs.tsv").write_text("name\tinput\tstyles\nclip\tclip.mkv\tstyle.jpg\nphoto\tphoto.png\tstyle.jpg\n")
    return workdir


@pytest.fixture(scope="module")
def rule_envs(workspace) -> dict[str, str | None]:
    result = subprocess.run([sys.executable, "-c", RULE_ENVS, str(REPO / "Snakefile"), str(workspace / "config.yaml"),
                             str(workspace)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def pip_requirements(env_file: Path) -> list[str]:
    """The env's pip list; fails if it asks conda for anything a venv would not have."""
    dependencies = yaml.safe_load(env_file.read_text())["dependencies"]
    conda = {re.split(r"[\s=<>]", d)[0] for d in dependencies if isinstance(d, str)}
    assert conda <= {"python", "pip"}, f"{env_file.name}: conda packages {conda - {'python', 'pip'}} have no pip build here"
    return [requirement for d in dependencies if isinstance(d, dict) for requirement in d["pip"]]


def test_every_rule_names_an_env_file(rule_envs):
    assert {"plan_chunks", "stylize_frames", "encode_video"} <= set(rule_envs)  # the workflow was read
    missing = sorted(rule for rule, env in rule_envs.items() if env is None)
    assert not missing, f"rules without a conda: env: {missing}"
    unknown = {rule: env for rule, env in rule_envs.items() if Path(env) not in ENV_FILES}
    assert not unknown, f"rules naming a file that is not in envs/: {unknown}"
    assert {Path(env) for env in rule_envs.values()} == set(ENV_FILES), "an env file no rule uses"
    for env_file in ENV_FILES:
        assert pip_requirements(env_file)


@pytest.fixture(scope="session")
def env_venv(tmp_path_factory):
    """Builds env files into venvs once per session (keyed by file); deleted at the end (GBs each).
    Without byte-compiling: compiling all of torch's modules doubled the install's CPU time,
    and the jobs compile the few they import."""
    built: dict[Path, Path] = {}

    def build(env_file: Path) -> Path:
        if env_file not in built:
            venv = tmp_path_factory.mktemp(f"venv-{env_file.stem}")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            result = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                                     "--disable-pip-version-check", "--no-compile", *pip_requirements(env_file)],
                                    capture_output=True, text=True, timeout=1800)
            assert result.returncode == 0, f"pip install of {env_file.name} failed:\n{result.stderr[-3000:]}"
            built[env_file] = venv
        return built[env_file]

    yield build
    for venv in built.values():
        shutil.rmtree(venv, ignore_errors=True)


@pytest.mark.envs
@pytest.mark.slow
def test_every_job_runs_in_its_env(rule_envs, env_venv, workspace):
    envs = set(rule_envs.values())
    # One workflow run puts one venv first on PATH; per-rule envs would need one run per env.
    assert len(envs) == 1, f"this test runs all rules in one env; rules name {sorted(envs)}"
    venv = env_venv(Path(envs.pop()))
    # Every Python started from the env records its PID, so the test sees where jobs ran.
    # (site may read the .pth twice, through the venv's lib64 -> lib link: PIDs tell.)
    probe = workspace / "interpreters.txt"
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "painterly_test_probe.pth").write_text(
        f"import os, sys; open({str(probe)!r}, 'a').write(f'{{os.getpid()}} {{sys.prefix}}\\n')\n")

    # Snakemake runs from the test's interpreter; the jobs' `python` is the env's, first on PATH.
    # The env was installed without byte-compiling, so its jobs keep what they compile, in the
    # venv (with PYTHONDONTWRITEBYTECODE set, every torch job compiled torch afresh: 10 s each).
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", PYTHONPYCACHEPREFIX=str(venv / "pycache"))
    result = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                             "--directory", str(workspace), "--configfile", str(workspace / "config.yaml"),
                             "--cores", "2"], capture_output=True, text=True, env=env, timeout=900)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in (workspace / "results/logs").rglob("*.log"))
    assert result.returncode == 0, result.stderr[-3000:] + logs

    jobs = re.findall(r"^(?:local)?(?:rule|checkpoint) (\w+):", result.stdout + result.stderr, re.MULTILINE)
    assert sorted(set(jobs) - {"all"}) == sorted(rule_envs)  # every rule ran ...
    started = dict(line.split(" ", 1) for line in probe.read_text().splitlines())
    assert set(started.values()) == {str(venv)}
    assert len(started) == len(jobs) - jobs.count("all")  # ... each job in one Python of the env
    video = probe_output(workspace / "results/clip/clip.mp4")
    assert video["frames"] == 4 and video["audio"]
    assert (workspace / "results/clip/warp_error.tsv").read_text().splitlines()[-1].startswith("10\tmean\t")
    with Image.open(workspace / "results/photo/photo.png") as image:
        assert max(image.size) == 32
