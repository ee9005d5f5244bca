"""`plabel dedup`: exact and near duplicates of the unlabeled pool, and contamination.

Exact duplicates are images with the same content id: within a split they were merged at
ingest (aliases); across splits (an unlabeled image that is also a test image) they are found
here. Near duplicates come from two signals:

- pixels: the 32x32 fingerprint every image got at ingest, compared by aligned correlation
  (plabel.fingerprints). It does not depend on any model, so it means the same in every round.
- embeddings: one teacher's features (`infer --embeddings`), by default the first round that has
  them, so what is excluded does not move with each round's model.

Each signal's threshold is calibrated on the data (plabel.dedup.calibrate), separately within
the pool and against val/test, each held to half of `max_clean_loss`: the share of a pool
without duplicates that dedup may exclude; for pixels, also to `min_precision`: the estimated
share of what it flags that are real duplicates (a pool with few copies, or none, raises the
threshold instead of filling the budget with look-alikes). A round without predictions is searched by pixels
alone, before any model. What was chosen is kept in the `dedup_thresholds` table with the round.
"""
from plabel.dedup.calibrate import Calibration, calibrate
from plabel.dedup.options import NEIGHBOURS, DedupOptions, DedupResult
from plabel.dedup.run import dedup, find, round_before_any_model, thresholds
from plabel.dedup.whatif import what_if

__all__ = ["NEIGHBOURS", "Calibration", "DedupOptions", "DedupResult", "calibrate", "dedup", "find",
           "round_before_any_model", "thresholds", "what_if"]
