"""Start and stop a real one-node SLURM cluster (munged, slurmctld, slurmd) on localhost.

Needs root and Debian's slurm-wlm and munge, installed on first use. Every daemon is
started in the foreground as our child and stopped by its PID.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TEMPLATES = Path(__file__).parent / "slurm"
# Where every SLURM client looks when SLURM_CONF is unset. The executor plugin's job step
# drops SLURM_* variables before its nested srun, so the test cluster's config must be here.
SYSTEM_CONF = Path("/etc/slurm")


class Unavailable(Exception):
    """SLURM cannot be started here; the message says why."""


def ensure_installed() -> None:
    if os.geteuid() != 0:
        raise Unavailable("starting slurmd and munged needs root")
    if all(shutil.which(tool) for tool in ("slurmctld", "slurmd", "munged", "sbatch")):
        return
    if not shutil.which("apt-get"):
        raise Unavailable("slurm-wlm/munge missing and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "slurm-wlm", "munge"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        if result.returncode != 0:
            raise Unavailable(f"{' '.join(command)} failed: {result.stderr.strip()[-300:]}")


def plugin_snakemake() -> list[str]:
    """This interpreter's snakemake, which must have the SLURM executor plugin (the test extra)."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        raise Unavailable(f"snakemake-executor-plugin-slurm is not installed in {sys.prefix}: pip install -e '.[test]'")
    return [sys.executable, "-m", "snakemake"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, root: Path):
        self.root = root
        self.state = root / "state"
        self.conf = SYSTEM_CONF / "slurm.conf"
        self.daemons: list[subprocess.Popen] = []
        # Jobs inherit this environment (sbatch exports it): their `python` and snakemake must
        # be this interpreter's, as in an activated venv, even if the tests run unactivated.
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def start(self) -> "Cluster":
        template = (TEMPLATES / "slurm.conf.in").read_text()
        if self.conf.exists() and self.conf.read_text().splitlines()[:1] != template.splitlines()[:1]:
            raise Unavailable(f"{self.conf} exists: this machine has a SLURM setup of its own; not touching it")
        SYSTEM_CONF.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().split(".")[0]
        for sub in ("ctld", "slurmd", "munge"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        (self.state / "munge").chmod(0o700)
        os.mknod(self.state / "nvidia0", 0o666 | 0o020000, os.makedev(1, 3))  # a char device, like /dev/null
        key = self.state / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        values = {"host": host, "state": self.state, "ctld_port": _free_port(), "slurmd_port": _free_port(),
                  "cpus": os.cpu_count()}
        self.conf.write_text(template.format(**values))
        (SYSTEM_CONF / "gres.conf").write_text((TEMPLATES / "gres.conf.in").read_text().format(**values))
        self._spawn(["munged", "--foreground", "--force", f"--socket={self.state}/munge/munge.sock",
                     f"--key-file={key}", f"--pid-file={self.state}/munged.pid",
                     f"--log-file={self.state}/munged.log", f"--seed-file={self.state}/munge.seed"])
        self._wait_for(lambda: (self.state / "munge" / "munge.sock").exists(), "munged")
        self._spawn(["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn(["slurmd", "-D", "-f", str(self.conf)])
        self._wait_for(self._node_idle, "the node to come up idle")
        return self

    def _spawn(self, command: list[str]) -> None:
        log = open(self.root / f"{Path(command[0]).name}.out", "w")
        self.daemons.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env))

    def _node_idle(self) -> bool:
        result = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=self.env)
        return result.returncode == 0 and "idle" in result.stdout

    def _wait_for(self, ready, what: str, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(d.poll() is not None for d in self.daemons):
                break
            if ready():
                return
            time.sleep(0.5)
        self.stop()
        logs = " | ".join(p.read_text()[-300:] for p in self.root.glob("*.out"))
        raise Unavailable(f"SLURM did not start ({what}): {logs}")

    def jobs(self) -> str:
        """`scontrol show job` for every job the cluster ran (MinJobAge keeps finished ones)."""
        return subprocess.run(["scontrol", "show", "job", "-o"], capture_output=True, text=True, env=self.env).stdout

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            if daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
        for daemon in self.daemons:
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        for name in ("slurm.conf", "gres.conf"):
            (SYSTEM_CONF / name).unlink(missing_ok=True)
