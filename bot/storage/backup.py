"""Backups of the live database, and restoring one: SQLite's online backup API, checked copies.

A backup is made through its own connection to the database file, so it never waits for the
bot and the bot never waits for it: in WAL mode a reader sees one consistent snapshot while
the bot goes on writing. Every copy is written to a temporary name (mode 0600), switched to a
single self-contained file (no -wal), checked (`PRAGMA integrity_check`, the schema version and
our tables) and only then renamed into place, so a backup file that exists is a good one.

Restore refuses what it cannot vouch for (not SQLite, SQLite without our tables, a schema
version newer than this code knows) and refuses while a bot holds the instance lock. The
replaced database is kept beside it as `selvhjelp.sqlite3.before-restore-<stamp>`.

The secret key is never in a backup (it is not in the database): without the same key the
restored data cannot be tied to anyone, nor can the bot read its own chat ids.

Messages of BackupError are for the operator (English, may name files), never for residents.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.instance_lock import InstanceLock, InstanceLockError
from bot.security.file_modes import FILE_MODE, fsync_folder, make_private_folder
from bot.security.pseudonyms import ChatCipher
from bot.security.secret_key import (
    KEY_FILE_NAME,
    SecretKeyError,
    default_key_file,
    read_key_file,
)
from bot.storage.schema import MIGRATIONS

log = logging.getLogger(__name__)

DATABASE_NAME = "selvhjelp.sqlite3"  # as bot/composition.py names it
STAMP_FORMAT = "%Y%m%d-%H%M%S"
BACKUP_PREFIX = "selvhjelp-"
BACKUP_SUFFIX = ".sqlite3"
BEFORE_RESTORE = ".before-restore-"
_BACKUP_NAME = re.compile(r"^selvhjelp-(\d{8})-(\d{6})\.sqlite3$")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_COMPANIONS = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    size: int
    schema_version: int


def known_schema_version() -> int:
    """The newest schema version this code can open (and migrate older ones to)."""
    return len(MIGRATIONS)


@cache
def expected_tables(version: int) -> frozenset[str]:
    """Our tables at schema `version`: the migrations replayed on an empty in-memory database,
    so the check can never drift from the schema."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        for script in MIGRATIONS[:version]:
            conn.executescript(script)
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    return frozenset(str(r[0]) for r in rows)


def stamp(now: datetime) -> str:
    return now.strftime(STAMP_FORMAT)


def backup_name(now: datetime) -> str:
    """`selvhjelp-YYYYMMDD-HHMMSS.sqlite3`, in the local time of `now`."""
    return f"{BACKUP_PREFIX}{stamp(now)}{BACKUP_SUFFIX}"


def _companions(database: Path) -> Iterator[Path]:
    for suffix in _COMPANIONS:
        yield database.with_name(database.name + suffix)


