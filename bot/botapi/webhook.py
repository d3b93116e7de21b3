"""Webhook mode: Telegram's POSTs taken in by a small listener with limits nobody can stretch.

python-telegram-bot's own webhook server (tornado, an optional extra) reads a whole request body
(up to 100 MB) before it checks the secret token, keeps slow requests open without limit and
accepts connections until the process runs out of file descriptors, after which Telegram's own
calls and the bot's outgoing Bot API calls fail. This listener, on asyncio streams (standard
library only), instead:

- reads the request line and headers within `header_timeout` (a deadline for the whole head,
  so a client trickling bytes is cut off) and at most `max_header_bytes`;
- answers 404/405/403 from the headers alone: the secret token
  (X-Telegram-Bot-Api-Secret-Token, compared in constant time) is checked before a single body
  byte is read, and a refused connection is closed (its unread body discarded for at most
  `linger_seconds`, never stored, so the client can read the answer);
- requires a Content-Length of at most `max_body_bytes` (Telegram's updates are a few KiB):
  413 otherwise, 411 without one (no chunked bodies); reads the body within `body_timeout`;
- keeps at most `max_connections` connections: a new one evicts the oldest connection that has
  not shown the secret (or the oldest idle one), so held-open connections cannot exhaust file
  descriptors or keep Telegram out;
- answers an update it cannot parse (200, so Telegram does not resend it) and logs only
  "webhook: bad update ignored" with a count, never the body.

Deploy it on 127.0.0.1 behind a TLS reverse proxy (README: "Webhook mode").
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field

from telegram import Bot, Update
from telegram.ext import Application, ExtBot

from bot.botapi.http_head import parse_head
from bot.config import Webhook
from bot.task_control import cancel_and_wait

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
# Connections Telegram may open to us at once (setWebhook max_connections, Telegram's default);
# well below our own cap, so an attacker's connections are always the ones evicted.
TELEGRAM_MAX_CONNECTIONS = 40


@dataclass(frozen=True)
class Limits:
    """Sizes in bytes, times in seconds."""

    max_header_bytes: int = 16 * 1024
    max_body_bytes: int = 1024 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 10.0
    idle_timeout: float = 60.0  # between requests on a kept-alive, authenticated connection
    write_timeout: float = 10.0
    linger_seconds: float = 2.0
    max_connections: int = 128


_REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    411: "Length Required",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    431: "Request Header Fields Too Large",
    503: "Service Unavailable",
}


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


@dataclass(eq=False)
class _Connection:
    writer: asyncio.StreamWriter
    since: float
    task: asyncio.Task[None] | None = None
    trusted: bool = False  # has shown the secret token
    busy: bool = False  # an authenticated request is being read or answered

    def eviction_order(self) -> tuple[bool, float]:
        return (self.trusted, self.since)


@dataclass
class WebhookStats:
    """What the listener did, by kind (for tests and the bad-update count in the log)."""

    counts: Counter[str] = field(default_factory=Counter)


class WebhookServer:
    """Listens on one address and puts each valid update on `update_queue`."""

    def __init__(
        self,
        bot: Bot,
        update_queue: asyncio.Queue[object],
        secret_token: str,
        *,
        path: str = WEBHOOK_PATH,
        limits: Limits | None = None,
    ) -> None:
        if not secret_token:
            raise ValueError("the webhook needs a secret token")
        self.bot = bot
        self.update_queue = update_queue
        self._secret = secret_token.encode("ascii")
        self.path = path
        self.limits = limits or Limits()
        self.stats = WebhookStats()
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.StreamWriter, _Connection] = {}

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 picks a free port); returns the port."""
        if self._server is not None:
            raise RuntimeError("the webhook server is already started")
        self._server = await asyncio.start_server(
            self._accept, host, port, limit=self.limits.max_header_bytes
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        tasks = [c.task for c in self._connections.values() if c.task is not None]
        for conn in list(self._connections.values()):
            conn.writer.transport.abort()
        await cancel_and_wait(tasks)  # a plain gather can hang on 3.11 (see bot/task_control.py)
        await server.wait_closed()

    # --- connections -----------------------------------------------------------------------

    def _make_room(self) -> bool:
        """At the cap, evict one connection that is not serving Telegram; False if none."""
        if len(self._connections) < self.limits.max_connections:
            return True
        idle = [c for c in self._connections.values() if not c.busy]
        if not idle:
            return False
        victim = min(idle, key=_Connection.eviction_order)
        self._drop(victim)
        self.stats.counts["evicted"] += 1
        return True

    def _drop(self, conn: _Connection) -> None:
        self._connections.pop(conn.writer, None)
        conn.writer.transport.abort()  # frees the descriptor now
        if conn.task is not None and conn.task is not asyncio.current_task():
            conn.task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._make_room():
            self.stats.counts["refused_full"] += 1
            writer.transport.abort()
            return
        conn = _Connection(writer, time.monotonic(), asyncio.current_task())
        self._connections[writer] = conn
        try:
            await self._serve(reader, conn)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or was too slow
        except asyncio.CancelledError:
            pass  # evicted, or the server stops
        finally:
            self._connections.pop(writer, None)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        limits = self.limits
        first = True
        while True:
            conn.busy = False
            conn.since = time.monotonic()
            wait = limits.header_timeout if first or not conn.trusted else limits.idle_timeout
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait)
            except asyncio.IncompleteReadError:
                return  # closed between requests
            except TimeoutError:
                self.stats.counts["header_timeout"] += 1
                return
            except asyncio.LimitOverrunError:
                await self._refuse(reader, conn, 431)
                return
            first = False
            try:
                length, keep_alive = self._check_head(head, conn)
            except _Refused as refused:
                await self._refuse(reader, conn, refused.status)
                return
            conn.busy = True
            try:
                body = await asyncio.wait_for(reader.readexactly(length), limits.body_timeout)
            except TimeoutError:
                self.stats.counts["body_timeout"] += 1
                await self._respond(conn, 408, keep_alive=False)
                return
            status = await self._deliver(body)
            await self._respond(conn, status, keep_alive=keep_alive)
            if not keep_alive:
                return

    def _check_head(self, head: bytes, conn: _Connection) -> tuple[int, bool]:
        """The request's verdict from its headers alone: (body length, keep-alive)."""
        parsed = parse_head(head)
        if parsed is None:
            raise _Refused(400)  # malformed, or a repeated header (smuggling)
        method, target, version, headers = parsed
        if target.split(b"?", 1)[0].rstrip(b"/") != self.path.encode("ascii").rstrip(b"/"):
            raise _Refused(404)
        if method != b"POST":
            raise _Refused(405)
        token = headers.get(SECRET_HEADER, "").encode("latin-1")
        if not hmac.compare_digest(token, self._secret):
            raise _Refused(403)
        conn.trusted = True
        if "transfer-encoding" in headers or "content-length" not in headers:
            raise _Refused(411)
        raw_length = headers["content-length"]
        if not raw_length.isdigit() or len(raw_length) > 12:
            raise _Refused(400)
        length = int(raw_length)
        if length > self.limits.max_body_bytes:
            raise _Refused(413)
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise _Refused(415)
        connection = headers.get("connection", "").lower()
        if version == b"HTTP/1.1":
            keep_alive = connection != "close"
        else:
            keep_alive = connection == "keep-alive"
        return length, keep_alive

    async def _deliver(self, body: bytes) -> int:
        """Parse the update and queue it; a bad one is counted, never logged."""
        try:
            data = json.loads(body)
        except ValueError:
            self._bad_update()
            return 400
        try:
            if not isinstance(data, dict):
                raise TypeError
            update = Update.de_json(data, self.bot)
        except Exception:
            self._bad_update()
            return 200  # answered, so Telegram does not send it again and again
        self.stats.counts["updates"] += 1
        if isinstance(self.bot, ExtBot):
            self.bot.insert_callback_data(update)
        await self.update_queue.put(update)
        return 200

    def _bad_update(self) -> None:
        self.stats.counts["bad_update"] += 1
        log.warning("webhook: bad update ignored (%d so far)", self.stats.counts["bad_update"])

    async def _respond(self, conn: _Connection, status: int, *, keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
            "Content-Length: 0\r\n"
            + ("Allow: POST\r\n" if status == 405 else "")
            + f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        )
        conn.writer.write(head.encode("ascii"))
        await asyncio.wait_for(conn.writer.drain(), self.limits.write_timeout)

    async def _refuse(self, reader: asyncio.StreamReader, conn: _Connection, status: int) -> None:
        """Answer from the headers, then close; an unread body is discarded for a moment so
        the client can read the answer (a lingering close), never stored or parsed."""
        self.stats.counts[f"refused_{status}"] += 1
        log.debug("webhook: request refused (%d)", status)
        conn.busy = False
        conn.trusted = False
        conn.since = time.monotonic()
        await self._respond(conn, status, keep_alive=False)
        if conn.writer.can_write_eof():
            conn.writer.write_eof()
        deadline = time.monotonic() + self.limits.linger_seconds
        with contextlib.suppress(TimeoutError, ConnectionError):
            while (remaining := deadline - time.monotonic()) > 0:
                chunk = await asyncio.wait_for(reader.read(64 * 1024), remaining)
                if not chunk:
                    break


async def open_webhook(app: Application, settings: Webhook, server: WebhookServer) -> int:
    """Listen on settings.listen:port, then register the webhook with Telegram (the secret
    token, every update type); returns the port. The start-up around it (initialize, post-init,
    app.start, and the reverse) is bot/lifecycle.py's, as for polling."""
    if not settings.secret_token:
        raise ValueError("webhook mode needs TELEGRAM_WEBHOOK_SECRET")
    port = await server.start(settings.listen, settings.port)
    await app.bot.set_webhook(
        url=settings.public_url,
        secret_token=settings.secret_token,
        allowed_updates=Update.ALL_TYPES,
        max_connections=TELEGRAM_MAX_CONNECTIONS,
    )
    log.info("webhook: listening on %s port %d", settings.listen, port)
    return port
