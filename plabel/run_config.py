"""`[run]` of plabel.toml, or `plabel run --set KEY=VALUE`: the loop's configuration, parsed and checked.

Every key is a field of RunConfig, and every section's keys are fields of the options dataclass
it configures (TrainOptions, InferOptions, DedupOptions, SelectOptions): values are checked
against those fields' declared types before any work starts.
"""
from __future__ import annotations

import itertools
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

from plabel import models, storage
from plabel.dedup.options import DedupOptions
from plabel.dedup.options import validate as validate_dedup
from plabel.errors import UsageError
from plabel.eval_options import EvalSplit
from plabel.infer import InferOptions
from plabel.infer import validate as validate_infer
from plabel.selection import SelectOptions
from plabel.selection import validate as validate_select
from plabel.train import TrainOptions
from plabel.train import validate as validate_train
from plabel.workspace import CONFIG_FILE, HELD_OUT, Workspace, read_toml, toml_value

MAX_AUTO_ROUNDS = 5  # rounds = "auto" stops here even if every student improved
SECTIONS = ("train", "teacher", "student", "infer", "dedup", "select")
# what the loop decides itself: passing them in a section would contradict the loop
RESERVED = {"round", "model", "manifest", "checkpoint", "overwrite", "dry_run", "finetune_from"}


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """`[run]` of plabel.toml; every key is also `plabel run --set KEY=VALUE`."""

    rounds: int | str = 2  # student rounds after the teacher, or "auto": while the held-out split improves
    teacher_model: str = "resnet18"
    student_models: tuple[str, ...] = ()  # one per student round (equal or larger); default: sized to the pool
    img_size: int | None = None
    seed: int = 0
    init_from_teacher: bool = False  # students start from their teacher's weights, else from scratch
    eval_splits: tuple[EvalSplit, ...] = ("test",)
    train: dict[str, Any] = field(default_factory=dict)  # TrainOptions for every model
    teacher: dict[str, Any] = field(default_factory=dict)  # ... overridden for the teacher
    student: dict[str, Any] = field(default_factory=dict)  # ... and for the students
    infer: dict[str, Any] = field(default_factory=dict)  # InferOptions
    dedup: dict[str, Any] = field(default_factory=dict)  # DedupOptions fields: recall, max_clean_loss, ...
    select: dict[str, Any] = field(default_factory=dict)  # SelectOptions

    def train_options(self, round: int) -> TrainOptions:
        model = self.teacher_model if round == 0 else self.student_model(round)
        # epochs auto unless set: the loop's manifests grow each round, and a fixed count that suits
        # the pool starves the teacher (10 epochs of 4 steps: a 45% teacher where 200 steps gave 74%)
        opts: dict[str, Any] = dict(round=round, model=model, img_size=self.img_size, seed=self.seed + round,
                                    epochs="auto")
        opts.update(self.train)
        opts.update(self.student if round else self.teacher)
        return TrainOptions(**opts)

    @property
    def most_rounds(self) -> int:
        """The student rounds the loop may run: the count asked, or auto's ceiling."""
        return MAX_AUTO_ROUNDS if self.rounds == "auto" else int(self.rounds)

    def student_model(self, round: int) -> str:
        models = self.student_models
        return models[min(round, len(models)) - 1] if models else self.teacher_model

    def infer_options(self, round: int) -> InferOptions:
        # --threshold auto judges by held-out train images too, when the teacher kept some out
        held_out = any(d.get("holdout") for d in (self.train, self.teacher, self.student))  # students inherit it
        held = ("train",) if self.select.get("threshold") == "auto" and held_out else ()
        splits = tuple(dict.fromkeys(("unlabeled", *self.infer.get("splits", HELD_OUT), *held)))
        extra = {k: v for k, v in self.infer.items() if k != "splits"}
        return InferOptions(round=round, splits=splits, **{"embeddings": True, **extra})

    def dedup_options(self, round: int) -> DedupOptions:
        return DedupOptions(round=round, **self.dedup)

    def select_options(self, round: int) -> SelectOptions:
        return SelectOptions(round=round, **{"seed": self.seed, **self.select})


def _check_keys(section: str, given: dict[str, Any], cls: type) -> None:
    valid = {f.name for f in fields(cls)} - RESERVED
    unknown = sorted(set(given) - valid)
    if unknown:
        raise UsageError(f"[run.{section}]: unknown keys {', '.join(unknown)}; valid: {', '.join(sorted(valid))}")
    _check_types(f"run.{section}", given, cls)


def _check_types(where: str, given: dict[str, Any], cls: type) -> None:
    """Each value has its field's declared type (TOML gives str, int, float, bool, lists)."""
    hints = typing.get_type_hints(cls)
    for key, value in given.items():
        if key in hints and not _conforms(value, hints[key]):
            raise UsageError(f"[{where}] {key} = {value!r}: expected {_type_name(hints[key])}")


