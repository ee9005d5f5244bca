"""plabel run end to end on ~300 real PNGs with a tiny model: tables, lineage, resume after kills."""
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from plabel import storage
from plabel.datasets import write_split_folders
from plabel.errors import UsageError
from plabel.ingest import IngestOptions, ingest
from plabel.report import write_report
from plabel.run import RunConfig, load_config, parse_config, run, write_default_config
from plabel.workspace import init_workspace, open_workspace, toml_value
from tests.crashes import count_points, killed, run_plabel

CONFIG = RunConfig(
    rounds=2, teacher_model="test_resnet", img_size=32, seed=3,
    train={"batch_size": 16, "workers": 0, "lr": 3e-3, "hflip": 0.0, "crop_scale": 0.5},
    teacher={"epochs": 3}, student={"epochs": 2, "unlabeled_ratio": 1.0},
    infer={"splits": ["test"], "batch_size": 32}, select={"threshold": 0.1, "per_class": 8},
)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, mnist):
    """A workspace with 300 ingested digits and the loop's config in plabel.toml, not yet run."""
    root = tmp_path_factory.mktemp("loop")
    x, y = mnist
    folders = write_split_folders(root / "data", x, y, labeled_per_class=10, test_per_class=5, unlabeled_per_class=15)
    ws = init_workspace(root / "ws")
    ingest(ws, IngestOptions(source=folders.train, split="train", workers=1))
    ingest(ws, IngestOptions(source=folders.test, split="test", workers=1))
    ingest(ws, IngestOptions(source=folders.unlabeled, split="unlabeled", withheld_labels=True, workers=1))
    write_default_config(ws, CONFIG)
    return ws


@pytest.fixture(scope="module")
def done(fresh, tmp_path_factory):
    ws = open_workspace(shutil.copytree(fresh.root, tmp_path_factory.mktemp("done") / "ws"))
    result = run(ws, load_config(ws))
    return ws, result


def snapshot(ws) -> dict:
    """What two runs must agree on: ids, hashes and predictions of every round."""
    return {
        "checkpoints": ws.rows("SELECT round, checkpoint_id, parent_id, manifest_hash FROM checkpoints ORDER BY 1, 2"),
        "selections": ws.rows("SELECT round, selection_id, checkpoint_id, manifest_hash FROM selections ORDER BY 1"),
        "predictions": ws.rows("SELECT round, image_id, class_id, confidence FROM predictions ORDER BY 1, 2"),
        "duplicates": ws.rows("SELECT round, image_id, duplicate_of, scope FROM duplicates ORDER BY 1, 2, 3, 4"),
        "evals": ws.rows(
            "SELECT checkpoint_id, split, metric, value FROM evals WHERE metric IN ('top1', 'top5') ORDER BY 1, 2, 3"
        ),
    }


def test_every_table_exists_and_lineage_is_consistent(done):
    ws, result = done
    assert [r.round for r in result.rounds] == [0, 1, 2]
    for name, rounds in [
        ("predictions", [0, 1]),
        ("dedup_thresholds", [0, 1]),  # duplicates may have no rows: its rounds are checked below
        ("selections", [0, 1]),
        ("manifests", [0, 1]),
        ("selection_classes", [0, 1]),
    ]:
        assert [r[0] for r in ws.rows(f"SELECT DISTINCT round FROM {name} ORDER BY 1")] == rounds, name
    assert ws.has_round("duplicates", 0) and ws.has_round("duplicates", 1)
    ckpts = {r: c for r, c in ws.rows("SELECT round, checkpoint_id FROM checkpoints")}
    assert sorted(ckpts) == [0, 1, 2]
    for r in (0, 1):
        # each manifest names the predictions it came from, and they were made by round r's teacher
        (made_by,) = ws.rows("SELECT DISTINCT checkpoint_id FROM predictions WHERE round = ?", [r])
        (sel_ckpt, manifest_hash) = ws.rows("SELECT checkpoint_id, manifest_hash FROM selections WHERE round = ?", [r])[
            0
        ]
        assert made_by[0] == ckpts[r] == sel_ckpt
        assert storage.file_hash(ws.round_dir("manifests", r) / "manifest.parquet") == manifest_hash
        # each student names its manifest and its teacher
        (student_manifest, parent) = ws.rows(
            "SELECT manifest_hash, parent_id FROM checkpoints WHERE round = ?", [r + 1]
        )[0]
        assert student_manifest == manifest_hash and parent == ckpts[r]
    evaluated = {c for (c,) in ws.rows("SELECT DISTINCT checkpoint_id FROM evals WHERE split = 'test'")}
    assert evaluated == set(ckpts.values())
    steps = [(s.round, s.step) for s in result.steps]
    assert steps[:3] == [(0, "train teacher"), (0, "eval test"), (0, "infer")]


