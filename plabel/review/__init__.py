"""Review by people: the images a query picks, as Label Studio tasks, and their labels read back."""
from __future__ import annotations

from plabel.review.annotations import ReviewImportResult, import_annotations
from plabel.review.tasks import (
    ReviewExportOptions,
    ReviewExportResult,
    ReviewImportOptions,
    export_tasks,
    label_config,
)

__all__ = ["ReviewExportOptions", "ReviewExportResult", "ReviewImportOptions", "ReviewImportResult", "export_tasks",
           "import_annotations", "label_config"]
