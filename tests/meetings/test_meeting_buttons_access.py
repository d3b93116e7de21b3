"""A meeting's buttons ("calendar file", "remind me", "I'm coming", "stop") work only for the
person the announcement was sent to, or on a meeting for their places (issue 10, item 12).

Announcements, change notices and reminders carry buttons signed for their recipient; a
borrowed or forged button is refused with a short answer, gives no calendar file and sets no
mark. Unsigned buttons (from before buttons were signed, or typed by hand) work only on a
meeting whose places the presser follows or registered in, or coordinates; checked at every
press.
"""

from __future__ import annotations

import itertools

import pytest
from telegram.ext import Application

from bot.meetings import announcements
from bot.meetings.reminders import enqueue_meeting_reminders
from bot.offline.fake_bot_api import Call, FakeTelegram, Sent
from bot.outbox.sender import Sender
from bot.services import Services
from bot.storage import Meeting, Registration
from bot.weeks import week_index
from tests.support import PacingClock, Person, PersonFactory

T0 = 1_700_000_000.0  # Tuesday 14.11.2023 23:13 in Oslo
DAY = 24 * 3600
START = int(T0) + 3 * DAY + 19 * 3600
LYNGEN_COORDINATOR = 100000002  # config.yaml's sample coordinator for Lyngen
_uids = itertools.count(1)


@pytest.fixture
def now() -> list[float]:
    return [T0]


def ui(services: Services, key: str, lang: str = "nb", **values: object) -> str:
    return services.content.text(lang, key, **values)


async def deliver(services: Services, app: Application) -> None:
    clock = PacingClock()
    await Sender(services, sleep=clock.sleep, timer=clock).run_until_idle(app.bot, timeout=60)


async def make_meeting(
    services: Services, municipalities: tuple[str, ...] = ("Lyngen",), region: str = "nord-norge"
) -> Meeting:
    draft = Meeting(
        id=0,
        uid=f"access-{next(_uids)}@selvhjelp.test",
        office_key="office-key",
        office_chat=b"office-chat",
        region_id=region,
        title="Informasjonsmøte",
        starts_at=START,
        place="Rådhuset",
        link="https://meet.example.org/secret-room",
        description=None,
        municipalities=municipalities,
    )
    meeting = await services.storage.get_meeting(await services.storage.create_meeting(draft))
    assert meeting is not None
    return meeting


async def follow(person: Person, region: str, place: str) -> None:
    """/meetings, the region's button, then the municipality's (by their names)."""
    regions = (await person.say("/meetings")).last
    places = (await person.press_label(regions, region)).last
    await person.press_label(places, place)


async def announce(services: Services, app: Application, meeting: Meeting) -> None:
    """As the office's send does: the real recipients, through the outbox."""
    await announcements.announce(services, meeting)
    await deliver(services, app)


def last_to(fake: FakeTelegram, user_id: int) -> Sent:
    return fake.messages_to(user_id)[-1]


def documents(calls: list[Call]) -> int:
    return sum(1 for c in calls if c.method == "sendDocument")


@pytest.fixture
async def lyngen(
    person_factory: PersonFactory, services: Services, app: Application, fake: FakeTelegram
) -> tuple[Person, Meeting, Sent]:
    """A follower of Lyngen with the announcement of a Lyngen meeting."""
    follower = person_factory(user_id=4001)
    await follow(follower, "Nord-Norge", "Lyngen")
    meeting = await make_meeting(services)
    await announce(services, app, meeting)
    return follower, meeting, last_to(fake, follower.user_id)


async def test_the_recipient_presses_their_signed_buttons(
    lyngen: tuple[Person, Meeting, Sent], services: Services
) -> None:
    follower, meeting, message = lyngen
    for data in message.callback_data:
        assert "~" in data  # signed ...
        assert services.signer.verify(follower.user_id, data) is not None  # ... for them
        assert len(data.encode()) <= 64
    turn = await follower.press_label(message, ui(services, "meetings.button.ics"))
    assert documents(turn.calls) == 1
    turn = await follower.press_label(message, ui(services, "meetings.button.go"))
    assert turn.alerts == [ui(services, "subscribe.meeting.coming_on")]
    assert await services.storage.mark_counts(meeting.id) == {"coming": 1, "remind": 0}


