"""Ingest shared out over tasks: torchrun ranks and array tasks (`--shards I/N`) give the tables
one process gives, row for row; a killed task's rerun, at any world size, finishes exactly once."""
from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest

from plabel.errors import UsageError
from plabel.ingest import IngestOptions, commit_staged, ingest
from plabel.ingest.options import UNIT_FILES
from plabel.ingest.staged import all_staged
from plabel.workspace import init_workspace, open_workspace
from tests.helpers import write_pngs
from tests.test_distributed import KILL, free_port, plabel, torchrun
from tests.test_shards import add, items, write_shards

ROWS = {  # everything but the ingest's id and clock
    "images": "SELECT image_id, split, path, label, true_label, width, height, mode, format, bytes, shard, "
              "member_offset FROM images ORDER BY path",
    "aliases": "SELECT image_id, split, path, label FROM aliases ORDER BY path",
    "fingerprints": "SELECT DISTINCT image_id, thumbnail, colour FROM fingerprints ORDER BY image_id",
    "rejects": "SELECT path, reason, split, stage FROM rejects ORDER BY path",
    "classes": "SELECT class_id, name FROM classes ORDER BY class_id",
}


def tables(ws) -> dict[str, list]:
    ws = open_workspace(ws.root)
    return {name: ws.rows(q) for name, q in ROWS.items()}


class Lazy(dict):
    """A dict whose values are made on first use (a fast run builds only the sources it uses)."""

    def __init__(self, make) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key):
        self[key] = value = self.make(key)
        return value


