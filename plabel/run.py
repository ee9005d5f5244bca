"""`plabel run`: the whole self-training loop, resumable from the committed tables.

Round 0 trains the teacher; each round r then runs infer -> dedup -> select -> train the
student (round r+1) -> eval, and the student is the next teacher. Whether a step is done is
read from the tables (a committed predictions round, a duplicates round, a selections row, a
checkpoint, evals rows), never from a flag file, so a run killed anywhere continues where it
stopped; the steps themselves resume mid-way (training from its last epoch, inference from its
staged parts).
"""
from __future__ import annotations

import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any

import tomllib

from plabel import distributed, models, storage
from plabel.dedup import dedup
from plabel.dedup.options import DedupOptions, DedupResult
from plabel.dedup.options import validate as validate_dedup
from plabel.drift import rounds as round_rows
from plabel.errors import UsageError
from plabel.evaluate import EvalResult, evaluate, labeled_split
from plabel.infer import InferOptions, InferResult, infer
from plabel.infer import validate as validate_infer
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.selection import SelectOptions, SelectResult, select
from plabel.selection import validate as validate_select
from plabel.train import TrainOptions
from plabel.train import train as train_round
from plabel.train import validate as validate_train
from plabel.workspace import CONFIG_FILE, HELD_OUT, Workspace, read_toml, toml_value

MAX_AUTO_ROUNDS = 5  # rounds = "auto" stops here even if every student improved
SECTIONS = ("train", "teacher", "student", "infer", "dedup", "select")
# what the loop decides itself: passing them in a section would contradict the loop
RESERVED = {"round", "model", "manifest", "checkpoint", "overwrite", "dry_run", "finetune_from"}


@dataclass(frozen=True)
class RunConfig:
    """`[run]` of plabel.toml; every key is also `plabel run --set KEY=VALUE`."""

    rounds: int | str = 2  # student rounds after the teacher, or "auto": while the held-out split improves
    teacher_model: str = "resnet18"
    student_models: tuple[str, ...] = ()  # one per student round (equal or larger); default: the teacher's
    img_size: int | None = None
    seed: int = 0
    init_from_teacher: bool = False  # students start from their teacher's weights, else from scratch
    eval_splits: tuple[str, ...] = ("test",)
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
    validate_dedup(DedupOptions(**config.dedup))


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
            raise UsageError(f"--set expects KEY=VALUE, got {item!r}")
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
            raise UsageError(f"--set {key}: {k} is not a section")
        target = target.setdefault(k, {})
    target[last] = value


@dataclass
class StepLog:
    round: int
    step: str
    done_before: bool
    detail: str = ""


@dataclass
class RunResult:
    rounds: list[dict[str, Any]]
    steps: list[StepLog] = field(default_factory=list)
    judged_on: str | None = None  # the held-out split every model was scored on (val, or holdout)
    scores: list[dict[str, Any]] = field(default_factory=list)  # per model: round, checkpoint_id, top1 on judged_on
    best: dict[str, Any] | None = None  # the best-scoring model of `scores` (the earliest of equals): the loop's result
    stopped: str = ""  # why the loop ended

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": self.rounds, "steps": [asdict(s) for s in self.steps], "judged_on": self.judged_on,
                "scores": self.scores, "best": self.best, "stopped": self.stopped}




@dataclass
class _Steps:
    """The loop's steps, each recorded as it runs (a step found done is recorded as such)."""

    ws: Workspace
    config: RunConfig
    progress: Progress
    on_step: Callable[[StepLog], None] | None
    eval_splits: list[str]
    log: list[StepLog] = field(default_factory=list)

    def record(self, entry: StepLog) -> None:
        self.log.append(entry)
        if self.on_step:
            self.on_step(entry)

    def step(self, round: int, name: str, done: bool, action: Callable[..., Any], describe: Callable[[Any], str],
             main_only: bool = False) -> Any:
        """Run a step unless done. Under torchrun every rank runs a model step, rank 0 alone a
        DuckDB step (main_only), and no rank goes on before the step's writes are committed."""
        done = distributed.broadcast(done)  # rank 0's view of the tables decides for all
        result = None if done or (main_only and not distributed.is_main()) else action()
        distributed.barrier()
        self.record(StepLog(round, name, done, describe(result) if result is not None else ""))
        return result

    def train(self, options: TrainOptions, name: str) -> str:
        """Train round R's model, then evaluate it; its checkpoint id."""
        result = train_round(self.ws, options, progress=self.progress)
        self.record(StepLog(options.round, name, result.already_trained, result.checkpoint_id))
        for split in self.eval_splits:
            done = bool(self.ws.scalar(query("loop/evaluated"),
                                               {"checkpoint_id": result.checkpoint_id, "split": split}))
            action = partial(evaluate, self.ws, result.checkpoint_id, split, progress=self.progress)
            self.step(options.round, f"eval {split}", done, action, _described_eval)
        return result.checkpoint_id

    def pseudo_label(self, r: int, teacher_id: str) -> None:
        """Round r's predictions, duplicates and selection, each unless already committed."""
        ws, config, progress = self.ws, self.config, self.progress
        infer_opts = replace(config.infer_options(r), checkpoint=teacher_id)
        self.step(r, "infer", ws.round_dir("predictions", r).exists(),
                  partial(infer, ws, infer_opts, progress=progress), _described_infer)
        self.step(r, "dedup", ws.round_dir("duplicates", r).exists(),
                  partial(dedup, ws, r, progress=progress, **config.dedup), _described_dedup, main_only=True)
        self.step(r, "select", ws.round_dir("selections", r).exists(),
                  partial(select, ws, config.select_options(r), progress=progress), _described_select, main_only=True)


