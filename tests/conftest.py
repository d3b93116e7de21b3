"""Fixtures for every test: the real Application on the fake Bot API and people who talk to it.
The classes and helpers they use are in tests/support.py; tests import those from there."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import bot.composition
from bot.answers.faq_index import FaqIndex
from bot.composition import create_services
from bot.config import Config
from bot.content import Content, load_content
from bot.offline.fake_bot_api import FakeTelegram
from bot.services import Services
from tests.support import App, Person, PersonFactory, load_repo_config, start_app, stop_app


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return load_repo_config(tmp_path)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "t.sqlite3"


@pytest.fixture(scope="session")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="session")
def faq_index(content: Content) -> FaqIndex:
    return FaqIndex(content)


@pytest.fixture
def now() -> list[float]:
    """The injected clock (unix seconds): a test moves time by changing now[0]. Modules that
    need a fixed start override this fixture."""
    return [time.time()]


@pytest.fixture
async def services(
    config: Config,
    database: Path,
    content: Content,
    faq_index: FaqIndex,
    now: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Services]:
    # The index is pure and takes ~0.1 s to build: share one (everything else is per test).
    def shared_index(for_content: Content) -> FaqIndex:
        return faq_index if for_content is content else FaqIndex(for_content)

    monkeypatch.setattr(bot.composition, "FaqIndex", shared_index)
    created = await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )
    try:
        yield created
    finally:
        await created.storage.close()  # idempotent: the app fixture closes it first


@pytest.fixture
def fake() -> FakeTelegram:
    return FakeTelegram()


@pytest.fixture
async def app(services: Services, fake: FakeTelegram) -> AsyncIterator[App]:
    application = await start_app(services, fake)
    try:
        yield application
    finally:
        await stop_app(application)


@pytest.fixture
def person_factory(app: App, fake: FakeTelegram) -> PersonFactory:
    """Make a person: person_factory(language_code="en", user_id=..., chat_type=...)."""

    def make(**kwargs: Any) -> Person:
        return Person(app, fake, **kwargs)

    return make


@pytest.fixture
def person(person_factory: PersonFactory) -> Person:
    """A resident whose Telegram app is set to bokmål."""
    return person_factory()
