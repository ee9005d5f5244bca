"""`plabel run`: the whole self-training loop, resumable from the committed tables.

Round 0 trains the teacher; each round r then runs infer -> dedup -> select -> train the
student (round r+1) -> eval, and the best model so far on the held-out split (the student, unless
it scored below a model before it) is the next teacher. Whether a step is done is
read from the tables (a committed predictions round, a duplicates round, a selections row, a
checkpoint, evals rows), never from a flag file, so a run killed anywhere continues where it
stopped; the steps themselves resume mid-way (training from its last epoch, inference from its
staged parts).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from typing import Any

from plabel import distributed, storage
from plabel.dedup import dedup
from plabel.dedup.options import DedupResult
from plabel.drift import RoundRow
from plabel.drift import rounds as round_rows
from plabel.errors import UsageError
from plabel.eval_options import EvalOptions, EvalSplit
from plabel.evaluate import EvalResult, evaluate, labeled_split
from plabel.infer import InferResult, infer
from plabel.progress import NULL, Progress
from plabel.queries import query
from plabel.run_config import MAX_AUTO_ROUNDS, RunConfig, load_config, parse_config, write_default_config
from plabel.schema import table
from plabel.selection import SelectResult, select
from plabel.student_sizing import size_students
from plabel.train import TrainOptions
from plabel.train import train as train_round
from plabel.workspace import Workspace

__all__ = ["MAX_AUTO_ROUNDS", "RunConfig", "RunResult", "StepLog", "judged_on", "load_config", "parse_config", "run",
           "sized_students", "write_default_config"]

@dataclass
class StepLog:
    round: int
    step: str
    done_before: bool
    detail: str = ""


@dataclass(kw_only=True)
class RunResult:
    rounds: list[RoundRow]
    steps: list[StepLog] = field(default_factory=list)
    judged_on: str | None = None  # the held-out split every model was scored on (val, or holdout)
    scores: list[dict[str, Any]] = field(default_factory=list)  # per model: round, checkpoint_id, top1 on judged_on
    best: dict[str, Any] | None = None  # the best-scoring model of `scores` (the earliest of equals): the loop's result
    stopped: str = ""  # why the loop ended
    notes: list[str] = field(default_factory=list)  # how the students were sized; rounds taught by an earlier model





@dataclass
class _Steps:
    """The loop's steps, each recorded as it runs (a step found done is recorded as such)."""

    ws: Workspace
    config: RunConfig
    progress: Progress
    on_step: Callable[[StepLog], None] | None
    eval_splits: list[EvalSplit]
    log: list[StepLog] = field(default_factory=list)

    def record(self, entry: StepLog) -> None:
        self.log.append(entry)
        if self.on_step:
            self.on_step(entry)

    def step(self, round: int, name: str, done: bool, action: Callable[..., Any], describe: Callable[[Any], str],
             main_only: bool = False) -> Any:
        """Run a step unless done. Under torchrun every rank runs a model step (and dedup), rank 0
        alone a DuckDB step (main_only), and no rank goes on before the step's writes are committed."""
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
            action = partial(evaluate, self.ws, EvalOptions(checkpoint=result.checkpoint_id, split=split),
                             progress=self.progress)
            self.step(options.round, f"eval {split}", done, action, _described_eval)
        return result.checkpoint_id

    def pseudo_label(self, r: int, teacher_id: str) -> None:
        """Round r's predictions, duplicates and selection, each unless already committed."""
        ws, config, progress = self.ws, self.config, self.progress
        infer_opts = replace(config.infer_options(r), checkpoint=teacher_id)
        self.step(r, "infer", ws.round_dir("predictions", r).exists(),
                  partial(infer, ws, infer_opts, progress=progress), _described_infer)
        # every rank: under torchrun dedup shares its search out (its collectives need them all)
        self.step(r, "dedup", ws.round_dir("duplicates", r).exists(),
                  partial(dedup, ws, config.dedup_options(r), progress=progress), _described_dedup)
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
    steps and dedup on every rank, select on rank 0). Every decision is read from committed
    evals, so a rerun comes to the same one."""
    distributed.init()
    config, sizing = sized_students(ws, config)
    judge = judged_on(ws, config)
    eval_splits = [s for s in config.eval_splits if len(labeled_split(ws, s, limit=1))]
    steps = _Steps(ws, config, progress, on_step, list(dict.fromkeys(eval_splits + ([judge] if judge else []))))
    teacher_id = steps.train(config.train_options(0), "train teacher")
    scores, notes = [_score(ws, 0, teacher_id, judge)], [sizing] if sizing else []
    asked = f"{config.most_rounds} round{'s' if config.most_rounds > 1 else ''}"
    stopped = f"ran the {asked} asked" if config.rounds != "auto" else \
        f"every student improved, up to auto's ceiling of {MAX_AUTO_ROUNDS} rounds"
    for r in range(config.most_rounds):
        steps.pseudo_label(r, teacher_id)
        options = config.train_options(r + 1)
        if config.init_from_teacher:
            options = replace(options, init_from=teacher_id)
        student_id = steps.train(options, "train student")
        scores.append(_score(ws, r + 1, student_id, judge))
        best = _best(scores[:-1])
        if config.rounds == "auto" and not scores[-1]["top1"] > best["top1"]:
            stopped = (f"round {r + 1}'s student ({scores[-1]['top1']:.2f}% on {judge}) did not beat round "
                       f"{best['round']}'s ({best['top1']:.2f}%)")
            break
        teacher_id = _next_teacher(scores, judge, notes if r + 1 < config.most_rounds else [])
    result = RunResult(rounds=round_rows(ws), steps=steps.log, judged_on=judge, scores=scores,
                       best=_best(scores) if judge else None, stopped=stopped, notes=notes)
    _record(ws, config, result)
    return result


def _record(ws: Workspace, config: RunConfig, result: RunResult) -> None:
    """A `loops` row (rank 0): the report's account of what the loop chose and why it stopped."""
    if not distributed.is_main():
        return
    best, ran = result.best or {}, len(result.scores) - 1
    row = {"finished_at": datetime.now(timezone.utc), "rounds_asked": str(config.rounds), "rounds_run": ran,
           "student_models": [config.student_model(r) for r in range(1, ran + 1)], "judged_on": result.judged_on,
           "best_round": best.get("round"), "best_checkpoint_id": best.get("checkpoint_id"),
           "best_top1": best.get("top1"), "stopped": result.stopped, "notes": result.notes}
    with ws.writing("run"):
        storage.write_rows([row], ws.table_dir("loops") / storage.part_name(), table("loops"))


