"""Journeys: information meetings reach the people who asked for them (issue 11).

Each test reads like a transcript: residents and the regional office talk to the real
Application on the fake Bot API and press buttons by their label, the outbox is delivered by
the real Sender, and the assertions are on what each person received.

The consent model under test: saying yes to messages in /interest covers start-meeting
invitations and information meetings in one's municipality; /meetings follows or stops places;
an announcement goes to the residents registered in its municipalities who said yes, and to
the followers of those places, each once; a change or cancellation reaches everyone who had the
announcement, nobody else; a cancelled meeting is never reminded of.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.meetings.reminders import enqueue_meeting_reminders
from bot.meetings.when import format_when
from bot.offline.fake_bot_api import FakeTelegram, Sent
from bot.outbox.progress import report_progress
from bot.outbox.sender import Sender, SendReport
from bot.services import Services
from bot.storage import Meeting
from tests.support import App, PacingClock, Person, PersonFactory, Turn

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2027, 1, 10, 12, 0, tzinfo=OSLO).timestamp()  # a Sunday, noon in Oslo
OFFICE = 100000004  # the office of Nord-Norge in config.yaml
COORD_LYNGEN = 100000002
LYNGEN_AT = datetime(2027, 3, 12, 18, 0, tzinfo=OSLO)
MOVED_TO = datetime(2027, 3, 13, 19, 0, tzinfo=OSLO)
TROMSO_AT = datetime(2027, 3, 20, 18, 0, tzinfo=OSLO)
LYNGEN_TITLE = "Informasjonsmøte om selvhjelp i Lyngen"
TROMSO_TITLE = "Informasjonsmøte om selvhjelp i Tromsø"


@pytest.fixture
def now() -> list[float]:
    return [T0]


def ui(services: Services, key: str, lang: str = "nb", **values: object) -> str:
    return services.content.text(lang, key, **values)


def when_text(services: Services, moment: datetime, lang: str = "nb") -> str:
    return format_when(moment, lang, services.content)


def received(fake: FakeTelegram, chat_id: int, since: int = 0) -> list[Sent]:
    """The new messages a person got in their chat (not edits, not alerts)."""
    return [s for s in fake.sent[since:] if s.chat_id == chat_id and s.method == "sendMessage"]


async def deliver(services: Services, app: App) -> SendReport:
    """Send the outbox as the running bot does (progress wired like bot/scheduler.py)."""

    async def progress(campaign: str, counts: dict[str, int]) -> None:
        await report_progress(app.bot, services, campaign, counts)

    clock = PacingClock()
    sender = Sender(services, on_progress=progress, sleep=clock.sleep, timer=clock)
    return await sender.run_until_idle(app.bot, timeout=120)


async def press(person: Person, turn: Turn | Sent, label: str) -> Turn:
    """Press the button labelled `label` (exactly) on the bot's last message of `turn`."""
    sent = turn.last if isinstance(turn, Turn) else turn
    for row in sent.buttons:
        for button in row:
            if button["text"] == label:
                return await person.press(button["callback_data"], on=sent)
    raise AssertionError(f"no button {label!r} on {sent.text!r}: {sent.button_texts}")


async def press_containing(person: Person, sent: Sent, part: str) -> Turn:
    return await person.press_label(sent, part)


async def register(services: Services, person: Person, *, place: str, yes: bool) -> Turn:
    """/interest, pressing by label: I have something of my own, 18 or older, sober, the
    region and the municipality, no preference, either time, yes or no to messages, confirm.
    Walks the steps in whatever order the flow asks them."""
    t = services.content.text
    min_age = services.config.min_age
    region = next(
        r for r in services.config.regions if any(m.name == place for m in r.municipalities)
    )
    answers = [
        t("nb", "interest.entry_yes"),
        t("nb", "interest.age_yes", min_age=min_age),
        t("nb", "interest.sober_ok"),
        region.name,
        place,
        t("nb", "interest.kind_any"),
        t("nb", "interest.time_either"),
        t("nb", "interest.contact_yes" if yes else "interest.contact_no"),
        t("nb", "interest.confirm"),
    ]
    turn = await person.say("/interest")
    for _ in range(len(answers) + 3):
        labels = turn.last.button_texts
        choice = next((a for a in answers if a in labels), None)
        if choice is None:
            break
        turn = await press(person, turn, choice)
        if choice == answers[-1]:
            break
    saved_start = t("nb", "interest.saved", retention_days=services.config.retention_days)[:20]
    assert turn.last.text.startswith(saved_start), turn.texts
    return turn


