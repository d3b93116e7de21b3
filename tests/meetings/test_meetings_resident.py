"""Information meetings as a resident lives them: /meetings, the announcement's buttons, and the
reminder the day before, all through the real Application on the fake Bot API.

Meetings are created directly in storage (the office side has its own tests); announcements
reach the person through the real outbox and Sender, so the buttons pressed are the ones the
person got. Time is injected (`now`), and a restart is a new Services on the same database.

Until bot/composition.py wires `bot.meetings.handlers`, the `app` fixture below inserts its
handlers
where the lead will: among the commands, before the unknown-command catch-all (misc), so also
before the generic buttons router. Once app.py has them, the fixture adds nothing.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from telegram import Update
from telegram.ext import Application
from telegram.request import RequestData

from bot.composition import create_services
from bot.config import Config
from bot.content import Content
from bot.meetings import handlers as meetings
from bot.meetings.calendar_file import ics_filename, meeting_uid
from bot.meetings.reminders import enqueue_meeting_reminders
from bot.meetings.views import announcement_message, follow_button, reminder_message
from bot.meetings.when import format_when, from_timestamp
from bot.offline.fake_bot_api import FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_updates import callback_update_json
from bot.outbox.sender import Sender
from bot.services import Services
from bot.storage import Meeting
from tests.support import (
    USER_ID,
    PacingClock,
    Person,
    PersonFactory,
    Turn,
    start_app,
    stop_app,
)

T0 = 1_700_000_000.0  # Tuesday 14.11.2023 23:13 in Oslo
DAY = 24 * 3600
START = int(T0) + 3 * DAY + 19 * 3600  # a few days ahead, in the evening
OTHER_ID = 2002
_uids = itertools.count(1)


class DocumentCapture(FakeBotRequest):
    """The fake Bot API, also keeping the bytes of uploaded files (the fake records only
    JSON parameters, and an uploaded document is a multipart part)."""

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(fake)
        self.files: list[tuple[str, bytes]] = []

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        if request_data is not None and url.endswith("/sendDocument"):
            for name, content, *_ in request_data.multipart_data.values():
                data = content if isinstance(content, bytes) else content.read()
                self.files.append((str(name), data))
        return await super().do_request(url, method, request_data, *args, **kw)


@pytest.fixture
def now() -> list[float]:
    """The injected clock: tests move it by changing now[0]."""
    return [T0]


async def open_services(
    config: Config, database: Path, content: Content, now: list[float]
) -> Services:
    return await create_services(
        config, content=content, clock=lambda: now[0], database=str(database)
    )


@pytest.fixture
def capture(fake: FakeTelegram) -> DocumentCapture:
    return DocumentCapture(fake)


async def start(services: Services, request: FakeBotRequest) -> Application:
    """The real Application on the fake, started as every mode starts it (tests/support.py)."""
    app = await start_app(services, request=request)
    assert any(h in app.handlers[0] for h in meetings.HANDLERS)  # the composition has them
    return app


@pytest.fixture
async def app(services: Services, capture: DocumentCapture) -> AsyncIterator[Application]:
    application = await start(services, capture)
    try:
        yield application
    finally:
        await stop_app(application)


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


async def deliver(services: Services, app: Application) -> None:
    """Send everything in the outbox, as the running bot's Sender would."""
    clock = PacingClock()
    await Sender(services, sleep=clock.sleep, timer=clock).run_until_idle(app.bot, timeout=60)


async def make_meeting(
    services: Services,
    *,
    starts_at: int = START,
    municipalities: tuple[str, ...] = ("Lyngen",),
    region_id: str = "nord-norge",
    title: str = "Informasjonsmøte om selvhjelp",
) -> Meeting:
    draft = Meeting(
        id=0,
        uid=f"meeting-{next(_uids)}@selvhjelp.test",
        office_key="office-key",
        office_chat=b"office-chat",
        region_id=region_id,
        title=title,
        starts_at=starts_at,
        place="Lyngen rådhus",
        link=None,
        description=None,
        municipalities=municipalities,
    )
    meeting = await services.storage.get_meeting(await services.storage.create_meeting(draft))
    assert meeting is not None
    return meeting


