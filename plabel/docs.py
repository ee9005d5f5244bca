"""Generated documentation: `python -m plabel.docs` rewrites docs/tables.md, docs/cli.md and docs/cookbook.md.

Tests compare the files in docs/ with what these functions return, so the pages cannot go stale.
"""
from __future__ import annotations

import sys
from pathlib import Path

from plabel.cookbook import cookbook_markdown
from plabel.schema import tables_markdown


def generated() -> dict[str, str]:
    """File name under docs/ -> its generated text."""
    from plabel.cli.reference import cli_markdown

    return {"tables.md": tables_markdown(), "cli.md": cli_markdown(), "cookbook.md": cookbook_markdown()}


def main(argv: list[str]) -> int:
    docs = Path(argv[0]) if argv else Path("docs")
    for name, text in generated().items():
        (docs / name).write_text(text)
        print(f"wrote {docs / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
