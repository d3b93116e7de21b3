"""Owner-only permissions for the bot's files: the data folder 0700, the database files 0600.

Other local users of the server must not be able to read the database, its -wal and -shm
files (which hold recently written pages, including erased ones until a checkpoint) or the key.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file; it creates them with the database file's own mode.
DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def make_private_folder(folder: Path) -> None:
    """Create `folder` (and missing parents) owner-only, or tighten one this user owns.

    A shared folder is never touched: not one owned by someone else, nor a sticky one such as
    /tmp (a database placed straight into it still gets owner-only files).
    """
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        info = folder.stat()
        shared = info.st_mode & stat.S_ISVTX or info.st_uid != os.geteuid()
        if not shared and stat.S_IMODE(info.st_mode) != FOLDER_MODE:
            folder.chmod(FOLDER_MODE)


def make_private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if missing, else set 0600 on it."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        with contextlib.suppress(OSError):
            if stat.S_IMODE(path.stat().st_mode) != FILE_MODE:
                path.chmod(FILE_MODE)
    else:
        os.close(fd)


def make_private_database(database: Path) -> None:
    """Owner-only database file (created 0600 before SQLite opens it) and companions.

    SQLite gives a new -wal, -shm or -journal file the mode of its database file, so once the
    database is 0600 they are too; ones left by an older version are tightened here.
    """
    make_private_file(database)
    for suffix in DATABASE_SUFFIXES[1:]:
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            make_private_file(companion)


def fsync_folder(folder: Path) -> None:
    """Make a new name in `folder` durable (best effort where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
