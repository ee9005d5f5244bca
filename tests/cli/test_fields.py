"""Command parameters derived from the options dataclasses: the fields own name, default and help."""
import dataclasses

from plabel.cli._fields import field_parameters, parse_fields
from plabel.train.options import TrainOptions


def test_train_takes_one_parameter_per_option_field_with_its_default_and_help(cli):
    derived = field_parameters(TrainOptions)
    fields = [f for f in dataclasses.fields(TrainOptions) if "help" in f.metadata]
    assert [p.name for p in derived] == [f.name for f in fields] and len(fields) >= 35
    help_text = " ".join(cli("train", "--help").output.split())
    for f in fields:
        flag = (f.metadata["flags"] or (f"--{f.name.replace('_', '-')}",))[0].split("/")[0]
        assert flag in help_text, flag
        assert " ".join(f.metadata["help"].split())[:40] in help_text, f.name


def test_command_line_values_are_parsed_into_field_values(tmp_path):
    parsed = parse_fields(TrainOptions, {"epochs": "auto", "manifest": tmp_path / "m.parquet", "lr": 0.5})
    assert parsed == {"epochs": "auto", "manifest": str(tmp_path / "m.parquet"), "lr": 0.5}
    assert parse_fields(TrainOptions, {"epochs": "12", "manifest": None}) == {"epochs": 12, "manifest": None}


def test_select_flags_reach_the_library(tmp_path, cli):
    """Derived flags that differ from their field's name (--labeled/--no-labeled for include_labeled)
    and the command's own --what-if, on hand-built tables."""
    import json

    from tests.test_selection import setup

    ws = setup(tmp_path, [("a1", 0, 0.9), ("b1", 1, 0.2)], labeled=[("l1", "b")])
    r = cli("select", "--round", "0", "--balance", "none", "--no-labeled", "--threshold", "0.5", "--json",
            "-w", ws.root)
    out = json.loads(r.output)
    assert r.exit_code == 0 and out["n_labeled"] == 0 and out["n_pseudo"] == 1
    r = cli("select", "--round", "0", "--what-if", "--json", "-w", ws.root)
    assert r.exit_code == 0 and isinstance(json.loads(r.output), list)
    r = cli("select", "--round", "0", "--balance", "none", "--labeled", "--overwrite", "--json", "-w", ws.root)
    assert json.loads(r.output)["n_labeled"] == 1 and json.loads(r.output)["n_pseudo"] == 1  # 0.3: b1 is below
