"""The health endpoint: liveness, readiness and metrics over plain HTTP on 127.0.0.1.

GET /healthz  200 "ok": the process and its event loop are alive.
GET /readyz   200 or 503 with a small JSON of checks: the database answers, the Bot API has not
              been failing for long, and the oldest pending outbox message is not too old.
GET /metrics  the Prometheus text format (bot/ops/metrics.py): counts, durations, ages only.

Like the webhook listener (bot/botapi/webhook.py), it is our own small asyncio server with
limits nobody can stretch: the request head must arrive within `header_timeout` and fit in
`max_header_bytes`; only GET (and HEAD) without a body, on these three paths; one request per
connection; at most `max_connections` at once (a new one evicts the oldest). The database is
read at most once a `min_refresh` (two COUNT-style queries' worth, by one statement), however
often it is scraped. Config `health.listen` (default 127.0.0.1) and `health.port` (default
8081, 0 = off; env SELVHJELP_HEALTH_PORT).

The outbox keeps no time of enqueueing (its schema is unchanged), so the oldest pending row's
age is counted from when this process first saw a pending row with that id or a higher one: it
samples the outbox every `sample_every` seconds. After a restart, rows already pending count
from the start (a lower bound).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.botapi.http_head import parse_head
from bot.ops.hooks import observe_replies
from bot.ops.metrics import CONTENT_TYPE, METRICS, BotMetrics
from bot.services import Services
from bot.task_control import cancel_and_wait

if TYPE_CHECKING:
    from bot.lifecycle import BotRuntime

log = logging.getLogger(__name__)

# Readiness: not ready once Bot API calls have failed (5xx or no answer) without a success for
# this long, or once a message has been pending this long. A digest or an announcement to
# 10,000 people takes about 7 minutes at the default 25 messages a second (docs/CAPACITY.md),
# so half an hour of waiting means the queue is stuck, not busy.
BOT_API_MAX_FAILING_S = 180.0
OUTBOX_MAX_AGE_S = 1800.0
DATABASE_TIMEOUT_S = 5.0
MAX_SEEN_MARKS = 4096

_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Limits:
    """Sizes in bytes, times in seconds."""

    max_header_bytes: int = 8 * 1024
    header_timeout: float = 5.0
    write_timeout: float = 5.0
    linger_seconds: float = 1.0  # after a refusal, unread bytes are discarded this long
    max_connections: int = 32
    min_refresh: float = 1.0  # read the database at most this often
    sample_every: float = 10.0  # sample the outbox this often (for the oldest row's age)


class OutboxAge:
    """The age of the oldest pending outbox row, from samples of (lowest, highest) pending id.

    Row ids only grow, so the oldest pending row is the lowest pending id, and it was enqueued
    no later than the first sample whose highest pending id reached it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._marks: deque[tuple[float, int]] = deque()  # (first seen, highest pending id then)

    def observe(self, lowest: int | None, highest: int | None) -> float | None:
        """Record a sample; the oldest pending row's age in seconds (None: nothing pending)."""
        now = self._clock()
        if lowest is None or highest is None:
            self._marks.clear()
            return None
        if not self._marks or highest > self._marks[-1][1]:
            self._marks.append((now, highest))
            if len(self._marks) > MAX_SEEN_MARKS:
                self._marks.popleft()
        while len(self._marks) > 1 and self._marks[0][1] < lowest:
            self._marks.popleft()
        return max(0.0, now - self._marks[0][0])