async def test_a_mark_counts_at_most_once_per_person(
    lyngen: tuple[Person, Meeting, Sent], services: Services
) -> None:
    follower, meeting, message = lyngen
    label = ui(services, "meetings.button.go")
    counts = []
    for _ in range(5):
        await follower.press_label(message, label)
        counts.append((await services.storage.mark_counts(meeting.id))["coming"])
    assert counts == [1, 0, 1, 0, 1]  # a press toggles; it never adds up


async def test_a_borrowed_button_is_refused_with_no_file_and_no_mark(
    lyngen: tuple[Person, Meeting, Sent], person_factory: PersonFactory, services: Services
) -> None:
    _, meeting, message = lyngen
    mallory = person_factory(user_id=6666)
    for label in ("ics", "go", "rem"):
        turn = await mallory.press_label(message, ui(services, f"meetings.button.{label}"))
        assert turn.alerts == [ui(services, "subscribe.meeting.not_yours")], label
        assert documents(turn.calls) == 0
        assert not turn.sent
    # Even someone who follows Lyngen too cannot use another person's signed button.
    other = person_factory(user_id=6667, language_code="en")
    await follow(other, "Nord-Norge", "Lyngen")
    turn = await other.press_label(message, ui(services, "meetings.button.go"))
    assert turn.alerts == [ui(services, "subscribe.meeting.not_yours", "en")]
    assert await services.storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}


async def test_a_tampered_or_garbled_tag_is_refused(
    lyngen: tuple[Person, Meeting, Sent], services: Services
) -> None:
    follower, _, message = lyngen
    data = message.callback_data[0]  # mt:<id>:ics~tag
    plain, _, tag = data.rpartition("~")
    other = await make_meeting(services, ("Alta",))
    refused = ui(services, "subscribe.meeting.not_yours")
    for forged in (
        f"mt:{other.id}:ics~{tag}",  # another meeting's id with this tag
        f"{plain}~{'A' * len(tag)}",
        f"{plain}~ø{tag[1:]}",  # a non-ASCII tag: answered, never a crash
        f"{plain}~",
    ):
        turn = await follower.press(forged, on=message, forged=True)
        assert turn.alerts == [refused], forged
        assert documents(turn.calls) == 0
    assert await services.storage.mark_counts(other.id) == {"coming": 0, "remind": 0}


async def test_unsigned_buttons_work_only_on_a_meeting_for_ones_places(
    person_factory: PersonFactory, services: Services
) -> None:
    """The 08c probe: `mt:<id>:...` typed for meetings never sent to the presser."""
    meeting = await make_meeting(services, ("Tromsø",))
    refused = ui(services, "subscribe.meeting.not_yours")
    nobody = person_factory(user_id=6100)
    elsewhere = person_factory(user_id=6101)
    await follow(elsewhere, "Nord-Norge", "Alta")  # the same region, another place
    innlandet = person_factory(user_id=6102)
    await follow(innlandet, "Innlandet", "Gjøvik")
    for person in (nobody, elsewhere, innlandet):
        for action in ("ics", "go", "rem"):
            turn = await person.press(f"mt:{meeting.id}:{action}")
            assert turn.alerts == [refused], (person.user_id, action)
            assert documents(turn.calls) == 0
    assert await services.storage.mark_counts(meeting.id) == {"coming": 0, "remind": 0}

    follower = person_factory(user_id=6103)
    await follow(follower, "Nord-Norge", "Tromsø")
    turn = await follower.press(f"mt:{meeting.id}:ics")
    assert documents(turn.calls) == 1
    assert (await follower.press(f"mt:{meeting.id}:go")).alerts == [
        ui(services, "subscribe.meeting.coming_on")
    ]


