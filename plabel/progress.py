"""How long-running library calls report progress, without knowing about terminals.

Library functions take a `progress` object with one method, `task(description, total, unit)`,
returning something with `advance(n)` and `close()`. The CLI passes a Rich implementation;
the default does nothing.
"""
from __future__ import annotations


class NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    def task(self, description: str, total: int | None = None, unit: str = "items") -> NullTask:
        return NullTask()


NULL = NullProgress()
