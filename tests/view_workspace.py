"""A workspace for `plabel view`'s tests: real PNG files (MNIST digits), two rounds of predictions
imported as a teacher elsewhere would make them, round 0 selected, one near-duplicate row, and
hostile class names (markup, quotes, SQL, a template expression) that every page must escape."""
import csv

import numpy as np
import pandas as pd
import pyarrow as pa

from plabel import storage
from plabel.external import ImportOptions, import_predictions
from plabel.ingest import IngestOptions, ingest
from plabel.schema import table
from plabel.selection import SelectOptions, select
from plabel.workspace import init_workspace

HOSTILE = ["<script>alert(1)</script>", "a\"b'c", "x'); DROP TABLE images; --", "{{7*7}}", "ok",
           "&amp;", "six", "seven", "eight", "nine"]


def view_workspace(root, mnist_folders, pool: int = 120):
    """(workspace, the pool's image ids in id order)."""
    ws = init_workspace(root, HOSTILE)
    files = sorted(mnist_folders.unlabeled.rglob("*.png"))[:pool]
    listing = root.parent / "view-pool.csv"
    with listing.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "split"])
        w.writerows([str(p), "unlabeled"] for p in files)
    ingest(ws, IngestOptions(source=listing, workers=1, allow_outside=True))
    ids = [i for (i,) in ws.rows("SELECT image_id FROM images WHERE split = 'unlabeled' ORDER BY image_id")]
    rng = np.random.default_rng(0)
    for r in (0, 1):
        probs = rng.dirichlet(np.full(len(HOSTILE), 0.3), len(ids))
        pd.DataFrame({"image_id": ids, "probs": list(probs)}).to_parquet(root.parent / f"round{r}.parquet")
        import_predictions(ws, ImportOptions(file=root.parent / f"round{r}.parquet", round=r, model_name=f"m{r}"))
    select(ws, SelectOptions(round=0, threshold=0.3, per_class=5))
    rows = [{"image_id": ids[1], "duplicate_of": ids[0], "kind": "pixels", "scope": "unlabeled",
             "similarity": 0.991, "group_id": ids[0], "excluded": True}]
    t = table("duplicates")
    storage.write_arrow(pa.Table.from_pylist(rows, schema=t.arrow_schema()),
                        ws.round_dir("duplicates", 0) / storage.part_name(), t)
    return ws, ids
