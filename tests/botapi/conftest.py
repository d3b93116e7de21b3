"""The real bot over HTTP: the fake Bot API server on 127.0.0.1 and services configured for it.
A test module picks its token by overriding `bot_token`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.composition import create_services
from bot.config import Config, parse_config
from bot.content import Content
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.services import Services
from tests.support import CONFIG_PATH


@pytest.fixture
def bot_token() -> str:
    return "123:POLLING"


@pytest.fixture
async def server(bot_token: str) -> AsyncIterator[FakeTelegramServer]:
    async with FakeTelegramServer(token=bot_token) as running:
        yield running


@pytest.fixture
def http_config(server: FakeTelegramServer, tmp_path: Path, bot_token: str) -> Config:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    environ = {
        "TELEGRAM_BOT_TOKEN": bot_token,
        "TELEGRAM_API_BASE_URL": server.base_url,
        "SELVHJELP_DATA_DIR": str(tmp_path),
    }
    return parse_config(raw, environ, str(CONFIG_PATH))


@pytest.fixture
async def http_services(
    http_config: Config, content: Content, faq_index: FaqIndex, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Services]:
    monkeypatch.setattr(bot.composition, "FaqIndex", lambda _content: faq_index)  # pure
    services = await create_services(http_config, content=content)
    try:
        yield services
    finally:
        await services.storage.close()
