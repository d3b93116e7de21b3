"""Backups that restore (issue 13): an online copy while residents register, restored into a
fresh data folder where the journeys still work; and every refusal of `restore`.

The backup runs in a worker thread against the live database file while residents register
through the real Application on the same event loop, as in production (the scheduler's daily
backup and `selvhjelp-bot backup` beside a running bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import cli
from bot.composition import create_services
from bot.config import Config, ConfigError, parse_config
from bot.content import Content
from bot.instance_lock import LOCK_NAME, InstanceLock
from bot.offline.fake_bot_api import FakeTelegram
from bot.scheduler import Scheduler
from bot.security.secret_key import default_key_file
from bot.services import Services
from bot.storage import Storage, backup
from bot.storage.backup import BackupError
from bot.weeks import DAY
from tests.support import (
    CONFIG_PATH,
    App,
    Person,
    PersonFactory,
    start_app,
    stop_app,
)

T0 = 1_772_442_000.0  # Monday 2026-03-02 10:00 Oslo
OSLO = ZoneInfo("Europe/Oslo")
COORDINATOR = 100000002  # the sample Lyngen coordinator in config.yaml
RESIDENTS = tuple(range(4001, 4013))  # twelve residents register while backups are made
BEFORE = tuple(range(3001, 3005))  # four registered before any backup
LYNGEN_FLOW = (
    *("i:e:yes", "i:a:yes", "i:l:ok", "i:r:nord-norge", "i:m:lyngen"),
    *("i:k:open", "i:h:day", "i:c:yes", "i:s:ok"),
)


@pytest.fixture
def now() -> list[float]:
    return [T0]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """The live database where the bot keeps it, `<data>/selvhjelp.sqlite3`."""
    return tmp_path / backup.DATABASE_NAME


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def local(ts: float = T0) -> datetime:
    return datetime.fromtimestamp(ts, OSLO)


async def register(person: Person) -> None:
    """/interest with buttons: Lyngen, an open group, daytime, messages yes."""
    message = (await person.say("/interest")).first
    for data in LYNGEN_FLOW:
        assert data in message.callback_data, (data, message.text)
        message = (await person.press(data, on=message)).first


def query(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as c:
        return c.execute(sql).fetchall()


def registered_keys(path: Path) -> set[str]:
    return {str(r[0]) for r in query(path, "SELECT user_key FROM registrations")}


def fresh_data_folder(tmp_path: Path, config: Config, name: str = "restored") -> Config:
    """A new data folder for the restore, with the key restored from its own backup."""
    folder = tmp_path / name
    key = default_key_file(folder)
    key.parent.mkdir(mode=0o700)
    shutil.copy2(default_key_file(config.data_dir), key)
    return dataclasses.replace(config, data_dir=folder)


@contextlib.asynccontextmanager
async def people_on(
    config: Config, content: Content, now: list[float]
) -> AsyncIterator[PersonFactory]:
    """The bot started on `config`'s data folder; yields a factory of people who talk to it."""
    services = await create_services(config, content=content, clock=lambda: now[0])
    fake = FakeTelegram()
    app = await start_app(services, fake)

    def make(**kwargs: Any) -> Person:
        return Person(app, fake, **kwargs)

    try:
        yield make
    finally:
        await stop_app(app)


def exists(path: Path) -> bool:
    return path.exists()


def size(path: Path) -> int:
    return path.stat().st_size


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


# --- backup during activity, restore, journeys --------------------------------------------