def _remove_with_companions(path: Path) -> None:
    for p in (path, *_companions(path)):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def _create_private(path: Path) -> None:
    """A new empty file, owner-only; an existing one is an error (never overwritten)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_database(path: Path) -> int:
    """The schema version of the database file at `path` if it is one of ours that this code
    can open; else BackupError saying what it is instead. Opens it read-only."""
    try:
        with path.open("rb") as f:
            head = f.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"{path}: cannot read it ({exc.strerror})") from exc
    if head != _SQLITE_MAGIC:
        raise BackupError(f"{path}: not a SQLite database")
    # A read-only look at a file left in WAL mode makes an empty -wal and -shm beside it that
    # it cannot remove itself: remove the ones it made.
    made = [p for p in _companions(path) if not p.exists()]
    try:
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as conn:
            result = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a usable SQLite database ({exc})") from exc
    finally:
        for companion in made:
            with contextlib.suppress(OSError):
                if companion.stat().st_size == 0 or companion.name.endswith("-shm"):
                    companion.unlink()
    if result != ["ok"]:
        raise BackupError(f"{path}: the database is damaged (integrity check: {result[0]})")
    known = known_schema_version()
    tables = {str(r[0]) for r in rows}
    if version > known:
        raise BackupError(
            f"{path}: schema version {version} is newer than this selvhjelp-bot knows "
            f"({known}); upgrade selvhjelp-bot first, then restore"
        )
    missing = expected_tables(version) - tables if version > 0 else {"residents"}
    if missing:
        raise BackupError(
            f"{path}: a SQLite database, but not a selvhjelp-bot database "
            f"(schema version {version}, missing tables: {', '.join(sorted(missing))})"
        )
    return version


def _copy(source: Path, target: Path) -> None:
    """Copy the database `source` (live or not) into the new file `target` with the backup
    API, as one self-contained file (rollback journal, not WAL)."""
    src = sqlite3.connect(str(source), timeout=30.0)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        dst = sqlite3.connect(str(target))
        try:
            # All pages in one step: one read snapshot, so the copy is consistent even while
            # the bot commits (in WAL mode that does not hold up the bot's writes).
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            dst.commit()
        finally:
            dst.close()
    finally:
        src.close()


def _checked_copy(source: Path, final: Path) -> BackupInfo:
    """Copy `source` to a temporary name beside `final`, check it, then rename it to `final`."""
    if final.exists():
        raise BackupError(f"{final}: already exists; choose another name")
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    _remove_with_companions(tmp)  # a leftover of a crashed run of this same pid number
    try:
        _create_private(tmp)
        try:
            _copy(source, tmp)
        except sqlite3.Error as exc:
            raise BackupError(f"{source}: cannot copy the database ({exc})") from exc
        version = check_database(tmp)
        _fsync(tmp)
        if final.exists():
            raise BackupError(f"{final}: already exists; choose another name")
        os.replace(tmp, final)
        fsync_folder(final.parent)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BackupError(f"{final.parent}: no space left for the backup") from exc
        raise BackupError(f"{final}: cannot write it ({exc.strerror})") from exc
    finally:
        _remove_with_companions(tmp)
    return BackupInfo(final, final.stat().st_size, version)


def backup_database(
    database: Path, now: datetime, *, out: Path | None = None, folder: Path | None = None
) -> BackupInfo:
    """Copy the live `database` to `out`, else to `folder`/selvhjelp-<local stamp>.sqlite3.

    Safe while the bot runs. The new file is 0600; a new folder is 0700."""
    if not database.is_file():
        raise BackupError(f"{database}: no database there (check data_dir / SELVHJELP_DATA_DIR)")
    if out is None:
        if folder is None:
            raise BackupError("no backup folder and no --out file")
        out = folder / backup_name(now)
    try:
        if folder is not None and out.parent == folder:
            make_private_folder(folder)
        else:
            out.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{out.parent}: cannot make the folder ({exc.strerror})") from exc
    return _checked_copy(database, out)


def backups_in(folder: Path) -> list[Path]:
    """Our backups in `folder` (by name), oldest first; other files are never touched."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _BACKUP_NAME.match(p.name) and p.is_file())


