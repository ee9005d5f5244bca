"""Does `--threshold auto` keep its promise? The whole selection's true precision against its target
and against the precision the command states, over seeds and kinds of data (benchmarks/kinds.py).

Per kind and seed: 20 labeled (digits: 5, so that the teacher stays below 90%), 50 val and 50
test images per class, up to 400 unlabeled per class with withheld labels. The round-0 teacher
is the demo's (test_resnet, 30 epochs, 32 px). For each target, `select --threshold auto` with
every other option at its default writes the manifest; its pseudo rows (copies counted, as the
student trains on them) are checked against the withheld labels. The fixed 0.3 is measured the
same way, for scale.

    python benchmarks/precision_guarantee.py [--kinds digits,photos,lookalike] [--seeds 0,1,2,3,4]
                                             [--targets 0.8,0.9,0.95] [--delta 0.1] [--keep DIR]

`--keep DIR` keeps each trained workspace under DIR and reuses it on the next run (only the
selections are made again).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402
from kinds import KINDS, write_class_folders  # noqa: E402

PER_CLASS = {"train": 20, "val": 50, "test": 50}
POOL_PER_CLASS = 400
TRAIN_PER_CLASS = {"digits": 5}  # with 20, the digits teacher reaches 94%: above the 60-90% asked for


def sizes(kind: str) -> dict[str, int]:
    return {**PER_CLASS, "train": TRAIN_PER_CLASS.get(kind, PER_CLASS["train"]), "unlabeled": POOL_PER_CLASS}


def teacher_workspace(root: Path, kind: str, seed: int):
    """The workspace with round 0's teacher and its predictions (made once, then reused)."""
    from plabel.infer import InferOptions, infer
    from plabel.ingest import IngestOptions, ingest
    from plabel.train import TrainOptions, train
    from plabel.workspace import init_workspace, open_workspace

    ws_dir = root / f"{kind}-{seed}"
    if (ws_dir / "done").exists():
        return open_workspace(ws_dir / "ws")
    rng = np.random.default_rng(seed)
    images, labels = KINDS[kind](12_000 if kind != "photos" else 100_000, rng)
    write_class_folders(ws_dir / "data", images, labels, rng, sizes(kind))
    ws = init_workspace(ws_dir / "ws", classes=sorted({str(v) for v in labels.tolist()}))
    for split in ("train", "val", "test"):
        ingest(ws, IngestOptions(source=ws_dir / "data" / split, split=split, workers=2))
    ingest(ws, IngestOptions(source=ws_dir / "data" / "unlabeled", split="unlabeled", withheld_labels=True, workers=2))
    train(ws, TrainOptions(round=0, model="test_resnet", img_size=32, epochs=30, batch_size=32, workers=0,
                           lr=3e-3, hflip=0.0, crop_scale=0.5, seed=seed))
    infer(ws, InferOptions(round=0, splits=("unlabeled", "val", "test"), workers=0))
    (ws_dir / "done").write_text("")
    return ws


def truth(ws) -> tuple[float | None, float | None, int]:
    """(precision with copies, precision of distinct images, pseudo rows) of round 0's manifest."""
    rows = ws.rows(
        "SELECT sum(m.copies) FILTER (m.target = i.true_label), sum(m.copies), "
        "count(*) FILTER (m.target = i.true_label), count(*) "
        "FROM (SELECT p.copies, p.image_id, c.name AS target FROM read_parquet(?) p "
        "      JOIN classes c ON c.class_id = p.target WHERE p.origin = 'pseudo') m "
        "JOIN (SELECT DISTINCT image_id, true_label FROM images WHERE split = 'unlabeled') i USING (image_id)",
        [str(ws.root / ws.manifest_path(0))])[0]
    if not rows[1]:  # nothing selected: no precision to check
        return None, None, 0
    return rows[0] / rows[1], rows[2] / rows[3], int(rows[1])


def measure(ws, kind: str, seed: int, threshold, target: float, delta: float) -> None:
    from plabel.selection import SelectOptions, select

    r = select(ws, SelectOptions(round=0, threshold=threshold, target_precision=target, delta=delta,
                                 overwrite=True))
    true_copies, true_distinct, rows = truth(ws)
    own = [c for c in r.classes if c.copies]
    report("precision_guarantee", data=kind, seed=seed, threshold=threshold,
           target=target if threshold == "auto" else None, delta=delta, pseudo_rows=rows,
           true_precision=_round(true_copies), true_precision_distinct=_round(true_distinct),
           stated=round(r.expected_precision, 4) if r.expected_precision is not None else None,
           bound=round(r.precision_lower_bound, 4) if r.precision_lower_bound is not None else None,
           guarantee=r.guarantee, classes_kept=len(own), classes=len(r.classes),
           sources={s: sum(c.threshold_source == s for c in r.classes)
                    for s in sorted({c.threshold_source for c in r.classes})},
           teacher_val_top1=_val_top1(ws))


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _val_top1(ws) -> float:
    return round(ws.rows(
        "SELECT avg((c.name = i.label)::INT) FROM predictions p JOIN images i USING (image_id) "
        "JOIN classes c USING (class_id) WHERE p.round = 0 AND p.split = 'val' AND i.split = 'val'")[0][0], 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kinds", default="digits,photos,lookalike")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--targets", default="0.8,0.9,0.95")
    ap.add_argument("--delta", type=float, default=0.1)
    ap.add_argument("--keep", default=None, help="keep (and reuse) the trained workspaces here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        for kind in args.kinds.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                ws = teacher_workspace(root, kind, seed)
                for target in (float(t) for t in args.targets.split(",")):
                    measure(ws, kind, seed, "auto", target, args.delta)
                measure(ws, kind, seed, 0.3, 0.9, args.delta)
    report("precision_guarantee_machine", machine=machine())


if __name__ == "__main__":
    main()