async def announce(services: Services, app: Application, meeting: Meeting) -> None:
    """What the office side does: one announcement per subscriber, in their language."""
    storage = services.storage
    rows = []
    for key, chat in await storage.subscribers_for(meeting.region_id, meeting.municipalities):
        lang = await storage.get_language(key) or services.config.default_language
        message = announcement_message(services.content, services.config, lang, meeting)
        rows.append((key, chat, message.to_payload()))
    await storage.enqueue(f"test-announcement:{meeting.id}", rows)
    await deliver(services, app)


async def follow(person: Person, region: str, place: str | None = None) -> Turn:
    """/meetings, then the region's button, then `place` in it (without one: the whole region)."""
    services: Services = person.app.bot_data.services
    lang = "en" if person.language_code == "en" else "nb"
    turn = await person.say("/meetings")
    region_button = ui(services, lang, "subscribe.button.region", region=region)
    turn = await person.press_label(turn.last, region_button)
    whole = ui(services, lang, "subscribe.button.whole_region", region=region)
    return await person.press_label(turn.last, place or whole)


def key_of(services: Services, person: Person) -> str:
    return services.user_key(person.user_id)


async def press_exactly(person: Person, sent: Sent, label: str) -> Turn:
    """Press the button labelled exactly `label` (English "Stop all" is also part of "Stop all
    of Innlandet")."""
    (data,) = [b["callback_data"] for row in sent.buttons for b in row if b["text"] == label]
    return await person.press(data, on=sent)


# --- /meetings ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_follow_a_municipality_and_a_region_see_and_stop_them(
    person_factory: PersonFactory, services: Services, lang: str
) -> None:
    person = person_factory(language_code=lang)
    key = key_of(services, person)
    storage = services.storage

    first = (await person.say("/meetings")).first
    assert first.text == ui(services, lang, "subscribe.none")
    assert first.callback_data == ["ms:r:nord-norge", "ms:r:innlandet", "ms:r:oslo"]
    assert ui(services, lang, "subscribe.button.region", region="Nord-Norge") in first.button_texts

    nord_norge = ui(services, lang, "subscribe.button.region", region="Nord-Norge")
    region = (await person.press_label(first, nord_norge)).last
    assert region.text == ui(services, lang, "subscribe.region_intro", region="Nord-Norge")
    assert region.callback_data[0] == "ms:w:nord-norge"
    assert "ms:m:lyngen" in region.callback_data
    assert region.callback_data[-1] == "ms:home"

    turn = await person.press_label(region, "Lyngen")
    assert turn.methods()[-1] == "editMessageText"  # the view changes in place
    shown = turn.last
    assert ui(services, lang, "subscribe.subscribed", place="Lyngen") in shown.text
    assert ui(services, lang, "subscribe.place_line", place="Lyngen") in shown.text
    assert "ms:un:lyngen" in shown.callback_data
    assert "ms:all" in shown.callback_data

    # The whole of another region.
    innlandet = ui(services, lang, "subscribe.button.region", region="Innlandet")
    region = (await person.press_label(shown, innlandet)).last
    whole_innlandet = ui(services, lang, "subscribe.button.whole_region", region="Innlandet")
    shown = (await person.press_label(region, whole_innlandet)).last
    whole = ui(services, lang, "subscribe.whole_region", region="Innlandet")
    assert ui(services, lang, "subscribe.subscribed", place=whole) in shown.text
    assert await storage.subscriptions_of(key) == [("innlandet", ""), ("nord-norge", "Lyngen")]

    # Announcements can reach them, in the language they use.
    assert await storage.get_language(key) == lang
    chat = await storage.resident_chat(key)
    assert chat is not None
    assert services.cipher.decrypt(chat, key) == person.user_id
    assert [k for k, _ in await storage.subscribers_for("nord-norge", ["Lyngen"])] == [key]
    assert [k for k, _ in await storage.subscribers_for("innlandet", ["Gjøvik"])] == [key]
    assert await storage.subscribers_for("nord-norge", ["Alta"]) == []

    # Seen again later, with a ✓ on what they follow.
    again = (await person.say("/meetings")).first
    assert ui(services, lang, "subscribe.place_line", place="Lyngen") in again.text
    assert ui(services, lang, "subscribe.place_line", place=whole) in again.text
    region = (await person.press_label(again, nord_norge)).last
    assert ui(services, lang, "subscribe.followed", name="Lyngen") in region.button_texts
    assert "Alta" in region.button_texts

    # Stop one, then all.
    stop_lyngen = ui(services, lang, "subscribe.button.stop", place="Lyngen")
    shown = (await person.press_label(again, stop_lyngen)).last
    assert ui(services, lang, "subscribe.unsubscribed", place="Lyngen") in shown.text
    assert await storage.subscriptions_of(key) == [("innlandet", "")]
    assert shown.callback_data[-2:] == ["ms:unr:innlandet", "ms:all"]
    stop_all = ui(services, lang, "subscribe.button.stop_all")
    shown = (await press_exactly(person, shown, stop_all)).last
    assert ui(services, lang, "subscribe.stopped_all") in shown.text
    assert ui(services, lang, "subscribe.none") in shown.text
    assert await storage.subscriptions_of(key) == []
    assert "ms:all" not in shown.callback_data


