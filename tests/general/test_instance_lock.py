"""One bot per data folder (bot/instance_lock.py): a second `python -m bot run` on the same folder
is refused with one clear line and exit 1; a bot killed with SIGKILL leaves a lock file that does
not block the next start; two folders run side by side. The bots are real processes polling the
fake Bot API (bot/offline/fake_bot_server.py) over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import bot.instance_lock
from bot.instance_lock import LOCK_NAME, InstanceLock, InstanceLockError, holder
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import message_update_json
from tests.support import CONFIG_PATH, ROOT

TOKEN = "123:LOCK"
START_SECONDS = 90.0  # a cold start on a busy 2-core machine; usually a few seconds


def refusal(data: Path, pid: int) -> str:
    """The line SPEC.md agrees on."""
    return (
        f"another selvhjelp-bot is already running on data folder {data} (pid {pid}); "
        "stop it first"
    )


async def start_bot(data: Path, base_url: str) -> asyncio.subprocess.Process:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(data.parent),
        "PYTHONIOENCODING": "utf-8",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "SELVHJELP_DATA_DIR": str(data),
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(CONFIG_PATH),
        "run",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def answers(server: FakeTelegramServer, bot: asyncio.subprocess.Process, user: int) -> None:
    """Wait until the bot process answers a /start from `user` (so it polls and is started)."""
    server.push_update(message_update_json("/start", user))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + START_SECONDS
    while not server.fake.messages_to(user):
        if bot.returncode is not None or loop.time() > deadline:
            _, err = await asyncio.wait_for(bot.communicate(), 10)
            pytest.fail(f"the bot did not answer (exit {bot.returncode}): {err.decode()[-2000:]}")
        await asyncio.sleep(0.05)


async def stop_cleanly(bot: asyncio.subprocess.Process) -> str:
    """SIGTERM, as systemd and docker stop it: exit 0, no traceback; returns its stderr."""
    bot.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(bot.communicate(), 30)
    text = err.decode()
    assert bot.returncode == 0, text[-2000:]
    assert "Traceback" not in text
    return text


@contextlib.asynccontextmanager
async def reaped(*bots: asyncio.subprocess.Process) -> AsyncIterator[None]:
    """Whatever happens in the test, no bot process outlives it."""
    try:
        yield
    finally:
        for bot in bots:
            if bot.returncode is None:
                bot.kill()
                await bot.wait()


@pytest.fixture
async def server() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TOKEN) as running:
        yield running


async def test_a_second_bot_on_the_same_data_folder_is_refused(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = await start_bot(data, server.base_url)
    async with reaped(first):
        await answers(server, first, 7001)
        assert holder(data) == first.pid

        second = await start_bot(data, server.base_url)
        async with reaped(second):
            out, err = await asyncio.wait_for(second.communicate(), START_SECONDS)
        assert second.returncode == 1
        lines = err.decode().strip().splitlines()
        assert lines[-1] == refusal(data, first.pid)  # the last word, and no traceback
        assert "Traceback" not in err.decode()
        assert out == b""

        await answers(server, first, 7002)  # the first one never noticed
        await stop_cleanly(first)
    assert holder(data) is None


async def test_a_bot_killed_with_sigkill_does_not_block_the_next_start(
    server: FakeTelegramServer, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    crashed = await start_bot(data, server.base_url)
    async with reaped(crashed):
        await answers(server, crashed, 7101)
        crashed.kill()  # SIGKILL: no clean-up of any kind runs
        await crashed.wait()
    lock_file = data / LOCK_NAME
    assert lock_file.read_text().strip() == str(crashed.pid)  # left behind, with a dead pid
    assert holder(data) is None  # ... but nobody holds it

    restarted = await start_bot(data, server.base_url)
    async with reaped(restarted):
        await answers(server, restarted, 7102)
        assert holder(data) == restarted.pid
        await stop_cleanly(restarted)
    assert lock_file.exists()  # kept (never removed), without a pid
    assert holder(data) is None


async def test_two_data_folders_run_side_by_side(tmp_path: Path) -> None:
    async with (
        FakeTelegramServer(token=TOKEN) as api_a,
        FakeTelegramServer(token=TOKEN) as api_b,
    ):
        bot_a = await start_bot(tmp_path / "a", api_a.base_url)
        bot_b = await start_bot(tmp_path / "b", api_b.base_url)
        async with reaped(bot_a, bot_b):
            await asyncio.gather(answers(api_a, bot_a, 7201), answers(api_b, bot_b, 7202))
            assert holder(tmp_path / "a") == bot_a.pid
            assert holder(tmp_path / "b") == bot_b.pid
            await asyncio.gather(stop_cleanly(bot_a), stop_cleanly(bot_b))


# --- the lock itself, in this process ------------------------------------------------------


def test_the_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with InstanceLock(data) as held:
        assert held.held
        assert (data / LOCK_NAME).read_text() == f"{os.getpid()}\n"
        assert oct((data / LOCK_NAME).stat().st_mode & 0o777) == oct(0o600)
        assert holder(data) == os.getpid()
        # flock is per open file: a second lock in the same process is refused too.
        with pytest.raises(InstanceLockError) as refused:
            InstanceLock(data).acquire()
        assert str(refused.value) == refusal(data, os.getpid())
        assert refused.value.pid == os.getpid()
        with InstanceLock(tmp_path / "other"):  # another folder: no conflict
            pass
    assert holder(data) is None
    with InstanceLock(data):  # free again
        pass


def test_without_fcntl_the_bot_runs_unlocked_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bot.instance_lock, "fcntl", None)  # as on Windows
    first, second = InstanceLock(tmp_path), InstanceLock(tmp_path)
    first.acquire()
    second.acquire()  # not refused
    assert not first.held
    assert "instance lock: not available on this platform" in caplog.text
    first.release()
    second.release()
    assert holder(tmp_path) is None