def shard_source(root: Path, pool: list) -> Path:
    """Shards (labels as .txt, withheld) where later shards repeat earlier members' bytes under
    other keys (aliases across units), with a corrupt member and a truncated shard."""
    shards = write_shards(root / "shards", pool + pool[:50], 35, "txt")  # 250 members, 8 shards
    with tarfile.open(root / "shards" / "pool-000008.tar", "w") as tar:
        add(tar, "z/broken.png", pool[0][0].read_bytes()[:40])
        add(tar, "z/broken.txt", pool[0][1].encode())
    raw = shards[1].read_bytes()
    (root / "shards" / "pool-000009.tar").write_bytes(raw[: len(raw) // 2])  # cut inside a member
    return root / "shards"


def folder_source(root: Path) -> Path:
    """More files than two units hold, whose copies cross the units' boundaries, and a reject."""
    distinct = write_pngs(root / "distinct", 1500, size=8, seed=3)
    folder = root / "folder"
    for k in range(2 * UNIT_FILES + 200):  # three units; file k holds the bytes of image k % 1500
        sub = folder / f"{k // 1000:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(distinct[k % len(distinct)], sub / f"f{k:05d}.png")
    (folder / "03" / "broken.png").write_bytes(b"not an image")
    return folder


@pytest.fixture(scope="module")
def sources(tmp_path_factory, mnist_folders) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shared")
    return Lazy(lambda name: shard_source(root, items(mnist_folders.unlabeled)) if name == "shards"
                else folder_source(root))


INGESTS = {"shards": ("--split", "unlabeled", "--withheld-labels"), "folder": ("--split", "unlabeled")}


@pytest.fixture(scope="module")
def one_process(sources, tmp_path_factory) -> dict[str, dict]:
    """The tables one process makes of each source: what every way of sharing must give."""
    def make(name: str) -> dict:
        ws = init_workspace(tmp_path_factory.mktemp("one") / "ws")
        ingest(ws, IngestOptions(source=sources[name], split="unlabeled", withheld_labels=name == "shards",
                                 workers=1))
        out = tables(ws)
        assert out["aliases"] and out["rejects"] and out["images"]
        return out
    return Lazy(make)


SLOW = pytest.mark.slow
BOTH = ["shards", pytest.param("folder", marks=SLOW)]


@pytest.mark.parametrize("name", BOTH)
def test_array_tasks_stage_then_the_last_one_commits_what_one_process_writes(name, sources, one_process, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    said = []
    for task in ("2/3", "0/3", "1/3"):  # any order; the last one through commits
        r = plabel("ingest", sources[name], *INGESTS[name], "--shards", task, "--workers", "1", "--json",
                   "-w", ws.root)
        assert r.returncode == 0, r.stderr
        said.append(json.loads(r.stdout))
        if task != "1/3":
            assert tables(ws)["images"] == []  # nothing committed before every unit is staged
    assert [s["committed"] for s in said] == [False, False, True]
    assert said[2]["pending"] == 0 and sum(s["staged"] for s in said) == said[2]["units"] > 2
    assert said[2]["seen"] == said[2]["added"] + said[2]["aliases"] + said[2]["rejected"] + said[2]["skipped"]
    assert tables(ws) == one_process[name]
    assert all_staged(ws) == []  # the staging folder is gone
    again = plabel("ingest", sources[name], *INGESTS[name], "--shards", "0/3", "-w", ws.root, "--json")
    assert json.loads(again.stdout)["committed"] is False and tables(ws) == one_process[name]


def test_plabel_commit_publishes_after_the_tasks_and_refuses_an_incomplete_staging(sources, one_process, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    assert plabel("ingest", sources["shards"], *INGESTS["shards"], "--shards", "0/2", "-w", ws.root).returncode == 0
    r = plabel("commit", "-w", ws.root)
    assert r.returncode == 1 and "5 of 10 units still to stage" in r.stderr
    assert tables(ws)["images"] == []
    # the other task dies before it can commit: its units are staged, the commit is left to `plabel commit`
    ingest_share(ws, sources["shards"], "1/2", commit=False)
    r = plabel("commit", "-w", ws.root, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["committed"] and tables(ws) == one_process["shards"]
    assert plabel("commit", "-w", ws.root).stderr.strip() == "Nothing staged to commit."


def ingest_share(ws, source, task: str, commit: bool) -> None:
    """Stage one task's units as `ingest --shards` does, with or without its commit."""
    from plabel.ingest import staged
    from plabel.ingest.options import IngestResult
    from plabel.ingest.run import listed_source

    o = IngestOptions(source=source, split="unlabeled", withheld_labels=True, shards=task, workers=1)
    listed, path = listed_source(ws, o)
    st = staged.open_staging(ws, o, path, listed)
    staged.stage(ws, o, st, listed, staged.share(o), IngestResult(ingest_id="t", source=str(path)))
    if commit:
        commit_staged(ws)


@pytest.mark.parametrize("name", [pytest.param(n, marks=SLOW) for n in ("shards", "folder")])
def test_two_torchrun_ranks_write_what_one_process_writes(name, sources, one_process, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    r = torchrun("ingest", sources[name], *INGESTS[name], "--workers", "1", "-w", ws.root)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("Ingested") == 1  # rank 0 alone speaks
    assert tables(ws) == one_process[name]


def test_a_killed_rank_then_a_rerun_at_another_world_size_ingests_every_file_once(sources, one_process, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    env = {"PLABEL_TEST_KILL_RANK": "1", "PLABEL_TEST_KILL_AT": "3", "PLABEL_TEST_KILL_MATCH": "unit-"}
    r = torchrun("ingest", sources["shards"], *INGESTS["shards"], "--workers", "1", "-w", ws.root,
                 script=[str(KILL)], env=env)
    assert r.returncode != 0
    assert tables(ws)["images"] == []  # nothing committed
    [st] = all_staged(ws)
    before, units = len(st.staged()), st.plan["units"]
    assert 2 <= before < units  # what the ranks finished survives
    r = plabel("ingest", sources["shards"], *INGESTS["shards"], "--workers", "1", "--json", "-w", ws.root)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["committed"] and out["staged"] == units - before  # only what was missing is probed
    assert tables(ws) == one_process["shards"]


@SLOW
def test_two_nodes_on_localhost_write_what_one_process_writes(sources, one_process, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    port = free_port()
    nodes = [torchrun("ingest", sources["shards"], *INGESTS["shards"], "--workers", "1", "-w", ws.root, nproc=1,
                      nodes=(2, rank, port), wait=False) for rank in (0, 1)]
    outs = [p.communicate(timeout=300) for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], [o[1][-2000:] for o in outs]
    assert tables(ws) == one_process["shards"]


@pytest.mark.parametrize("bad", ["1/1", "3/2", "-1/2", "a/b", "1", "0/0", "1/2/3", " "])
def test_a_bad_share_is_a_usage_error_before_anything_is_written(bad, sources, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    r = plabel("ingest", sources["shards"], *INGESTS["shards"], "--shards", bad, "-w", ws.root)
    assert r.returncode == 2 and "--shards must be I/N" in r.stderr
    assert all_staged(ws) == [] and tables(ws)["images"] == []


def test_shards_under_torchrun_is_refused(sources, tmp_path, monkeypatch):
    """Checked before torchrun's process group is joined: the variables torchrun sets suffice."""
    ws = init_workspace(tmp_path / "ws")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(UsageError, match="use one of them"):
        ingest(ws, IngestOptions(source=sources["shards"], split="unlabeled", shards="0/2"))
    assert all_staged(ws) == []


@SLOW
def test_a_commit_killed_at_any_write_is_finished_by_the_next(sources, one_process, tmp_path):
    """The last task's commit killed at each of its writes in turn; `plabel commit` finishes it."""
    from tests.crashes import killed, run_plabel

    args = ["ingest", sources["shards"], *INGESTS["shards"], "--workers", "1"]
    for kill_at in (6, 7, 8, 9):  # task 1/2 stages 5 units (writes 1-5), then commits: fingerprints, images...
        ws = init_workspace(tmp_path / f"ws{kill_at}")
        assert plabel(*args, "--shards", "0/2", "-w", ws.root).returncode == 0
        r = run_plabel([*args, "--shards", "1/2", "-w", ws.root], kill_at=kill_at)
        assert killed(r), r.stderr
        r = run_plabel(["commit", "-w", ws.root])
        assert r.returncode == 0, r.stderr
        assert tables(ws) == one_process["shards"], kill_at


@pytest.mark.parametrize("craft", ["plan", "unit"])
def test_a_crafted_staging_is_a_one_line_error(craft, sources, tmp_path):
    ws = init_workspace(tmp_path / "ws")
    for task in ("0/2", "1/2"):
        ingest_share(ws, sources["shards"], task, commit=False)
    [st] = all_staged(ws)
    target = st.folder / "plan.json" if craft == "plan" else st.staged()[3]
    target.write_text('{"units": "many"}' if craft == "plan" else "PAR1 not parquet")
    r = plabel("commit", "-w", ws.root)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert ("not an ingest plan" if craft == "plan" else "not a staged unit") in r.stderr
    assert tables(ws)["images"] == []


@SLOW
def test_a_hostile_source_name_is_data(mnist_folders, tmp_path):
    """Quotes, brackets, a glob and a shell substitution in the source's name: two tasks, one commit."""
    pool = items(mnist_folders.unlabeled)[:60]
    hostile = tmp_path / "we'ird [*] $(touch x) {0..1}"
    write_shards(hostile, pool, 25, "txt")
    one, two = init_workspace(tmp_path / "one"), init_workspace(tmp_path / "two")
    assert plabel("ingest", hostile, *INGESTS["shards"], "-w", one.root).returncode == 0
    for task in ("1/2", "0/2"):
        r = plabel("ingest", hostile, *INGESTS["shards"], "--shards", task, "-w", two.root)
        assert r.returncode == 0, r.stderr
    assert tables(two) == tables(one) and len(tables(one)["images"]) == 60
    assert not (tmp_path / "x").exists()


def test_an_unknown_class_fails_the_commit_before_any_row_and_a_rerun_may_add_it(sources, one_process, tmp_path):
    """Tasks read only their own shards, so the commit checks the class names the rows carry."""
    ws = init_workspace(tmp_path / "ws", classes=[str(k) for k in range(9)])  # no class 9
    assert plabel("ingest", sources["shards"], *INGESTS["shards"], "--shards", "0/2", "-w", ws.root).returncode == 0
    r = plabel("ingest", sources["shards"], *INGESTS["shards"], "--shards", "1/2", "-w", ws.root)
    assert r.returncode == 2 and "unknown classes: 9" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert tables(ws)["images"] == [] and len(all_staged(ws)) == 1
    r = plabel("ingest", sources["shards"], *INGESTS["shards"], "--shards", "1/2", "--add-classes", "--json",
               "-w", ws.root)
    assert r.returncode == 0, r.stderr
    said = json.loads(r.stdout)
    assert said["staged"] == 0 and said["committed"] and said["classes_added"] == ["9"]  # nothing probed again
    assert tables(ws) == one_process["shards"]