async def announce(
    services: Services, office: Person, *, title: str, when: str, place: str, target: str
) -> Turn:
    """/announce, typing the fields and pressing by label; returns the turn after "Send"."""
    turn = await office.say("/announce")
    assert turn.last.text == ui(services, "announce.ask_title")
    await office.say(title)
    await office.say(when)
    turn = await office.say(place)
    turn = await press(office, turn, ui(services, "announce.skip"))  # no link
    turn = await press(office, turn, ui(services, "announce.skip"))  # no description
    turn = await press_containing(office, turn.last, target)  # a toggle: "▫️ Lyngen"
    turn = await press(office, turn, ui(services, "announce.done"))
    assert turn.sent[0].text == ui(services, "announce.preview_intro")
    return await press(office, turn, ui(services, "announce.send"))


async def meeting_titled(services: Services, title: str) -> Meeting:
    found = [
        m for m in await services.storage.meetings_in_region("nord-norge", 0) if m.title == title
    ]
    assert len(found) == 1
    return found[0]


def assert_no_figures(services: Services, turn: Turn) -> None:
    """What an office is told about a send: fixed sentences, never a count of recipients."""
    allowed = {
        ui(services, "announce.queued"),
        ui(services, "announce.progress"),
        ui(services, "announce.report"),
        ui(services, "announce.change_done"),
        ui(services, "announce.cancel_done"),
    }
    assert set(turn.texts) <= allowed, turn.texts