async def test_backup_during_registrations_restores_and_the_journeys_work(
    tmp_path: Path,
    config: Config,
    content: Content,
    services: Services,
    database: Path,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    for user_id in BEFORE:
        await register(person_factory(user_id=user_id))
    folder = tmp_path / "backups"
    made: list[backup.BackupInfo] = []
    stop = asyncio.Event()

    async def back_up_until_stopped() -> None:
        second = 0
        while not stop.is_set() or not made:
            second += 1  # one name per backup: a stamp a second apart
            when = local() + timedelta(seconds=second)
            made.append(
                await asyncio.to_thread(backup.backup_database, database, when, folder=folder)
            )

    async def residents_register() -> None:
        for user_id in RESIDENTS:
            await register(person_factory(user_id=user_id))
            await asyncio.sleep(0)  # let a backup thread finish and start the next
        stop.set()

    await asyncio.gather(back_up_until_stopped(), residents_register())
    after = await asyncio.to_thread(
        backup.backup_database, database, local() + timedelta(hours=1), folder=folder
    )

    key = services.user_key
    everyone = {key(u) for u in (*BEFORE, *RESIDENTS)}
    counts = []
    for info in (*made, after):
        # Each copy: 0600, one self-contained file, sound, of today's schema, and a consistent
        # moment: every registration in it is whole (its resident row and its chat id too).
        assert private(info.path)
        assert not exists(Path(f"{info.path}-wal"))
        assert info.schema_version == backup.known_schema_version()
        assert backup.check_database(info.path) == info.schema_version
        keys = registered_keys(info.path)
        assert {key(u) for u in BEFORE} <= keys <= everyone
        orphans = query(
            info.path,
            "SELECT count(*) FROM registrations g LEFT JOIN residents r USING (user_key)"
            " WHERE r.user_key IS NULL OR r.chat_enc IS NULL",
        )
        assert orphans == [(0,)]
        counts.append(len(keys))
    assert counts == sorted(counts)  # later copies never hold less
    assert counts[-1] == len(everyone)
    print(f"backups during activity: {len(made)}; registrations in them: {counts}")

    # Restore the copy made after the activity into a fresh data folder and use the bot there.
    restored_config = fresh_data_folder(tmp_path, config)
    result = backup.restore_database(after.path, restored_config.data_dir, local())
    assert result.kept is None  # nothing was there to replace
    assert private(result.database)
    # The key put back beside it is the one the backup was made with; another is not.
    assert backup.key_problem(restored_config, result.database) is None
    other_key = dataclasses.replace(restored_config, secret_key=secrets.token_hex(32))
    assert "not the one this backup was made with" in str(
        backup.key_problem(other_key, result.database)
    )
    async with people_on(restored_config, content, now) as people:
        await journeys_work(people, content, now, (*BEFORE, *RESIDENTS))

    # And a copy from the middle of the activity restores just as well (over the first one).
    middle = made[len(made) // 2]
    second = backup.restore_database(middle.path, restored_config.data_dir, local(T0 + 5))
    assert second.kept is not None
    assert second.kept.name.startswith("selvhjelp.sqlite3.before-restore-")
    newcomer = key(RESIDENTS[-1] + 2)  # registered on the restored bot
    assert registered_keys(second.kept) == everyone | {newcomer}
    in_middle = {u for u in (*BEFORE, *RESIDENTS) if key(u) in registered_keys(middle.path)}
    async with people_on(restored_config, content, now) as people:
        await journeys_work(people, content, now, tuple(sorted(in_middle)))


async def journeys_work(
    people: PersonFactory, content: Content, now: list[float], registered: tuple[int, ...]
) -> None:
    """Each registered person's /mine shows their registration; someone not in the backup has
    nothing; someone new can register; the next day the coordinator's /digest counts them all
    (a digest counts who waited at midnight)."""
    none = content.text("nb", "mine.none")
    for user_id in registered:
        mine = (await people(user_id=user_id).say("/mine")).first
        assert mine.text != none
        assert "Lyngen" in mine.text
    assert (await people(user_id=RESIDENTS[-1] + 1).say("/mine")).texts == [none]
    newcomer = people(user_id=RESIDENTS[-1] + 2)
    await register(newcomer)
    assert "Lyngen" in (await newcomer.say("/mine")).first.text
    now[0] += DAY
    digest = await people(user_id=COORDINATOR).say("/digest")
    assert "📍 Lyngen" in digest.text
    waiting = content.text("nb", "digest.waiting", count=len(registered) + 1)
    assert waiting in digest.text, digest.text


# --- restore refuses what it cannot vouch for -----------------------------------------------


@pytest.fixture
async def good_backup(tmp_path: Path, services: Services, database: Path) -> Path:
    """A backup of a database with one registration in it."""
    del services  # the database exists, migrated
    return backup.backup_database(database, local(), folder=tmp_path / "backups").path


def garbage(tmp_path: Path, _good: Path) -> Path:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is no database\n" * 100)
    return path


def other_sqlite(tmp_path: Path, _good: Path) -> Path:
    path = tmp_path / "other.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("PRAGMA user_version = 3")
        conn.commit()
    return path


def newer_schema(tmp_path: Path, good: Path) -> Path:
    path = tmp_path / "newer.sqlite3"
    shutil.copy(good, path)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {backup.known_schema_version() + 1}")
        conn.commit()
    return path


def truncated(tmp_path: Path, good: Path) -> Path:
    path = tmp_path / "truncated.sqlite3"
    path.write_bytes(good.read_bytes()[: 4096 * 3])
    return path


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (garbage, "not a SQLite database"),
        (other_sqlite, "not a selvhjelp-bot database"),
        (newer_schema, "is newer than this selvhjelp-bot knows"),
        (truncated, "database"),
    ],
)
async def test_restore_refuses_a_file_that_is_not_our_database(
    tmp_path: Path, config: Config, good_backup: Path, make: Any, says: str
) -> None:
    target = fresh_data_folder(tmp_path, config, "target")
    target.data_dir.mkdir()
    (target.data_dir / backup.DATABASE_NAME).write_bytes(b"the current database")
    candidate = make(tmp_path, good_backup)
    with pytest.raises(BackupError, match=says):
        backup.restore_database(candidate, target.data_dir, local())
    # Nothing was touched: the current database is as it was, nothing kept, nothing staged.
    assert (target.data_dir / backup.DATABASE_NAME).read_bytes() == b"the current database"
    assert sorted(p.name for p in target.data_dir.iterdir()) == [backup.DATABASE_NAME]


