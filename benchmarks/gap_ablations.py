"""Ablations of the loop's choices, each measured with gap_closed.py against the defaults.

Every ablation is a named set of `plabel run --set` overrides (a registry, as timm names its
models); each runs on every kind and seed, and the table printed at the end holds, per ablation
and kind, the mean and spread over seeds of the final student's test top-1 and of the share of
the teacher-to-oracle gap it closed, with the defaults' row first.

    python benchmarks/gap_ablations.py [--ablations defaults,init_from_teacher,...] [--kinds digits,photos,lookalike]
                                       [--seeds 0,1,2] [--rounds 2] [--pool 400]

One ablation, kind and seed is a `gap_closed.py` run (about 10 minutes on 2 cores): the full
grid is hours of CPU, a few minutes on a GPU.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gap_closed import one  # noqa: E402

# the choices the Noisy Student paper and its successors name, each as the overrides that change it
ABLATIONS: dict[str, list[str]] = {
    "defaults": [],
    # a student starts from its teacher's weights only where it is the teacher's model
    "init_from_teacher": ["init_from_teacher=true", 'student_models=["test_resnet", "test_resnet"]'],
    "soft_labels": ['select.labels="soft"'],
    "unlabeled_ratio_3": ["student.unlabeled_ratio=3.0"],
    # the defaults since 2026-12-07 (were the paper's m9 and 0.2, which noise_paper restores)
    "noise_weaker": ["student.randaug_magnitude=5", "student.drop_path_rate=0.1"],
    "noise_paper": ["student.randaug_magnitude=9", "student.drop_path_rate=0.2"],
    "noise_off": ["student.noise=false"],
    "threshold_auto": ['select.threshold="auto"'],
    "balance_none": ['select.balance="none"'],
    "ema": ["student.ema_decay=0.998"],
    # students train 10 passes: what `epochs` auto gave them on these pools before students took 20
    # (the runs named `students_longer`, student.epochs=20, measured what the defaults are now)
    "student_passes_10": ["student.epochs=10"],
    # the defaults size the students to the pool (resnet10t twice on every kind here)
    "students_equal": ['student_models=["test_resnet", "test_resnet"]'],
    "students_demo": ['student_models=["test_resnet", "resnet10t"]'],  # the demo's, the default before sizing
}


def table(lines: list[dict], names: list[str], kinds: list[str]) -> str:
    """Markdown: per ablation and kind, final student top-1 and gap closed, mean (spread) over seeds."""
    out = ["| ablation | " + " | ".join(f"{k}: student | {k}: gap closed" for k in kinds) + " |",
           "|---|" + "---|---|" * len(kinds)]
    for name in names:
        cells = []
        for kind in kinds:
            mine = [ln for ln in lines if ln["ablation"] == name and ln["data"] == kind]
            cells += [_mean_spread([ln["students"][-1] for ln in mine]),
                      _mean_spread([ln["gap_closed"] for ln in mine if ln["gap_closed"] is not None])]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _mean_spread(values: list[float]) -> str:
    if not values:
        return "-"
    spread = f" ({min(values):.2f} to {max(values):.2f})" if len(values) > 1 else ""
    return f"{statistics.mean(values):.2f}{spread}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ablations", default=",".join(ABLATIONS), help=f"of {', '.join(ABLATIONS)}")
    ap.add_argument("--kinds", default="digits,photos,lookalike")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=2, choices=range(1, 6), help="student rounds, 1 to 5")
    ap.add_argument("--labels", type=int, default=20)
    ap.add_argument("--pool", type=int, default=400)
    args = ap.parse_args()
    names, kinds = args.ablations.split(","), args.kinds.split(",")
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        ap.error(f"unknown ablations {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
    lines = []
    for name in names:
        for kind in kinds:
            for seed in (int(s) for s in args.seeds.split(",")):
                run_args = argparse.Namespace(rounds=args.rounds, labels=args.labels, pool=args.pool,
                                              set=ABLATIONS[name])
                lines.append({**one(kind, seed, run_args), "ablation": name})
    print(table(lines, names, kinds))


if __name__ == "__main__":
    main()
