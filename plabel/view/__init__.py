"""`plabel view`: a local web view of every round, browsable by class, confidence, flips and
duplicates, with review in the browser.

Read-only on the tables except review writes (plabel.review.store, the writer Label Studio
imports use too). Every request opens its own DuckDB connection, so a page shows the workspace as
the last commit left it. Security, for a server that shows private data and writes reviews:
127.0.0.1 by default, a token for any other host, the Host header checked, a CSRF token per
session on review writes, images served by id only, every value escaped by the templates, a
Content-Security-Policy, and bounded SQL results and time.
"""
from plabel.view.options import ViewOptions

__all__ = ["ViewOptions"]
