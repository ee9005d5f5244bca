"""How much of the gap between the teacher and full supervision does the loop close?

Per kind of data (benchmarks/kinds.py) and seed: a few labels per class, val and test images per
class, and a pool whose labels are withheld. `plabel run` with its defaults (only the models,
the rounds and the image size given, as a new user would) gives the teacher and every round's
student; the oracle is the same training (the teacher's settings, the final student's model) on
the labeled images plus the whole pool with its true labels. Printed per kind and seed: each
model's test top-1, each round's change, and the share of the teacher-to-oracle gap the final
(and the best) student closed.

    python benchmarks/gap_closed.py [--kinds digits,photos,lookalike] [--seeds 0,1,2] [--rounds 2]
                                    [--labels 20] [--pool 400] [--set KEY=VALUE ...]

`--set` passes `plabel run --set` overrides (an ablation: `--set select.threshold=\\"auto\\"`).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402
from kinds import KINDS, write_class_folders  # noqa: E402

TEACHER = "test_resnet"  # the demo's; the students are sized to the pool, as `plabel run` does by default
LABELS = {"digits": 5}  # labels per class where 20 make the teacher too strong (94% on digits)


def splits(kind: str, labels: int, pool: int) -> dict[str, int]:
    return {"train": LABELS.get(kind, labels), "val": 30, "test": 50, "unlabeled": pool}


def build(root: Path, kind: str, seed: int, per_split: dict[str, int]) -> None:
    """Class folders for the loop, and the oracle's train folder: the labels plus the whole pool."""
    rng = np.random.default_rng(seed)
    images, labels = KINDS[kind](12_000 if kind != "photos" else 100_000, rng)
    write_class_folders(root / "data", images, labels, np.random.default_rng(seed), per_split)
    oracle = root / "oracle-train"
    for split in ("train", "unlabeled"):
        for folder in (root / "data" / split).iterdir():
            (oracle / folder.name).mkdir(parents=True, exist_ok=True)
            for f in folder.iterdir():
                shutil.copyfile(f, oracle / folder.name / f"{split}-{f.name}")


def loop(root: Path, rounds: int, overrides: list[str], seed: int):
    """`plabel run` with its defaults: the models, the rounds and the image size."""
    from plabel.ingest import IngestOptions, ingest
    from plabel.run import load_config, run, sized_students
    from plabel.workspace import init_workspace

    ws = init_workspace(root / "ws")
    for split in ("train", "val", "test"):
        ingest(ws, IngestOptions(source=root / "data" / split, split=split, workers=2))
    ingest(ws, IngestOptions(source=root / "data" / "unlabeled", split="unlabeled", withheld_labels=True, workers=2))
    values = {"rounds": rounds, "teacher_model": TEACHER, "img_size": 32, "seed": seed}
    config = load_config(ws, overrides=overrides, values=values)
    return ws, run(ws, config), sized_students(ws, config)[0].student_model(rounds)  # the oracle's model


def oracle(root: Path, model: str, seed: int) -> float:
    """Test top-1 of the model trained, as the loop's teacher is, on the labels and the pool's truth."""
    from plabel.eval_options import EvalOptions
    from plabel.evaluate import evaluate
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace

    ws = init_workspace(root / "oracle")
    ingest(ws, IngestOptions(source=root / "oracle-train", split="train", workers=2))
    ingest(ws, IngestOptions(source=root / "data" / "test", split="test", workers=2))
    r = train(ws, TrainOptions(round=0, model=model, img_size=32, epochs="auto", seed=seed))
    return evaluate(ws, EvalOptions(checkpoint=r.checkpoint_id, split="test")).top1


def one(kind: str, seed: int, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, kind, seed, splits(kind, args.labels, args.pool))
        started = time.perf_counter()
        ws, result, final_model = loop(root, args.rounds, args.set or [], seed)
        # each model's test top-1: the teacher, then every round's student (a worse one teaches no round)
        tests = [result.rounds[0].teacher_test_top1] + [r.student_test_top1 for r in result.rounds[:-1]]
        best_test = ws.scalar("SELECT value FROM evals WHERE checkpoint_id = ? AND split = 'test' AND "
                              "metric = 'top1' ORDER BY n DESC LIMIT 1", [result.best["checkpoint_id"]])
        upper = oracle(root, final_model, seed)
        teacher, final = tests[0], tests[-1]
        return report("gap_closed", data=kind, seed=seed, rounds=args.rounds, overrides=args.set or [],
               teacher=round(teacher, 2), students=[round(t, 2) for t in tests[1:]],
               changes=[round(b - a, 2) for a, b in zip(tests[:-1], tests[1:], strict=True)], oracle=round(upper, 2),
               gap_closed=round((final - teacher) / (upper - teacher), 3) if upper > teacher else None,
               best_round=result.best["round"], best_test=round(best_test, 2),
               gap_closed_best=round((best_test - teacher) / (upper - teacher), 3) if upper > teacher else None,
               pool_used=[r.pool_used and round(r.pool_used, 3) for r in result.rounds[:-1]],
               true_precision=[r.true_precision and round(r.true_precision, 3) for r in result.rounds[:-1]],
               stopped=result.stopped, seconds=round(time.perf_counter() - started), machine=machine())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="digits,photos,lookalike")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=2, choices=range(1, 6), help="student rounds, 1 to 5")
    ap.add_argument("--labels", type=int, default=20, help="labels per class (digits: 5)")
    ap.add_argument("--pool", type=int, default=400, help="unlabeled images per class (fewer where a class has fewer)")
    ap.add_argument("--set", action="append", help="a `plabel run --set` override, repeatable")
    args = ap.parse_args()
    for kind in args.kinds.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            one(kind, seed, args)


if __name__ == "__main__":
    main()