async def test_restore_refuses_while_a_bot_holds_the_instance_lock(
    tmp_path: Path, config: Config, good_backup: Path
) -> None:
    target = fresh_data_folder(tmp_path, config, "target")
    with InstanceLock(target.data_dir):  # as the running bot holds it
        with pytest.raises(BackupError, match=rf"running on data folder .*\(pid {os.getpid()}\)"):
            backup.restore_database(good_backup, target.data_dir, local())
        assert not exists(target.data_dir / backup.DATABASE_NAME)
    # Another process's flock (say, a bot of another version) is refused just the same.
    with (target.data_dir / LOCK_NAME).open("r+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(BackupError, match="stop it first, then restore"):
            backup.restore_database(good_backup, target.data_dir, local())
    # Once it is gone (a crash drops the lock too), the restore goes ahead.
    assert backup.restore_database(good_backup, target.data_dir, local()).kept is None


async def test_restore_keeps_the_replaced_database_with_what_its_wal_held(
    tmp_path: Path,
    config: Config,
    content: Content,
    good_backup: Path,
    now: list[float],
) -> None:
    """A bot that crashed leaves committed rows in -wal only: the kept copy still has them,
    and no -wal or -shm of the old database is left beside the restored one."""
    target = fresh_data_folder(tmp_path, config, "target")
    async with people_on(target, content, now) as people:
        await register(people(user_id=5001))
        live = target.data_dir / backup.DATABASE_NAME
        # The files as a crash would leave them: copied while the bot has them open.
        crashed = tmp_path / "crashed"
        crashed.mkdir(mode=0o700)
        for p in (live, *(Path(f"{live}{s}") for s in ("-wal", "-shm"))):
            if p.exists():
                shutil.copy2(p, crashed / p.name)
    assert size(Path(f"{crashed / backup.DATABASE_NAME}-wal")) > 0

    result = backup.restore_database(good_backup, crashed, local())
    assert result.kept == crashed / "selvhjelp.sqlite3.before-restore-20260302-100000"
    assert sorted(p.name for p in crashed.iterdir()) == [
        LOCK_NAME,
        backup.DATABASE_NAME,
        result.kept.name,
    ]
    assert private(result.database)
    assert private(result.kept)
    assert len(registered_keys(result.kept)) == 1  # the crashed bot's registration is kept
    assert registered_keys(result.database) == registered_keys(good_backup)


# --- daily backups, keep, the scheduler, config and the command line -------------------------


async def test_daily_backups_one_a_local_day_keep_the_newest(
    tmp_path: Path, services: Services, database: Path
) -> None:
    del services
    folder = tmp_path / "daily"
    folder.mkdir()
    (folder / "notes.txt").write_text("not ours")  # never touched
    for day in range(10):
        for hour in (0, 13, 23):  # Oslo days: one backup each, whatever the hour
            when = local(T0) + timedelta(days=day, hours=hour - 10)
            made = await backup.daily_backup(database, folder, 3, when)
            assert (made is None) == (hour != 0), (day, hour)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "notes.txt",
        "selvhjelp-20260309-000000.sqlite3",
        "selvhjelp-20260310-000000.sqlite3",
        "selvhjelp-20260311-000000.sqlite3",
    ]
    assert stat.S_IMODE(folder.stat().st_mode) in (0o700, 0o755)