async def test_following_twice_says_so_and_keeps_one_subscription(
    person: Person, services: Services
) -> None:
    await follow(person, "Nord-Norge", "Alta")
    turn = await follow(person, "Nord-Norge", "Alta")
    assert ui(services, "nb", "subscribe.already", place="Alta") in turn.last.text
    assert await services.storage.subscriptions_of(key_of(services, person)) == [
        ("nord-norge", "Alta")
    ]


async def test_follow_button_after_registering_sends_a_new_message(
    person: Person, services: Services, content: Content, config: Config
) -> None:
    lyngen = config.municipality_named("Lyngen")
    assert lyngen is not None
    button = follow_button(content, "nb", lyngen)
    assert button.callback_data == "ms:sub:lyngen"
    assert button.text == ui(services, "nb", "subscribe.button.follow", place="Lyngen")
    assert "Lyngen" in follow_button(content, "en", lyngen).text

    saved = Sent(USER_ID, 77, "Takk! Interessen din er registrert ...", [[button.to_dict()]])
    turn = await person.press_label(saved, "Følg informasjonsmøter i Lyngen")
    assert "editMessageText" not in turn.methods()  # "registration saved" stays as it was
    assert ui(services, "nb", "subscribe.subscribed", place="Lyngen") in turn.first.text
    assert await services.storage.subscriptions_of(key_of(services, person)) == [
        ("nord-norge", "Lyngen")
    ]