class Figures:
    """What /readyz and /metrics read from the database, refreshed at most every
    `min_refresh` seconds, and the readiness verdict."""

    def __init__(
        self,
        services: Services,
        metrics: BotMetrics = METRICS,
        *,
        min_refresh: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._storage = services.storage
        self._min_count = services.config.min_count
        self._metrics = metrics
        self._min_refresh = min_refresh
        self._clock = clock
        self._refreshed: float | None = None
        self._lock = asyncio.Lock()
        self.outbox_age = OutboxAge(clock)
        self._checked = False
        self.database_ok = False
        self.oldest_pending_age: float | None = None

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock:
            now = self._clock()
            if (
                not force
                and self._refreshed is not None
                and now - self._refreshed < self._min_refresh
            ):
                return
            self._refreshed = now
            m = self._metrics
            try:
                held, pending, lowest, highest = await asyncio.wait_for(
                    self._storage.health_counts(), DATABASE_TIMEOUT_S
                )
            except Exception as exc:  # closed, locked, disk trouble: not ready, and say so
                if self.database_ok or not self._checked:
                    log.warning("health: database check failed (%s)", type(exc).__name__)
                self._checked = True
                self.database_ok = False
                m.database_up.set(0)
                return
            self._checked = True
            self.database_ok = True
            m.database_up.set(1)
            # A total is a place's count where a deployment covers one place: below the
            # suppression threshold it reads 0, as a digest would say "fewer than N".
            m.registrations_waiting.set(held if held >= self._min_count else 0)
            m.outbox_pending.set(pending)
            self.oldest_pending_age = self.outbox_age.observe(lowest, highest)
            m.outbox_oldest_age.set(self.oldest_pending_age or 0.0)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        await self.refresh()
        api = self._metrics.api_health
        last_ok_age = api.last_ok_age()
        failing = []
        if not self.database_ok:
            failing.append("database")
        if api.failing_for() > BOT_API_MAX_FAILING_S:
            failing.append("bot_api")
        if (self.oldest_pending_age or 0.0) > OUTBOX_MAX_AGE_S:
            failing.append("outbox")
        report = {
            "ready": not failing,
            "database": "ok" if self.database_ok else "error",
            "bot_api_last_ok_age_s": _rounded(last_ok_age),
            "outbox_oldest_pending_age_s": _rounded(self.oldest_pending_age),
            "failing": failing,
        }
        return not failing, report


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 1)


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    head_only: bool = False  # HEAD: the headers GET would get, no body