async def test_scheduler_makes_the_daily_backup_only_when_asked(
    tmp_path: Path, services: Services, app: App, now: list[float]
) -> None:
    folder = services.config.backup_folder
    assert folder == tmp_path / "backups"
    scheduler = Scheduler(services, app.bot)
    await scheduler.tick()
    assert not folder.exists()  # daily: false, the default: no backups
    object.__setattr__(services, "config", dataclasses.replace(services.config, backup_daily=True))
    await scheduler.tick()
    await scheduler.tick()
    assert [p.name for p in backup.backups_in(folder)] == ["selvhjelp-20260302-100000.sqlite3"]
    now[0] += DAY
    await scheduler.tick()
    assert len(backup.backups_in(folder)) == 2
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


async def test_a_failed_daily_backup_is_logged_and_tried_again_an_hour_later(
    tmp_path: Path,
    services: Services,
    app: App,
    now: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the backup folder should be")
    config = dataclasses.replace(services.config, backup_daily=True, backup_dir=blocked)
    object.__setattr__(services, "config", config)
    scheduler = Scheduler(services, app.bot)
    await scheduler.tick()  # the other jobs ran; the backup failure is one log line
    await scheduler.tick()
    failures = [r for r in caplog.records if "daily backup failed" in r.getMessage()]
    assert len(failures) == 1
    blocked.unlink()
    now[0] += 3600
    await scheduler.tick()
    assert len(backup.backups_in(blocked)) == 1


def test_backup_settings_in_config() -> None:
    import yaml

    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    sample = parse_config(raw, {"SELVHJELP_DATA_DIR": "/srv/d"})
    assert (sample.backup_daily, sample.backup_keep, sample.backup_dir) == (False, 7, None)
    assert sample.backup_folder == Path("/srv/d/backups")
    raw["backup"] = {"daily": True, "keep": 30, "dir": "/var/backups/selvhjelp"}
    chosen = parse_config(raw, {})
    assert (chosen.backup_daily, chosen.backup_keep) == (True, 30)
    assert chosen.backup_folder == Path("/var/backups/selvhjelp")
    raw["backup"] = {"daily": "yes", "keep": 0, "dir": "", "hourly": True}
    with pytest.raises(ConfigError) as refused:
        parse_config(raw, {})
    problems = "\n".join(refused.value.problems)
    assert "backup.daily: expected true or false" in problems
    assert "backup.keep: expected a whole number from 1 to 366" in problems
    assert "backup.dir: expected a folder path" in problems
    assert "backup.hourly: unknown key" in problems


async def test_backup_and_restore_commands(
    tmp_path: Path,
    content: Content,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "load_content", lambda: content)  # loaded once per session
    data = tmp_path / "data"
    monkeypatch.setenv("SELVHJELP_DATA_DIR", str(data))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config_args = ["--config", str(CONFIG_PATH)]
    assert cli.main([*config_args, "backup"]) == 1
    assert "no database there" in capsys.readouterr().err
    storage = await Storage.open(data / backup.DATABASE_NAME, lambda: T0)  # as the bot does
    await storage.close()
    out = tmp_path / "copies" / "now.sqlite3"
    assert cli.main([*config_args, "backup", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert f"backup written: {out}" in said
    assert "secret key is not in it" in said
    assert private(out)
    assert cli.main([*config_args, "backup"]) == 0
    [default] = backup.backups_in(data / "backups")
    assert private(default)

    assert cli.main([*config_args, "restore", str(tmp_path / "missing.sqlite3")]) == 1
    assert "cannot read it" in capsys.readouterr().err
    (tmp_path / "junk").write_text("junk")
    assert cli.main([*config_args, "restore", str(tmp_path / "junk")]) == 1
    assert "restore: " in capsys.readouterr().err
    assert cli.main([*config_args, "restore", str(out)]) == 0
    restored = capsys.readouterr()
    assert "the replaced database is kept as" in restored.out
    assert "WARNING: no secret key at" in restored.err  # the bot would make a new one: said so
    assert len(list(data.glob("selvhjelp.sqlite3.before-restore-*"))) == 1
    assert exists(data / backup.DATABASE_NAME)