def _described_eval(r: EvalResult) -> str:
    return f"top-1 {r.top1:.2f}%"


def _described_infer(r: InferResult) -> str:
    return f"{r.predicted} images"


def _described_dedup(r: DedupResult) -> str:
    return f"{r.excluded} excluded"


def _described_select(r: SelectResult) -> str:
    return f"{r.n_pseudo} pseudo labels ({r.n_pseudo_copies} draws)"


def run(ws: Workspace, config: RunConfig, progress: Progress = NULL,
        on_step: Callable[[StepLog], None] | None = None) -> RunResult:
    """Run (or continue) the loop for `config.rounds` student rounds, or with rounds = "auto" while
    each student beats the best model before it on the held-out split (under torchrun: model
    steps on every rank, dedup and select on rank 0). Every decision is read from committed
    evals, so a rerun comes to the same one."""
    distributed.init()
    judge = judged_on(ws, config)
    eval_splits = [s for s in config.eval_splits if len(labeled_split(ws, s, limit=1))]
    steps = _Steps(ws, config, progress, on_step, list(dict.fromkeys(eval_splits + ([judge] if judge else []))))
    teacher_id = steps.train(config.train_options(0), "train teacher")
    scores = [_score(ws, 0, teacher_id, judge)]
    asked = f"{config.most_rounds} round{'s' if config.most_rounds > 1 else ''}"
    stopped = f"ran the {asked} asked" if config.rounds != "auto" else \
        f"every student improved, up to auto's ceiling of {MAX_AUTO_ROUNDS} rounds"
    for r in range(config.most_rounds):
        steps.pseudo_label(r, teacher_id)
        options = config.train_options(r + 1)
        if config.init_from_teacher:
            options = replace(options, init_from=teacher_id)
        teacher_id = steps.train(options, "train student")
        scores.append(_score(ws, r + 1, teacher_id, judge))
        best = _best(scores[:-1])
        if config.rounds == "auto" and not scores[-1]["top1"] > best["top1"]:
            stopped = (f"round {r + 1}'s student ({scores[-1]['top1']:.2f}% on {judge}) did not beat round "
                       f"{best['round']}'s ({best['top1']:.2f}%)")
            break
    return RunResult(round_rows(ws), steps.log, judge, scores, _best(scores) if judge else None, stopped)


def judged_on(ws: Workspace, config: RunConfig) -> str | None:
    """The held-out split that scores every model: val when it has labeled images, else the
    teacher's held-out train images (train.holdout or teacher.holdout); rounds = "auto" needs one."""
    if len(labeled_split(ws, "val", limit=1)):
        return "val"
    if config.train_options(0).holdout:
        return "holdout"
    if config.rounds == "auto":
        raise UsageError("rounds = auto keeps going while a held-out split improves: ingest labeled images with "
                         "--split val, or hold some train images out (train.holdout, e.g. 0.2)")
    return None


def _score(ws: Workspace, round: int, checkpoint_id: str, split: str | None) -> dict[str, Any]:
    top1 = ws.scalar(query("loop/top1"), {"checkpoint_id": checkpoint_id, "split": split}) if split else None
    return {"round": round, "checkpoint_id": checkpoint_id, "top1": top1}


def _best(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The best-scoring model, the earliest of equals (a later round must earn its place)."""
    return max(scores, key=lambda s: (s["top1"] if s["top1"] is not None else -1.0, -s["round"]))


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
