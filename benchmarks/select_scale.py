"""Selection at scale: `plabel select` against a straightforward pandas implementation.

Synthetic round-0 predictions for N rows over 1,000 classes with Zipf-skewed class sizes and
Beta-distributed confidences are written as a plabel workspace (images, classes, predictions
Parquet). Both are timed from after their imports. Both contenders apply the topk rule (threshold 0.3, N per
    class, small classes
duplicated up to N) and write a manifest; each runs in its own process so that its peak RSS is
its own. Targets at 10M rows: plabel >= 10x faster, <= 1/4 of pandas' peak memory. At 100M rows
plabel must finish on a 24 GiB machine (pandas is not run: it would not fit).

    python benchmarks/select_scale.py --rows 10000000 [--pandas]
    python benchmarks/select_scale.py --rows 100000000 --per-class 20000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, report  # noqa: E402

CLASSES = 1000
PER_CLASS = 2000
THRESHOLD = 0.3

IMAGES = """
COPY (
    SELECT md5(CAST(i AS VARCHAR)) AS image_id, 'unlabeled' AS split, '{pool}/' || i || '.jpg' AS path,
           NULL::VARCHAR AS label, NULL::VARCHAR AS true_label, 64 AS width, 64 AS height, 'RGB' AS mode,
           'JPEG' AS format, 4000::BIGINT AS bytes, 'bench' AS ingest_id, now() AS ingested_at
    FROM range({rows}) t(i)
) TO '{images}' (FORMAT parquet, COMPRESSION zstd);
"""  # a synthetic pool of `rows` images (view_scale.py's too)

GENERATE = IMAGES + """
COPY (
    WITH r AS (
        SELECT i, md5(CAST(i AS VARCHAR)) AS image_id,
               -- Zipf-like skew: class k gets a share ~ 1/(k+1)
               CAST(floor(pow({classes} + 1, random()) - 1) AS INTEGER) AS class_id,
               CAST(1 - pow(random(), 0.6) * 0.95 AS FLOAT) AS confidence
        FROM range({rows}) t(i)
    )
    SELECT image_id, 'unlabeled' AS split, 'c0ffee0000000000' AS checkpoint_id, class_id, confidence,
           CAST(confidence - 0.05 AS FLOAT) AS margin, CAST(1.0 AS FLOAT) AS entropy,
           [class_id, (class_id + 1) % {classes}, (class_id + 2) % {classes}, (class_id + 3) % {classes},
            (class_id + 4) % {classes}]::INTEGER[] AS index,
           [confidence, 0.02, 0.01, 0.005, 0.001]::FLOAT[] AS prob,
           NULL::FLOAT[] AS probs, CAST(1.0 AS FLOAT) AS temperature
    FROM r
) TO '{predictions}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880);
"""

PANDAS = r"""
import sys, time
import numpy as np, pandas as pd
ws, per_class, threshold, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
start = time.perf_counter()
preds = pd.read_parquet(f"{ws}/tables/predictions", columns=["image_id", "class_id", "confidence"])
images = pd.read_parquet(f"{ws}/tables/images", columns=["image_id", "split", "path"])
images = images[images["split"] == "unlabeled"]
kept = preds[preds["confidence"] >= np.float32(threshold)]
kept = kept.sort_values(["class_id", "confidence", "image_id"], ascending=[True, False, True])
kept["rank"] = kept.groupby("class_id").cumcount()
kept = kept[kept["rank"] < per_class]
count = kept.groupby("class_id")["image_id"].transform("size")
kept["copies"] = per_class // count + (kept["rank"] < per_class % count).astype(int)
manifest = kept.merge(images[["image_id", "path"]], on="image_id")
manifest = manifest.rename(columns={"class_id": "target"})[["image_id", "path", "target", "copies", "confidence"]]
manifest["origin"] = "pseudo"
manifest = manifest.sort_values("image_id")
manifest.to_parquet(out)
print(time.perf_counter() - start, len(manifest), int(manifest["copies"].sum()))
"""


PLABEL = r"""
import json, resource, sys, time
import pandas  # noqa: F401  (pyarrow imports it lazily; the baseline's imports are not timed either)
from plabel import open_workspace
from plabel.selection import SelectOptions, select
start = time.perf_counter()
r = select(open_workspace(sys.argv[1]), SelectOptions(round=0, threshold=float(sys.argv[3]),
    per_class=int(sys.argv[2])))
print(time.perf_counter() - start, r.n_pseudo, r.n_pseudo_copies)
"""
PEAK = "\nimport resource\nprint(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"


def run(code: str, *args) -> tuple[float, float, int, int]:
    """Run a contender in its own process: (seconds, its peak RSS in MiB, rows, copies)."""
    r = subprocess.run([sys.executable, "-c", code + PEAK, *map(str, args)], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    first, peak = r.stdout.strip().splitlines()[-2:]
    seconds, rows, copies = first.split()
    return float(seconds), float(peak), int(rows), int(copies)


def write_classes(ws) -> None:
    """CLASSES classes named class0000, class0001, ... (view_scale.py's too)."""
    import pyarrow as pa

    from plabel import storage
    from plabel.schema import table

    names = [f"class{k:04d}" for k in range(CLASSES)]
    storage.write_arrow(pa.table({"class_id": list(range(CLASSES)), "name": names,
                                  "added_at": pa.array([0] * CLASSES, pa.timestamp("us", tz="UTC"))}),
                        ws.table_dir("classes") / "classes.parquet", table("classes"))


def build(folder: Path, rows: int) -> Path:
    import duckdb

    from plabel.workspace import init_workspace

    ws = init_workspace(folder / "ws")
    write_classes(ws)
    (ws.table_dir("images")).mkdir(parents=True, exist_ok=True)
    ws.round_dir("predictions", 0).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    con.execute(
        GENERATE.format(
            pool="pool",
            rows=rows,
            classes=CLASSES,
            images=ws.table_dir("images") / "part-0.parquet",
            predictions=ws.round_dir("predictions", 0) / "part-0.parquet",
        )
    )
    con.close()
    return ws.root


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--per-class", type=int, default=PER_CLASS)
    ap.add_argument("--pandas", action="store_true", help="also run the pandas baseline")
    ap.add_argument("--dir", default=None, help="where to build the workspace (default: a temp folder)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        started = time.perf_counter()
        root = build(Path(tmp), args.rows)
        report("select_scale_data", rows=args.rows, seconds=round(time.perf_counter() - started, 1))
        seconds, peak, n, copies = run(PLABEL, root, args.per_class, THRESHOLD)
        fields = dict(
            machine=machine(),
            rows=args.rows,
            classes=CLASSES,
            per_class=args.per_class,
            plabel_seconds=round(seconds, 2),
            plabel_peak_rss_mib=round(peak),
            selected=n,
            copies=copies,
        )
        if args.pandas:
            p_seconds, p_peak, p_n, p_copies = run(
                PANDAS, root, args.per_class, THRESHOLD, Path(tmp) / "pandas.parquet"
            )
            assert (p_n, p_copies) == (n, copies), ("the two disagree", p_n, p_copies, n, copies)
            fields.update(
                pandas_seconds=round(p_seconds, 2),
                pandas_peak_rss_mib=round(p_peak),
                speedup=round(p_seconds / seconds, 2),
                memory_ratio=round(peak / p_peak, 3),
                targets={"speedup": 10, "memory_ratio": 0.25},
            )
        report("select_scale", **fields)


if __name__ == "__main__":
    main()
