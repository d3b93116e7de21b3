"""One start-up lifecycle (bot/lifecycle.py) for polling, webhook, the terminal chat, `ask`, the
tests and the benchmarks. `python -m bot run` used to replace the application's post_init, so
gc.freeze never ran in production although the benchmark that justified it ran it: here the
production entry point (bot.cli.run_telegram) polls the fake Bot API over HTTP and the heap is
frozen once it is started; every other entry point is seen going through the same BotRuntime."""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import io
import json
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import bench.e2e
from bot import cli
from bot.composition import on_ready
from bot.config import Config, parse_config
from bot.content import Content
from bot.instance_lock import holder
from bot.lifecycle import BotRuntime, running_bot
from bot.offline import terminal_chat
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import message_update_json
from bot.services import Services
from tests.support import CONFIG_PATH, ROOT, start_app, stop_app

TOKEN = "123:LIFECYCLE"
SECRET = "lifecycle_secret_0123456789"
USER_ID = 5077


@contextlib.contextmanager
def fake_api_in_a_thread() -> Iterator[tuple[FakeTelegramServer, asyncio.AbstractEventLoop]]:
    """The fake Bot API on its own loop and thread, so `run_telegram` can own the main thread
    (its asyncio.run and its signal handlers) as in production."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-bot-api", daemon=True)
    thread.start()
    server = FakeTelegramServer(token=TOKEN)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
        yield server, loop
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def production_config(tmp_path: Path, base_url: str, **raw_telegram: Any) -> Config:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    for key, value in raw_telegram.items():
        if isinstance(value, dict):
            raw["telegram"][key].update(value)
        else:
            raw["telegram"][key] = value
    environ = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
    }
    return parse_config(raw, environ, str(CONFIG_PATH))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[BotRuntime]:
    """Every BotRuntime started while the test runs, in order."""
    runtimes: list[BotRuntime] = []
    original = BotRuntime.start

    async def start(self: BotRuntime) -> None:
        runtimes.append(self)
        await original(self)

    monkeypatch.setattr(BotRuntime, "start", start)
    return runtimes


def run_in_production(
    config: Config, look: Any, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, dict[str, Any]]:
    """bot.cli.run_telegram(config) as `python -m bot run` calls it; once the bot is started,
    `look(runtime, seen)` runs on the bot's loop, then SIGINT stops the bot, as Ctrl-C does."""
    seen: dict[str, Any] = {}
    original = BotRuntime.start

    async def start_then_look(self: BotRuntime) -> None:
        await original(self)
        try:
            await look(self, seen)
        finally:
            signal.raise_signal(signal.SIGINT)  # handled by the lifecycle: a clean stop

    monkeypatch.setattr(BotRuntime, "start", start_then_look)
    code = cli.run_telegram(config)
    return code, seen


async def wait_for(condition: Any, seconds: float = 20.0) -> bool:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return True
        await asyncio.sleep(0.02)
    return False


def test_python_m_bot_run_polls_through_the_lifecycle_and_freezes_the_heap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gc.unfreeze()
    with fake_api_in_a_thread() as (server, api_loop):
        config = production_config(tmp_path, server.base_url)

        async def look(runtime: BotRuntime, seen: dict[str, Any]) -> None:
            assert runtime.app is not None
            assert runtime.scheduler is not None
            assert runtime.app.updater is not None
            seen["mode"] = runtime.mode
            seen["frozen"] = gc.get_freeze_count()
            seen["post_init"] = runtime.app.post_init
            seen["polling"] = runtime.app.updater.running
            seen["background"] = len(runtime.scheduler._tasks)
            seen["locked_by_us"] = holder(config.data_dir) is not None
            api_loop.call_soon_threadsafe(
                server.push_update, message_update_json("/start", USER_ID)
            )
            seen["answered"] = await wait_for(lambda: server.fake.messages_to(USER_ID))

        code, seen = run_in_production(config, look, monkeypatch)
        menus = [c for c in server.fake.calls if c.method == "setMyCommands"]

    assert code == 0
    assert seen["mode"] == "polling"
    assert seen["frozen"] > 0  # gc.freeze ran after start-up, in production
    assert seen["post_init"] is on_ready  # composition's post-init, not replaced
    assert seen["polling"]
    assert seen["background"] == 2  # the scheduler and the outbox sender
    assert seen["locked_by_us"]
    assert seen["answered"]
    assert menus  # the command menus were published at start-up
    # Stopped in reverse: the heap unfrozen, the lock released, the storage closed.
    assert gc.get_freeze_count() == 0
    assert holder(config.data_dir) is None


def test_python_m_bot_run_in_webhook_mode_goes_through_the_same_lifecycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_api_in_a_thread() as (server, _api_loop):
        config = production_config(
            tmp_path, server.base_url, mode="webhook", webhook={"port": free_port()}
        )

        async def look(runtime: BotRuntime, seen: dict[str, Any]) -> None:
            seen["mode"] = runtime.mode
            seen["frozen"] = gc.get_freeze_count()
            seen["port"] = runtime.webhook_port
            seen["updater"] = runtime.app.updater if runtime.app is not None else "no app"

        code, seen = run_in_production(config, look, monkeypatch)
        webhooks = [c for c in server.fake.calls if c.method == "setWebhook"]

    assert code == 0
    assert seen["mode"] == "webhook"
    assert seen["frozen"] > 0
    assert seen["port"] == config.webhook.port
    assert seen["updater"] is None  # no long polling beside the webhook
    assert [c.params["secret_token"] for c in webhooks] == [SECRET]
    assert gc.get_freeze_count() == 0