async def test_a_language_chosen_before_is_kept(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(language_code="nb")
    key = key_of(services, person)
    await services.storage.set_language(key, "en")
    turn = await follow(person, "Nord-Norge", "Lyngen")
    assert ui(services, "en", "subscribe.subscribed", place="Lyngen") in turn.last.text
    assert await services.storage.get_language(key) == "en"


# --- the announcement's buttons ----------------------------------------------------------------


async def announced(
    person: Person,
    services: Services,
    app: Application,
    **kwargs: Any,
) -> tuple[Meeting, Sent]:
    """The person follows Lyngen and gets an announcement of a meeting there."""
    followed = await services.storage.subscriptions_of(key_of(services, person))
    if not {("nord-norge", ""), ("nord-norge", "Lyngen")} & set(followed):
        await follow(person, "Nord-Norge", "Lyngen")
    meeting = await make_meeting(services, **kwargs)
    await announce(services, app, meeting)
    message = person.fake.messages_to(person.user_id)[-1]
    assert message.callback_data == [f"mt:{meeting.id}:{a}" for a in ("ics", "rem", "go", "stop")]
    return meeting, message


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_add_to_calendar_sends_an_ics_file(
    person_factory: PersonFactory,
    services: Services,
    app: Application,
    capture: DocumentCapture,
    lang: str,
) -> None:
    person = person_factory(language_code=lang)
    meeting, message = await announced(person, services, app)
    assert meeting.title in message.text

    turn = await person.press_label(message, ui(services, lang, "meetings.button.ics"))
    documents = [s for s in turn.sent if s.method == "sendDocument"]
    assert len(documents) == 1
    assert documents[0].chat_id == person.user_id
    assert documents[0].text == ui(
        services, lang, "subscribe.meeting.ics_caption", title=meeting.title
    )
    assert turn.alerts == []
    (name, data), *_ = capture.files
    assert name == ics_filename(meeting)
    assert name.endswith(".ics")
    calendar = Calendar.from_ical(data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 1
    event = events[0]
    assert str(event["UID"]) == meeting_uid(meeting)
    assert str(event["SUMMARY"]) == meeting.title
    assert int(event.decoded("DTSTART").timestamp()) == meeting.starts_at


async def test_remind_me_toggles_and_counts(
    person: Person,
    services: Services,
    app: Application,
) -> None:
    meeting, message = await announced(person, services, app)
    storage = services.storage

    remind = ui(services, "nb", "meetings.button.rem")
    turn = await person.press_label(message, remind)
    a_day_before = from_timestamp(meeting.starts_at - DAY, services.config.timezone)
    remind_at = format_when(a_day_before, "nb", services.content, services.config.timezone)
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.remind_on", remind_at=remind_at)]
    assert "fredag 17. november 2023 kl. 18.13" in turn.alerts[0]  # the day before, its hour
    assert (await storage.mark_counts(meeting.id))["remind"] == 1
    turn = await person.press_label(message, remind)
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.remind_off")]
    assert (await storage.mark_counts(meeting.id))["remind"] == 0
    await person.press_label(message, remind)
    assert await storage.mark_counts(meeting.id) == {"coming": 0, "remind": 1}
    assert turn.sent == []  # an alert only: the announcement stays as it was


async def test_im_coming_is_an_anonymous_count(
    person_factory: PersonFactory,
    services: Services,
    app: Application,
) -> None:
    first = person_factory()
    second = person_factory(user_id=OTHER_ID, language_code="en")
    await follow(second, "Nord-Norge")
    meeting, message = await announced(first, services, app)
    storage = services.storage

    turn = await first.press_label(message, "Jeg kommer")
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.coming_on")]
    second_message = second.fake.messages_to(OTHER_ID)[-1]
    turn = await second.press_label(second_message, "I'm coming")
    assert turn.alerts == [ui(services, "en", "subscribe.meeting.coming_on")]
    assert await storage.mark_counts(meeting.id) == {"coming": 2, "remind": 0}

    turn = await first.press_label(message, "Jeg kommer")
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.coming_off")]
    assert await storage.mark_counts(meeting.id) == {"coming": 1, "remind": 0}


async def test_stop_ends_the_subscriptions_the_meeting_came_through(
    person: Person,
    services: Services,
    app: Application,
) -> None:
    key = key_of(services, person)
    storage = services.storage
    await follow(person, "Nord-Norge")
    await follow(person, "Nord-Norge", "Lyngen")
    await follow(person, "Nord-Norge", "Alta")
    await follow(person, "Innlandet", "Gjøvik")
    _, message = await announced(person, services, app)

    turn = await person.press_label(message, ui(services, "nb", "meetings.button.stop"))
    whole = ui(services, "nb", "subscribe.whole_region", region="Nord-Norge")
    assert turn.first.text == ui(
        services, "nb", "subscribe.meeting.stopped", places=f"{whole}, Lyngen"
    )
    assert turn.first.callback_data == ["ms:subr:nord-norge", "ms:sub:lyngen", "ms:home"]
    assert await storage.subscriptions_of(key) == [("innlandet", "Gjøvik"), ("nord-norge", "Alta")]
    assert await storage.subscribers_for("nord-norge", ["Lyngen"]) == []

    # "Follow again" undoes it; pressing stop a second time has nothing left to stop.
    turn = await person.press_label(turn.first, "Lyngen")
    assert ui(services, "nb", "subscribe.subscribed", place="Lyngen") in turn.first.text
    assert ("nord-norge", "Lyngen") in await storage.subscriptions_of(key)
    stop = ui(services, "nb", "meetings.button.stop")
    await person.press_label(message, stop)
    turn = await person.press_label(message, stop)
    assert turn.first.text == ui(services, "nb", "subscribe.meeting.stopped_nothing")
    assert turn.first.callback_data == ["ms:home"]


async def test_stop_still_works_on_a_cancelled_meeting(
    person: Person,
    services: Services,
    app: Application,
) -> None:
    meeting, message = await announced(person, services, app)
    await services.storage.update_meeting(replace(meeting, status="cancelled"))
    await person.press_label(message, ui(services, "nb", "meetings.button.stop"))
    assert await services.storage.subscriptions_of(key_of(services, person)) == []


async def test_a_cancelled_unknown_or_past_meeting_is_no_longer_on(
    person: Person,
    services: Services,
    app: Application,
    now: list[float],
) -> None:
    meeting, message = await announced(person, services, app)
    storage = services.storage
    not_on = ui(services, "nb", "subscribe.meeting.not_on")
    await storage.update_meeting(replace(meeting, status="cancelled"))
    for action in ("ics", "rem", "go"):
        turn = await person.press_label(message, ui(services, "nb", f"meetings.button.{action}"))
        assert turn.alerts == [not_on]
        assert turn.sent == []
    assert await storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}
    assert (await person.press("mt:999:go", on=message, forged=True)).alerts == [not_on]

    later, later_message = await announced(person, services, app)
    now[0] = later.starts_at + 3600
    turn = await person.press_label(later_message, "Jeg kommer")
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.past")]
    assert await storage.mark_counts(later.id) == {"coming": 0, "remind": 0}


FORGED = [
    "ms:m:atlantis",
    "ms:r:nowhere",
    "ms:w:lyngen",  # a municipality where a region belongs
    "ms:sub:",
    "ms:subr:nord-norge:x",
    "ms:zz:lyngen",
    "ms:home:1",
    "ms:all:x",
    "ms:",
    "ms",
    "mt:abc:go",
    "mt:1:dance",
    "mt:1",
    "mt:-1:go",
    "mt:1:go:x",
    "mt:²:go",
    "mt::go",
    "mt:99999999999999999999:go",
]


@pytest.mark.parametrize("data", FORGED)
async def test_forged_buttons_are_refused_and_change_nothing(
    person: Person, services: Services, data: str
) -> None:
    meeting = await make_meeting(services)
    turn = await person.press(data)
    assert turn.alerts == [ui(services, "nb", "errors.stale_button")]
    assert turn.sent == []
    assert await services.storage.subscriptions_of(key_of(services, person)) == []
    assert await services.storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}
    assert not await services.storage.has_resident(key_of(services, person))


