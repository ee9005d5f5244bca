"""SIGKILL of one rank of a 2-rank `torchrun -m plabel train` in the middle of an epoch: torchrun
stops the other rank, and a re-run at once resumes from the last saved epoch and writes exactly
one checkpoint."""
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.test_distributed import torchrun

pytestmark = pytest.mark.slow
EPOCHS = 6
TRAIN = ("train", "--round", "0", "--model", "test_resnet", "--img-size", "32", "--epochs", str(EPOCHS),
         "--batch-size", "8", "--workers", "0", "--lr", "1e-3", "--hflip", "0", "--crop-scale", "0.5", "--json")


def _rank_pid(launcher: int, rank: int) -> int | None:
    """The worker of torchrun's process tree whose environment says RANK=rank."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if f"RANK={rank}".encode() in env and b"TORCHELASTIC_RUN_ID=" in b"\0".join(env) \
                and _descends(int(pid), launcher, int(stat[1])):
            return int(pid)
    return None


def _descends(pid: int, ancestor: int, parent: int) -> bool:
    while parent > 1:
        if parent == ancestor:
            return True
        try:
            parent = int(Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            return False
    return False


def test_a_rank_killed_mid_epoch_then_a_rerun_resumes_and_writes_one_checkpoint(mnist_folders, tmp_path):
    from tests.test_train import make_ws

    ws = make_ws(tmp_path / "ws", mnist_folders)
    proc = torchrun(*TRAIN, "-w", ws.root, wait=False)
    deadline = time.monotonic() + 600
    while not list(ws.train_dir.glob("*/epoch-*")):  # one epoch saved: the kill lands in a later one
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "no epoch was saved in 10 minutes"
        time.sleep(0.2)
    time.sleep(1.0)  # inside the next epoch
    victim = _rank_pid(proc.pid, 1)
    assert victim is not None, "rank 1 not found"
    os.kill(victim, signal.SIGKILL)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode != 0, err[-2000:]
    assert ws.scalar("SELECT count(*) FROM checkpoints") == 0  # nothing half written
    r = torchrun(*TRAIN, "-w", ws.root)
    assert r.returncode == 0, r.stderr[-3000:]
    result = json.loads(r.stdout)
    assert result["resumed_from_epoch"] is not None and result["resumed_from_epoch"] >= 1
    assert len(result["history"]) == EPOCHS
    assert ws.rows("SELECT checkpoint_id FROM checkpoints") == [(result["checkpoint_id"],)]
    assert (ws.root / "checkpoints" / result["checkpoint_id"]).is_dir()
