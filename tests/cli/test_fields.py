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
