"""eval: a checkpoint's accuracy on a split, or its robustness (corruptions, flips, attacks)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from plabel.cli import _options as opt
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.eval_options import EvalOptions as E

if TYPE_CHECKING:
    from plabel.robustness.options import RobustnessOptions
    from plabel.workspace import Workspace


@command(name="eval")
def eval_(
    checkpoint: Annotated[str, opt.option("Checkpoint id (or prefix), or latest.")] = "latest",
    split: Annotated[str, opt.option(
        "val, test, train, or holdout (the labeled images the checkpoint trained without: train --holdout)."
    )] = "test",
    robustness: Annotated[
        str | None, opt.option("Robustness instead of clean accuracy: corruptions, flips, fgsm, pgd (comma-separated).")
    ] = None,
    severities: Annotated[str, opt.option("Corruption severities: 1-5 or a list like 1,3,5.")] = "1-5",
    corruptions: Annotated[str | None, opt.option("Corruptions to apply (default: all twelve).")] = None,
    perturbations: Annotated[
        str | None, opt.option("Perturbation sequences for flips (default: translate, brightness, gaussian_noise).")
    ] = None,
    epsilon: Annotated[str, opt.option("Attack budgets in pixel units.")] = "1/255,2/255,4/255,8/255",
    steps: Annotated[int, opt.option("PGD steps.", min=1)] = 10,
    reference: Annotated[
        str | None, opt.option("Reference checkpoint of mCE and mFR (default: the round-0 teacher).")
    ] = None,
    limit: opt.Limit = None,
    seed: opt.Seed = 0,
    batch_size: opt.BatchSize = E.batch_size,
    workers: opt.LoaderWorkers = E.workers,
    device: opt.Device = E.device,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Accuracy of a checkpoint on a split (EMA weights when kept), or its robustness; into evals."""
    ws = opt.open_ws(workspace)
    if robustness:
        from plabel.robustness.options import RobustnessOptions, parse_epsilons, parse_severities

        options = RobustnessOptions(
            kinds=_items(robustness), checkpoint=checkpoint, split=split, severities=parse_severities(severities),
            corruptions=_items(corruptions), perturbations=_items(perturbations), epsilons=parse_epsilons(epsilon),
            steps=steps, reference=reference, limit=limit, seed=seed, batch_size=batch_size, workers=workers,
            device=device,
        )
        return _robustness(ws, options, json_output)
    from plabel.eval_options import EvalOptions
    from plabel.evaluate import evaluate

    settings = EvalOptions(batch_size=batch_size, workers=workers, device=device, limit=limit)
    r = evaluate(ws, checkpoint, split, settings, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} (round {r.round}) on {r.split}: top-1 {r.top1:.2f}%, top-5 "
        f"{r.top5:.2f}% ({r.n} images)"
    )
    print_table("Per-class top-1", ["class", "top1 %"], [[c, round(v, 2)] for c, v in r.per_class.items()])


def _items(text: str | None) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip()) if text else ()


def _robustness(ws: Workspace, options: RobustnessOptions, json_output: bool) -> None:
    from plabel.robustness.measure import evaluate_robustness

    r = evaluate_robustness(ws, options, progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} (round {r.round}) on {r.n} {options.split} images, reference {r.reference_id} "
        f"({r.images_per_s:,.0f} images/s)"
    )
    if r.mce is not None:
        print_table(
            f"Corruptions (clean error {r.clean_error:.2f}%): mCE {r.mce:.1f}, relative mCE {r.relative_mce:.1f}",
            ["corruption", *[f"s{s}" for s in options.severities], "CE", "rel. CE"],
            [
                [c, *[round(e[s], 2) for s in options.severities], round(r.ce[c], 1), round(r.relative_ce[c], 1)]
                for c, e in r.corruption_errors.items()
            ],
        )
    if r.mfr is not None:
        print_table(
            f"Perturbation flips: mFR {r.mfr:.1f}",
            ["perturbation", "flip rate %", "FR"],
            [[p, round(v, 2), round(r.fr[p], 1)] for p, v in r.flip_rates.items()],
        )
    for kind in ("fgsm", "pgd"):
        if getattr(r, kind):
            print_table(
                f"{kind.upper()} accuracy",
                ["epsilon", "accuracy %"],
                [[f"{e * 255:.1f}/255", round(a, 2)] for e, a in getattr(r, kind).items()],
            )
