"""Webhook mode: the real bot behind bot.botapi.webhook on 127.0.0.1, the fake Bot API over HTTP.

Updates are POSTed as Telegram posts them; replies arrive at the fake. The listener's limits
(secret checked from the headers, body size, time limits, connection cap) are probed with raw
sockets, with small timeouts so the whole module takes a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from telegram import Bot
from telegram.ext import Application

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.botapi.webhook import TELEGRAM_MAX_CONNECTIONS, Limits, WebhookServer, open_webhook
from bot.composition import create_services
from bot.config import Config, Webhook, parse_config
from bot.content import Content
from bot.lifecycle import BotRuntime
from bot.offline.fake_bot_api import Sent
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import message_update_json
from bot.services import Services
from tests.support import CONFIG_PATH

TOKEN = "123:WEBHOOK"
SECRET = "s3cr3t_token_0123456789"
USER_ID = 5006
HOST = "127.0.0.1"
LIMITS = Limits(
    max_body_bytes=64 * 1024,
    header_timeout=0.5,
    body_timeout=0.5,
    idle_timeout=1.0,
    linger_seconds=0.3,
    max_connections=20,
)


@pytest.fixture
async def api() -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=TOKEN) as running:
        yield running


@pytest.fixture
def webhook_config(api: FakeTelegramServer, tmp_path: Path) -> Config:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    raw["telegram"]["mode"] = "webhook"
    environ = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": api.base_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "SELVHJELP_DATA_DIR": str(tmp_path),
    }
    config = parse_config(raw, environ, str(CONFIG_PATH))
    assert config.webhook.listen == HOST  # the shipped default: behind a reverse proxy
    return config


@pytest.fixture
async def webhook_services(
    webhook_config: Config,
    content: Content,
    faq_index: FaqIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Services]:
    monkeypatch.setattr(
        bot.composition, "FaqIndex", lambda _content: faq_index
    )  # pure; built once
    services = await create_services(webhook_config, content=content)
    try:
        yield services
    finally:
        await services.storage.close()


@pytest.fixture
async def listener(webhook_services: Services) -> AsyncIterator[WebhookServer]:
    """The real bot in webhook mode, started as `python -m bot run` starts it (bot/lifecycle.py;
    the scheduler off, so no digest of the day gets in the way of the replies counted)."""
    runtime = BotRuntime(
        webhook_services.config,
        mode="webhook",
        services=webhook_services,
        webhook=replace(webhook_services.config.webhook, port=0),
        webhook_limits=LIMITS,
        background="off",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(runtime.run_until_stopped(stop, signals=()))
    for _ in range(200):
        if runtime.running or task.done():
            break
        await asyncio.sleep(0.01)
    if task.done():
        task.result()
    assert runtime.running
    assert runtime.app is not None
    assert runtime.app.running
    assert runtime.webhook_server is not None
    try:
        yield runtime.webhook_server
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


@pytest.fixture
async def bare() -> AsyncIterator[WebhookServer]:
    """The listener alone, updates onto a plain queue (no bot behind it): for the limits."""
    server = WebhookServer(Bot(TOKEN), asyncio.Queue(), SECRET, limits=LIMITS)
    await server.start(HOST, 0)
    try:
        yield server
    finally:
        await server.stop()


async def post(
    port: int,
    body: bytes,
    *,
    secret: str | None = SECRET,
    content_type: str = "application/json",
    method: str = "POST",
    path: str = "/telegram",
) -> int:
    """One request on its own connection; returns the status code."""
    reader, writer = await asyncio.open_connection(HOST, port)
    headers = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
    if secret is not None:
        headers += f"X-Telegram-Bot-Api-Secret-Token: {secret}\r\n"
    headers += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    try:
        writer.write(headers.encode() + body)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 3)
        return int(line.split()[1])
    finally:
        writer.close()


def update_body(text: str, update_id: int = 1) -> bytes:
    return json.dumps({**message_update_json(text, USER_ID), "update_id": update_id}).encode()


async def replies(api: FakeTelegramServer, count: int) -> list[Sent]:
    for _ in range(300):
        if len(api.fake.sent) >= count:
            return api.fake.sent
        await asyncio.sleep(0.01)
    pytest.fail(f"expected {count} messages, got {[s.text[:40] for s in api.fake.sent]}")


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True when the server closes the connection (EOF or reset) within `seconds`."""
    try:
        while await asyncio.wait_for(reader.read(1024), seconds):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


