"""`plabel ingest`: register image files (ImageFolder trees, folders, listings) as rows.

Files are hashed and fully decoded in worker processes; rows are committed in batches as
Parquet part files (images, then aliases, then rejects), so memory stays bounded and a killed
ingest leaves only whole batches behind. Which paths are already known is read from the
committed tables, so running the same ingest again adds nothing and a killed one resumes.
"""
from plabel.ingest.options import LABELED_SPLITS, Candidate, IngestOptions, IngestResult
from plabel.ingest.run import ingest

__all__ = ["Candidate", "IngestOptions", "IngestResult", "LABELED_SPLITS", "ingest"]
