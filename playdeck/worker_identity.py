"""Which registered worker master this process belongs to (``playdeck.workers`` keeps the registry).

Its own module so ``playdeck.runs.transitions`` can stamp a claimed run with it without importing the registry,
which builds on the run package.
"""

from __future__ import annotations

# Set in the master before its pool forks, so every pool process inherits it. None outside a worker.
_current_worker_id: int | None = None


def current_worker_id() -> int | None:
    return _current_worker_id


def set_current_worker_id(worker_id: int | None) -> None:
    global _current_worker_id
    _current_worker_id = worker_id
