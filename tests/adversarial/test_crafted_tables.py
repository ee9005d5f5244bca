"""Crafted and damaged tables and manifests: a clear error naming the problem, nothing written."""
import json
import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plabel import checkpoints, storage
from plabel.report import write_report
from plabel.schema import table
from tests.helpers import tree_digest


def _rewrite(path, column: str, values):
    t = pq.read_table(path)
    t = t.set_column(t.schema.get_field_index(column), column, pa.array(values, t.schema.field(column).type))
    pq.write_table(t, path)


def test_non_finite_predictions_are_refused_by_select(ws, cli):
    part = next(ws.round_dir("predictions", 0).glob("*.parquet"))
    n = pq.read_metadata(part).num_rows
    _rewrite(part, "confidence", [math.nan] * 3 + [0.5] * (n - 3))
    before = tree_digest(ws.root)
    r = cli("select", "--round", "0", "-w", ws.root)
    assert r.exit_code == 1 and "NaN" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before


def test_non_finite_stored_probabilities_are_refused_for_soft_labels(ws, cli):
    part = next(ws.round_dir("predictions", 0).glob("*.parquet"))
    t = pq.read_table(part)
    probs = t.column("prob").to_pylist()
    probs[0] = [math.nan] + probs[0][1:]
    pq.write_table(t.set_column(t.schema.get_field_index("prob"), "prob", pa.array(probs, t.schema.field("prob").type)),
                   part)
    before = tree_digest(ws.root)
    r = cli("select", "--round", "0", "--labels", "soft", "-w", ws.root)
    assert r.exit_code == 1 and "soft labels cannot be made" in r.stderr, r.output
    assert tree_digest(ws.root) == before
    assert cli("select", "--round", "0", "--labels", "hard", "-w", ws.root).exit_code == 0  # hard labels read no probs


def test_a_round_whose_parts_were_deleted(ws, cli):
    for p in ws.round_dir("predictions", 0).glob("*.parquet"):
        p.unlink()
    r = cli("select", "--round", "0", "-w", ws.root)
    assert r.exit_code == 2 and "holds no files" in r.stderr, r.output
    assert not ws.round_dir("manifests", 0).exists()
    r = cli("infer", "--round", "0", "--workers", "0", "--json", "-w", ws.root)
    assert r.exit_code == 0 and '"predicted": 200' in r.stdout, r.output