async def test_a_posted_update_is_answered_through_the_bot_api(
    listener: WebhookServer, api: FakeTelegramServer, content: Content
) -> None:
    assert listener.port is not None
    (registered,) = [c for c in api.fake.calls if c.method == "setWebhook"]
    assert registered.params["secret_token"] == SECRET
    assert registered.params["url"] == "https://selvhjelp.example.org/telegram"
    assert registered.params["max_connections"] == TELEGRAM_MAX_CONNECTIONS

    assert await post(listener.port, update_body("/start")) == 200
    (welcome,) = await replies(api, 1)
    assert (welcome.chat_id, welcome.text) == (USER_ID, content.text("nb", "start.welcome"))


async def test_two_updates_on_one_kept_alive_connection(
    listener: WebhookServer, api: FakeTelegramServer
) -> None:
    assert listener.port is not None
    reader, writer = await asyncio.open_connection(HOST, listener.port)
    try:
        for update_id in (1, 2):
            body = update_body("/start", update_id)
            writer.write(
                b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n".encode()
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            assert head.startswith(b"HTTP/1.1 200 ")
            assert b"Connection: keep-alive" in head
    finally:
        writer.close()
    await replies(api, 2)


async def test_a_wrong_or_missing_secret_is_refused_from_the_headers(
    bare: WebhookServer,
) -> None:
    assert bare.port is not None
    for secret in (None, "", "x" * 23, SECRET[:-1], SECRET + "x", SECRET.upper()):
        assert await post(bare.port, update_body("/roles"), secret=secret) == 403, secret
    assert bare.stats.counts["refused_403"] == 6
    assert bare.stats.counts["updates"] == 0
    assert bare.update_queue.empty()
    assert await post(bare.port, update_body("/roles")) == 200
    assert bare.update_queue.qsize() == 1


async def test_the_secret_is_checked_before_any_body_byte_is_read(
    bare: WebhookServer,
) -> None:
    """Headers announcing 50 MB and no body at all: 403 at once, and the connection closed."""
    assert bare.port is not None
    reader, writer = await asyncio.open_connection(HOST, bare.port)
    try:
        writer.write(
            b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 52428800\r\n\r\n"
        )
        started = time.monotonic()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 403 ")
        assert time.monotonic() - started < LIMITS.header_timeout
        assert await closed_within(reader, 2 * LIMITS.linger_seconds + 0.5)
    finally:
        writer.close()


async def test_methods_and_paths_other_than_the_webhook_are_refused(
    bare: WebhookServer,
) -> None:
    assert bare.port is not None
    assert await post(bare.port, b"", method="GET") == 405
    assert await post(bare.port, update_body("hei"), path="/other") == 404
    assert await post(bare.port, update_body("hei"), content_type="text/plain") == 415


async def test_an_oversized_body_is_refused_from_its_content_length(bare: WebhookServer) -> None:
    assert bare.port is not None
    big = b"x" * (LIMITS.max_body_bytes + 1)
    assert await post(bare.port, big) == 413
    # Without a length (chunked) it is not read either.
    reader, writer = await asyncio.open_connection(HOST, bare.port)
    try:
        writer.write(
            b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 411 ")
    finally:
        writer.close()
    assert bare.stats.counts["updates"] == 0
    assert bare.update_queue.empty()


async def test_oversized_headers_are_refused(bare: WebhookServer) -> None:
    assert bare.port is not None
    reader, writer = await asyncio.open_connection(HOST, bare.port)
    try:
        padding = b"X-Padding: " + b"a" * LIMITS.max_header_bytes + b"\r\n"
        writer.write(b"POST /telegram HTTP/1.1\r\nHost: x\r\n" + padding + b"\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 431 ")
    finally:
        writer.close()


async def test_repeated_headers_are_refused(bare: WebhookServer) -> None:
    assert bare.port is not None
    reader, writer = await asyncio.open_connection(HOST, bare.port)
    try:
        writer.write(
            b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n".encode()
            + b"Content-Length: 2\r\nContent-Length: 200\r\n\r\n{}"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 400 ")
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_head",
    [
        b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Ty",  # headers trickle and stop
        b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-Telegram-Bot-Api-Secret-Token: {SECRET}\r\n".encode()
        + b"Content-Length: 1000\r\n\r\n{",  # the body stops
    ],
    ids=["headers", "body"],
)
async def test_a_slow_client_is_cut_off(bare: WebhookServer, request_head: bytes) -> None:
    assert bare.port is not None
    reader, writer = await asyncio.open_connection(HOST, bare.port)
    try:
        writer.write(request_head)
        started = time.monotonic()
        assert await closed_within(reader, 3)
        assert time.monotonic() - started < 2
    finally:
        writer.close()
    timeouts = bare.stats.counts["header_timeout"] + bare.stats.counts["body_timeout"]
    assert timeouts == 1


async def test_many_held_connections_do_not_keep_telegram_out(
    listener: WebhookServer, api: FakeTelegramServer
) -> None:
    """Five times the cap of connections, half-sent; the cap holds and a valid post gets in."""
    assert listener.port is not None
    held: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    try:
        for _ in range(5 * LIMITS.max_connections):
            reader, writer = await asyncio.open_connection(HOST, listener.port)
            writer.write(b"POST /telegram HTTP/1.1\r\nHost: x\r\n")
            held.append((reader, writer))
        await asyncio.sleep(0.05)
        assert listener.open_connections <= LIMITS.max_connections
        assert listener.stats.counts["evicted"] >= 4 * LIMITS.max_connections - 1
        assert await post(listener.port, update_body("/start")) == 200
        await replies(api, 1)
    finally:
        for _, writer in held:
            writer.close()


async def test_a_bad_update_is_answered_and_logged_without_its_body(
    bare: WebhookServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert bare.port is not None
    bad: dict[str, Any] = json.loads(update_body("Min bror drikker, jeg orker ikke mer"))
    bad["message"]["date"] = "not-a-date"
    bad["message"]["from"]["last_name"] = "Nordmann"
    with caplog.at_level(logging.DEBUG):
        assert await post(bare.port, json.dumps(bad).encode()) == 200
        assert await post(bare.port, b"{not json") == 400
        assert await post(bare.port, b"[1, 2]") == 200
    assert bare.stats.counts["bad_update"] == 3
    assert bare.update_queue.empty()
    logged = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.exc_info or ''}" for r in caplog.records
    )
    for secret_or_personal in ("drikker", "Nordmann", str(USER_ID), SECRET, "not-a-date"):
        assert secret_or_personal not in logged
    assert "webhook: bad update ignored (3 so far)" in logged


async def test_the_listener_refuses_to_start_without_a_secret(webhook_config: Config) -> None:
    app = Application.builder().token(TOKEN).updater(None).build()
    with pytest.raises(ValueError, match="secret"):
        WebhookServer(app.bot, app.update_queue, "")
    settings = Webhook(HOST, 0, "https://selvhjelp.example.org/telegram", None)
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):
        await open_webhook(app, settings, WebhookServer(app.bot, app.update_queue, SECRET))
    with pytest.raises(ValueError, match="TELEGRAM_WEBHOOK_SECRET"):  # before anything opens
        BotRuntime(webhook_config, mode="webhook", webhook=settings)
    assert not app.running


def test_the_listener_binds_loopback_unless_told_otherwise() -> None:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    del raw["telegram"]["webhook"]["listen"]
    assert parse_config(raw, {}, "x").webhook.listen == "127.0.0.1"
    environ = {"TELEGRAM_WEBHOOK_LISTEN": "0.0.0.0"}  # the Docker image, inside its container
    assert parse_config(raw, environ, "x").webhook.listen == "0.0.0.0"
