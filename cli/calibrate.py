"""calibrate: fit a checkpoint's softmax temperature on labeled val images."""
from __future__ import annotations

from typing import Any

from plabel.cli import _options as opt
from plabel.cli._fields import with_fields
from plabel.cli._output import emitted, info, print_table
from plabel.cli.app import command
from plabel.eval_options import CalibrateOptions


@command()
@with_fields(CalibrateOptions)
def calibrate(
    fields: dict[str, Any] | None = None,
    workspace: opt.Workspace = None,
    json_output: opt.Json = False,
) -> None:
    """Temperature scaling: the T that makes a checkpoint's confidences match its accuracy on val."""
    from plabel.calibration import calibrate as run

    ws = opt.open_ws(workspace)
    r = run(ws, CalibrateOptions(**(fields or {})), progress=opt.progress(json_output))
    if emitted(r, json_output):
        return
    info(
        f"Checkpoint {r.checkpoint_id} on {r.split} ({r.images} images): temperature {r.temperature:.3f}; "
        f"expected calibration error {r.ece_before:.4f} -> {r.ece_after:.4f}, NLL {r.nll_before:.4f} -> "
        f"{r.nll_after:.4f}. `plabel infer --temperature auto` predicts at it."
    )
    b, a = r.reliability_before, r.reliability_after
    print_table(
        "Reliability (confidence bin: images, mean confidence -> accuracy; before and after)",
        ["bin", "images", "before", "after"],
        [[f"{i / len(b['count']):.2f}-{(i + 1) / len(b['count']):.2f}", b["count"][i],
          f"{b['confidence'][i]:.3f} -> {b['accuracy'][i]:.3f}", f"{a['confidence'][i]:.3f} -> {a['accuracy'][i]:.3f}"]
         for i in range(len(b["count"])) if b["count"][i] or a["count"][i]],
    )