class HealthServer:
    """Serves /healthz, /readyz and /metrics on one address until stopped."""

    def __init__(
        self,
        services: Services,
        metrics: BotMetrics = METRICS,
        *,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.metrics = metrics
        self.figures = Figures(services, metrics, min_refresh=self.limits.min_refresh)
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._connections: dict[asyncio.StreamWriter, asyncio.Task[Any] | None] = {}

    async def start(self, host: str = "127.0.0.1", port: int | None = None) -> int:
        """Listen on host:port (None: a free port, for tests); returns the port."""
        if self._server is not None:
            raise RuntimeError("the health server is already started")
        self._server = await asyncio.start_server(
            self._accept, host, 0 if port is None else port, limit=self.limits.max_header_bytes
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        self._sampler = asyncio.create_task(self._sample())
        return self.port

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [t for t in self._connections.values() if t is not None]
        if self._sampler is not None:
            tasks.append(self._sampler)
        for writer in list(self._connections):
            writer.transport.abort()
        await cancel_and_wait(tasks)  # a plain gather can hang on 3.11 (see bot/task_control.py)
        await server.wait_closed()

    async def _sample(self) -> None:
        """Look at the outbox now and then, so the oldest row's age holds between scrapes."""
        while True:
            with contextlib.suppress(Exception):
                await self.figures.refresh()
            await asyncio.sleep(self.limits.sample_every)

    # --- connections -----------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= self.limits.max_connections:
            oldest = next(iter(self._connections))
            task = self._connections.pop(oldest)
            oldest.transport.abort()
            if task is not None:
                task.cancel()
        self._connections[writer] = asyncio.current_task()
        try:
            response = await self._read(reader)
            await self._respond(writer, response)
            if response.status >= 400:
                await self._linger(reader, writer)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass  # gone, too slow, evicted, or the server stops
        finally:
            self._connections.pop(writer, None)
            writer.close()

    async def _linger(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Close after a refusal without a reset: what the client still sends is read and
        dropped for a moment (never kept), so it can read the answer."""
        if writer.can_write_eof():
            writer.write_eof()
        deadline = time.monotonic() + self.limits.linger_seconds
        with contextlib.suppress(TimeoutError, ConnectionError):
            while (remaining := deadline - time.monotonic()) > 0:
                if not await asyncio.wait_for(reader.read(64 * 1024), remaining):
                    break

    async def _read(self, reader: asyncio.StreamReader) -> _Response:
        try:
            head = await asyncio.wait_for(
                reader.readuntil(b"\r\n\r\n"), self.limits.header_timeout
            )
        except asyncio.IncompleteReadError as exc:
            raise ConnectionError from exc
        except TimeoutError:
            return _Response(408)
        except asyncio.LimitOverrunError:
            return _Response(431)
        try:
            method, path = _check_head(head)
        except _Refused as refused:
            return _Response(refused.status)
        response = await self._answer(path)
        response.head_only = method == "HEAD"
        return response

    async def _answer(self, path: str) -> _Response:
        if path == "/healthz":
            return _Response(200, b"ok\n")
        if path == "/readyz":
            ready, report = await self.figures.readiness()
            body = (json.dumps(report, separators=(",", ":")) + "\n").encode()
            return _Response(200 if ready else 503, body, "application/json")
        if path == "/metrics":
            await self.figures.refresh()
            return _Response(200, self.metrics.render().encode(), CONTENT_TYPE)
        return _Response(404, b"not found\n")

    async def _respond(self, writer: asyncio.StreamWriter, response: _Response) -> None:
        status = response.status
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            "Cache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            + ("Allow: GET, HEAD\r\n" if status == 405 else "")
            + "Connection: close\r\n\r\n"
        )
        writer.write(head.encode("ascii") + (b"" if response.head_only else response.body))
        await asyncio.wait_for(writer.drain(), self.limits.write_timeout)


ROUTES = ("/healthz", "/readyz", "/metrics")


def _check_head(head: bytes) -> tuple[str, str]:
    """(method, path) of a request we answer, from its head alone; _Refused otherwise."""
    parsed = parse_head(head)
    if parsed is None:
        raise _Refused(400)  # malformed, or a repeated header
    method, target, _version, headers = parsed
    path = target.split(b"?", 1)[0].decode("latin-1")
    if path not in ROUTES:
        raise _Refused(404)
    if method not in (b"GET", b"HEAD"):
        raise _Refused(405)
    if "transfer-encoding" in headers or headers.get("content-length", "0") != "0":
        raise _Refused(400)  # nothing here takes a body
    return method.decode("ascii"), path


async def start_health(
    services: Services,
    metrics: BotMetrics = METRICS,
    *,
    limits: Limits | None = None,
    address: tuple[str, int | None] | None = None,
) -> HealthServer | None:
    """The running bot's health endpoint, on config health.listen / health.port (or `address`;
    port None: a free one); None when the port is 0 (off) or cannot be had (logged: the bot runs
    on without it). Also counts every reply decision from here on."""
    config = services.config
    observe_replies(services, metrics)
    host, port = address or (config.health_listen, config.health_port)
    if port == 0:
        return None
    server = HealthServer(services, metrics, limits=limits)
    try:
        bound = await server.start(host, port)
    except OSError as exc:
        log.error(
            "health: cannot listen on %s port %s (%s); running without the health endpoint",
            host,
            port,
            exc.strerror or type(exc).__name__,
        )
        return None
    log.info("health: listening on %s port %d (/healthz, /readyz, /metrics)", host, bound)
    return server


@dataclass
class Attached:
    """The health endpoint `attach` serves while its runtime runs (None: off or not yet)."""

    server: HealthServer | None = None


def attach(runtime: BotRuntime, *, address: tuple[str, int | None] | None = None) -> Attached:
    """Serve the health endpoint while `runtime` runs (bot/lifecycle.py hooks): started once
    the bot is, stopped first when it stops. For polling and webhook mode. `address`: instead
    of config health.listen / health.port (tests: ("127.0.0.1", None), a free port)."""
    attached = Attached()

    async def started(rt: BotRuntime) -> None:
        assert rt.services is not None  # created by the time on_started hooks run
        attached.server = await start_health(rt.services, address=address)

    async def stopping(_rt: BotRuntime) -> None:
        server, attached.server = attached.server, None
        if server is not None:
            await server.stop()

    runtime.on_started.append(started)
    runtime.on_stopping.append(stopping)
    return attached
