"""`plabel select`: the Noisy Student selection, in DuckDB, from round R's predictions to a manifest.

Pseudo-label candidates are round R's predictions of unlabeled images with confidence at or
above the threshold, minus val/test contamination (exact and near) and, unless
`keep_duplicates`, the non-representative members of duplicate groups. Then, per predicted class:

- topk (the paper's text): keep the N most confident; a class with fewer is duplicated up to N,
  the copies spread evenly (N // c each, one more for the N % c most confident).
- copies (the official filter_unlabel.py): walk the class's confidence histogram (0.01 bins)
  down from the top until N images are reached, never below the threshold; each image at or
  above that cutoff gets c = N / count copies, applied as int(c) + Bernoulli(frac(c)), the draw
  seeded by (seed, image id).
- none: every candidate once.

Everything runs as SQL over the Parquet files with bound parameters and streams to the
manifest; the per-class histogram (classes x 101 bins) is the only thing walked in Python.
"""
from plabel.selection.balance import auto_per_class, boundaries, cutoffs
from plabel.selection.options import (
    BALANCES,
    LABELS,
    ClassCount,
    SelectOptions,
    SelectResult,
    parse_per_class,
    parse_threshold,
    validate,
)
from plabel.selection.run import select
from plabel.selection.whatif import threshold_what_if

__all__ = [
    "BALANCES", "LABELS", "ClassCount", "SelectOptions", "SelectResult", "auto_per_class", "boundaries", "cutoffs",
    "parse_per_class", "parse_threshold", "select", "threshold_what_if", "validate",
]
