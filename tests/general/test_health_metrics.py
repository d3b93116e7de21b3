"""The health endpoint and its metrics (bot/ops): the Prometheus text format, the HTTP listener's
limits, readiness, and a journey through the real polling loop after which /metrics holds
counts only: no user id, key, text or place."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import RequestData

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.botapi.transport import JsonRequest
from bot.composition import build_application, create_services
from bot.config import ConfigError, parse_config
from bot.content import Content
from bot.offline.fake_bot_api import Call, FakeApiError
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.offline.fake_updates import callback_update_json, message_update_json
from bot.ops import health as ops_health
from bot.ops.health import Figures, HealthServer, Limits, OutboxAge, start_health
from bot.ops.hooks import observe_replies, send_error_kind
from bot.ops.metrics import (
    CONTENT_TYPE,
    METRICS,
    BotMetrics,
    Counter,
    Gauge,
    Histogram,
    Registry,
    update_kind,
)
from bot.outbox.sender import Sender
from bot.services import Services
from bot.storage import Registration
from bot.weeks import week_index
from tests.support import CONFIG_PATH

TOKEN = "4242424242:HEALTH-secret-token"
# Distinctive ids and texts, so that finding any of them in /metrics cannot be a coincidence.
RESIDENTS = (7319462085, 6204817395)
SECRET_WORDS = "Kvitblomstkvern Oddveig Sandnes"
QUESTION = "hva koster det"
CRISIS_WORDS = "jeg orker ikke mer"
SAMPLE_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"\})? '
    r"(NaN|[+-]Inf|-?[0-9.e+-]+)$"
)


@pytest.fixture(autouse=True)
def fresh_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    METRICS.reset()
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # as the bot runs (bot/cli.py)


def raw_config(**health: Any) -> dict[str, Any]:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    if health:
        raw["health"] = health
    return dict(raw)


def check_exposition(text: str) -> dict[str, float]:
    """Every line is a HELP, a TYPE or a sample of a metric announced before it; the samples."""
    assert text.endswith("\n")
    announced: dict[str, str] = {}
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram")
            announced[name] = kind
            continue
        assert SAMPLE_LINE.match(line), line
        name, _, value = line.rpartition(" ")
        base = re.sub(r"(_bucket|_sum|_count)$", "", name.split("{")[0])
        assert name.split("{")[0] in announced or base in announced, line
        samples[name] = float(value)
    return samples


# --- the registry and the text format ------------------------------------------------------


def test_counters_gauges_and_histograms_render_in_the_text_format() -> None:
    registry = Registry()
    counter = registry.add(Counter("demo_total", "Help with \\ and\nnewline.", "kind", ("a",)))
    plain = registry.add(Counter("plain_total", "No label."))
    gauge = registry.add(Gauge("demo_gauge", "A gauge."))
    computed = registry.add(Gauge("demo_computed", "Computed.", lambda: 2.5))
    hist = registry.add(Histogram("demo_seconds", "A histogram.", (0.1, 1.0)))
    counter.inc("a")
    counter.inc("a", 2)
    counter.inc('made "up"\nvalue')  # outside the fixed set: counted as other
    plain.inc()
    for seconds in (0.05, 0.1, 0.5, 3.0):
        hist.observe(seconds)

    text = registry.render()

    assert text.splitlines()[:4] == [
        "# HELP demo_total Help with \\\\ and\\nnewline.",
        "# TYPE demo_total counter",
        'demo_total{kind="a"} 3',
        'demo_total{kind="other"} 1',
    ]
    assert "up" not in text
    assert "plain_total 1\n" in text
    assert "demo_gauge NaN\n" in text  # never set: not known
    gauge.set(4)
    assert "demo_gauge 4\n" in registry.render()
    assert "demo_computed 2.5\n" in text
    assert (
        "# TYPE demo_seconds histogram\n"
        'demo_seconds_bucket{le="0.1"} 2\n'
        'demo_seconds_bucket{le="1"} 3\n'
        'demo_seconds_bucket{le="+Inf"} 4\n'
        "demo_seconds_sum 3.65\n"
        "demo_seconds_count 4\n"
    ) in text
    assert computed.value() == 2.5
    check_exposition(text)


def test_the_registry_refuses_what_the_format_cannot_hold() -> None:
    with pytest.raises(ValueError, match="_total"):
        Counter("requests", "A counter without _total.")
    with pytest.raises(ValueError, match="metric name"):
        Gauge("bad-name", "Dash.")
    with pytest.raises(ValueError, match="fixed values"):
        Counter("x_total", "A label without values.", "kind")
    with pytest.raises(ValueError, match="never goes down"):
        Counter("y_total", "Down.").inc(amount=-1)
    with pytest.raises(ValueError, match="finite"):
        Histogram("h", "Inf.", (1.0, math.inf))
    registry = Registry()
    registry.add(Gauge("g", "Once."))
    with pytest.raises(ValueError, match="already"):
        registry.add(Gauge("g", "Twice."))


def test_the_bot_metrics_start_at_zero_with_every_label_shown() -> None:
    samples = check_exposition(BotMetrics().render())
    for kind in ("message", "command", "callback", "other"):
        assert samples[f'selvhjelp_updates_total{{kind="{kind}"}}'] == 0
    for outcome in ("answer", "suggest", "smalltalk", "unknown", "decline", "crisis"):
        assert samples[f'selvhjelp_answers_total{{outcome="{outcome}"}}'] == 0
    for kind in ("blocked", "rate_limited", "network", "server", "other"):
        assert samples[f'selvhjelp_send_errors_total{{kind="{kind}"}}'] == 0
    assert samples["selvhjelp_update_handling_seconds_count"] == 0
    assert samples["selvhjelp_bot_api_call_seconds_count"] == 0
    assert math.isnan(samples["selvhjelp_bot_api_last_ok_age_seconds"])


def test_updates_are_counted_by_kind_from_their_shape() -> None:
    from telegram import Update

    def kind(data: dict[str, Any]) -> str:
        return update_kind(Update.de_json(data, None))

    assert kind(message_update_json("hei")) == "message"
    assert kind(message_update_json("hei", edited=True)) == "message"
    assert kind(message_update_json(None, sticker=True)) == "message"
    assert kind(message_update_json("/start lyngen")) == "command"
    assert kind(callback_update_json("menu")) == "callback"
    assert kind({"update_id": 1}) == "other"


def test_api_calls_feed_the_outcomes_the_ages_and_the_latency() -> None:
    metrics = BotMetrics()
    now = [100.0]
    metrics.api_health.clock = lambda: now[0]
    metrics.api_health.reset()
    base = f"https://api.telegram.org/bot{TOKEN}"
    metrics.api_call(f"{base}/getUpdates", 200, 10.0)  # the long poll: no latency
    assert metrics.api_seconds.count == 0
    metrics.api_call(f"{base}/sendMessage", 200, 0.2)
    metrics.api_call(f"{base}/sendMessage", 403, 0.1)
    assert metrics.api_seconds.count == 2
    now[0] = 130.0
    assert metrics.api_health.last_ok_age() == 30.0
    assert metrics.api_health.failing_for() == 0.0  # a refusal is Telegram answering
    metrics.api_call(f"{base}/sendMessage", 502, 0.1)
    metrics.api_call(f"{base}/sendMessage", None, 5.0)
    now[0] = 160.0
    assert metrics.api_health.failing_for() == 60.0
    assert metrics.api_calls.value("ok") == 2
    assert metrics.api_calls.value("refused") == 1
    assert metrics.api_calls.value("server_error") == 1
    assert metrics.api_calls.value("network") == 1
    assert TOKEN not in metrics.render()


def test_send_failures_are_classified_by_kind() -> None:
    assert send_error_kind(RetryAfter(3)) == "rate_limited"
    assert send_error_kind(Forbidden("Forbidden: bot was blocked by the user")) == "blocked"
    assert send_error_kind(TimedOut()) == "network"
    unreachable = NetworkError("httpx.ConnectError: refused")
    unreachable.__cause__ = httpx.ConnectError("refused")  # as `raise ... from` chains it
    assert send_error_kind(unreachable) == "network"
    assert send_error_kind(NetworkError("Internal Server Error")) == "server"
    assert send_error_kind(ValueError("anything else")) == "other"


async def test_a_5xx_and_a_dead_address_are_told_apart_on_the_real_exception_chain() -> None:
    async with FakeTelegramServer(token=TOKEN) as server:

        def broken(call: Call) -> None:  # noqa: ARG001
            raise FakeApiError(500, "Internal Server Error")

        server.fake.send_hook = broken
        request = JsonRequest()
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as failed:
                await request.post(
                    f"{server.base_url}{TOKEN}/sendMessage",
                    RequestData([]),
                )
            assert send_error_kind(failed.value) == "server"
            free_port = server.base_url.split(":")[2].split("/")[0]
        finally:
            await request.shutdown()
    request = JsonRequest(connect_timeout=1.0)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as unreachable:  # the server is gone now
            await request.post(f"http://127.0.0.1:{free_port}/bot{TOKEN}/getMe", None)
        assert send_error_kind(unreachable.value) == "network"
    finally:
        await request.shutdown()
    assert METRICS.api_calls.value("server_error") == 1
    assert METRICS.api_calls.value("network") == 1


def test_the_oldest_pending_row_is_aged_from_when_it_was_first_seen() -> None:
    now = [0.0]
    age = OutboxAge(lambda: now[0])
    assert age.observe(None, None) is None
    assert age.observe(1, 10) == 0.0  # rows 1-10 pending at the first look
    now[0] = 10.0
    assert age.observe(1, 20) == 10.0  # rows 11-20 came meanwhile; row 1 still waits
    now[0] = 20.0
    assert age.observe(11, 20) == 10.0  # 1-10 sent: row 11 was first seen at 10
    now[0] = 30.0
    assert age.observe(21, 25) == 0.0  # everything older went out; 21-25 are new
    now[0] = 40.0
    assert age.observe(None, None) is None


# --- configuration ---------------------------------------------------------------------------


def test_health_settings_default_to_loopback_8081_and_the_environment_wins() -> None:
    config = parse_config(raw_config(), {}, "config.yaml")
    assert (config.health_listen, config.health_port) == ("127.0.0.1", 8081)
    bare = raw_config()
    del bare["health"]
    assert parse_config(bare, {}, "config.yaml").health_port == 8081
    off = parse_config(raw_config(listen="0.0.0.0", port=0), {}, "config.yaml")
    assert (off.health_listen, off.health_port) == ("0.0.0.0", 0)
    env = parse_config(raw_config(), {"SELVHJELP_HEALTH_PORT": "9100"}, "config.yaml")
    assert env.health_port == 9100
    assert parse_config(raw_config(), {"SELVHJELP_HEALTH_PORT": "0"}).health_port == 0


@pytest.mark.parametrize(
    ("health", "environ", "problem"),
    [
        ({"port": 70000}, {}, "health.port: expected a whole number from 0 to 65535"),
        ({"port": "8081"}, {}, "health.port: expected a whole number"),
        ({"listen": ""}, {}, "health.listen: expected a non-empty text"),
        ({"prot": 1}, {}, "health.prot: unknown key; did you mean port?"),
        ({}, {"SELVHJELP_HEALTH_PORT": "http"}, "SELVHJELP_HEALTH_PORT: expected a port"),
    ],
)
def test_bad_health_settings_are_one_clear_line(
    health: dict[str, Any], environ: dict[str, str], problem: str
) -> None:
    raw = raw_config()
    raw["health"] = {**raw["health"], **health}
    with pytest.raises(ConfigError) as failed:
        parse_config(raw, environ, "config.yaml")
    assert any(p.startswith(problem) for p in failed.value.problems), failed.value.problems


# --- the HTTP listener -----------------------------------------------------------------------


async def http(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One raw request; (status, headers, body) of the answer (the server closes after it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ")[1]), {k.lower(): v for k, v in headers.items()}, body


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


@pytest.fixture
async def health(services: Services) -> AsyncIterator[HealthServer]:
    server = HealthServer(services, limits=Limits(header_timeout=0.5, min_refresh=0.0))
    await server.start("127.0.0.1", None)  # None: a free port
    try:
        yield server
    finally:
        await server.stop()


async def test_healthz_readyz_and_metrics_answer_get(health: HealthServer) -> None:
    assert health.port
    status, headers, body = await http(health.port, get("/healthz"))
    assert (status, body) == (200, b"ok\n")
    assert headers["connection"] == "close"
    assert headers["cache-control"] == "no-store"

    METRICS.api_call("http://x/bot/getMe", 200, 0.1)
    status, headers, body = await http(health.port, get("/readyz?verbose=1"))
    assert status == 200
    assert headers["content-type"] == "application/json"
    report = json.loads(body)
    assert report["ready"] is True
    assert report["database"] == "ok"
    assert report["failing"] == []
    assert report["bot_api_last_ok_age_s"] >= 0
    assert report["outbox_oldest_pending_age_s"] is None  # nothing pending

    status, headers, body = await http(health.port, get("/metrics"))
    assert status == 200
    assert headers["content-type"] == CONTENT_TYPE
    assert int(headers["content-length"]) == len(body)
    samples = check_exposition(body.decode())
    assert samples["selvhjelp_database_up"] == 1
    assert samples["selvhjelp_registrations_waiting"] == 0
    assert samples["selvhjelp_outbox_pending"] == 0

    status, headers, body = await http(
        health.port, b"HEAD /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"
    )
    assert status == 200
    assert body == b""
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (get("/"), 404),
        (get("/metrics/../secret"), 404),
        (b"POST /metrics HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 405),
        (b"GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 400),
        (b"GET /metrics HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET /metrics HTTP/2.0\r\n\r\n", 400),
        (b"GET /metrics\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n", 431),
    ],
)
async def test_anything_else_is_refused_from_the_head_alone(
    health: HealthServer, request_bytes: bytes, status: int
) -> None:
    assert health.port
    got, headers, _ = await http(health.port, request_bytes)
    assert got == status
    if status == 405:
        assert headers["allow"] == "GET, HEAD"


async def test_a_slow_or_silent_client_is_cut_off(health: HealthServer) -> None:
    assert health.port
    status, _, _ = await http(health.port, b"GET /metr")  # never finishes its head
    assert status == 408
    # The listener still answers others.
    assert (await http(health.port, get("/healthz")))[0] == 200


async def test_held_connections_cannot_lock_out_a_health_check(services: Services) -> None:
    server = HealthServer(services, limits=Limits(max_connections=4, header_timeout=30))
    port = await server.start("127.0.0.1", None)
    try:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(8)]
        await asyncio.sleep(0.05)
        assert (await http(port, get("/healthz")))[0] == 200
        for _, writer in held:
            writer.close()
    finally:
        await server.stop()


async def test_start_health_is_off_at_port_0_and_survives_a_taken_port(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    import dataclasses

    services.config = dataclasses.replace(services.config, health_port=0)
    assert await start_health(services) is None
    blocker = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0)
    taken = int(blocker.sockets[0].getsockname()[1])
    try:
        services.config = dataclasses.replace(services.config, health_port=taken)
        assert await start_health(services) is None
        assert "health: cannot listen on 127.0.0.1 port" in caplog.text
    finally:
        blocker.close()
        await blocker.wait_closed()


# --- readiness -------------------------------------------------------------------------------


async def test_not_ready_when_the_database_does_not_answer(health: HealthServer) -> None:
    assert health.port
    await health.figures._storage.close()
    status, _, body = await http(health.port, get("/readyz"))
    assert status == 503
    report = json.loads(body)
    assert report["database"] == "error"
    assert report["failing"] == ["database"]
    status, _, body = await http(health.port, get("/metrics"))
    assert status == 200
    assert "selvhjelp_database_up 0\n" in body.decode()
    assert (await http(health.port, get("/healthz")))[0] == 200  # alive all the same


async def test_not_ready_while_the_bot_api_fails_or_the_outbox_is_stuck(
    services: Services,
) -> None:
    now = [1000.0]
    metrics = BotMetrics()
    metrics.api_health.clock = lambda: now[0]
    metrics.api_health.reset()
    figures = Figures(services, metrics, min_refresh=0.0, clock=lambda: now[0])
    metrics.api_call("http://x/bot/getUpdates", 200, 10.0)
    ready, report = await figures.readiness()
    assert ready, report

    metrics.api_call("http://x/bot/getUpdates", None, 10.0)  # Telegram unreachable
    now[0] += ops_health.BOT_API_MAX_FAILING_S - 1
    assert (await figures.readiness())[0]  # not for long enough yet
    now[0] += 2
    ready, report = await figures.readiness()
    assert not ready
    assert report["failing"] == ["bot_api"]
    assert report["bot_api_last_ok_age_s"] == ops_health.BOT_API_MAX_FAILING_S + 1
    metrics.api_call("http://x/bot/getUpdates", 200, 10.0)  # back
    assert (await figures.readiness())[0]

    key = services.user_key(RESIDENTS[0])
    chat = services.cipher.encrypt(RESIDENTS[0], key)
    await services.storage.enqueue("digest:1", [(key, chat, {"text": "x"})])
    ready, report = await figures.readiness()
    assert ready
    assert report["outbox_oldest_pending_age_s"] == 0.0
    now[0] += ops_health.OUTBOX_MAX_AGE_S + 1
    metrics.api_call("http://x/bot/getUpdates", 200, 10.0)
    ready, report = await figures.readiness()
    assert not ready
    assert report["failing"] == ["outbox"]
    assert report["outbox_oldest_pending_age_s"] == ops_health.OUTBOX_MAX_AGE_S + 1


# --- a journey through the real polling loop ------------------------------------------------


async def handled(count: int) -> None:
    """Wait (a few seconds at most) until `count` updates have been handled to the end."""
    for _ in range(500):
        if METRICS.update_seconds.count >= count:
            return
        await asyncio.sleep(0.01)
    pytest.fail(f"expected {count} updates handled, got {METRICS.update_seconds.count}")


async def test_metrics_after_a_journey_hold_counts_but_no_ids_keys_texts_or_places(
    tmp_path: Path,
    content: Content,
    faq_index: FaqIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bot.composition, "FaqIndex", lambda _content: faq_index)
    async with FakeTelegramServer(token=TOKEN) as server:
        environ = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "SELVHJELP_DATA_DIR": str(tmp_path),
        }
        config = parse_config(raw_config(), environ, str(CONFIG_PATH))
        services = await create_services(config, content=content)
        observe_replies(services)
        health = HealthServer(services, limits=Limits(min_refresh=0.0))
        port = await health.start("127.0.0.1", None)
        app = build_application(services)
        assert app.updater is not None
        try:
            async with app:
                await app.updater.start_polling(poll_interval=0.0, timeout=1)
                await app.start()
                first, second = RESIDENTS
                for update in (
                    message_update_json("/start", first),
                    message_update_json(QUESTION, first),
                    message_update_json(SECRET_WORDS, second),
                    message_update_json(CRISIS_WORDS, second),
                    callback_update_json("menu", first, message_id=2),
                ):
                    server.push_update(update)
                await handled(5)

                # One registration in a named place, and three sends that fail three ways.
                key = services.user_key(first)
                now = services.now()
                week = week_index(now, config.timezone)
                await services.storage.save_registration(
                    Registration(key, "Lyngen", "nord-norge", "open", "evening", True,
                                 int(now), int(now), int(now) + 86400 * 90, None),
                    week,
                )  # fmt: skip
                failures = {
                    first: FakeApiError(403, "Forbidden: bot was blocked by the user"),
                    second: FakeApiError(429, "Too Many Requests: retry after 1", retry_after=1),
                    5082736194: FakeApiError(500, "Internal Server Error"),
                }

                def refuse(call: Call) -> None:
                    error = failures.get(int(call.params["chat_id"]))
                    if error is not None:
                        raise error

                server.fake.send_hook = refuse
                rows = [
                    (services.user_key(uid), services.cipher.encrypt(uid, services.user_key(uid)),
                     {"text": f"{SECRET_WORDS} broadcast"})
                    for uid in failures
                ]  # fmt: skip
                await services.storage.enqueue("announcement:lyngen", rows)
                await Sender(services, max_attempts=1).send_due(app.bot)

                status, _, body = await http(port, get("/metrics"))
                await app.updater.stop()
                await app.stop()
        finally:
            await health.stop()
            await services.storage.close()

    assert status == 200
    text = body.decode()
    samples = check_exposition(text)
    # Counts of what happened...
    assert samples['selvhjelp_updates_total{kind="command"}'] == 1
    assert samples['selvhjelp_updates_total{kind="message"}'] == 3
    assert samples['selvhjelp_updates_total{kind="callback"}'] == 1
    assert samples["selvhjelp_update_handling_seconds_count"] == 5
    assert samples['selvhjelp_answers_total{outcome="answer"}'] >= 1
    assert samples['selvhjelp_answers_total{outcome="crisis"}'] == 1
    crisis_tiers = ("crisis", "check")
    assert sum(samples[f'selvhjelp_crisis_replies_total{{tier="{t}"}}'] for t in crisis_tiers) == 1
    # One registration: below privacy.min_count, so the total reads 0 (never a small count).
    assert samples["selvhjelp_registrations_waiting"] == 0
    assert samples["selvhjelp_outbox_pending"] == 1  # the flooded row waits for its retry
    assert samples['selvhjelp_send_errors_total{kind="blocked"}'] == 1
    assert samples['selvhjelp_send_errors_total{kind="rate_limited"}'] == 1
    assert samples['selvhjelp_send_errors_total{kind="server"}'] == 1
    assert samples['selvhjelp_bot_api_calls_total{outcome="ok"}'] >= 6
    assert samples["selvhjelp_bot_api_call_seconds_count"] >= 6
    assert samples["selvhjelp_bot_api_last_ok_age_seconds"] >= 0
    # ... and nothing about whom, what or where.
    forbidden = [TOKEN, TOKEN.split(":")[1], SECRET_WORDS, QUESTION, CRISIS_WORDS, "5082736194"]
    forbidden += [str(uid) for uid in RESIDENTS]
    forbidden += [services.user_key(uid) for uid in (*RESIDENTS, 5082736194)]
    forbidden += [word for word in SECRET_WORDS.split()]
    forbidden += ["Lyngen", "lyngen", "nord-norge", "announcement"]
    for thing in forbidden:
        assert thing not in text, thing


# --- attached to the running bot -------------------------------------------------------------


async def test_the_endpoint_runs_with_the_polling_runtime_and_stops_with_it(
    tmp_path: Path, content: Content
) -> None:
    from bot.lifecycle import BotRuntime

    async with FakeTelegramServer(token=TOKEN) as server:
        environ = {
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
        }
        config = parse_config(raw_config(), environ, str(CONFIG_PATH))
        runtime = BotRuntime(config, mode="polling", content=content, poll_timeout=1)
        attached = ops_health.attach(runtime, address=("127.0.0.1", None))
        assert attached.server is None  # nothing before the start
        async with runtime:
            assert attached.server is not None
            port = attached.server.port
            assert port
            server.push_update(message_update_json(QUESTION, RESIDENTS[0]))
            await handled(1)
            status, _, body = await http(port, get("/readyz"))
            assert status == 200, body
            status, _, body = await http(port, get("/metrics"))
            samples = check_exposition(body.decode())
            assert samples['selvhjelp_answers_total{outcome="answer"}'] == 1
        assert attached.server is None
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", port)


async def test_python_m_bot_run_serves_health_on_the_configured_port(tmp_path: Path) -> None:
    """The production wiring (bot/cli.py run_telegram): the port from SELVHJELP_HEALTH_PORT."""
    import os
    import signal
    import socket
    import sys

    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    async with FakeTelegramServer(token=TOKEN) as server:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE_URL": server.base_url,
            "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
            "SELVHJELP_HEALTH_PORT": str(port),
        }
        bot_process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(CONFIG_PATH), "run",
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            status = None
            for _ in range(300):  # start-up takes a few seconds (content, indexes, key)
                try:
                    status, _, body = await http(port, get("/readyz"))
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            assert status == 200
            assert json.loads(body)["database"] == "ok"
            assert (await http(port, get("/healthz")))[:3:2] == (200, b"ok\n")
        finally:
            bot_process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot_process.communicate(), 30)
    assert bot_process.returncode == 0, stderr.decode()
    assert f"health: listening on 127.0.0.1 port {port}" in stderr.decode()
