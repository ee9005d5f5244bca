"""The `plabel` command line: a thin Typer layer over the library (see plabel.cli.app)."""
from plabel.cli.app import app, main

__all__ = ["app", "main"]