async def test_office_announces_changes_and_cancels_and_nobody_is_reminded(
    services: Services,
    app: App,
    fake: FakeTelegram,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    office = person_factory(user_id=OFFICE)
    # An earlier meeting in Tromsø, announced before anyone followed Tromsø.
    sent = await announce(
        services, office, title=TROMSO_TITLE, when="20.03 kl 18", place="Tromsø bibliotek",
        target="Tromsø",
    )  # fmt: skip
    assert_no_figures(services, sent)
    await deliver(services, app)

    # Five residents of Lyngen register and say yes to messages; they press nothing else.
    residents = [person_factory(user_id=5001 + i) for i in range(5)]
    for resident in residents:
        await register(services, resident, place="Lyngen", yes=True)
    # Bystanders: one in Lyngen who said no to messages, one in Alta who said yes.
    said_no = person_factory(user_id=5101)
    await register(services, said_no, place="Lyngen", yes=False)
    in_alta = person_factory(user_id=5102)
    await register(services, in_alta, place="Alta", yes=True)
    bystanders = [said_no, in_alta]

    # The office announces a meeting in Lyngen: all five receive it, once each.
    since = len(fake.sent)
    sent = await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    assert_no_figures(services, sent)
    await deliver(services, app)
    announcements: dict[int, Sent] = {}
    for resident in residents:
        got = received(fake, resident.user_id, since)
        assert len(got) == 1, resident.user_id
        assert got[0].text.startswith(ui(services, "meetings.announcement.heading"))
        assert when_text(services, LYNGEN_AT) in got[0].text
        assert got[0].text.endswith(ui(services, "meetings.announcement.footer"))
        announcements[resident.user_id] = got[0]
    assert len(received(fake, COORD_LYNGEN, since)) == 1  # the coordinator there too
    for bystander in bystanders:
        assert received(fake, bystander.user_id, since) == []

    # One asks to be reminded and is told when; another is coming.
    first, second, third = residents[:3]
    turn = await press(first, announcements[first.user_id], ui(services, "meetings.button.rem"))
    a_day_before = when_text(services, datetime(2027, 3, 11, 18, 0, tzinfo=OSLO))
    assert turn.alerts == [ui(services, "subscribe.meeting.remind_on", remind_at=a_day_before)]
    turn = await press(second, announcements[second.user_id], ui(services, "meetings.button.go"))
    assert turn.alerts == [ui(services, "subscribe.meeting.coming_on")]

    # The third opens /meetings: Lyngen comes from the registration, with its meeting.
    turn = await third.say("/meetings")
    assert ui(services, "subscribe.place_line_registered", place="Lyngen") in turn.last.text
    assert LYNGEN_TITLE in turn.last.text
    assert TROMSO_TITLE not in turn.last.text
    # They follow Tromsø too, and see Tromsø's upcoming meeting at once.
    turn = await press(third, turn, ui(services, "subscribe.button.region", region="Nord-Norge"))
    turn = await press(third, turn, "Tromsø")
    assert turn.last.text.startswith(ui(services, "subscribe.subscribed", place="Tromsø"))
    tromso_line = ui(
        services,
        "subscribe.upcoming_line",
        when=when_text(services, TROMSO_AT),
        title=TROMSO_TITLE,
        place="Tromsø bibliotek",
    )
    assert tromso_line in turn.last.text
    # The meetings are listed soonest first, and one opens as its announcement.
    label = ui(services, "subscribe.button.meeting", day=20, month=3, title=TROMSO_TITLE)
    assert turn.last.button_texts[:2] == [
        ui(services, "subscribe.button.meeting", day=12, month=3, title=LYNGEN_TITLE),
        label,
    ]
    card = await press(third, turn, label)
    assert card.last.text.startswith(ui(services, "meetings.announcement.heading"))
    assert TROMSO_TITLE in card.last.text
    assert ui(services, "meetings.button.rem") in card.last.button_texts

    # The office moves the Lyngen meeting: everyone who received it gets the change.
    listing = (await office.say("/announce list")).last
    turn = await press_containing(
        office, listing, ui(services, "announce.change", meeting="12.03")
    )
    turn = await press(office, turn, ui(services, "announce.edit_when"))
    assert turn.last.text == ui(services, "announce.ask_when")
    turn = await office.say("13.03 kl 19")
    since = len(fake.sent)
    turn = await press(office, turn, ui(services, "announce.send"))
    assert turn.texts == [ui(services, "announce.change_done")]
    await deliver(services, app)
    for resident in residents:
        got = received(fake, resident.user_id, since)
        assert len(got) == 1, resident.user_id
        assert got[0].text.startswith(ui(services, "meetings.changed.heading"))
        assert when_text(services, MOVED_TO) in got[0].text
    assert len(received(fake, COORD_LYNGEN, since)) == 1
    for bystander in bystanders:
        assert received(fake, bystander.user_id, since) == []

    # The office cancels it: everyone is told, nobody else.
    listing = (await office.say("/announce list")).last
    turn = await press_containing(
        office, listing, ui(services, "announce.cancel_meeting", meeting="13.03")
    )
    assert turn.last.text == ui(services, "announce.cancel_confirm", title=LYNGEN_TITLE)
    since = len(fake.sent)
    turn = await press(office, turn, ui(services, "announce.cancel_yes"))
    assert turn.texts == [ui(services, "announce.cancel_done")]
    await deliver(services, app)
    for resident in residents:
        got = received(fake, resident.user_id, since)
        assert len(got) == 1, resident.user_id
        assert got[0].text.startswith(ui(services, "meetings.cancelled.heading"))
        assert got[0].buttons == []
    for bystander in bystanders:
        assert received(fake, bystander.user_id, since) == []

    # /meetings no longer lists it; the day before its time, nobody is reminded.
    turn = await third.say("/meetings")
    assert LYNGEN_TITLE not in turn.last.text
    assert TROMSO_TITLE in turn.last.text
    since = len(fake.sent)
    for moment in (datetime(2027, 3, 11, 19, 0, tzinfo=OSLO), MOVED_TO):
        now[0] = moment.timestamp() - 3600
        await enqueue_meeting_reminders(services)
        await deliver(services, app)
    for resident in residents:
        assert received(fake, resident.user_id, since) == []


async def test_a_reminder_queued_before_the_cancellation_never_arrives(
    services: Services,
    app: App,
    fake: FakeTelegram,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5201)
    await register(services, resident, place="Lyngen", yes=True)
    since = len(fake.sent)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    announcement = received(fake, resident.user_id, since)[0]
    await press(resident, announcement, ui(services, "meetings.button.rem"))

    # The day before, the reminder is queued, and before it goes, the meeting is cancelled.
    now[0] = LYNGEN_AT.timestamp() - 20 * 3600
    assert await enqueue_meeting_reminders(services) == 1
    meeting = await meeting_titled(services, LYNGEN_TITLE)
    listing = (await office.say("/announce list")).last
    confirm = await press_containing(
        office, listing, ui(services, "announce.cancel_meeting", meeting="12.03")
    )
    since = len(fake.sent)
    await press(office, confirm, ui(services, "announce.cancel_yes"))
    await deliver(services, app)
    got = received(fake, resident.user_id, since)
    assert [s.text.split("\n")[0] for s in got] == [ui(services, "meetings.cancelled.heading")]
    assert await enqueue_meeting_reminders(services) == 0
    assert not await services.storage.campaign_exists(
        f"meeting-reminder:{meeting.id}:{meeting.starts_at}"
    )


async def test_a_reminder_already_queued_is_dropped_by_the_sender_once_cancelled(
    services: Services, app: App, fake: FakeTelegram, person_factory: PersonFactory
) -> None:
    """Even a reminder row the cancellation did not see (queued in the same moment) is
    re-checked right before its request."""
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5301)
    await register(services, resident, place="Lyngen", yes=True)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    meeting = await meeting_titled(services, LYNGEN_TITLE)
    key = services.user_key(resident.user_id)
    chat_enc = services.cipher.encrypt(resident.user_id, key)
    await services.storage.update_meeting(Meeting(**{**meeting.__dict__, "status": "cancelled"}))
    campaign = f"meeting-reminder:{meeting.id}:{meeting.starts_at}"
    await services.storage.enqueue(campaign, [(key, chat_enc, {"text": "⏰"})])
    since = len(fake.sent)
    report = await deliver(services, app)
    assert received(fake, resident.user_id, since) == []
    assert report.dropped == 1