def test_each_round_says_how_much_of_the_pool_it_used_and_how_right_it_was(done):
    ws, result = done
    for row in result.rounds[:2]:  # rounds 0 and 1 selected; the pool's labels were withheld
        r = row.round
        pseudo = ws.rows("SELECT DISTINCT m.image_id, c.name = i.true_label FROM manifests m JOIN classes c "
                         "ON c.class_id = m.target JOIN images i USING (image_id) WHERE m.round = ? "
                         "AND m.origin = 'pseudo' AND i.split = 'unlabeled'", [r])
        pool = ws.scalar("SELECT count(*) FROM predictions WHERE round = ? AND split = 'unlabeled'", [r])
        assert row.pool_used == pytest.approx(len(pseudo) / pool) and 0 < row.pool_used <= 1
        assert row.true_precision == pytest.approx(sum(ok for _, ok in pseudo) / len(pseudo))
    assert result.rounds[2].pool_used is None  # the last student's round selected nothing


def test_a_finished_run_does_nothing_again(done):
    ws, _ = done
    before = snapshot(ws)
    again = run(ws, load_config(ws))
    assert all(s.done_before for s in again.steps)
    assert snapshot(ws) == before


def test_the_loop_records_what_it_chose_and_why_it_stopped(done, tmp_path):
    ws, result = done
    first = ws.rows("SELECT rounds_asked, rounds_run, student_models, judged_on, best_round, stopped, notes "
                    "FROM loops ORDER BY finished_at LIMIT 1")
    assert first == [("2", 2, ["test_resnet", "test_resnet"], None, None, result.stopped, result.notes)]
    html = Path(write_report(ws, output=tmp_path / "r.html").path).read_text()
    outcome = html[html.index('<div id="loop-outcome">'):]
    outcome = outcome[:outcome.index("</div>")]
    assert "ran 2 of 2 rounds asked, students test_resnet, test_resnet; no held-out split" in outcome
    assert "Stopped: ran the 2 rounds asked." in outcome
    assert "Note: students sized to the pool: the pool holds 1.5 unlabeled images per labeled one" in outcome


