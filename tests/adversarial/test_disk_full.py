"""A full disk in the middle of ingest, infer, select, export and review import: the command fails
with one line (exit 1), the workspace stays valid, and once space is freed the same command,
re-run at once, completes. The workspace lives on a small tmpfs mounted for the test (skipped
where mounting is not allowed)."""
import json
import os
import shutil
import subprocess

import pytest

from plabel.review import ReviewExportOptions, export_tasks
from plabel.selection import SelectOptions, select
from plabel.workspace import open_workspace
from tests.crash_harness import check_consistent
from tests.helpers import write_pngs

pytestmark = pytest.mark.slow
LEFT = (4 << 10, 24 << 10)  # bytes left free when the command starts: it runs out at once, or a little later


@pytest.fixture
def disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}): needs root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(mnt, left: int):
    """A file that takes all the free space but `left` bytes."""
    st = os.statvfs(mnt)
    free = st.f_bavail * st.f_frsize
    filler = mnt / "filler"
    with open(filler, "wb") as f:
        f.truncate(0)
        chunk = b"\0" * (1 << 20)
        todo = max(free - left, 0)
        while todo > 0:
            todo -= f.write(chunk[: min(len(chunk), todo)])
    return filler


def _on_disk(trained_ws, mnt):
    ws = open_workspace(shutil.copytree(trained_ws.root, mnt / "ws"))
    ws.sync_catalog()
    return ws


def _reviews(ws, tmp_path) -> str:
    export_tasks(ws, ReviewExportOptions(round=0, query="SELECT image_id FROM predictions WHERE split = 'unlabeled' "
                                                      "ORDER BY image_id LIMIT 40", out=str(tmp_path / "t.json")))
    tasks = json.loads((tmp_path / "t.json").read_text())
    done = [{"id": n, "data": t["data"], "annotations": [{"id": n, "result": [
        {"from_name": "label", "to_name": "image", "type": "choices", "value": {"choices": ["3"]}}]}]}
        for n, t in enumerate(tasks, start=1)]
    (tmp_path / "done.json").write_text(json.dumps(done))
    return str(tmp_path / "done.json")


COMMANDS = {
    "ingest": lambda ws, tmp: ["ingest", str(tmp / "new"), "--split", "unlabeled"],
    "infer": lambda ws, tmp: ["infer", "--round", "0", "--overwrite", "--embeddings", "--split", "test",
                              "--workers", "0", "--rows-per-file", "64"],
    "select": lambda ws, tmp: ["select", "--round", "0", "--threshold", "0.3"],
    "export": lambda ws, tmp: ["export", str(ws.root.parent / "out"), "--format", "wds", "--shard-size", "50"],
    "review import": lambda ws, tmp: ["review", "import", _reviews(ws, tmp)],
}


@pytest.mark.parametrize("left", LEFT)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_leaves_the_workspace_valid_and_a_rerun_completes(trained_ws, disk, tmp_path, cli, command,
                                                                        left):
    ws = _on_disk(trained_ws, disk)
    write_pngs(tmp_path / "new", 300, size=32, seed=5)
    if command == "export":
        select(ws, SelectOptions(round=0, threshold=0.3))
    args = COMMANDS[command](ws, tmp_path)
    filler = _fill(disk, left)
    r = cli(*args, "-w", ws.root)
    assert r.exit_code == 1, r.output  # a runtime failure, not a crash
    assert len(r.stderr.strip().splitlines()) == 1 and "No space left" in r.stderr, r.stderr
    check_consistent(ws)
    filler.unlink()
    r = cli(*args, "-w", ws.root)
    assert r.exit_code == 0, r.output
    check_consistent(ws)
