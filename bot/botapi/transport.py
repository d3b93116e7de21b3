"""How the bot talks HTTP to the Bot API: one JSON body per call instead of a form.

python-telegram-bot's HTTPXRequest sends parameters as application/x-www-form-urlencoded, and
httpx builds that body with urllib's `quote_plus`, a Python loop over every byte. Our replies
are a few hundred bytes of Norwegian text plus an inline keyboard's JSON, nearly all of which
needs quoting; profiling bench/e2e.py showed the quoting (and the server's unquoting) as the
largest single cost of an answer beyond the echo bot's. The Bot API accepts application/json
for every method except file uploads ("Making requests" in the Bot API documentation), and
`json.dumps` is C. Uploads (posters, calendar files) still go as multipart/form-data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus
from typing import Any

import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.ops.metrics import METRICS

log = logging.getLogger(__name__)
JSON_HEADERS = {"User-Agent": HTTPXRequest.USER_AGENT, "Content-Type": "application/json"}


def json_body(request_data: RequestData) -> bytes:
    """The call's parameters as one compact UTF-8 JSON object (nested objects stay objects)."""
    return json.dumps(request_data.parameters, ensure_ascii=False, separators=(",", ":")).encode()


def _given_or(value: ODVInput[float], default: float | None) -> float | None:
    """A timeout the caller gave (None: wait forever), else the one this request was built with."""
    return default if isinstance(value, DefaultValue) else value


class JsonRequest(HTTPXRequest):
    """HTTPXRequest that posts calls without files as application/json.

    Everything else (connection pool, proxy, HTTP version, timeouts, the multipart path for
    uploads) is python-telegram-bot's own. It reads HTTPXRequest's `_client`, a private
    attribute stable across v20-v22 (pyproject pins python-telegram-bot below 23).
    """

    __slots__ = ()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One call, counted and timed for the health endpoint (bot/ops/metrics.py)."""
        start = time.perf_counter()
        status: int | None = None
        try:
            status, payload = await self._send(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        finally:
            METRICS.api_call(url, status, time.perf_counter() - start)
        return status, payload

    async def _send(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files or self._client.is_closed:
            return await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        defaults = self._client.timeout
        timeout = httpx.Timeout(
            connect=defaults.connect
            if isinstance(connect_timeout, DefaultValue)
            else connect_timeout,
            read=defaults.read if isinstance(read_timeout, DefaultValue) else read_timeout,
            write=defaults.write if isinstance(write_timeout, DefaultValue) else write_timeout,
            pool=defaults.pool if isinstance(pool_timeout, DefaultValue) else pool_timeout,
        )
        try:
            response = await self._client.request(
                method=method,
                url=url,
                headers=JSON_HEADERS,
                timeout=timeout,
                content=json_body(request_data),
            )
        except httpx.TimeoutException as err:  # the same errors HTTPXRequest raises
            if isinstance(err, httpx.PoolTimeout):
                raise TimedOut("Pool timeout: the request was not sent to Telegram.") from err
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content


POLL_BACKOFF = (0.5, 1.0, 2.0, 4.0)  # seconds between failed polls, then POLL_BACKOFF_CAP
POLL_BACKOFF_CAP = 5.0


class PollingRequest(JsonRequest):
    """The request getUpdates goes through: back quickly after Telegram was out of reach.

    python-telegram-bot's polling loop waits 1, 1.5, 2.25 ... up to 30 s between polls that
    fail with a network error (connection refused, a 5xx), so after an outage of a minute or
    more the bot would take up to half a minute to notice Telegram is back (bench/faults.py).
    Here such a poll waits a shorter back-off itself (0.5, 1, 2, 4, then 5 s at most) and is
    reported as a timeout, which the loop tries again at once. Other errors (a bad token,
    another instance polling, flood control, a bad request) reach the loop as they are.
    """

    __slots__ = ("_failed_polls", "_failing_since")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failed_polls = 0
        self._failing_since = 0.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await super().do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        except TimedOut:
            raise
        except NetworkError as exc:  # no connection, or it dropped
            await self._out_of_reach(type(exc).__name__)
            raise TimedOut("Telegram out of reach; polling again") from exc
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            await self._out_of_reach(f"HTTP {status}")
            raise TimedOut("Telegram out of reach; polling again")
        if self._failed_polls:
            log.info(
                "fetching updates from Telegram again after %.0f s",
                time.monotonic() - self._failing_since,
            )
            self._failed_polls = 0
        return status, payload

    async def _out_of_reach(self, what: str) -> None:
        """Log the first failed poll of a run of them, then wait this poll's back-off."""
        if self._failed_polls == 0:
            self._failing_since = time.monotonic()
            log.warning("cannot fetch updates from Telegram (%s); trying again shortly", what)
        step = min(self._failed_polls, len(POLL_BACKOFF))
        self._failed_polls += 1
        await asyncio.sleep(POLL_BACKOFF[step] if step < len(POLL_BACKOFF) else POLL_BACKOFF_CAP)
