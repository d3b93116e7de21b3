"""One bot per data folder: `<data>/selvhjelp.lock`, held with flock(2) while the bot runs.

Two copies on one data folder (a redeploy that overlaps, a second terminal) would fight over
Telegram's updates and the outbox. The lock is an advisory `flock(LOCK_EX | LOCK_NB)` on an open
file, so the operating system drops it the moment the holding process ends, however it ends
(SIGKILL, a crash, a power cut on restart): a lock file left behind never blocks the next start.
The holder's pid is written into the file only for the refusal message; the file is never
removed (removing it would let two processes lock two different files of the same name).

Where fcntl does not exist (Windows), the bot runs without the lock and says so in the log.
`restore` holds the same lock while it replaces the database, so no bot starts meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from types import TracebackType

from bot.security.file_modes import FILE_MODE, make_private_folder

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

LOCK_NAME = "selvhjelp.lock"


class InstanceLockError(Exception):
    """Another process holds the data folder's lock (the message is the operator's line)."""

    def __init__(self, data_dir: Path, pid: int | None) -> None:
        self.data_dir = data_dir
        self.pid = pid
        shown = str(pid) if pid is not None else "unknown"
        super().__init__(
            f"another selvhjelp-bot is already running on data folder {data_dir} "
            f"(pid {shown}); stop it first"
        )


def lock_path(data_dir: Path) -> Path:
    return Path(data_dir) / LOCK_NAME


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        os.lseek(fd, 0, os.SEEK_SET)
        text = os.read(fd, 64).decode("ascii", "replace").strip()
        return int(text) if text else None
    return None


class InstanceLock:
    """`acquire()` or raise InstanceLockError; `release()` (idempotent). Also a context manager."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = lock_path(self.data_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        if fcntl is None:
            log.warning(
                "instance lock: not available on this platform (no fcntl); "
                "a second bot on the same data folder would not be refused"
            )
            return
        make_private_folder(self.data_dir)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: someone else holds it
            pid = _read_pid(fd)
            os.close(fd)
            raise InstanceLockError(self.data_dir, pid) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        except OSError:  # a full disk: the lock holds all the same, only the pid is missing
            log.warning("instance lock: could not write the pid into the lock file")
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # no pid of a process that is gone; the file itself stays
        os.close(fd)  # closing the last descriptor drops the flock

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def holder(data_dir: Path) -> int | None:
    """The pid written by the process holding the lock on `data_dir`, 0 if one holds it but
    its pid is unknown, None if nobody does (or the platform has no flock). Only a look: to
    keep a bot from starting meanwhile, hold an InstanceLock instead."""
    path = lock_path(Path(data_dir))
    if fcntl is None or not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            pid = _read_pid(fd)
            return pid if pid is not None else 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
