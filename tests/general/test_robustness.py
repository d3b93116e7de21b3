"""Whatever arrives, the bot answers sensibly and never falls over.

Random and hostile input goes through the real Application: text of every kind (unicode,
emoji, control characters), maximum-length messages, stickers and other media, edited messages,
and forged button data. Each update must get a visible reply, never the "something went wrong"
message, and forged buttons must change nothing.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from telegram import Update

from bot.chat.rendering import parse_callback
from bot.offline.fake_bot_api import BOT_USERNAME, FakeTelegram
from bot.offline.fake_updates import message_update_json
from bot.services import Services
from tests.support import App, Person, PersonFactory, Turn

MAX_MESSAGE = 4096  # Telegram's limit for a message's text
PROPERTY = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Telegram trims messages and never delivers an empty one.
message_texts = st.text(max_size=300).map(str.strip).filter(bool)
commandish = st.builds(
    lambda name, rest: f"/{name} {rest}".strip(), st.text(max_size=20), st.text(max_size=40)
)
long_texts = st.builds(
    lambda chunk: (chunk * (MAX_MESSAGE // len(chunk) + 1))[:MAX_MESSAGE],
    st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != ""),
)
any_text = st.one_of(message_texts, commandish, long_texts)

CRAFTED_CALLBACKS = [
    "t:nonexistent",
    "t:",
    "c:",
    "c:nonexistent",
    "lang:xx",
    "lang:",
    "lang:EN",
    "forget:maybe",
    "forget:",
    "forget:YES",
    "menu:x",
    "help:x",
    "t:cost:extra",
    ":",
    "t:../../etc/passwd",
    "x" * 64,
    "t:" + "a" * 62,
    "💥",
    "\x00",
    " menu",
    # Signed (privileged) buttons with a tag that is not ASCII: refused, not a crash.
    "adm:rk:000000000000~é",
    "ci:s~é",
    "an:send~é",
    "po:l:lyngen:nb~é",
]


def internal_error_texts(services: Services) -> set[str]:
    return {services.content.text(lang, "errors.internal") for lang in ("nb", "en")}


def assert_sensible(turn: Turn, person: Person, services: Services, what: object) -> None:
    """At least one visible reply, to the right chat, never the apology for a crash."""
    visible = [s for s in turn.sent if s.method in ("sendMessage", "editMessageText")]
    assert visible or turn.alerts, f"no reply to {what!r}: {turn.methods()}"
    chat_id = person.chat_id if person.chat_id is not None else person.user_id
    for sent in turn.sent:
        assert sent.chat_id == chat_id
        assert sent.text.strip(), f"empty reply to {what!r}"
        assert len(sent.text) <= MAX_MESSAGE
        assert sent.text not in internal_error_texts(services), f"{what!r} crashed a handler"


def assert_no_handler_failed(caplog: pytest.LogCaptureFixture, what: object) -> None:
    failures = [r for r in caplog.records if r.name == "selvhjelp.errors"]
    assert not failures, f"{what!r}: {[r.getMessage() for r in failures]}"


@PROPERTY
@given(
    text=any_text, edited=st.booleans(), language_code=st.sampled_from(["nb", "en", None, "de"])
)
@example(text="a" * MAX_MESSAGE, edited=False, language_code="nb")
@example(text="😀" * MAX_MESSAGE, edited=False, language_code="nb")
@example(text="hva koster det " * 300, edited=False, language_code="nb")
@example(text="\x00\x01\x02\x1b[31m\u202e\u200b", edited=False, language_code="nb")
@example(text="/", edited=False, language_code="nb")
@example(text="/start " + "ø" * 100, edited=True, language_code="en")
@example(text="@" + BOT_USERNAME, edited=False, language_code="nb")
@example(text="{regional_offices} {emergency} %s %(x)s", edited=False, language_code="nb")
async def test_any_text_gets_a_sensible_reply(
    person_factory: PersonFactory,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    text: str,
    edited: bool,
    language_code: str | None,
) -> None:
    caplog.set_level(logging.INFO)
    person = person_factory(language_code=language_code)
    turn = await person.say(text, edited=edited)
    assert_sensible(turn, person, services, text)
    assert_no_handler_failed(caplog, text)


async def test_stickers_and_media_get_the_text_only_note(
    app: App, fake: FakeTelegram, person: Person, services: Services
) -> None:
    expected = services.content.text("nb", "errors.text_only")
    turn = await person.say(None, sticker=True)
    assert turn.texts == [expected]
    turn = await person.say(None, sticker=True, edited=True)
    assert turn.texts == [expected]

    media: list[dict[str, Any]] = [
        {"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}]},
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}},
        {"location": {"latitude": 69.6, "longitude": 20.2}},
        {"contact": {"phone_number": "+4799999999", "first_name": "X"}},
        {"dice": {"emoji": "🎲", "value": 3}},
    ]
    for extra in media:
        payload = message_update_json(None, person.user_id)
        payload["message"].update(extra)
        update = Update.de_json(payload, app.bot)
        assert update is not None
        before = len(fake.sent)
        await app.process_update(update)
        assert [s.text for s in fake.sent[before:]] == [expected], extra


async def test_crisis_language_at_the_end_of_a_long_message_is_caught(
    person: Person, services: Services
) -> None:
    # A long story that ends in crisis is exactly when the numbers matter most.
    story = "Jeg har hatt det vanskelig lenge, og jeg vet ikke hvem jeg skal snakke med. " * 40
    text = (story + "Nå orker jeg ikke mer.")[-MAX_MESSAGE:]
    assert len(text) <= MAX_MESSAGE
    turn = await person.say(text)
    intro = services.content.text("nb", "crisis.intro.suicide")
    assert turn.first.text.startswith(intro)
    for number in services.config.crisis_numbers_for("suicide"):
        assert number.number in turn.first.text


async def test_crisis_language_at_the_end_of_a_long_english_message_is_caught(
    person: Person, services: Services
) -> None:
    story = "I have been struggling for a long time and I don't know who to talk to. " * 40
    turn = await person.say(story[: MAX_MESSAGE - 30] + " I want to kill myself")
    assert "113" in turn.first.text
    assert turn.first.text.startswith(services.content.text("en", "crisis.intro.suicide"))


@PROPERTY
@given(data=st.one_of(st.text(max_size=64), st.sampled_from(CRAFTED_CALLBACKS)))
@example(data="")
async def test_forged_callbacks_get_the_stale_alert_and_change_nothing(
    person_factory: PersonFactory,
    services: Services,
    caplog: pytest.LogCaptureFixture,
    data: str,
) -> None:
    if parse_callback(data, services.content) is not None:
        return  # a genuine button (e.g. "menu"): covered by the conversation tests
    caplog.set_level(logging.INFO)
    storage, pseudonymizer = services.storage, services.pseudonymizer

    # Someone who chose English: a forged press must neither erase nor change that.
    chooser = person_factory(user_id=2002, language_code="nb")
    await storage.set_language(pseudonymizer.user_key(2002), "en")
    turn = await chooser.press(data)
    assert turn.methods() == ["answerCallbackQuery"], data
    assert turn.callback_answers[0].get("show_alert") is True
    assert turn.alerts == [services.content.text("en", "errors.stale_button")]
    assert await storage.get_language(pseudonymizer.user_key(2002)) == "en"

    # Someone the bot has never stored anything about: still nothing stored afterwards.
    stranger = person_factory(user_id=3003, language_code="nb")
    turn = await stranger.press(data)
    assert turn.methods() == ["answerCallbackQuery"], data
    assert turn.alerts == [services.content.text("nb", "errors.stale_button")]
    assert not await storage.has_resident(pseudonymizer.user_key(3003))
    assert_no_handler_failed(caplog, data)


@pytest.mark.parametrize("data", ["menu", "help", "t:cost", "c:about", "forget:no"])
async def test_genuine_buttons_on_an_old_message_still_work(
    person: Person, services: Services, data: str
) -> None:
    # Buttons under week-old messages: the edit may be refused, but the person gets an answer.
    turn = await person.press(data)
    assert turn.alerts == []
    assert turn.sent
    assert turn.first.text not in internal_error_texts(services)


async def test_button_on_a_message_telegram_refuses_to_edit_sends_a_new_one(
    person: Person, fake: FakeTelegram, services: Services
) -> None:
    from bot.offline.fake_bot_api import Call, FakeApiError

    def refuse_edits(call: Call) -> None:
        if call.method == "editMessageText":
            raise FakeApiError(400, "Bad Request: message can't be edited")

    fake.send_hook = refuse_edits
    turn = await person.press("menu")
    assert [s.method for s in turn.sent] == ["sendMessage"]
    assert turn.first.text == services.content.text("nb", "faq.menu")


async def test_a_failing_send_gets_the_apology_not_a_crash(
    person: Person, fake: FakeTelegram, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.offline.fake_bot_api import Call, FakeApiError

    failed: list[str] = []

    def fail_first_send(call: Call) -> None:
        if not failed:
            failed.append(call.method)
            raise FakeApiError(400, "Bad Request: something unexpected")

    fake.send_hook = fail_first_send
    caplog.set_level(logging.INFO)
    turn = await person.say("hva koster det")
    assert turn.texts == [services.content.text("nb", "errors.internal")]
    assert any(r.name == "selvhjelp.errors" for r in caplog.records)


async def test_many_people_at_once_each_get_their_own_answer(
    person_factory: PersonFactory, services: Services
) -> None:
    people = [
        person_factory(user_id=5000 + i, language_code=("nb", "en")[i % 2]) for i in range(20)
    ]
    for p in people:
        turn = await p.say("/start")
        assert [s.chat_id for s in turn.sent] == [p.user_id]
        lang = "nb" if p.language_code == "nb" else "en"
        assert turn.first.text == services.content.text(lang, "start.welcome")