def prune_backups(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `folder`; returns the deleted ones. This is
    what bounds how long an erased person lives on in backups."""
    found = backups_in(folder)
    old = found[: max(len(found) - max(keep, 1), 0)]
    for path in old:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    if old:
        fsync_folder(folder)
    return old


def has_backup_of_day(folder: Path, day: datetime) -> bool:
    prefix = f"{BACKUP_PREFIX}{day.strftime('%Y%m%d')}-"
    return any(p.name.startswith(prefix) for p in backups_in(folder))


async def daily_backup(
    database: Path, folder: Path, keep: int, now: datetime
) -> BackupInfo | None:
    """The day's backup if there is none of this local day yet, then prune to `keep`; None
    when there was one already. Runs in a worker thread: the event loop is never blocked."""
    if has_backup_of_day(folder, now):
        return None

    def work() -> BackupInfo:
        info = backup_database(database, now, folder=folder)
        prune_backups(folder, keep)
        return info

    return await asyncio.to_thread(work)


# --- restore ---------------------------------------------------------------------------------


@contextlib.contextmanager
def instance_lock(data_dir: Path) -> Iterator[None]:
    """Hold the data folder's instance lock (bot/instance_lock.py, what a running bot holds)
    so no bot starts meanwhile; BackupError while a bot holds it."""
    lock = InstanceLock(data_dir)
    try:
        lock.acquire()
    except InstanceLockError as exc:
        raise BackupError(f"{exc}, then restore") from None
    try:
        yield
    finally:
        lock.release()


def _fold_wal(database: Path) -> bool:
    """Checkpoint the (not running) database's WAL into its main file and drop -wal/-shm, so
    the one file holds everything; False if SQLite cannot (a damaged database)."""
    try:
        with contextlib.closing(sqlite3.connect(str(database))) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error:
        return False
    return not database.with_name(database.name + "-wal").exists()


@dataclass(frozen=True)
class RestoreInfo:
    database: Path
    schema_version: int
    kept: Path | None  # the replaced database, if there was one


def restore_database(source: Path, data_dir: Path, now: datetime) -> RestoreInfo:
    """Replace `<data_dir>/selvhjelp.sqlite3` with the backup `source`, keeping the old one.

    Refused (BackupError) unless `source` is a sound database of ours of a schema version this
    code knows, and while a bot holds the data folder's instance lock."""
    check_database(source)
    database = data_dir / DATABASE_NAME
    with instance_lock(data_dir):
        staged = data_dir / f".{DATABASE_NAME}.restore-{os.getpid()}"
        _remove_with_companions(staged)
        try:
            info = _checked_copy(source, staged)
            kept: Path | None = None
            if database.exists():
                kept = data_dir / f"{DATABASE_NAME}{BEFORE_RESTORE}{stamp(now)}"
                if kept.exists():
                    raise BackupError(f"{kept}: already exists; try again in a second")
                if not _fold_wal(database):
                    # Damaged: keep its WAL with it under the kept name (SQLite pairs a
                    # database with <name>-wal), so nothing it held is lost.
                    wal = database.with_name(database.name + "-wal")
                    if wal.exists():
                        os.replace(wal, kept.with_name(kept.name + "-wal"))
                try:
                    os.link(database, kept)  # the live name stays until the swap below
                except OSError:
                    os.replace(database, kept)  # a file system without hard links
            # Never leave the old database's -wal/-shm beside the new one: SQLite would apply
            # the old WAL's pages to it.
            for companion in _companions(database):
                with contextlib.suppress(FileNotFoundError):
                    companion.unlink()
            os.replace(staged, database)
            fsync_folder(data_dir)
        except OSError as exc:
            raise BackupError(f"{database}: cannot restore into it ({exc.strerror})") from exc
        finally:
            _remove_with_companions(staged)
    log.info("database restored (schema version %d)", info.schema_version)
    return RestoreInfo(database, info.schema_version, kept)


# --- the key it was made with -----------------------------------------------------------------


def _existing_key(config: Config) -> tuple[bytes | None, str]:
    """The secret the bot would use on `config`'s data folder, without ever making one; and
    where it is (for messages)."""
    if config.secret_key:
        return config.secret_key.encode(), "SELVHJELP_SECRET_KEY"
    path = config.key_file or default_key_file(config.data_dir)
    legacy = config.data_dir / KEY_FILE_NAME
    if not path.exists() and legacy.exists():
        path = legacy
    if not path.exists():
        return None, str(path)
    return read_key_file(path), str(path)


def key_problem(config: Config, backup_file: Path) -> str | None:
    """Why the bot on `config` could not use the people in `backup_file` (no key there, or
    another key than the backup was made with), or None. Decrypts a few stored chat ids in
    memory to tell; shows none of them."""
    try:
        key, where = _existing_key(config)
    except SecretKeyError as exc:
        return str(exc)
    if key is None:
        return (
            f"no secret key at {where}: put back the key this backup was made with before "
            "starting the bot (README: Secret key); a new key would orphan every registration"
        )
    cipher = ChatCipher(key)
    with contextlib.closing(
        sqlite3.connect(f"{backup_file.resolve().as_uri()}?mode=ro", uri=True)
    ) as conn:
        rows = conn.execute(
            "SELECT user_key, chat_enc FROM residents WHERE chat_enc IS NOT NULL LIMIT 20"
        ).fetchall()
    if not rows or any(cipher.decrypt(bytes(blob), str(user)) is not None for user, blob in rows):
        return None
    return (
        f"the secret key at {where} is not the one this backup was made with: nobody in it "
        "could be reached or recognised; put back the key it was made with before starting "
        "the bot (README: Secret key)"
    )


# --- the command line ------------------------------------------------------------------------


def run_cli(config: Config, command: str, args: argparse.Namespace) -> int:
    """`backup [--out FILE]` and `restore FILE`: one line on stdout when done, one clear line
    on stderr and exit 1 when refused."""
    now = datetime.now(ZoneInfo(config.timezone))
    database = config.data_dir / DATABASE_NAME
    try:
        if command == "backup":
            out = Path(args.out) if getattr(args, "out", None) else None
            info = backup_database(database, now, out=out, folder=config.backup_folder)
            print(
                f"backup written: {info.path} ({info.size} bytes, schema version "
                f"{info.schema_version}). The secret key is not in it: back that up "
                "separately, never in the same place."
            )
            return 0
        restored = restore_database(Path(args.file), config.data_dir, now)
    except BackupError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    problem = key_problem(config, restored.database)
    if problem:
        print(f"restore: WARNING: {problem}", file=sys.stderr)
    kept = f"; the replaced database is kept as {restored.kept}" if restored.kept else ""
    print(
        f"restored {args.file} into {restored.database} (schema version "
        f"{restored.schema_version}){kept}. Start the bot with the secret key this backup "
        "was made with."
    )
    return 0


async def daily_backup_due(config: Config, now: float) -> BackupInfo | None:
    """The scheduler's daily backup of the configured database (see `daily_backup`)."""
    local = datetime.fromtimestamp(now, ZoneInfo(config.timezone))
    database = config.data_dir / DATABASE_NAME
    return await daily_backup(database, config.backup_folder, config.backup_keep, local)
