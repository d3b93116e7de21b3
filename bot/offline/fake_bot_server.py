"""The fake Telegram Bot API (bot.offline.fake_bot_api.FakeTelegram) served over HTTP on 127.0.0.1.

python-telegram-bot's real `HTTPXRequest` and polling loop (`app.updater.start_polling`) talk to
it exactly as they talk to Telegram: `POST /bot<token>/<method>` with form-encoded parameters
(values JSON-encoded, plain strings as they are) or multipart/form-data for uploads, answered
with `{"ok": true, "result": ...}` or Telegram's error JSON. Updates are queued with
`push_update` and handed out by `getUpdates` with Telegram's `offset`/`limit`/`timeout`
long-poll semantics.

Standard library only: a small HTTP/1.1 server on asyncio streams with keep-alive. It runs on
the event loop that calls `start()`; call `push_update` from that loop's thread.

    server = FakeTelegramServer()
    base_url = await server.start()          # "http://127.0.0.1:PORT/bot"
    server.push_update(message_update_json("hei", 1001))
    ...
    await server.stop()

Faults (for tests and bench/faults.py), switchable at run time from the same loop:

    server.inject(Fault("down", seconds=30))      # refuse connections for 30 s
    server.inject(Fault("close"))                 # accept, read the request, hang up, until heal()
    server.inject(Fault("status", status=502))    # answer 502 to every call
    server.inject(Fault("flood", retry_after=3))  # answer 429 with retry_after 3
    server.inject(Fault("hang", hang=30))         # no answer for 30 s (past the client timeout)
    server.heal()                                 # healthy again (also when `seconds` pass)
    await server.listening()                      # after "down": until it listens again

`methods` limits a fault to some Bot API methods (e.g. {"sendMessage"}), `share` to a share of
the calls (every call whose running number falls in it, deterministically). A faulted call is
never executed, except a "hang" with `served=True`, which executes it and then withholds the
answer (a reply delivered that the client never hears about). `faulted` counts faulted calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import json
import logging
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from bot.offline.fake_bot_api import FakeApiError, FakeTelegram, error_payload

log = logging.getLogger(__name__)

HOST = "127.0.0.1"  # never anything else: the fake is for this machine only
MAX_UPDATES_PER_CALL = 100  # Telegram's own cap on getUpdates' `limit`
MAX_LONG_POLL_SECONDS = 50.0  # ... and a sane cap on its `timeout`
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 60 * 1024 * 1024

# Parameters Telegram types as strings. python-telegram-bot sends every other value
# JSON-encoded but these as they are, so "123" or "true" typed by a person stays text.
STRING_PARAMETERS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "language_code",
        "url",
        "secret_token",
        "ip_address",
        "description",
        "short_description",
        "name",
        "title",
        "emoji",
        "action",
        "business_connection_id",
        "message_effect_id",
        "query",
        "file_id",
        "sticker",
        "custom_emoji_id",
    }
)

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

FAULT_KINDS = ("down", "close", "status", "flood", "hang")


@dataclass(frozen=True)
class Fault:
    """One way of being unwell; see the module docstring."""

    kind: str
    seconds: float | None = None  # None: until heal()
    status: int = 500  # "status": the HTTP status answered
    retry_after: int = 1  # "flood": Telegram's parameters.retry_after
    hang: float = 60.0  # "hang": seconds before the connection is dropped unanswered
    served: bool = False  # "hang": execute the call before withholding the answer
    methods: frozenset[str] | None = None  # None: every method (getUpdates included)
    share: float = 1.0  # of the calls it applies to, this share is faulted

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if not 0.0 <= self.share <= 1.0:
            raise ValueError("share must be between 0 and 1")


class _Hangup(Exception):
    """Drop the connection without an answer (a "close" or "hang" fault)."""


class _BadHttp(Exception):
    """The client sent something that is not the HTTP this server speaks."""


def decode_value(name: str, raw: str) -> Any:
    """A parameter as python-telegram-bot meant it: JSON-decoded unless Telegram types it str."""
    if name in STRING_PARAMETERS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # e.g. chat_id "@channelname"


def parse_form(body: bytes) -> dict[str, Any]:
    """application/x-www-form-urlencoded parameters, decoded."""
    pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    return {name: decode_value(name, value) for name, value in pairs}


def parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    """multipart/form-data parameters; an uploaded file becomes
    {"filename": ..., "content_type": ..., "content": bytes}."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise _BadHttp("multipart body without parts")
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        content = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": content,
            }
        else:
            charset = part.get_content_charset() or "utf-8"
            params[name] = decode_value(name, content.decode(charset))
    return params