def test_a_truncated_part_file_is_named_with_the_repair(ws, cli):
    part = next(ws.table_dir("images").glob("*.parquet"))
    data = part.read_bytes()
    part.write_bytes(data[: len(data) // 2])
    for args in (["status"], ["sql", "SELECT count(*) FROM images"], ["select", "--round", "0"]):
        r = cli(*args, "-w", ws.root)
        assert r.exit_code == 1, r.output
        line = r.stderr.strip()
        assert len(line.splitlines()) == 1 and part.name in line and "restore it" in line, line


def _manifest(ws, tmp_path, **columns):
    base = pq.read_table(next((ws.train_dir / "manifests").glob("labeled-*.parquet")))
    for name, values in columns.items():
        idx = base.schema.get_field_index(name)
        base = base.set_column(idx, name, pa.array(values, base.schema.field(name).type))
    path = tmp_path / "crafted.parquet"
    pq.write_table(base, path)
    return path, base.num_rows


@pytest.mark.parametrize("case,message", [
    ("nan weight", "finite"),
    ("inf weight", "finite"),
    ("huge copies", "one pass would draw"),
    ("zero copies", "copies = 0"),
    ("negative copies", "copies must be"),
    ("nan soft label", "target_prob"),
])
def test_a_crafted_manifest_is_refused(ws, cli, tmp_path, case, message):
    n = pq.read_metadata(next((ws.train_dir / "manifests").glob("labeled-*.parquet"))).num_rows
    columns = {
        "nan weight": {"weight": [math.nan] + [1.0] * (n - 1)},
        "inf weight": {"weight": [math.inf] * n},
        "huge copies": {"copies": [2**31 - 1] + [1] * (n - 1)},
        "zero copies": {"copies": [0] * n},
        "negative copies": {"copies": [-1] + [1] * (n - 1)},
        "nan soft label": {"target_index": [[0, 1]] * n, "target_prob": [[math.nan, 0.5]] * n},
    }[case]
    path, _ = _manifest(ws, tmp_path, **columns)
    before = tree_digest(ws.root)
    r = cli("train", "--round", "1", "--manifest", path, "--model", "test_resnet", "--epochs", "1", "--workers", "0",
            "-w", ws.root)
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.output
    assert tree_digest(ws.root) == before


def test_a_diverged_training_is_not_a_checkpoint(ws, cli):
    r = cli("train", "--round", "1", "--manifest", next((ws.train_dir / "manifests").glob("labeled-*.parquet")),
            "--model", "test_resnet", "--img-size", "32", "--epochs", "2", "--workers", "0", "--lr", "1e30",
            "--no-noise", "-w", ws.root)
    assert r.exit_code == 1 and "diverged" in r.stderr, r.output
    assert ws.rows("SELECT count(*) FROM checkpoints WHERE round = 1") == [(0,)]
    (failure,) = ws.rows("SELECT failure FROM runs WHERE round = 1 AND failure IS NOT NULL")
    assert "non-finite loss" in failure[0]


def test_a_checkpoint_with_broken_weights_writes_no_predictions(ws, cli):
    good = checkpoints.find(ws, "latest")
    model = checkpoints.build_model(good)
    with_nan = next(p for p in model.parameters() if p.ndim > 1)
    with_nan.data.fill_(float("nan"))
    broken = checkpoints.save(ws, model, None, dict(good.config, round=1))
    r = cli("infer", "--round", "1", "--checkpoint", broken.checkpoint_id, "--workers", "0", "-w", ws.root)
    assert r.exit_code == 1 and "NaN or infinite outputs" in r.stderr, r.output
    assert not ws.round_dir("predictions", 1).exists()
    assert np.isfinite([c for (c,) in ws.rows("SELECT confidence FROM predictions")]).all()


def test_crafted_fingerprints_and_embeddings_do_not_decide_dedup(ws, cli):
    """Thumbnails of the wrong size are made again from the files; NaN embeddings flag nothing."""
    honest = cli("dedup", "--round", "0", "--no-embeddings", "--dry-run", "--json", "-w", ws.root)
    assert honest.exit_code == 0, honest.output
    for part in ws.table_dir("fingerprints").glob("*.parquet"):
        _rewrite(part, "thumbnail", [b"x" * 10] * pq.read_metadata(part).num_rows)
    emb = next(ws.round_dir("embeddings", 0).glob("*.parquet"))
    t = pq.read_table(emb)
    dim = len(t.column("embedding")[0])
    _rewrite(emb, "embedding", [[math.nan] * dim] * t.num_rows)
    r = cli("dedup", "--round", "0", "--no-embeddings", "--dry-run", "--json", "-w", ws.root)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["excluded"] == json.loads(honest.stdout)["excluded"]
    r = cli("dedup", "--round", "0", "--no-pixels", "--similarity", "0.9", "--contamination-similarity", "0.9",
            "--json", "-w", ws.root)
    assert r.exit_code == 0 and json.loads(r.stdout)["excluded"] == 0, r.output


def test_a_crafted_loops_row_is_shown_as_text(ws, tmp_path):
    """The report reads `loops` (what `plabel run` chose): hostile text and non-finite numbers in it
    are shown as data, a missing checkpoint id does not break the page."""
    row = {"finished_at": datetime.now(timezone.utc), "rounds_asked": "<b>2</b>", "rounds_run": 2,
           "student_models": ["<script>alert(1)</script>"], "judged_on": "val", "best_round": 1,
           "best_checkpoint_id": None, "best_top1": math.nan, "stopped": "</div><img src=x>",
           "notes": ["{{ note }} & <i>"]}
    storage.write_rows([row], ws.table_dir("loops") / storage.part_name(), table("loops"))
    html = Path(write_report(ws, output=tmp_path / "r.html").path).read_text()
    outcome = html[html.index('<div id="loop-outcome">'):]
    outcome = outcome[:outcome.index("</div>")]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outcome and "<script" not in html
    assert "Stopped: &lt;/div&gt;&lt;img src=x&gt;." in outcome and "round 1 (None), -%" in outcome
    assert "Note: {{ note }} &amp; &lt;i&gt;." in outcome
