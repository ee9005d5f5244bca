"""eval: a checkpoint's accuracy on a split, or its robustness (corruptions, flips, attacks)."""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.eval_options import EvalOptions
from plabel.robustness.options import RobustnessOptions

if TYPE_CHECKING:
    from plabel.workspace import Workspace


@command(name="eval")
@with_fields(RobustnessOptions)
def eval_(
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Accuracy of a checkpoint on a split (EMA weights when kept), or its robustness; into evals."""
    ws = opt.open_ws(workspace)
    given = dict(fields or {})
    if given["kinds"]:
        return _robustness(ws, RobustnessOptions(**given), json_output)
    from plabel.evaluate import evaluate

    common = {f.name for f in dataclasses.fields(EvalOptions)}
    r = evaluate(ws, EvalOptions(**{k: v for k, v in given.items() if k in common}),
                 progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} (round {r.round}) on {r.split}: top-1 {r.top1:.2f}%, top-5 "
        f"{r.top5:.2f}% ({r.n} images)"
    )
    print_table("Per-class top-1", ["class", "top1 %"], [[c, round(v, 2)] for c, v in r.per_class.items()])


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