async def test_buttons_pressed_outside_a_private_chat_are_refused(
    person: Person, services: Services, app: Application
) -> None:
    """An announcement forwarded into a group keeps its buttons; a press there must not store
    the group as the presser's chat or send a calendar file to the group."""
    meeting, _ = await announced(person, services, app)
    for data in (f"mt:{meeting.id}:rem", f"mt:{meeting.id}:ics", "ms:m:alta"):
        raw = callback_update_json(data, person.user_id)
        raw["callback_query"]["message"]["chat"] = {"id": -500, "type": "group", "title": "G"}
        update = Update.de_json(raw, app.bot)
        calls = len(person.fake.calls)
        await app.process_update(update)
        answers = [c.params for c in person.fake.calls[calls:]]
        assert [a.get("text") for a in answers] == [ui(services, "nb", "errors.stale_button")]
    assert await services.storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}
    assert await services.storage.subscriptions_of(key_of(services, person)) == [
        ("nord-norge", "Lyngen")
    ]


async def test_meetings_is_for_private_chats(person_factory: PersonFactory) -> None:
    group = person_factory(chat_id=-500, chat_type="group")
    turn = await group.say("/meetings")
    assert all("ms:" not in "".join(s.callback_data) for s in turn.sent)


# --- reminders ---------------------------------------------------------------------------------


async def test_reminder_the_day_before_once_in_each_persons_language(
    person_factory: PersonFactory,
    services: Services,
    app: Application,
    now: list[float],
) -> None:
    nb = person_factory()
    en = person_factory(user_id=OTHER_ID, language_code="en")
    await follow(en, "Nord-Norge", "Lyngen")
    meeting, message = await announced(nb, services, app)
    await nb.press_label(message, "Minn meg på det")
    await en.press_label(en.fake.messages_to(OTHER_ID)[-1], "Remind me")
    storage = services.storage

    now[0] = meeting.starts_at - DAY - 60
    assert await enqueue_meeting_reminders(services) == 0
    now[0] = meeting.starts_at - DAY + 30
    woken: list[bool] = []
    services.outbox_listener = lambda: woken.append(True)
    assert await enqueue_meeting_reminders(services) == 2
    assert woken == [True]
    assert await enqueue_meeting_reminders(services) == 0
    rows = await storage.due_outbox(now[0], 100)
    assert {r.campaign for r in rows} == {f"meeting-reminder:{meeting.id}:{meeting.starts_at}"}
    by_key = {r.recipient: r.payload for r in rows}
    for person, lang in ((nb, "nb"), (en, "en")):
        sign = functools.partial(services.signer.sign, person.user_id)  # for them alone
        expected = reminder_message(services.content, services.config, lang, meeting, sign)
        assert by_key[key_of(services, person)] == expected.to_payload()

    await deliver(services, app)
    for person, lang in ((nb, "nb"), (en, "en")):
        last = person.fake.messages_to(person.user_id)[-1]
        assert ui(services, lang, "meetings.reminder.heading") in last.text
        assert last.callback_data == [services.signer.sign(person.user_id, f"mt:{meeting.id}:ics")]
    now[0] += 3600
    assert await enqueue_meeting_reminders(services) == 0
    assert await storage.due_outbox(now[0], 100) == []


