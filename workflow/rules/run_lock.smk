# One run at a time per results directory, held by the kernel for as long as the run lives.
import contextlib
import fcntl
import os
from pathlib import Path

RUN_LOCK = []


def hold_run_lock():
    """Snakemake's own directory lock can be released by --unlock while its run is alive;
    this kernel lock cannot, and the OS frees it however the run dies."""
    path = Path(RESULTS) / ".run.lock"
    while True:
        handle = open(path, "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise WorkflowError(
                f"another snakemake run is alive in this directory (it holds {path}); wait for it to end"
            ) from None
        except OSError:
            pass  # a file system without flock: Snakemake's own lock is all there is
        # A run that just ended removes the file: the lock taken may be on its removed copy,
        # which no later run would see, so only a lock on the file now at the path counts.
        held = os.fstat(handle.fileno())
        with contextlib.suppress(FileNotFoundError):
            current = os.stat(path)
            if (current.st_dev, current.st_ino) == (held.st_dev, held.st_ino):
                RUN_LOCK.append(handle)
                return
        handle.close()


def release_run_lock():
    """Removes the lock file while still holding it (no later run can lock the removed copy
    then); nothing for a run that was refused and never held it."""
    for handle in RUN_LOCK:
        Path(handle.name).unlink(missing_ok=True)
        handle.close()
    RUN_LOCK.clear()


onstart:
    Path(RESULTS).mkdir(parents=True, exist_ok=True)
    hold_run_lock()


onsuccess:
    release_run_lock()


onerror:
    release_run_lock()
