"""Device choice: concurrent jobs on a multi-GPU node get distinct GPUs."""

import subprocess
import sys

import pytest
import torch

from painterly.engine.device import resolve_device

HOLD = """
import sys, time
from pathlib import Path
from painterly.engine.device import claim_gpu
print(claim_gpu(int(sys.argv[1]), Path(sys.argv[2])), flush=True)
while not Path(sys.argv[3]).exists():  # hold the claim until every job has claimed
    time.sleep(0.05)
"""


def claimers(count, lock_dir, jobs):
    release = lock_dir / "release"
    release.unlink(missing_ok=True)
    procs = [subprocess.Popen([sys.executable, "-c", HOLD, str(count), str(lock_dir), str(release)],
                              stdout=subprocess.PIPE, text=True) for _ in range(jobs)]
    indices = [int(p.stdout.readline()) for p in procs]
    release.touch()
    for p in procs:
        p.wait()
    return indices


def test_concurrent_jobs_claim_distinct_gpus(tmp_path):
    assert sorted(claimers(3, tmp_path, 3)) == [0, 1, 2]


def test_claims_are_released_when_a_job_ends(tmp_path):
    assert claimers(2, tmp_path, 1) == [0]
    assert claimers(2, tmp_path, 1) == [0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_request_without_gpu_falls_back_to_cpu_with_warning():
    with pytest.warns(UserWarning, match="no CUDA GPU is visible"):
        assert resolve_device("cuda").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_gpu_granted_by_scheduler_but_unusable_warns_and_uses_cpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    with pytest.warns(UserWarning, match="CUDA_VISIBLE_DEVICES=0 but no CUDA GPU is usable here; running on the CPU"):
        assert resolve_device("auto").type == "cpu"
