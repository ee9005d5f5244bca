"""How long-running library calls report progress, without knowing about terminals.

Library functions take a `progress` object (the `Progress` protocol: one method, `task`,
returning a `Task` with `advance(n)` and `close()`). The CLI passes a Rich implementation;
the default, `NULL`, does nothing.
"""
from __future__ import annotations

from typing import Protocol


class Task(Protocol):
    def advance(self, n: int = 1) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int | None = None, unit: str = "items") -> Task: ...


class NullTask:
    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    def task(self, description: str, total: int | None = None, unit: str = "items") -> NullTask:
        return NullTask()


NULL: Progress = NullProgress()