def sized_students(ws: Workspace, config: RunConfig) -> tuple[RunConfig, str | None]:
    """`config` with its students chosen from the pool (plabel.student_sizing) where none were
    given, and the sentence that says how; a config that names them is returned as it is."""
    if config.student_models:
        return config, None
    labeled, pool = ws.rows(query("loop/labeled_and_pool"))[0]
    sizing = size_students(config.teacher_model, labeled, pool, config.init_from_teacher)
    return replace(config, student_models=(sizing.model,)), f"students sized to the pool: {sizing.reason}"


def _next_teacher(scores: list[dict[str, Any]], judge: str | None, notes: list[str]) -> str:
    """The best model so far on the held-out split teaches the next round (without one, the last
    student): a student worse than its teacher there would hand its extra mistakes on as labels."""
    student = scores[-1]
    best = _best(scores) if judge else student
    if best is not student:
        notes.append(f"round {student['round'] + 1} is taught by round {best['round']}'s model: round "
                     f"{student['round']}'s student ({student['top1']:.2f}% on {judge}) scored below it "
                     f"({best['top1']:.2f}%)")
    return str(best["checkpoint_id"])


def judged_on(ws: Workspace, config: RunConfig) -> EvalSplit | None:
    """The held-out split that scores every model: val when it has labeled images, else the
    teacher's held-out train images (train.holdout or teacher.holdout); rounds = "auto" needs one."""
    if len(labeled_split(ws, "val", limit=1)):
        return "val"
    if config.train_options(0).holdout:
        return "holdout"
    if config.rounds == "auto":
        raise UsageError("rounds = auto keeps going while a held-out split improves: ingest labeled images with "
                         "`plabel ingest DIR --split val`, or hold some train images out (train.holdout, e.g. 0.2)")
    return None


def _score(ws: Workspace, round: int, checkpoint_id: str, split: str | None) -> dict[str, Any]:
    top1 = ws.scalar(query("loop/top1"), {"checkpoint_id": checkpoint_id, "split": split}) if split else None
    return {"round": round, "checkpoint_id": checkpoint_id, "top1": top1}


def _best(scores: list[dict[str, Any]]) -> dict[str, Any]:
    """The best-scoring model, the earliest of equals (a later round must earn its place)."""
    return max(scores, key=lambda s: (s["top1"] if s["top1"] is not None else -1.0, -s["round"]))
