"""Telling SQLite's refusals apart, for code outside storage (which never imports the driver)."""

from __future__ import annotations

import sqlite3


def disk_full(error: BaseException | None) -> bool:
    """Whether SQLite refused a write for want of space (SQLITE_FULL), here or in a cause."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlite3.Error) and (
            getattr(error, "sqlite_errorname", "") == "SQLITE_FULL"
        ):
            return True
        error = error.__cause__ or error.__context__
    return False