async def test_moving_a_meeting_drops_the_reminder_of_its_old_time(
    services: Services,
    app: App,
    fake: FakeTelegram,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5401)
    await register(services, resident, place="Lyngen", yes=True)
    since = len(fake.sent)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    await press(
        resident, received(fake, resident.user_id, since)[0], ui(services, "meetings.button.rem")
    )
    now[0] = LYNGEN_AT.timestamp() - 20 * 3600
    assert await enqueue_meeting_reminders(services) == 1  # queued, not yet sent
    listing = (await office.say("/announce list")).last
    turn = await press_containing(
        office, listing, ui(services, "announce.change", meeting="12.03")
    )
    await press(office, turn, ui(services, "announce.edit_when"))
    turn = await office.say("19.03 kl 18")
    since = len(fake.sent)
    await press(office, turn, ui(services, "announce.send"))
    await deliver(services, app)
    got = received(fake, resident.user_id, since)
    assert [s.text.split("\n")[0] for s in got] == [ui(services, "meetings.changed.heading")]


async def test_moving_a_meeting_to_within_a_day_sends_no_reminder_after_the_change(
    services: Services,
    app: App,
    fake: FakeTelegram,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    """ "Remind me" said a reminder comes a day before; moved to in a few hours, the change
    notice is the last word, not a reminder right behind it."""
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5501)
    await register(services, resident, place="Lyngen", yes=True)
    since = len(fake.sent)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    await press(
        resident, received(fake, resident.user_id, since)[0], ui(services, "meetings.button.rem")
    )
    now[0] = datetime(2027, 3, 5, 12, 0, tzinfo=OSLO).timestamp()
    listing = (await office.say("/announce list")).last
    turn = await press_containing(
        office, listing, ui(services, "announce.change", meeting="12.03")
    )
    await press(office, turn, ui(services, "announce.edit_when"))
    turn = await office.say("i dag kl 19")
    since = len(fake.sent)
    await press(office, turn, ui(services, "announce.send"))
    await deliver(services, app)
    assert await enqueue_meeting_reminders(services) == 0
    await deliver(services, app)
    got = received(fake, resident.user_id, since)
    assert [s.text.split("\n")[0] for s in got] == [ui(services, "meetings.changed.heading")]