async def test_the_whole_region_a_registration_or_a_role_lists_a_meeting(
    person_factory: PersonFactory, services: Services, now: list[float]
) -> None:
    """Listed by places, not by who got it: whoever receives announcements later."""
    meeting = await make_meeting(services, ("Lyngen",))
    region = person_factory(user_id=7001)
    regions = (await region.say("/meetings")).last
    places = (await region.press_label(regions, "Nord-Norge")).last
    await region.press_label(places, "Hele Nord-Norge")
    registered = person_factory(user_id=7002)
    key = services.user_key(registered.user_id)
    reg = Registration(key, "Lyngen", "nord-norge", "open", "evening", True, int(T0), int(T0),
                       int(T0) + 90 * DAY, None)  # fmt: skip
    await services.storage.save_registration(reg, week_index(now[0], services.config.timezone))
    coordinator = person_factory(user_id=LYNGEN_COORDINATOR)
    for person in (region, registered, coordinator):
        turn = await person.press(f"mt:{meeting.id}:ics")
        assert documents(turn.calls) == 1, person.user_id
    # Registered elsewhere: not listed.
    alta = person_factory(user_id=7003)
    other = Registration(services.user_key(7003), "Alta", "nord-norge", "open", "day", True,
                         int(T0), int(T0), int(T0) + 90 * DAY, None)  # fmt: skip
    await services.storage.save_registration(other, week_index(now[0], services.config.timezone))
    turn = await alta.press(f"mt:{meeting.id}:ics")
    assert turn.alerts == [ui(services, "subscribe.meeting.not_yours")]


async def test_a_signed_button_keeps_working_after_unfollowing(
    lyngen: tuple[Person, Meeting, Sent], services: Services
) -> None:
    """It was sent to them: the calendar file stays theirs, and so does taking a mark back."""
    follower, _, message = lyngen
    await follower.press_label(message, ui(services, "meetings.button.rem"))
    await follower.press_label((await follower.say("/meetings")).last, "Stopp alle")
    assert await services.storage.subscriptions_of(services.user_key(follower.user_id)) == []
    turn = await follower.press_label(message, ui(services, "meetings.button.ics"))
    assert documents(turn.calls) == 1
    turn = await follower.press_label(message, ui(services, "meetings.button.rem"))
    assert turn.alerts == [ui(services, "subscribe.meeting.remind_off")]


async def test_a_coordinator_there_gets_buttons_signed_for_them(
    lyngen: tuple[Person, Meeting, Sent],
    person_factory: PersonFactory,
    services: Services,
    fake: FakeTelegram,
) -> None:
    _, meeting, _ = lyngen
    message = last_to(fake, LYNGEN_COORDINATOR)
    assert all(
        services.signer.verify(LYNGEN_COORDINATOR, d) is not None for d in message.callback_data
    )
    coordinator = person_factory(user_id=LYNGEN_COORDINATOR)
    turn = await coordinator.press_label(message, ui(services, "meetings.button.go"))
    assert turn.alerts == [ui(services, "subscribe.meeting.coming_on")]
    assert await services.storage.mark_counts(meeting.id) == {"coming": 1, "remind": 0}


async def test_change_notices_and_reminders_are_signed_for_their_recipient(
    lyngen: tuple[Person, Meeting, Sent],
    person_factory: PersonFactory,
    services: Services,
    app: Application,
    fake: FakeTelegram,
    now: list[float],
) -> None:
    follower, meeting, message = lyngen
    await follower.press_label(message, ui(services, "meetings.button.rem"))
    await announcements.notify_marked(services, meeting, f"meeting:{meeting.id}:v2", "change")
    await deliver(services, app)
    notice = last_to(fake, follower.user_id)
    assert ui(services, "meetings.changed.heading") in notice.text
    (data,) = notice.callback_data
    assert services.signer.verify(follower.user_id, data) == f"mt:{meeting.id}:ics"

    now[0] = START - DAY + 60
    assert await enqueue_meeting_reminders(services) == 1
    await deliver(services, app)
    reminder = last_to(fake, follower.user_id)
    assert ui(services, "meetings.reminder.heading") in reminder.text
    (data,) = reminder.callback_data
    assert services.signer.verify(follower.user_id, data) == f"mt:{meeting.id}:ics"
    turn = await person_factory(user_id=6666).press(data, on=reminder)
    assert turn.alerts == [ui(services, "subscribe.meeting.not_yours")]
