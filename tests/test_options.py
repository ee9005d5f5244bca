"""One call shape for every command, one owner per option: what the library's commands take,
how choice options are checked, and how an error names an option (its field in Python, its flag
on the command line)."""
import dataclasses
import inspect
import typing

import pytest

import plabel.cli.app  # noqa: F401  (registers every command: with_flags reads their flags)
from plabel.calibration import calibrate
from plabel.cli._fields import field_parameters
from plabel.cli._output import with_flags
from plabel.dedup import DedupOptions, dedup, what_if
from plabel.drift import DriftOptions, drift
from plabel.errors import UsageError, check_fields
from plabel.eval_options import CalibrateOptions, EvalOptions
from plabel.evaluate import evaluate
from plabel.export import ExportOptions, export
from plabel.external import ImportOptions, import_predictions
from plabel.fields import choices
from plabel.infer import InferOptions, infer
from plabel.ingest import IngestOptions, ingest
from plabel.review import ReviewExportOptions, ReviewImportOptions, export_tasks, import_annotations
from plabel.robustness.measure import evaluate_robustness
from plabel.robustness.options import RobustnessOptions
from plabel.run import run
from plabel.run_config import RunConfig
from plabel.selection import SelectOptions, select, threshold_what_if
from plabel.train import TrainOptions, train
from plabel.workspace import init_workspace

COMMANDS = {  # the library call of every command, and the options it takes
    ingest: IngestOptions, train: TrainOptions, evaluate: EvalOptions, calibrate: CalibrateOptions,
    evaluate_robustness: RobustnessOptions, infer: InferOptions, import_predictions: ImportOptions,
    dedup: DedupOptions, what_if: DedupOptions, select: SelectOptions, threshold_what_if: SelectOptions,
    export_tasks: ReviewExportOptions, import_annotations: ReviewImportOptions, export: ExportOptions,
    run: RunConfig, drift: DriftOptions,
}
REQUIRED = {  # the fields without a default, per options class
    IngestOptions: {"source": "data"}, TrainOptions: {"round": 0}, InferOptions: {"round": 0},
    ImportOptions: {"file": "p.parquet", "round": 0, "model_name": "m"}, DedupOptions: {"round": 0},
    SelectOptions: {"round": 0}, ReviewExportOptions: {"round": 0, "query": "SELECT 1", "out": "t.json"},
    ReviewImportOptions: {"file": "e.json"}, ExportOptions: {"round": 0, "out": "m.csv"},
}
OPTION_CLASSES = sorted(set(COMMANDS.values()), key=lambda c: c.__name__)


@pytest.mark.parametrize("fn", list(COMMANDS), ids=lambda fn: fn.__name__)
def test_every_command_takes_a_workspace_then_its_options_and_nothing_else_without_a_default(fn):
    params = list(inspect.signature(fn).parameters.values())  # annotations as written (some only for mypy)
    assert params[0].name == "ws"
    assert params[1].annotation in (COMMANDS[fn], COMMANDS[fn].__name__)
    assert all(p.default is not inspect.Parameter.empty for p in params[2:]), params


@pytest.mark.parametrize("cls", OPTION_CLASSES, ids=lambda c: c.__name__)
def test_options_are_frozen_keyword_only_dataclasses(cls):
    given = REQUIRED.get(cls, {})
    options = cls(**given)
    with pytest.raises(TypeError):
        cls(0, **given)  # no positional construction
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 1


def _choice_fields(cls):
    hints = typing.get_type_hints(cls)
    return [(f.name, choices(hints[f.name])) for f in dataclasses.fields(cls) if choices(hints[f.name])]


def test_choice_options_are_literal_types_and_checked_by_them():
    seen = {}
    for cls in OPTION_CLASSES:
        options = cls(**REQUIRED.get(cls, {}))
        for name, allowed in _choice_fields(cls):
            seen[f"{cls.__name__}.{name}"] = allowed
            assert getattr(options, name) in (*allowed, None), name  # the default is a choice
            for value in allowed:
                check_fields(dataclasses.replace(options, **{name: value}))
            with pytest.raises(UsageError, match=f"^`{name}` must be one of {', '.join(allowed)}"):
                check_fields(dataclasses.replace(options, **{name: "bogus"}))
    assert {"SelectOptions.balance", "SelectOptions.below_target", "SelectOptions.labels", "TrainOptions.opt",
            "InferOptions.store_probs", "ExportOptions.format", "ImportOptions.output_type", "IngestOptions.split",
            "EvalOptions.split", "CalibrateOptions.split"} <= set(seen)
    assert seen["CalibrateOptions.split"] == ("val", "holdout", "train")  # narrower than eval's


def test_the_command_line_takes_a_choice_option_as_text():
    derived = {p.name: p.annotation for p in field_parameters(SelectOptions)}
    assert typing.get_args(derived["balance"])[0] is str
    assert typing.get_args({p.name: p.annotation for p in field_parameters(IngestOptions)}["split"])[0] == str | None


def test_an_error_names_the_field_in_python_and_the_flag_on_the_command_line(tmp_path, cli):
    ws = init_workspace(tmp_path / "ws")
    with pytest.raises(UsageError) as e:
        drift(ws, DriftOptions(from_round=1))
    assert str(e.value) == "give both `from_round` and `to_round`, or neither"
    r = cli("drift", "--from", "1", "-w", ws.root)
    assert r.exit_code == 2 and r.stderr.strip() == "Error: give both --from and --to, or neither"
    r = cli("select", "--round", "0", "--balance", "bogus", "-w", ws.root)
    assert r.exit_code == 2 and "--balance must be one of topk, copies, none (got 'bogus')" in r.stderr


def test_flags_come_from_the_commands_and_other_names_stay_as_they_are():
    assert with_flags("train the teacher with `holdout` 0.2") == "train the teacher with --holdout 0.2"
    assert with_flags("`kinds` takes corruptions") == "--robustness takes corruptions"  # eval's flag for kinds
    assert with_flags("the `image_id` column, `plabel sql`") == "the `image_id` column, `plabel sql`"
