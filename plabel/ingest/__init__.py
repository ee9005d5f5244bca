"""`plabel ingest`: register image files (ImageFolder trees, folders, listings) as rows.

Files are hashed and fully decoded in worker processes; rows are committed in batches as
Parquet part files (images, then aliases, then rejects), so memory stays bounded and a killed
ingest leaves only whole batches behind. Which paths are already known is read from the
committed tables, so running the same ingest again adds nothing and a killed one resumes.
Under torchrun, or as task I of N of an array job, the probing is shared out and staged, and one
ordered commit writes the same rows (plabel.ingest.staged).
"""
from plabel.ingest.options import LABELED_SPLITS, Candidate, IngestOptions, IngestResult
from plabel.ingest.run import ingest
from plabel.ingest.staged import commit_staged

__all__ = ["Candidate", "IngestOptions", "IngestResult", "LABELED_SPLITS", "commit_staged", "ingest"]