def _response(status: int, payload: dict[str, Any], keep_alive: bool) -> bytes:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
    )
    return head.encode("latin-1") + body


class FakeTelegramServer:
    """Serves a FakeTelegram over HTTP on 127.0.0.1, with a getUpdates queue."""

    def __init__(
        self, fake: FakeTelegram | None = None, token: str | None = None, latency: float = 0.0
    ) -> None:
        self.fake = fake or FakeTelegram()
        # When set, any other token in the URL is answered 401 as Telegram does.
        self.token = token
        # Seconds each Bot API answer takes, like the round trip to Telegram: half before the
        # method runs, half after, so a client that dies mid-request may or may not have been
        # served (what a sending queue must cope with). getUpdates' long poll is not delayed.
        self.latency = latency
        self._pending: deque[dict[str, Any]] = deque()
        self._last_update_id = 0
        self._new_updates: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port: int | None = None
        self.requests = 0  # HTTP requests answered, getUpdates included
        # (method, body content type) of every call, to check how a client encodes its calls.
        self.encodings: Counter[tuple[str, str]] = Counter()
        self.fault: Fault | None = None
        self._fault_until: float | None = None  # loop time when the fault heals by itself
        self._fault_calls = 0  # calls the current fault applied to (for `share`)
        self._reopen: asyncio.TimerHandle | None = None
        self._relistening: asyncio.Future[asyncio.Server] | None = None
        self._listen_port = 0
        self.faulted: Counter[str] = Counter()  # fault kind -> calls faulted (refusals: "down")
        # The highest update id a getUpdates offset has confirmed (the client has it).
        self.confirmed_offset = 0

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The `base_url` for python-telegram-bot (the token is appended to it)."""
        if self.port is None:
            raise RuntimeError("the fake server is not started")
        return f"http://{HOST}:{self.port}/bot"

    @property
    def file_base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the fake server is not started")
        return f"http://{HOST}:{self.port}/file/bot"

    async def start(self, port: int = 0) -> str:
        """Listen on 127.0.0.1 (`port` 0 picks a free one); returns the base URL."""
        if self._server is not None:
            raise RuntimeError("the fake server is already started")
        self._new_updates = asyncio.Event()
        self._server = await self._listen(port)
        self.port = self._listen_port = int(self._server.sockets[0].getsockname()[1])
        return self.base_url

    async def _listen(self, port: int) -> asyncio.Server:
        return await asyncio.start_server(
            self._serve_connection, HOST, port, limit=MAX_HEADER_BYTES, reuse_address=True
        )

    async def stop(self) -> None:
        """Stop listening and drop every open connection (waiting long polls included)."""
        self.fault = None
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        await server.wait_closed()
        self.port = None

    async def __aenter__(self) -> FakeTelegramServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- faults ----------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Be unwell from now on (replacing any fault already injected), for `fault.seconds`
        or until heal(). "down" closes the listening socket and every open connection (parked
        long polls included), so new connections are refused until it is reopened."""
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        self.heal()
        loop = asyncio.get_running_loop()
        self.fault = fault
        self._fault_calls = 0
        self._fault_until = None if fault.seconds is None else loop.time() + fault.seconds
        if fault.kind == "down":
            self._server.close()  # stops listening now; connections are dropped below
            for task in list(self._connections):
                task.cancel()
            if fault.seconds is not None:
                self._reopen = loop.call_later(fault.seconds, self.heal)
        elif fault.seconds is not None:
            self._reopen = loop.call_later(fault.seconds, self._expire, fault)
        log.info("fake Bot API: fault %s injected", fault.kind)

    def heal(self) -> None:
        """Healthy again: stop faulting and, after "down", listen again on the same port."""
        if self._reopen is not None:
            self._reopen.cancel()
            self._reopen = None
        fault, self.fault = self.fault, None
        if fault is not None and fault.kind == "down" and self._server is not None:
            listening = asyncio.ensure_future(self._listen(self._listen_port))
            listening.add_done_callback(self._listening)
            self._relistening = listening
        if fault is not None:
            log.info("fake Bot API: fault %s healed", fault.kind)

    async def listening(self) -> None:
        """Wait until the socket listens again after a "down" fault healed (a moment)."""
        if self._relistening is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._relistening)

    def _listening(self, task: asyncio.Future[asyncio.Server]) -> None:
        if task.cancelled() or task.exception() is not None:
            log.error("fake Bot API: could not listen again after a 'down' fault")
            return
        server = task.result()
        if self._server is None:  # stopped meanwhile
            server.close()
            return
        self._server = server

    def _expire(self, fault: Fault) -> None:
        if self.fault is fault:
            self.heal()

    @property
    def is_down(self) -> bool:
        return self.fault is not None and self.fault.kind == "down"

    def _fault_for(self, method: str) -> Fault | None:
        """The fault this call meets, if any."""
        fault = self.fault
        if fault is None or fault.kind == "down":
            return None
        if fault.methods is not None and method not in fault.methods:
            return None
        self._fault_calls += 1
        # Deterministic share: fault the call whenever the running count crosses a multiple.
        if int(self._fault_calls * fault.share) == int((self._fault_calls - 1) * fault.share):
            return None
        self.faulted[fault.kind] += 1
        return fault

    async def _faulted_answer(
        self, fault: Fault, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """What a faulted call gets; raises _Hangup for no answer at all."""
        if fault.kind == "status":
            description = _REASONS.get(fault.status, "Error")
            return fault.status, {
                "ok": False,
                "error_code": fault.status,
                "description": description,
            }
        if fault.kind == "flood":
            error = FakeApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                retry_after=fault.retry_after,
            )
            return 429, error_payload(error)
        if fault.kind == "hang":
            if fault.served:
                await self._call(method, params)
            await asyncio.sleep(fault.hang)
        raise _Hangup

    # --- updates ---------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update (its JSON, as Telegram sends it) for getUpdates; returns its id.

        Telegram's update ids only grow; an update without one gets the next id.
        """
        update_id = update.get("update_id")
        if update_id is None:
            update = {**update, "update_id": self._last_update_id + 1}
            update_id = self._last_update_id + 1
        if not isinstance(update_id, int) or update_id <= self._last_update_id:
            raise ValueError(
                f"update_id {update_id!r} must be an int above the last one "
                f"({self._last_update_id}), as Telegram's are"
            )
        self._last_update_id = update_id
        self._pending.append(update)
        if self._new_updates is not None:
            self._new_updates.set()
        return update_id

    def push_updates(self, updates: Iterable[dict[str, Any]]) -> None:
        for update in updates:
            self.push_update(update)

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by a later getUpdates offset."""
        return len(self._pending)

    def _confirm(self, offset: int) -> None:
        if offset < 0:  # Telegram: only the last -offset updates stay
            while len(self._pending) > -offset:
                self._pending.popleft()
            return
        while self._pending and self._pending[0]["update_id"] < offset:
            self._pending.popleft()

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Telegram's getUpdates: confirm below `offset`, return at once if anything is
        pending, else wait up to `timeout` seconds for the first new update."""
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or MAX_UPDATES_PER_CALL), 100))
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_LONG_POLL_SECONDS)
        if offset:
            self._confirm(offset)
            self.confirmed_offset = max(self.confirmed_offset, offset - 1)
        deadline = time.monotonic() + timeout
        while not self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._new_updates is None:
                return []
            self._new_updates.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_updates.wait(), remaining)
        return [self._pending[i] for i in range(min(limit, len(self._pending)))]

    # --- HTTP ------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        if self.is_down:  # accepted just before the socket closed: drop it
            self.faulted["down"] += 1
            if task is not None:
                self._connections.discard(task)
            writer.close()
            return
        try:
            keep_alive = True
            while keep_alive:
                try:
                    request = await self._read_request(reader)
                except _BadHttp as exc:
                    writer.write(_response(400, _bad_request(str(exc)), False))
                    await writer.drain()
                    break
                if request is None:
                    break
                path, headers, body, keep_alive = request
                status, payload = await self._answer(path, headers, body)
                writer.write(_response(status, payload, keep_alive))
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away (e.g. a cancelled long poll)
        except _Hangup:
            pass  # a fault: no answer at all
        except asyncio.CancelledError:
            pass  # stop(): drop the connection
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, dict[str, str], bytes, bool] | None:
        """(target, headers, body, keep-alive) of the next request, None at end of stream."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise _BadHttp("truncated request head") from exc
            return None
        except asyncio.LimitOverrunError as exc:
            raise _BadHttp("request head too large") from exc
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadHttp(f"bad request line {lines[0][:80]!r}")
        _verb, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    raise _BadHttp("bad header line")
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(reader)
        else:
            length = int(headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                raise _BadHttp("body too large")
            body = await reader.readexactly(length) if length else b""
        return target, headers, body, keep_alive

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BadHttp("body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def _answer(
        self, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Status and JSON for one request, the way the Bot API answers it."""
        url = urlsplit(target)
        prefix, _, rest = url.path.lstrip("/").partition("/")
        if not prefix.startswith("bot") or not rest or "/" in rest:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if self.token is not None and prefix[3:] != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        self.requests += 1
        try:
            params = self._parameters(url.query, headers, body)
        except (_BadHttp, UnicodeDecodeError, ValueError) as exc:
            return 400, _bad_request(f"can't parse request parameters: {exc}")
        method = rest
        self.encodings[(method, _content_kind(headers) if body else "none")] += 1
        fault = self._fault_for(method)
        if fault is not None:
            return await self._faulted_answer(fault, method, params)
        half_trip = self.latency / 2 if method != "getUpdates" else 0.0
        if half_trip > 0:
            await asyncio.sleep(half_trip)
        answer = await self._call(method, params)
        if half_trip > 0:
            await asyncio.sleep(half_trip)
        return answer

    async def _call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        try:
            if method == "getUpdates":
                return 200, {"ok": True, "result": await self.get_updates(params)}
            if method == "deleteWebhook" and params.get("drop_pending_updates"):
                self._pending.clear()
            result = self.fake.handle(method, params)
        except FakeApiError as exc:
            return exc.status, error_payload(exc)
        except (TypeError, ValueError, KeyError) as exc:
            return 400, _bad_request(f"{type(exc).__name__}: {exc}")
        return 200, {"ok": True, "result": result}

    @staticmethod
    def _parameters(query: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = parse_form(query.encode()) if query else {}
        if not body:
            return params
        content_type = headers.get("content-type", "")
        kind = _content_kind(headers)
        if kind == "application/x-www-form-urlencoded":
            params.update(parse_form(body))
        elif kind == "multipart/form-data":
            params.update(parse_multipart(content_type, body))
        elif kind == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise _BadHttp("JSON body must be an object")
            params.update(decoded)
        else:
            raise _BadHttp(f"unsupported content type {kind!r}")
        return params


def _content_kind(headers: dict[str, str]) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _bad_request(detail: str) -> dict[str, Any]:
    return {"ok": False, "error_code": 400, "description": f"Bad Request: {detail}"}
