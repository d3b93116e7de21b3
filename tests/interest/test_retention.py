"""Retention with an injected clock: a reminder 14 days before expiry, "keep" extends, silence
deletes (tallied as expired), and running the job again never asks twice."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.config import Config
from bot.interest.retention import RetentionReport, run_retention
from bot.interest.views import expiry_date
from bot.services import Services
from bot.storage import EventTally, OutboxRow, Registration, day_floor
from bot.weeks import DAY, week_index
from tests.support import USER_ID, Person, PersonFactory

T0 = 1_700_000_000.0
RETENTION = 180 * DAY
REMINDER = 14 * DAY
OSLO = ZoneInfo("Europe/Oslo")  # resident times are stored as their day there (issue 10)


@pytest.fixture
def now() -> list[float]:
    """The injected clock: tests move it by changing now[0]."""
    return [T0]


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


async def register(person: Person, lang: str = "nb") -> Registration:
    """Complete /interest with buttons in `lang`: Lyngen, grief, evening, messages yes."""
    services: Services = person.app.bot_data.services
    message = (await person.say("/interest")).first
    for label in (
        *("interest.entry_yes", "interest.age_yes", "interest.sober_ok", "Nord-Norge", "Lyngen"),
        *("interest.theme.grief", "interest.time_evening", "interest.contact_yes"),
        "interest.confirm",
    ):
        if label.startswith("interest."):
            label = ui(services, lang, label, min_age=services.config.min_age)
        message = (await person.press_label(message, label)).first
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    return reg


async def outbox(services: Services, now: list[float]) -> list[OutboxRow]:
    return await services.storage.due_outbox(now[0] + 1, 100)


async def test_reminder_is_queued_fourteen_days_before_expiry_and_only_once(
    person: Person, services: Services, config: Config, now: list[float]
) -> None:
    reg = await register(person)
    key = services.user_key(USER_ID)
    assert reg.expires_at == day_floor(T0 + RETENTION, OSLO)

    now[0] = reg.expires_at - REMINDER - 3600  # a little early: nothing yet
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    assert await outbox(services, now) == []

    now[0] = reg.expires_at - REMINDER
    assert await run_retention(services) == RetentionReport(reminded=1, expired=0)
    rows = await outbox(services, now)
    assert len(rows) == 1
    row = rows[0]
    assert row.campaign == f"reminder:{reg.expires_at}"
    assert row.recipient == key
    assert services.cipher.decrypt(row.chat_enc, key) == USER_ID
    assert row.payload["text"] == ui(services, "nb", "retention.reminder", place="Lyngen", days=14)
    assert "Lyngen" in row.payload["text"]
    assert "utløper om 14 dager" in row.payload["text"]
    assert row.payload["buttons"] == [
        [
            {
                "text": ui(services, "nb", "retention.keep", retention_days=180),
                "callback_data": "i:keep",
            }
        ],
        [{"text": ui(services, "nb", "retention.delete"), "callback_data": "i:del"}],
    ]
    stored = await services.storage.get_registration(key)
    assert stored is not None
    assert stored.reminded_at == day_floor(now[0], OSLO)

    # Running again, now or a day later, does not ask twice.
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    now[0] += DAY
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    assert [r.id for r in await outbox(services, now)] == [row.id]
    assert config.reminder_days == 14


async def test_keep_extends_the_registration_and_it_is_asked_again_later(
    person: Person, services: Services, now: list[float]
) -> None:
    reg = await register(person)
    key = services.user_key(USER_ID)
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)

    now[0] += 2 * DAY  # the person answers two days later
    # The reminder is still in the outbox (the test runs no sender): its button's data.
    turn = await person.press("i:keep")
    new_expiry = day_floor(now[0] + RETENTION, OSLO)
    expected = ui(
        services, "nb", "retention.kept", expires=expiry_date(new_expiry, services.config)
    )
    assert turn.texts == [expected]
    kept = await services.storage.get_registration(key)
    assert kept is not None
    assert kept.expires_at == new_expiry
    assert kept.reminded_at is None
    assert (kept.municipality, kept.group_kind, kept.created_at) == (
        "Lyngen",
        "grief",
        day_floor(T0, OSLO),
    )

    # Past the old expiry nothing happens: it was kept.
    now[0] = reg.expires_at + DAY
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    assert await services.storage.get_registration(key) is not None

    # Fourteen days before the new expiry the person is asked again (a new reminder).
    now[0] = new_expiry - REMINDER
    assert await run_retention(services) == RetentionReport(reminded=1, expired=0)
    campaigns = [r.campaign for r in await outbox(services, now)]
    assert campaigns == [f"reminder:{reg.expires_at}", f"reminder:{new_expiry}"]


async def test_no_answer_deletes_at_expiry_and_tallies_it_as_expired(
    person: Person, services: Services, now: list[float]
) -> None:
    reg = await register(person)
    key = services.user_key(USER_ID)
    now[0] = reg.expires_at - REMINDER
    assert await run_retention(services) == RetentionReport(reminded=1, expired=0)

    now[0] = reg.expires_at - 1  # the last second: still there
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    assert await services.storage.get_registration(key) is not None

    now[0] = reg.expires_at + 60
    assert await run_retention(services) == RetentionReport(reminded=0, expired=1)
    assert await services.storage.get_registration(key) is None
    week = week_index(now[0], "Europe/Oslo")
    tallies = await services.storage.tallies_since(week_index(T0, "Europe/Oslo"))
    assert EventTally("Lyngen", "nord-norge", week, "expired", 1) in tallies
    assert [t.kind for t in tallies] == ["new", "expired"]
    assert (await person.say("/mine")).texts == [ui(services, "nb", "mine.none")]

    # Once gone, it stays gone; running again changes nothing.
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)
    # "Keep" pressed too late cannot bring it back.
    late = await person.press("i:keep")
    assert await services.storage.get_registration(key) is None
    assert late.texts + late.alerts


async def test_delete_button_on_the_reminder_withdraws_it(
    person: Person, services: Services, now: list[float]
) -> None:
    reg = await register(person)
    key = services.user_key(USER_ID)
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)
    turn = await person.press("i:del")
    assert turn.texts == [ui(services, "nb", "retention.deleted")]
    assert await services.storage.get_registration(key) is None
    kinds = [t.kind for t in await services.storage.tallies_since(0)]
    assert kinds == ["new", "withdrawn"]
    now[0] = reg.expires_at + 1
    assert await run_retention(services) == RetentionReport(reminded=0, expired=0)


async def test_only_registrations_due_are_reminded_or_expired(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    early = await register(person_factory(user_id=3001))
    now[0] += 30 * DAY
    late = await register(person_factory(user_id=3002))
    now[0] = early.expires_at - REMINDER
    assert await run_retention(services) == RetentionReport(reminded=1, expired=0)
    assert [r.recipient for r in await outbox(services, now)] == [early.user_key]
    now[0] = early.expires_at
    assert await run_retention(services) == RetentionReport(reminded=0, expired=1)
    assert await services.storage.get_registration(late.user_key) is not None
    assert await services.storage.get_registration(early.user_key) is None


async def test_a_resident_who_blocked_the_bot_gets_no_reminder_but_still_expires(
    person: Person, services: Services, now: list[float]
) -> None:
    reg = await register(person)
    await services.storage.mark_inactive(reg.user_key)
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)
    assert await outbox(services, now) == []
    now[0] = reg.expires_at
    assert await run_retention(services) == RetentionReport(reminded=0, expired=1)


async def test_forget_removes_a_pending_reminder(
    person: Person, services: Services, now: list[float]
) -> None:
    reg = await register(person)
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)
    confirm = (await person.say("/forget")).first
    await person.press_label(confirm, "Ja, slett alt")
    assert await outbox(services, now) == []


async def test_reminder_speaks_the_language_the_person_registered_in(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    """An English Telegram client, no /language choice: the flow was in English, so the
    reminder must be too (it has no update to take the language from)."""
    reg = await register(person_factory(language_code="en"), lang="en")
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)
    rows = await outbox(services, now)
    assert len(rows) == 1
    assert rows[0].payload["text"] == ui(
        services, "en", "retention.reminder", place="Lyngen", days=14
    )


async def test_reminder_follows_a_language_chosen_with_the_language_command(
    person: Person, services: Services, now: list[float]
) -> None:
    await person.press_label((await person.say("/language")).first, "English")
    reg = await register(person, lang="en")
    now[0] = reg.expires_at - REMINDER
    await run_retention(services)
    rows = await outbox(services, now)
    assert rows[0].payload["text"].startswith("Your interest in a self-help group in Lyngen")
    assert rows[0].payload["buttons"][0][0]["text"] == "Keep it 180 more days"
