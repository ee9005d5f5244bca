"""`plabel infer`: round R's teacher predicts on the unlabeled pool, into partitioned Parquet.

Exactly once: rows are flushed as part files into `tables/predictions/.staging/round=R/` as
batches complete; a re-run skips the images already staged there and, when the pool is done,
renames the staging folder to `round=R/` in one step. A query sees a round complete or not at
all, a kill loses at most the rows not yet flushed, and no image is predicted twice.

The images are batched in fixed blocks of `batch_size` (in image id order), and part files hold
whole blocks, so a resumed run forms the same batches as an uninterrupted one: on a CPU the
numbers of an image's row do not depend on the run having been killed.

The names below load their module on first use, so that `plabel.infer.options` (what the CLI
needs for its defaults) does not import torch.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plabel.infer.options import STORE_PROBS, InferOptions, InferResult, validate
    from plabel.infer.rows import embeddings_table, forward, predictions_table, summarize
    from plabel.infer.run import infer

_WHERE = {"STORE_PROBS": "options", "InferOptions": "options", "InferResult": "options", "validate": "options",
          "embeddings_table": "rows", "forward": "rows", "predictions_table": "rows", "summarize": "rows",
          "infer": "run"}
__all__ = [
    "STORE_PROBS", "InferOptions", "InferResult", "embeddings_table", "forward", "infer", "predictions_table",
    "summarize", "validate",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