async def test_reminders_survive_a_restart_and_are_never_sent_twice(
    person: Person,
    services: Services,
    app: Application,
    config: Config,
    database: Path,
    content: Content,
    now: list[float],
) -> None:
    meeting, message = await announced(person, services, app)
    second, second_message = await announced(person, services, app, starts_at=START + 2 * DAY)
    await person.press_label(message, "Minn meg på det")
    await person.press_label(second_message, "Minn meg på det")
    await app.shutdown()
    await services.storage.close()  # the bot stops; the marks are in the database

    now[0] = meeting.starts_at - DAY + 60
    fresh = FakeTelegram()
    restarted = await open_services(config, database, content, now)
    second_app = await start(restarted, FakeBotRequest(fresh))
    try:
        assert await enqueue_meeting_reminders(restarted) == 1
        await deliver(restarted, second_app)
        assert len(fresh.messages_to(USER_ID)) == 1
        assert ui(restarted, "nb", "meetings.reminder.heading") in fresh.sent[0].text
    finally:
        await stop_app(second_app)

    # Another restart: the first reminder is not sent again; the second comes at its time.
    third = await open_services(config, database, content, now)
    try:
        assert await enqueue_meeting_reminders(third) == 0
        now[0] = second.starts_at - DAY + 60
        assert await enqueue_meeting_reminders(third) == 1
        assert await enqueue_meeting_reminders(third) == 0
        rows = await third.storage.due_outbox(now[0], 100)
        assert [r.campaign for r in rows] == [f"meeting-reminder:{second.id}:{second.starts_at}"]
    finally:
        await third.storage.close()


async def test_no_reminder_when_turned_off_cancelled_or_set_within_a_day(
    person: Person,
    services: Services,
    app: Application,
    now: list[float],
) -> None:
    _, off_message = await announced(person, services, app)
    await person.press_label(off_message, "Minn meg på det")
    await person.press_label(off_message, "Minn meg på det")  # turned off again
    cancelled, cancelled_message = await announced(person, services, app)
    await person.press_label(cancelled_message, "Minn meg på det")
    await services.storage.update_meeting(replace(cancelled, status="cancelled"))
    soon, soon_message = await announced(person, services, app, starts_at=int(T0) + 5 * 3600)
    turn = await person.press_label(soon_message, "Minn meg på det")
    assert turn.alerts == [ui(services, "nb", "subscribe.meeting.remind_soon")]
    assert (await services.storage.mark_counts(soon.id))["remind"] == 1  # still counted

    for t in (T0, soon.starts_at - 60, START - DAY + 60, START - 60):
        now[0] = t
        assert await enqueue_meeting_reminders(services) == 0


# --- /forget -----------------------------------------------------------------------------------


async def test_forget_removes_subscriptions_and_marks(
    person: Person,
    services: Services,
    app: Application,
    now: list[float],
) -> None:
    key = key_of(services, person)
    await follow(person, "Innlandet")
    meeting, message = await announced(person, services, app)
    await person.press_label(message, "Minn meg på det")
    await person.press_label(message, "Jeg kommer")
    assert await services.storage.mark_counts(meeting.id) == {"coming": 1, "remind": 1}

    confirm = (await person.say("/forget")).first
    await person.press_label(confirm, "Ja, slett alt")
    storage = services.storage
    assert await storage.subscriptions_of(key) == []
    assert await storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}
    assert await storage.marked_people(meeting.id) == []
    now[0] = meeting.starts_at - DAY + 60
    assert await enqueue_meeting_reminders(services) == 0
    assert ui(services, "nb", "subscribe.none") in (await person.say("/meetings")).first.text