async def test_stopping_the_registered_place_keeps_the_yes_for_invitations(
    services: Services, app: App, fake: FakeTelegram, person_factory: PersonFactory
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5601)
    await register(services, resident, place="Lyngen", yes=True)

    turn = await resident.say("/meetings")
    turn = await press(resident, turn, ui(services, "subscribe.button.stop", place="Lyngen"))
    assert turn.last.text.startswith(ui(services, "subscribe.unsubscribed", place="Lyngen"))
    assert ui(services, "subscribe.none").strip() in turn.last.text  # nothing reaches them now
    reg = await services.storage.get_registration(services.user_key(resident.user_id))
    assert reg is not None
    assert reg.contact_ok  # start-meeting invitations still reach them

    since = len(fake.sent)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    assert received(fake, resident.user_id, since) == []

    # Following Lyngen again brings its meetings back, and shows the one just announced.
    turn = await resident.say("/meetings")
    turn = await press(
        resident, turn, ui(services, "subscribe.button.region", region="Nord-Norge")
    )
    turn = await press(resident, turn, "Lyngen")
    assert LYNGEN_TITLE in turn.last.text


async def test_stop_on_an_announcement_stops_what_brought_it(
    services: Services, app: App, fake: FakeTelegram, person_factory: PersonFactory
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5701)
    await register(services, resident, place="Lyngen", yes=True)
    since = len(fake.sent)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    announcement = received(fake, resident.user_id, since)[0]
    turn = await press(resident, announcement, ui(services, "meetings.button.stop"))
    assert turn.last.text == ui(services, "subscribe.meeting.stopped", places="Lyngen")
    since = len(fake.sent)
    await announce(
        services, office, title=TROMSO_TITLE, when="20.03 kl 18", place="Lyngen skole",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    assert received(fake, resident.user_id, since) == []


async def test_following_after_the_announcement_brings_the_change(
    services: Services, app: App, fake: FakeTelegram, person_factory: PersonFactory
) -> None:
    """Someone who follows a place after its meeting was announced sees the meeting, and
    then hears of its change like those who received the announcement."""
    office = person_factory(user_id=OFFICE)
    await announce(
        services, office, title=TROMSO_TITLE, when="20.03 kl 18", place="Tromsø bibliotek",
        target="Tromsø",
    )  # fmt: skip
    await deliver(services, app)
    late = person_factory(user_id=5801)
    turn = await late.say("/meetings")
    turn = await press(late, turn, ui(services, "subscribe.button.region", region="Nord-Norge"))
    turn = await press(late, turn, "Tromsø")
    assert TROMSO_TITLE in turn.last.text
    listing = (await office.say("/announce list")).last
    turn = await press_containing(
        office, listing, ui(services, "announce.change", meeting="20.03")
    )
    await press(office, turn, ui(services, "announce.edit_when"))
    turn = await office.say("21.03 kl 18")
    since = len(fake.sent)
    await press(office, turn, ui(services, "announce.send"))
    await deliver(services, app)
    got = received(fake, late.user_id, since)
    assert [s.text.split("\n")[0] for s in got] == [ui(services, "meetings.changed.heading")]


async def test_the_question_about_the_next_meeting_opens_meetings(
    services: Services, app: App, person_factory: PersonFactory
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=5901)
    await register(services, resident, place="Lyngen", yes=True)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    answer = await resident.press("t:info_meetings")
    label = ui(services, "faq.action.info_meetings")
    assert label in answer.last.button_texts
    turn = await press(resident, answer, label)
    assert turn.last.method == "sendMessage"  # a new message; the answer stays as it was
    assert LYNGEN_TITLE in turn.last.text


async def test_forget_erases_who_a_meeting_went_to(
    services: Services, app: App, person_factory: PersonFactory
) -> None:
    office = person_factory(user_id=OFFICE)
    resident = person_factory(user_id=6001)
    await register(services, resident, place="Lyngen", yes=True)
    await announce(
        services, office, title=LYNGEN_TITLE, when="12.03 kl 18", place="Lyngen rådhus",
        target="Lyngen",
    )  # fmt: skip
    await deliver(services, app)
    meeting = await meeting_titled(services, LYNGEN_TITLE)
    key = services.user_key(resident.user_id)
    assert key in dict(await services.storage.meeting_recipients(meeting.id))
    turn = await resident.say("/forget")
    await resident.press_label(turn.last, turn.last.button_texts[0])
    assert await services.storage.meeting_recipients(meeting.id) == []
    assert await services.storage.registered_meeting_place(key) is None