@pytest.mark.slow
def test_killed_runs_resume_to_the_same_tables(fresh, done, tmp_path):
    reference, _ = done
    expected = snapshot(reference)
    probe = shutil.copytree(fresh.root, tmp_path / "probe")
    points = count_points(["run", "-w", probe], tmp_path)
    assert points > 20
    for kill_at in (points // 3, 2 * points // 3):
        ws_root = shutil.copytree(fresh.root, tmp_path / f"k{kill_at}")
        r = run_plabel(["run", "-w", ws_root], kill_at=kill_at)
        assert killed(r), r.stderr
        r = run_plabel(["run", "-w", ws_root, "--json"])
        assert r.returncode == 0, r.stderr
        assert snapshot(open_workspace(ws_root)) == expected, f"killed at point {kill_at} of {points}"
        assert any(s["done_before"] for s in json.loads(r.stdout)["steps"])


def test_config_keys_are_checked():
    with pytest.raises(UsageError, match="unknown keys"):
        parse_config({"roundz": 2})
    with pytest.raises(UsageError, match=r"\[run.train\]: unknown keys"):
        parse_config({"train": {"epoch": 3}})
    with pytest.raises(UsageError, match=r"\[run.select\]"):
        parse_config({"select": {"round": 3}})
    with pytest.raises(UsageError, match="unknown timm model"):
        parse_config({"student_models": ["no_such_net"]})
    cfg = parse_config({"rounds": 3, "student_models": ["test_resnet", "test_vit"], "select": {"threshold": 0.5}})
    assert cfg.student_model(1) == "test_resnet" and cfg.student_model(3) == "test_vit"
    assert cfg.select_options(2).threshold == 0.5 and cfg.train_options(0).model == "resnet18"


def test_set_overrides_and_the_toml_file(fresh, tmp_path):
    cfg = load_config(fresh, None, ["student.epochs=7", "select.balance=copies", "teacher_model=test_vit"])
    assert cfg.train_options(1).epochs == 7 and cfg.select_options(0).balance == "copies"
    assert cfg.teacher_model == "test_vit" and cfg.train_options(0).epochs == 3  # from plabel.toml
    f = tmp_path / "other.toml"
    f.write_text("[run]\nrounds = 4\n[run.select]\nlabels = 'soft'\n")
    assert load_config(fresh, f).rounds == 4
    with pytest.raises(UsageError):
        load_config(fresh, None, ["select=3"])
    # what `plabel run --student-model/--balance/...` pass: Python values written as TOML
    named = {
        "student_models": ("test_resnet", "test_vit"),
        "select.balance": "none",
        "select.threshold": 0.4,
        "img_size": 24,
    }
    cfg = load_config(fresh, None, [f"{k}={toml_value(v)}" for k, v in named.items()])
    assert cfg.student_models == ("test_resnet", "test_vit") and cfg.select_options(0).balance == "none"
    assert cfg.select_options(0).threshold == 0.4 and cfg.img_size == 24 and cfg.init_from_teacher is False
    assert load_config(fresh, None, values=named) == cfg  # the CLI's named options, as Python values


def test_init_from_teacher_needs_students_of_the_teachers_model(fresh):
    same = load_config(fresh, None, ["init_from_teacher=true", 'student_models=["test_resnet"]'])
    assert same.init_from_teacher and same.train_options(2).model == same.train_options(0).model
    with pytest.raises(UsageError, match=r"init_from_teacher needs every student .*\(test_resnet -> test_vit\)"):
        load_config(fresh, None, ["init_from_teacher=true", 'student_models=["test_resnet", "test_vit"]'])


def test_cli_run_options(done, cli):
    ws, _ = done
    r = cli("run", "-w", ws.root, "--json")
    assert r.exit_code == 0, r.output
    rounds = json.loads(r.stdout)["rounds"]
    assert [x["round"] for x in rounds] == [0, 1, 2] and rounds[0]["student_id"]
    r = cli("run", "-w", ws.root, "--set", "select.thresold=0.2")
    assert r.exit_code == 2 and "unknown keys" in r.stderr


def test_student_models_are_used(fresh, tmp_path):
    ws = open_workspace(shutil.copytree(fresh.root, tmp_path / "ws"))
    cfg = replace(load_config(ws), rounds=1, student_models=("test_efficientnet",))
    run(ws, cfg)
    models = dict(ws.rows("SELECT round, model FROM checkpoints"))
    assert models == {0: "test_resnet", 1: "test_efficientnet"}


def test_rounds_auto_needs_a_held_out_split(fresh):
    from plabel.run import judged_on

    with pytest.raises(UsageError, match="rounds = auto keeps going while a held-out split improves"):
        judged_on(fresh, replace(CONFIG, rounds="auto"))
    assert judged_on(fresh, replace(CONFIG, rounds="auto", teacher={"epochs": 3, "holdout": 0.2})) == "holdout"
    assert judged_on(fresh, CONFIG) is None  # fixed rounds need none
    with pytest.raises(UsageError, match="rounds must be a count >= 1 or auto"):
        parse_config({"rounds": "often"})


def test_the_best_model_is_the_earliest_of_the_best_scores():
    from plabel.run import _best

    scores = [{"round": 0, "top1": 70.0}, {"round": 1, "top1": 80.0}, {"round": 2, "top1": 80.0}]
    assert _best(scores)["round"] == 1
    assert _best([{"round": 0, "top1": None}, {"round": 1, "top1": None}])["round"] == 0


@pytest.mark.slow
def test_rounds_auto_stops_when_a_student_does_not_improve_and_keeps_the_best(fresh, tmp_path):
    from plabel.run import MAX_AUTO_ROUNDS

    ws = open_workspace(shutil.copytree(fresh.root, tmp_path / "ws"))
    config = replace(CONFIG, rounds="auto", teacher={"epochs": 3, "holdout": 0.3})
    result = run(ws, config)
    assert result.judged_on == "holdout"
    top1 = [s["top1"] for s in result.scores]
    assert [s["round"] for s in result.scores] == list(range(len(top1))) and None not in top1
    # every round the loop went on from beat all before it; the last one either did too (the ceiling) or did not
    assert all(top1[i] > max(top1[:i]) for i in range(1, len(top1) - 1))
    if len(top1) <= MAX_AUTO_ROUNDS:
        assert top1[-1] <= max(top1[:-1]) and "did not beat" in result.stopped
    assert result.best["top1"] == max(top1) and result.best["round"] == top1.index(max(top1))
    held = ws.rows("SELECT checkpoint_id, value, n FROM evals WHERE split = 'holdout' AND metric = 'top1'")
    assert {c for c, _, _ in held} == {s["checkpoint_id"] for s in result.scores} and all(n == 30 for *_, n in held)
    again = run(ws, config)  # the same decision, from the committed evals
    assert all(s.done_before for s in again.steps) and (again.best, again.stopped) == (result.best, result.stopped)


@pytest.mark.slow
def test_a_student_worse_than_its_teacher_teaches_no_round(fresh, tmp_path):
    ws = open_workspace(shutil.copytree(fresh.root, tmp_path / "ws"))
    # the students barely move from their random start (lr 1e-7), so the teacher stays the best model
    config = replace(CONFIG, teacher={"epochs": 6, "holdout": 0.3}, student={"epochs": 1, "lr": 1e-7})
    result = run(ws, config)
    top1 = [s["top1"] for s in result.scores]
    assert result.judged_on == "holdout" and top1[1] < top1[0]
    taught_by = dict(ws.rows("SELECT round, any_value(checkpoint_id) FROM predictions GROUP BY round"))
    # each round's labels come from the best model scored before it: here the teacher, every round
    for r in (0, 1):
        assert taught_by[r] == max(result.scores[:r + 1], key=lambda s: (s["top1"], -s["round"]))["checkpoint_id"]
    assert taught_by[1] == result.scores[0]["checkpoint_id"]
    assert result.notes[0].startswith("students sized to the pool: the pool holds 1.5 unlabeled images per labeled "
                                      "one (under 5)")
    assert result.notes[1:] == [f"round 2 is taught by round 0's model: round 1's student ({top1[1]:.2f}% on "
                                f"holdout) scored below it ({top1[0]:.2f}%)"]
    summary = {row.round: row for row in result.rounds}
    assert summary[1].teacher_id == result.scores[0]["checkpoint_id"]  # round_teachers: who made the predictions
    # one teacher, one selection: both rounds' manifests can be the same file, yet each has its own student
    assert [summary[r].student_id for r in (0, 1)] == [s["checkpoint_id"] for s in result.scores[1:]]
    again = run(ws, config)  # a rerun reads the same scores from evals and so the same teachers
    assert again.steps and all(s.done_before for s in again.steps)