def _conforms(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin is tuple:
        return isinstance(value, (list, tuple)) and all(_conforms(v, args[0]) for v in value)
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint) if isinstance(hint, type) else True


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "") if not isinstance(hint, type) else hint.__name__


SECTION_OPTIONS = {"train": TrainOptions, "teacher": TrainOptions, "student": TrainOptions,
                   "infer": InferOptions, "dedup": DedupOptions, "select": SelectOptions}


def parse_config(raw: dict[str, Any]) -> RunConfig:
    """A RunConfig from the `[run]` table of plabel.toml (or equivalent), checked key by key."""
    _check_sections(raw)
    values = dict(raw)
    for key in ("student_models", "eval_splits"):
        if key in values:
            values[key] = tuple(values[key])
    if "infer" in values and "splits" in values["infer"]:
        values["infer"] = dict(values["infer"], splits=tuple(values["infer"]["splits"]))
    try:
        config = RunConfig(**values)
    except TypeError as e:
        raise UsageError(f"[run]: {e}") from None
    _check_values(config)
    return config


def _check_sections(raw: dict[str, Any]) -> None:
    """Every key known, every section a table, every value of its declared type."""
    top = {f.name for f in fields(RunConfig)}
    unknown = sorted(set(raw) - top)
    if unknown:
        raise UsageError(f"[run]: unknown keys {', '.join(unknown)}; valid: {', '.join(sorted(top))}")
    for section in SECTIONS:
        if not isinstance(raw.get(section, {}), dict):
            raise UsageError(f"[run.{section}] must be a table of keys, not {raw[section]!r}")
    for section, cls in SECTION_OPTIONS.items():
        _check_keys(section, raw.get(section, {}), cls)
    _check_types("run", {k: v for k, v in raw.items() if k not in SECTIONS}, RunConfig)


def _check_values(config: RunConfig) -> None:
    """Every option of every step, checked now: a bad one fails before the first step writes."""
    if config.rounds != "auto" and (not isinstance(config.rounds, int) or config.rounds < 1):
        raise UsageError(f"rounds must be a count >= 1 or auto (got {config.rounds!r})")
    try:
        trains = [config.train_options(r) for r in range(config.most_rounds + 1)]
        infer_opts, select_opts = config.infer_options(0), config.select_options(0)
    except TypeError as e:
        raise UsageError(f"[run]: {e}") from None
    for opts in trains:
        validate_train(opts)
        models.check_model_name(opts.model or "")
    validate_infer(infer_opts)
    validate_select(select_opts)
    validate_dedup(config.dedup_options(0))
    _check_init(config, [opts.model or "" for opts in trains])


def _check_init(config: RunConfig, chain: list[str]) -> None:
    """init_from_teacher copies weights, so every student must be its teacher's model: found now,
    not when the first larger student's training starts after hours of work."""
    changed = [f"{a} -> {b}" for a, b in itertools.pairwise(chain) if a != b]
    if config.init_from_teacher and changed:
        raise UsageError(f"init_from_teacher needs every student to be its teacher's model; the loop "
                         f"changes model ({', '.join(dict.fromkeys(changed))}): set student_models to the "
                         f"teacher's, or init_from_teacher = false")


def load_config(ws: Workspace, path: str | Path | None = None, overrides: Sequence[str] = (),
                values: dict[str, Any] | None = None) -> RunConfig:
    """`[run]` from the workspace's plabel.toml (or `path`), then `KEY=VALUE` overrides (TOML text,
    as `--set` gives them), then `values` ({"select.threshold": 0.5}: Python values, as named
    options give them)."""
    if path is None:
        raw = dict(ws.config.get("run", {}))
    else:
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"no such config file: {file}")
        data = read_toml(file)
        raw = dict(data.get("run", data))
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"`set` expects KEY=VALUE, got {item!r}")
        try:
            parsed = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            parsed = value  # a bare word: a string
        _assign(raw, key, parsed)
    for key, value in (values or {}).items():
        _assign(raw, key, value)
    return parse_config(raw)


def _assign(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set `section.key` (or `key`) of a [run] table."""
    *path_keys, last = key.strip().split(".")
    target = raw
    for k in path_keys:
        if not isinstance(target.get(k, {}), dict):
            raise UsageError(f"`set` {key}: {k} is not a section")
        target = target.setdefault(k, {})
    target[last] = value


def write_default_config(ws: Workspace, config: RunConfig) -> None:
    """Append a `[run]` table to plabel.toml when it has none (so `plabel run` records its setup)."""
    if "run" in ws.config:
        return
    path = ws.root / CONFIG_FILE
    lines = ["", "[run]"]
    for f in fields(RunConfig):
        value = getattr(config, f.name)
        if isinstance(value, dict) or value is None:
            continue
        lines.append(f"{f.name} = {toml_value(value)}")
    for section in SECTIONS:
        values = getattr(config, section)
        if values:
            lines += ["", f"[run.{section}]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    storage.write_text_atomic(path, path.read_text().rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    ws.config = tomllib.loads(path.read_text())
