"""The class list: fixed by the first labeled ingest, extended only when asked."""
from __future__ import annotations

from plabel.errors import UsageError
from plabel.workspace import Workspace, check_class_names


# -- classes ---------------------------------------------------------------------------------
def resolve_classes(
    ws: Workspace, found: set[str], classes: list[str] | None, add_classes: bool
) -> tuple[list[str], list[str]]:
    """(all classes after this ingest, classes to add); raises before anything is written."""
    existing = ws.class_names()
    if not existing:
        declared = classes or ws.config.get("workspace", {}).get("classes")
        if declared:
            check_class_names(list(declared))
            unknown = sorted(found - set(declared))
            if unknown and not add_classes:
                raise UsageError(
                    f"labels not in the class list: {', '.join(unknown[:10])} (pass `add_classes` to add them)"
                )
            new = list(declared) + unknown
        else:
            new = sorted(found)
        check_class_names(new)
        return new, new
    if classes and list(classes) != existing[: len(classes)]:
        raise UsageError(f"the workspace's classes are already fixed: {', '.join(existing[:20])}")
    unknown = sorted(found - set(existing))
    if unknown and not add_classes:
        raise UsageError(
            f"unknown classes: {', '.join(unknown[:10])}{' ...' if len(unknown) > 10 else ''} "
            "(the class list is fixed by the first labeled ingest; pass `add_classes` to extend it)"
        )
    check_class_names(existing + unknown)
    return existing + unknown, unknown
