"""Hostile workspace paths and class names: user text is data, never a glob, markup or TOML syntax."""
import json

import pytest

from plabel.workspace import open_workspace
from tests.helpers import write_pngs

# Each name has a sibling that a glob would match instead (`w[s]` matches `ws`, `ws?` matches `wsx`).
PATH_ZOO = {
    "brackets": ("w[s]", "ws"),
    "bracket with space": ("exp [v2]", "exp v"),
    "question mark": ("ws?", "wsx"),
    "star": ("a*b", "aXXb"),
    "quotes": ("it's \"x\"", "its"),
    "unicode": ("données ✓ 数据", "donnees"),
    "newline": ("two\nlines", "two"),
    "long": ("n" * 200, "n" * 199),
    "markup": ("[bold]x[/bold] [/x]", "x"),
}


@pytest.mark.parametrize("name", list(PATH_ZOO))
def test_a_workspace_reads_its_own_tables_whatever_its_name(tmp_path, cli, name):
    target, sibling = PATH_ZOO[name]
    data = tmp_path / "data"
    write_pngs(data / "cat", 3, seed=1)
    write_pngs(data / "dog", 2, seed=2)
    write_pngs(tmp_path / "other" / "cat", 7, seed=3)
    write_pngs(tmp_path / "other" / "dog", 7, seed=4)
    for folder, source in ((tmp_path / sibling, tmp_path / "other"), (tmp_path / target, data)):
        r = cli("init", folder)
        assert r.exit_code == 0, r.output
        r = cli("ingest", source, "--split", "train", "--workers", "1", "-w", folder)
        assert r.exit_code == 0, r.output
    r = cli("sql", "SELECT count(*) AS n FROM images", "--format", "json", "-w", tmp_path / target)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"n": 5}]
    r = cli("ingest", data, "--split", "train", "--workers", "1", "-w", tmp_path / target)  # again: nothing new
    assert r.exit_code == 0 and "Nothing new" in r.stderr, r.output
    r = cli("status", "--json", "-w", tmp_path / target)
    assert json.loads(r.stdout)["images"] == 5


CLASS_ZOO = ["men's", 'wo"men', "[/x]", "[bold]b[/bold]", "a\\b", "ünï", "x = 1", "#hash", "[run]"]


def test_init_writes_valid_toml_for_any_class_name(tmp_path, cli):
    r = cli("init", tmp_path / "ws", "--classes", ",".join(CLASS_ZOO))
    assert r.exit_code == 0, r.output
    ws = open_workspace(tmp_path / "ws")
    assert ws.config["workspace"]["classes"] == CLASS_ZOO
    assert ws.class_names() == CLASS_ZOO  # the class list is fixed at init, not at the first labeled ingest


def test_class_names_print_as_text(tmp_path, cli):
    """Rich markup in a class name is shown as is; `[/x]` used to crash after the data was committed."""
    paths = write_pngs(tmp_path / "data", 4)
    listing = tmp_path / "data" / "listing.csv"
    labels = ["[/x]", "[bold]b[/bold]"]
    listing.write_text("path,label\n" + "".join(f'{p.name},"{labels[i % 2]}"\n' for i, p in enumerate(paths)))
    cli("init", tmp_path / "ws")
    r = cli("ingest", listing, "--split", "train", "--workers", "1", "-w", tmp_path / "ws")
    assert r.exit_code == 0, r.output
    assert "Classes added: [/x], [bold]b[/bold]" in r.stderr
    r = cli("status", "-w", tmp_path / "ws")
    assert r.exit_code == 0 and "[/x]" in r.stdout and "[bold]b[/bold]" in r.stdout, r.output


def test_an_error_naming_user_text_keeps_its_brackets(tmp_path, cli):
    cli("init", tmp_path)
    r = cli("ingest", tmp_path / "no [such] folder", "--split", "train", "-w", tmp_path)
    assert r.exit_code == 2
    assert "no [such] folder" in r.stderr


def test_init_on_a_workspace_refuses_other_classes(tmp_path, cli):
    assert cli("init", tmp_path / "ws", "--classes", "a,b").exit_code == 0
    assert cli("init", tmp_path / "ws", "--classes", "a,b").exit_code == 0  # the same: fine
    r = cli("init", tmp_path / "ws", "--classes", "b,a")
    assert r.exit_code == 2 and "cannot change" in r.stderr
    cli("init", tmp_path / "bare")
    r = cli("init", tmp_path / "bare", "--classes", "a,b")
    assert r.exit_code == 2 and "first labeled ingest" in r.stderr


def test_the_report_draws_class_names_and_crafted_calibrations_as_text(tmp_path):
    """Matplotlib reads `$...$` as math (a bad formula raised at draw time, after the data was
    read); a crafted calibrations row holds NaN, infinite and ragged values."""
    import math
    from datetime import datetime, timezone

    from plabel import storage
    from plabel.report import write_report
    from plabel.schema import table
    from plabel.selection import SelectOptions, select
    from plabel.workspace import init_workspace
    from tests.tables import add_classes, add_images, add_predictions, iid

    names = ["$\\frac{$", "a$b$c", "$x^$", "<b>&"]
    ws = init_workspace(tmp_path / "ws")
    add_classes(ws, names)
    rows = [(f"u{i}", i % 4, 0.4 + (i % 6) / 10) for i in range(40)]
    add_images(ws, [(iid(n), "unlabeled", None, names[c]) for n, c, _ in rows])
    for r in (0, 1):
        add_predictions(ws, r, [(iid(n), (c + r * (i % 3 == 0)) % 4, p) for i, (n, c, p) in enumerate(rows)], 4)
    select(ws, SelectOptions(round=0, per_class=5))
    crafted = {"calibration_id": "x", "checkpoint_id": "c" * 16, "split": "val", "images": 3,
               "temperature": math.nan, "ece_before": math.inf, "ece_after": -1.0, "nll_before": math.nan,
               "nll_after": 0.5, "bin_count": [1, 2], "bin_confidence": [0.5, math.nan, 0.9],
               "bin_accuracy": [math.inf], "bin_count_before": [], "bin_confidence_before": [],
               "bin_accuracy_before": [0.1, 0.2], "calibrated_at": datetime.now(timezone.utc)}
    storage.write_rows([crafted], ws.table_dir("calibrations") / storage.part_name(), table("calibrations"))
    r = write_report(ws, output=tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert "calibration" in r.sections and "<b>&" not in html and "&lt;b&gt;&amp;" in html
    assert "a$b$c" in html  # drawn as written, in the plots' text and the tables
