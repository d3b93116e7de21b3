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

import json

import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

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