async def test_chat_ask_tests_and_benchmarks_start_the_same_way(
    started: list[BotRuntime], config: Config, content: Content, services: Services, tmp_path: Path
) -> None:
    out = io.StringIO()
    assert (
        await terminal_chat.run_terminal_chat(
            config, "nb", io.StringIO("/quit\n"), out, files_dir=tmp_path / "files"
        )
        == 0
    )
    chat = started[-1]
    assert await terminal_chat.run_ask(config, "en", ["what does it cost"], out) == 0
    ask = started[-1]
    assert json.loads(out.getvalue().strip().splitlines()[-1])["topic"] == "cost"

    app = await start_app(services, FakeTelegram())
    test_app = started[-1]
    assert test_app.app is app
    assert gc.get_freeze_count() > 0  # the tests start the bot as production does
    await stop_app(app)

    updates = [message_update_json("hva koster det", USER_ID)]
    expected, _seconds, _sent = await bench.e2e.dry_run(content, updates, str(tmp_path / "b"))
    assert expected >= 1
    bench_dry = started[-1]

    assert [r.mode for r in (chat, ask, test_app, bench_dry)] == ["offline"] * 4
    assert chat.scheduler is not None  # the chat ticks the scheduled jobs after each turn
    assert (chat.lock, ask.lock, test_app.lock) == (None, None, None)
    assert (config.data_dir / terminal_chat.TERMINAL_DATABASE).exists()  # the chat's own
    assert not (config.data_dir / "selvhjelp.sqlite3").exists()  # ask: a throwaway database
    assert all(not r.running for r in started)


async def test_hooks_run_after_start_and_before_stop_in_reverse(
    config: Config, content: Content
) -> None:
    events: list[str] = []

    def hook(name: str) -> Any:
        async def record(runtime: BotRuntime) -> None:
            assert runtime.services is not None
            version = await runtime.services.storage.schema_version()  # the storage is open
            events.append(f"{name} storage_open={version > 0}")

        return record

    runtime = BotRuntime(
        config, mode="offline", request=FakeBotRequest(FakeTelegram()), content=content
    )
    runtime.on_started += [hook("started 1"), hook("started 2")]
    runtime.on_stopping += [hook("stopping 1"), hook("stopping 2")]
    async with runtime:
        assert runtime.running
        assert holder(config.data_dir) is not None  # the data folder's own database: locked
    assert events == [
        "started 1 storage_open=True",
        "started 2 storage_open=True",
        "stopping 2 storage_open=True",
        "stopping 1 storage_open=True",
    ]
    assert holder(config.data_dir) is None
    await runtime.stop()  # idempotent


async def test_a_failed_start_stops_what_was_started(config: Config) -> None:
    async def broken(_runtime: BotRuntime) -> None:
        raise OSError("port in use")

    stopped: list[bool] = []

    async def stopping(_runtime: BotRuntime) -> None:
        stopped.append(True)

    runtime = BotRuntime(config, mode="offline", request=FakeBotRequest(FakeTelegram()))
    runtime.on_started.append(broken)
    runtime.on_stopping.append(stopping)
    with pytest.raises(OSError, match="port in use"):
        await runtime.start()
    assert stopped == [True]
    assert not runtime.running
    assert holder(config.data_dir) is None  # the lock went with it
    assert gc.get_freeze_count() == 0
    assert runtime.services is not None
    with pytest.raises(ValueError, match="no active connection"):  # the storage was closed
        await runtime.services.storage.schema_version()


async def test_running_bot_stops_however_the_block_is_left(config: Config) -> None:
    fake = FakeTelegram()
    seen: list[BotRuntime] = []

    async def leave_with_an_error() -> None:
        async with running_bot(config, mode="offline", request=FakeBotRequest(fake)) as runtime:
            seen.append(runtime)
            assert holder(config.data_dir) is not None
            raise KeyError("boom")

    with pytest.raises(KeyError):
        await leave_with_an_error()
    assert not seen[0].running
    assert holder(config.data_dir) is None


def starts_an_application(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    starting = {"build_application", "run_polling", "run_webhook", "start_polling"}
    return name in starting or (name == "initialize" and isinstance(func, ast.Attribute))


def test_nothing_else_starts_the_bot() -> None:
    """Product code, benchmarks and the shared test helpers start the Application only through
    bot/lifecycle.py (the bench's bare echo bots, which are not the bot, excepted)."""
    files = [*ROOT.glob("bot/**/*.py"), *ROOT.glob("bench/*.py")]
    files += [ROOT / "tests" / "support.py", ROOT / "tests" / "conftest.py"]
    allowed = {"bot/lifecycle.py", "bot/composition.py"}
    found = []
    for path in files:
        name = path.relative_to(ROOT).as_posix()
        if name in allowed:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for top in tree.body:
            if name == "bench/e2e.py" and getattr(top, "name", "") == "run_echo":
                continue
            for node in ast.walk(top):
                if isinstance(node, ast.Call) and starts_an_application(node):
                    found.append(f"{name}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert found == []
