"""The office side of information meetings: /announce, the preview, sending, and managing.

Everything goes through the real Application on the fake Bot API. The office presses the signed
`an:` buttons from the bot's own messages, as a person would; forged or replayed data is built
with `services.signer` only where a test simulates a leaked signer or another person's button.
Time is injected through `services.clock` (`now`), and the outbox is delivered by the real
`Sender` on a pacing clock that moves only when it sleeps, with progress wired like
bot/scheduler.py does it.

Config (config.yaml): office 100000004 covers nord-norge; coordinator 100000002 covers Lyngen and
100000003 covers Alta. Lillehammer is in another region (innlandet).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import Office
from bot.meetings.announcements import MAX_CHARS
from bot.meetings.views import announcement_message
from bot.meetings.when import format_when
from bot.offline.fake_bot_api import Call, FakeApiError, FakeTelegram, Sent
from bot.outbox.progress import report_progress
from bot.outbox.sender import Sender, SendReport
from bot.services import Services
from bot.storage import Meeting, RoleGrant
from tests.support import App, PacingClock, Person, PersonFactory, Turn

OSLO = ZoneInfo("Europe/Oslo")
T0 = datetime(2027, 1, 10, 12, 0, tzinfo=OSLO).timestamp()  # a Sunday, noon in Oslo
MARCH_12 = datetime(2027, 3, 12, 18, 0, tzinfo=OSLO)
OFFICE = 100000004
COORD_LYNGEN = 100000002
COORD_ALTA = 100000003
TITLE = "Informasjonsmøte om selvhjelp"
PLACE = "Lyngen rådhus, Lyngseidet"
LINK = "https://møte.example.no/lyngen"
DESCRIPTION = "Kaffe og vafler. Ingen påmelding."
CRISIS_TEXT = "Samtale om selvmord og hvordan vi kan hjelpe hverandre"
OUTRIGHT = "jeg vil ikke leve mer, jeg vil ta livet mitt"


@pytest.fixture
def now() -> list[float]:
    """The injected clock (conftest's services reads it): tests move it by changing now[0]."""
    return [T0]


@pytest.fixture
def office(person_factory: PersonFactory) -> Person:
    return person_factory(user_id=OFFICE)


def ui(services: Services, key: str, lang: str = "nb", **values: object) -> str:
    return services.content.text(lang, key, **values)


def signed(services: Services, person: Person, sent: Sent, plain: str) -> str:
    """The callback data on `sent` that is `plain` signed for `person` (as the bot made it)."""
    for data in sent.callback_data:
        if services.signer.verify(person.user_id, data) == plain:
            return data
    raise AssertionError(f"no {plain!r} button on {sent.text!r}: {sent.callback_data}")


async def press(services: Services, person: Person, sent: Sent, plain: str) -> Turn:
    """Press the signed button `plain` on the bot's message `sent`."""
    return await person.press(signed(services, person, sent, plain), on=sent)


async def skip(services: Services, person: Person, sent: Sent, lang: str = "nb") -> Turn:
    """Press "Skip" on a question (found by its label: the data names the step or not)."""
    return await person.press_label(sent, ui(services, "announce.skip", lang))


async def step_of(services: Services, person: Person) -> str | None:
    state = await services.storage.get_flow(services.user_key(person.user_id))
    return None if state is None else str(state[1].get("step"))


async def flow_of(services: Services, person: Person) -> dict[str, Any]:
    state = await services.storage.get_flow(services.user_key(person.user_id))
    assert state is not None
    assert state[0] == "announce"
    return state[1]


async def compose(
    services: Services,
    office: Person,
    *,
    title: str = TITLE,
    when: str = "12.03 kl 18",
    place: str = PLACE,
    link: str | None = LINK,
    description: str | None = DESCRIPTION,
    targets: tuple[str, ...] = ("lyngen",),
) -> Turn:
    """Walk /announce to the preview; returns the preview turn (intro, card, confirm)."""
    turn = await office.say("/announce")
    assert turn.last.text == ui(services, "announce.ask_title")
    turn = await office.say(title)
    assert turn.last.text == ui(services, "announce.ask_when")
    turn = await office.say(when)
    assert turn.last.text == ui(services, "announce.ask_place")
    turn = await office.say(place)
    assert turn.last.text == ui(services, "announce.ask_link")
    turn = await (office.say(link) if link else skip(services, office, turn.last))
    assert turn.last.text == ui(services, "announce.ask_description")
    turn = await (office.say(description) if description else skip(services, office, turn.last))
    assert turn.last.text == ui(services, "announce.ask_targets", region="Nord-Norge")
    for code in targets:
        turn = await press(services, office, turn.last, f"an:t:{code}")
    turn = await press(services, office, turn.last, "an:tdone")
    assert len(turn.sent) == 3, turn.texts
    assert await step_of(services, office) == "preview"
    return turn


async def deliver(services: Services, app: App) -> SendReport:
    """Send the outbox as the running bot does, progress wired like bot/scheduler.py."""

    async def progress(campaign: str, counts: dict[str, int]) -> None:
        await report_progress(app.bot, services, campaign, counts)

    clock = PacingClock()
    sender = Sender(services, on_progress=progress, sleep=clock.sleep, timer=clock)
    return await sender.run_until_idle(app.bot, timeout=120)


async def resident(
    person_factory: PersonFactory, user_id: int, *follows: str, lang: str = "nb"
) -> Person:
    """A resident who follows the places `follows` (`ms:` buttons from /meetings)."""
    person = person_factory(user_id=user_id, language_code=lang)
    for data in follows:
        await person.press(data)
    return person


async def only_meeting(services: Services, region_id: str = "nord-norge") -> Meeting:
    meetings = await services.storage.meetings_in_region(region_id, 0)
    assert len(meetings) == 1
    return meetings[0]


async def outbox_rows(services: Services, campaign: str) -> int:
    return sum((await services.storage.campaign_progress(campaign)).values())


def received(fake: FakeTelegram, chat_id: int, since: int) -> list[Sent]:
    return [s for s in fake.sent[since:] if s.chat_id == chat_id and s.method == "sendMessage"]


def when_text(services: Services, moment: datetime, lang: str = "nb") -> str:
    return format_when(moment, lang, services.content)


# --- composing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12.03 kl 18", MARCH_12),
        ("12. mars 18:00", MARCH_12),
        ("tirsdag 19.30", datetime(2027, 1, 12, 19, 30, tzinfo=OSLO)),
        ("tysdag 19.30", datetime(2027, 1, 12, 19, 30, tzinfo=OSLO)),  # nynorsk
    ],
)
async def test_every_date_form_is_read_and_shown_in_the_preview(
    services: Services, office: Person, typed: str, expected: datetime
) -> None:
    preview = await compose(services, office, when=typed)
    assert (await flow_of(services, office))["starts_at"] == int(expected.timestamp())
    card = preview.sent[1]
    assert ui(services, "meetings.card.when", when=when_text(services, expected)) in card.text


async def test_bad_input_gets_its_error_and_the_flow_stays_at_that_step(
    services: Services, office: Person
) -> None:
    await office.say("/announce")

    turn = await office.say("x" * 121)
    assert turn.texts == [ui(services, "announce.too_long", max_chars=120)]
    assert await step_of(services, office) == "title"
    turn = await office.say(TITLE)
    assert turn.texts == [ui(services, "announce.ask_when")]

    for typed, error in [
        ("12.03.2026 kl 18", "past"),
        ("i dag kl 09", "past"),  # today, but the time has gone
        ("blå fugl", "not_understood"),
        ("31.02 kl 18", "bad_date"),
        ("i morgen", "no_time"),
    ]:
        turn = await office.say(typed)
        assert turn.texts == [ui(services, f"when.error.{error}")], typed
        assert await step_of(services, office) == "when"
    turn = await office.say("12.03 kl 18")
    assert turn.texts == [ui(services, "announce.ask_place")]

    turn = await office.say("p" * 201)
    assert turn.texts == [ui(services, "announce.too_long", max_chars=200)]
    assert await step_of(services, office) == "place"
    turn = await office.say(PLACE)
    assert turn.texts == [ui(services, "announce.ask_link")]

    for typed in ("http://example.no/mote", "www.example.no", "https://example.no/a b"):
        turn = await office.say(typed)
        assert turn.texts == [ui(services, "announce.bad_link")], typed
        assert await step_of(services, office) == "link"
    turn = await office.say(LINK)
    assert turn.texts == [ui(services, "announce.ask_description")]

    turn = await office.say("d" * 1201)
    assert turn.texts == [ui(services, "announce.too_long", max_chars=1200)]
    assert await step_of(services, office) == "description"
    turn = await office.say(DESCRIPTION)
    assert turn.last.text == ui(services, "announce.ask_targets", region="Nord-Norge")
    flow = await flow_of(services, office)
    assert (flow["title"], flow["place"], flow["link"], flow["description"]) == (
        TITLE,
        PLACE,
        LINK,
        DESCRIPTION,
    )


async def test_a_skip_button_is_not_the_next_question_place_cannot_be_skipped(
    services: Services, office: Person
) -> None:
    """ "Skip" answers the question it was shown with; there is no skip for the place."""
    await office.say("/announce")
    await office.say(TITLE)
    await office.say("12.03 kl 18")
    # At the place step, a signed skip (as on the link question) does not skip the place.
    turn = await office.press(services.signer.sign(OFFICE, "an:skip"))
    assert ui(services, "announce.stale_button") in turn.text
    assert await step_of(services, office) == "place"
    link_question = (await office.say(PLACE)).last
    turn = await skip(services, office, link_question)
    assert turn.last.text == ui(services, "announce.ask_description")
    # A second tap on the same "Skip" (a double tap) must not also skip the description.
    await skip(services, office, link_question)
    assert await step_of(services, office) == "description"


async def test_targets_toggle_all_and_done_with_none_asks_again(
    services: Services, office: Person
) -> None:
    await office.say("/announce")
    for text in (TITLE, "12.03 kl 18", PLACE, LINK):
        await office.say(text)
    view = (await office.say(DESCRIPTION)).last
    names = [
        "Lyngen",
        "Tromsø",
        "Alta",
        "Kautokeino",
        "Karasjok",
        "Porsanger",
        "Vadsø",
        "Kvæfjord",
    ]
    assert view.button_texts == [
        *(f"▫️ {n}" for n in names),
        ui(services, "announce.all"),
        ui(services, "announce.done"),
    ]

    turn = await press(services, office, view, "an:tdone")
    assert turn.texts == [ui(services, "announce.need_target")]
    assert await step_of(services, office) == "targets"

    view = (await press(services, office, view, "an:t:tromso")).last
    assert "✅ Tromsø" in view.button_texts
    assert "▫️ Lyngen" in view.button_texts
    view = (await press(services, office, view, "an:t:lyngen")).last
    view = (await press(services, office, view, "an:t:tromso")).last  # off again
    assert "▫️ Tromsø" in view.button_texts
    assert "✅ Lyngen" in view.button_texts
    assert (await flow_of(services, office))["targets"] == ["Lyngen"]

    view = (await press(services, office, view, "an:tall")).last
    assert view.button_texts[: len(names)] == [f"✅ {n}" for n in names]
    assert (await flow_of(services, office))["targets"] == names
    view = (await press(services, office, view, "an:t:alta")).last
    assert "▫️ Alta" in view.button_texts
    preview = await press(services, office, view, "an:tdone")
    assert [s.text for s in preview.sent][-1] == ui(services, "announce.confirm")
    assert (await flow_of(services, office))["targets"] == [n for n in names if n != "Alta"]


async def test_editing_each_field_from_the_preview_returns_to_the_preview_with_the_change(
    services: Services, office: Person
) -> None:
    preview = await compose(services, office)
    confirm = preview.sent[2]
    assert confirm.text == ui(services, "announce.confirm")
    assert confirm.button_texts == [
        ui(services, "announce.send"),
        *(
            ui(services, f"announce.edit_{f}")
            for f in ("title", "when", "place", "link", "description", "targets")
        ),
        ui(services, "announce.cancel"),
    ]
    card = preview.sent[1].text
    assert ui(services, "meetings.card.link", link=LINK) in card
    assert DESCRIPTION in card

    async def edit(field: str, confirm: Sent) -> Turn:
        turn = await press(services, office, confirm, f"an:e:{field}")
        assert await step_of(services, office) == field
        return turn

    def back_at_preview(turn: Turn) -> tuple[str, Sent]:
        assert len(turn.sent) == 3, turn.texts
        assert turn.sent[2].text == ui(services, "announce.confirm")
        return turn.sent[1].text, turn.sent[2]

    turn = await edit("title", confirm)
    assert turn.last.text == ui(services, "announce.ask_title")
    card, confirm = back_at_preview(await office.say("Folkemøte om selvhjelp"))
    assert ui(services, "meetings.card.title", title="Folkemøte om selvhjelp") in card

    turn = await edit("when", confirm)
    assert turn.last.text == ui(services, "announce.ask_when")
    assert (await office.say("31.02 kl 18")).texts == [ui(services, "when.error.bad_date")]
    card, confirm = back_at_preview(await office.say("13.03 kl 19"))
    new_time = datetime(2027, 3, 13, 19, 0, tzinfo=OSLO)
    assert ui(services, "meetings.card.when", when=when_text(services, new_time)) in card

    await edit("place", confirm)
    card, confirm = back_at_preview(await office.say("Lyngen bibliotek"))
    assert ui(services, "meetings.card.place", place="Lyngen bibliotek") in card

    await edit("link", confirm)
    card, confirm = back_at_preview(await office.say("https://example.no/ny"))
    assert ui(services, "meetings.card.link", link="https://example.no/ny") in card
    ask = (await edit("link", confirm)).last
    card, confirm = back_at_preview(await skip(services, office, ask))
    assert "https://" not in card

    ask = (await edit("description", confirm)).last
    card, confirm = back_at_preview(await skip(services, office, ask))
    assert DESCRIPTION not in card

    view = (await edit("targets", confirm)).last
    assert "✅ Lyngen" in view.button_texts
    view = (await press(services, office, view, "an:t:tromso")).last
    card, confirm = back_at_preview(await press(services, office, view, "an:tdone"))
    flow = await flow_of(services, office)
    assert flow["targets"] == ["Lyngen", "Tromsø"]
    assert (flow["title"], flow["place"], flow["link"], flow["description"]) == (
        "Folkemøte om selvhjelp",
        "Lyngen bibliotek",
        None,
        None,
    )
    assert flow["starts_at"] == int(new_time.timestamp())

    turn = await press(services, office, confirm, "an:x")
    assert turn.last.text == ui(services, "announce.cancelled")
    assert await step_of(services, office) is None
    assert await services.storage.meetings_in_region("nord-norge", 0) == []


# --- sending -----------------------------------------------------------------------------------


async def test_sending_reaches_subscribers_there_and_coordinators_once_each_with_a_report(
    services: Services,
    app: App,
    fake: FakeTelegram,
    office: Person,
    person_factory: PersonFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    storage = services.storage
    lyngen = await resident(person_factory, 2001, "ms:m:lyngen")
    region_en = await resident(person_factory, 2002, "ms:w:nord-norge", lang="en")
    both = await resident(person_factory, 2003, "ms:m:lyngen", "ms:w:nord-norge", "ms:m:tromso")
    alta = await resident(person_factory, 2004, "ms:m:alta")
    lillehammer = await resident(person_factory, 2005, "ms:m:lillehammer")
    innlandet = await resident(person_factory, 2006, "ms:w:innlandet")
    blocked = await resident(person_factory, 2007, "ms:m:tromso")
    failing = await resident(person_factory, 2008, "ms:m:lyngen")
    # A coordinator for Tromsø granted in the database (an admin's invite link).
    granted_id = 100000008
    granted_key = services.user_key(granted_id)
    await storage.grant_role(
        RoleGrant(
            granted_key,
            "coordinator",
            "Tromsø",
            services.cipher.encrypt(granted_id, granted_key),
            int(T0),
        )
    )

    def telegram_says(call: Call) -> None:
        if call.method != "sendMessage":
            return
        chat = int(call.params["chat_id"])
        if chat == blocked.user_id:
            raise FakeApiError(403, "Forbidden: bot was blocked by the user")
        if chat == failing.user_id:
            raise FakeApiError(400, "Bad Request: message can't be sent")

    fake.send_hook = telegram_says
    # Reading a campaign's progress takes a moment, as on a busy database, so a send can land
    # after the counts were read but before the Sender has used them: the office must still
    # get its final report.
    read_progress = storage.campaign_progress

    async def slow_progress(campaign: str) -> dict[str, int]:
        counts = await read_progress(campaign)
        await asyncio.sleep(0.005)
        return counts

    monkeypatch.setattr(storage, "campaign_progress", slow_progress)

    preview = await compose(services, office, targets=("lyngen", "tromso"))
    reached = [lyngen, region_en, both, blocked, failing]
    expected_ids = [p.user_id for p in reached] + [COORD_LYNGEN, granted_id]
    assert preview.sent[0].text == ui(
        services, "announce.preview_intro", count=str(len(expected_ids))
    )
    card = preview.sent[1]

    since = len(fake.sent)
    turn = await press(services, office, preview.sent[2], "an:send")
    assert turn.sent[0].method == "editMessageText"
    assert turn.sent[0].text == ui(services, "announce.queued", count=len(expected_ids))
    progress = turn.sent[1]
    assert progress.chat_id == OFFICE
    assert progress.method == "sendMessage"
    assert progress.text == ui(services, "announce.progress", sent=0, total="7")
    assert await step_of(services, office) is None

    meeting = await only_meeting(services)
    assert (meeting.title, meeting.place, meeting.link, meeting.description) == (
        TITLE,
        PLACE,
        LINK,
        DESCRIPTION,
    )
    assert meeting.starts_at == int(MARCH_12.timestamp())
    assert meeting.municipalities == ("Lyngen", "Tromsø")

    report = await deliver(services, app)
    assert (report.sent, report.blocked, report.failed) == (5, 1, 1)

    buttons = [f"mt:{meeting.id}:{a}" for a in ("ics", "rem", "go", "stop")]
    for chat in (lyngen.user_id, both.user_id, COORD_LYNGEN, granted_id, region_en.user_id):
        got = received(fake, chat, since)
        assert len(got) == 1, (chat, [s.text for s in got])
        # Signed for that very recipient (test_meeting_buttons_access).
        assert [services.signer.verify(chat, d) for d in got[0].callback_data] == buttons
    for nobody in (alta, lillehammer, innlandet, blocked, failing):
        assert received(fake, nobody.user_id, since) == []
    assert received(fake, COORD_ALTA, since) == []

    # The preview was exactly what residents got: text, labels and layout.
    nb = received(fake, lyngen.user_id, since)[0]
    assert nb.text == card.text
    assert [[b["text"] for b in row] for row in nb.buttons] == [
        [b["text"] for b in row] for row in card.buttons
    ]
    assert nb.text == announcement_message(services.content, services.config, "nb", meeting).text
    assert ui(services, "meetings.announcement.heading") in nb.text
    # In their own language.
    en = received(fake, region_en.user_id, since)[0]
    assert en.text == announcement_message(services.content, services.config, "en", meeting).text
    assert ui(services, "meetings.announcement.heading", "en") in en.text
    assert when_text(services, MARCH_12, "en") in en.text
    assert en.button_texts == [
        ui(services, f"meetings.button.{a}", "en") for a in ("ics", "rem", "go", "stop")
    ]

    # The blocked resident is not reached again.
    assert blocked.user_id not in [
        services.cipher.decrypt(c, k)
        for k, c in await storage.subscribers_for("nord-norge", ["Tromsø"])
    ]

    # A replayed "send" queues nothing more and makes no second meeting.
    rows = await outbox_rows(services, f"meeting:{meeting.id}")
    turn = await press(services, office, preview.sent[2], "an:send")
    assert ui(services, "announce.stale_button") in turn.text
    assert await outbox_rows(services, f"meeting:{meeting.id}") == rows == 7
    assert len(await storage.meetings_in_region("nord-norge", 0)) == 1

    # The office's progress message (edited in place) ends as the final report.
    edits = [
        s for s in fake.sent[since:] if (s.chat_id, s.message_id) == (OFFICE, progress.message_id)
    ]
    assert edits[-1].method == "editMessageText"
    few = ui(services, "counts.fewer_than", n=3)  # small counts are banded for offices too
    assert edits[-1].text == ui(services, "announce.report", sent="5", blocked=few, failed=few)
    assert services.campaign_watchers == {}


async def test_sending_to_nobody_keeps_the_meeting_and_looks_the_same(
    services: Services, office: Person
) -> None:
    """No recipients gets the same answer as many: "nobody" would let an office probe how
    many follow meetings in a set of places (docs/THREAT_MODEL.md)."""
    preview = await compose(services, office, targets=("vadso",))
    assert preview.sent[0].text == ui(services, "announce.preview_intro")
    turn = await press(services, office, preview.sent[2], "an:send")
    # The same three steps as a send to many: saved, "sending", then the same final report
    # (a progress message only when someone was queued told "somebody" from "nobody").
    assert turn.texts == [
        ui(services, "announce.queued"),
        ui(services, "announce.progress"),
        ui(services, "announce.report"),
    ]
    assert [s.method for s in turn.sent] == ["editMessageText", "sendMessage", "editMessageText"]
    assert turn.sent[2].message_id == turn.sent[1].message_id
    assert services.campaign_watchers == {}
    assert (await only_meeting(services)).municipalities == ("Vadsø",)


# --- managing ----------------------------------------------------------------------------------


async def test_list_change_and_cancel_reach_everyone_who_received_it(
    services: Services,
    app: App,
    fake: FakeTelegram,
    office: Person,
    person_factory: PersonFactory,
    now: list[float],
) -> None:
    storage = services.storage
    people = [await resident(person_factory, 3001 + i, "ms:m:lyngen") for i in range(5)]
    english = await resident(person_factory, 3010, "ms:m:lyngen", lang="en")
    quiet = people[4]  # gets the announcement, presses nothing

    assert (await office.say("/announce list")).texts == [ui(services, "announce.list_none")]
    preview = await compose(services, office)
    await press(services, office, preview.sent[2], "an:send")
    since = len(fake.sent)
    await deliver(services, app)
    meeting = await only_meeting(services)
    announcements = {p.user_id: received(fake, p.user_id, since)[0] for p in [*people, english]}

    for p in people[:3]:
        turn = await p.press_label(announcements[p.user_id], "Jeg kommer")
        assert turn.alerts == [ui(services, "subscribe.meeting.coming_on")]
    turn = await people[3].press_label(announcements[people[3].user_id], "Minn meg")
    a_day_before = datetime.fromtimestamp(meeting.starts_at - 24 * 3600, OSLO)
    remind_at = when_text(services, a_day_before)
    assert turn.alerts == [ui(services, "subscribe.meeting.remind_on", remind_at=remind_at)]
    await english.press_label(announcements[english.user_id], "Remind me")
    # people[:4] and english marked it; quiet did not, and hears of changes all the same.

    listing = (await office.say("/announce list")).last
    when = when_text(services, MARCH_12)
    line = ui(
        services,
        "announce.list_line",
        when=when,
        title=TITLE,
        place=PLACE,
        coming="3",
        remind=ui(services, "counts.fewer_than", n=3),
    )
    assert listing.text == f"{ui(services, 'announce.list_heading')}\n{line}"
    assert listing.button_texts == [
        ui(services, "announce.change", meeting="12.03 Lyngen rådhus"),
        ui(services, "announce.cancel_meeting", meeting="12.03 Lyngen rådhus"),
    ]
    # "liste" works too, and nobody is named anywhere.
    assert (await office.say("/announce liste")).last.text == listing.text

    # Change the time: everyone who received the announcement hears of it (whether they pressed
    # anything or not), the coordinator there too; nobody else.
    told = [*people, english]
    turn = await press(services, office, listing, f"an:ch:{meeting.id}")
    assert len(turn.sent) == 3
    assert turn.sent[2].text == ui(services, "announce.confirm")
    ask = (await press(services, office, turn.sent[2], "an:e:when")).last
    assert ask.text == ui(services, "announce.ask_when")
    turn = await office.say("13.03 kl 19")
    new_time = datetime(2027, 3, 13, 19, 0, tzinfo=OSLO)
    assert (
        ui(services, "meetings.card.when", when=when_text(services, new_time)) in turn.sent[1].text
    )
    since = len(fake.sent)
    turn = await press(services, office, turn.sent[2], "an:send")
    assert turn.texts == [ui(services, "announce.change_done", count="5")]
    changed = await storage.get_meeting(meeting.id)
    assert changed is not None
    assert changed.starts_at == int(new_time.timestamp())
    assert changed.version == 2
    assert len(await storage.meetings_in_region("nord-norge", 0)) == 1
    await deliver(services, app)
    for p in told:
        lang = "en" if p is english else "nb"
        got = received(fake, p.user_id, since)
        assert len(got) == 1, p.user_id
        assert got[0].text.startswith(ui(services, "meetings.changed.heading", lang))
        assert when_text(services, new_time, lang) in got[0].text
        assert [services.signer.verify(p.user_id, d) for d in got[0].callback_data] == [
            f"mt:{meeting.id}:ics"
        ]
    coordinator_got = received(fake, COORD_LYNGEN, since)
    assert len(coordinator_got) == 1
    assert coordinator_got[0].text.startswith(ui(services, "meetings.changed.heading"))

    # Cancel: "No" first, then yes; the notice goes to the same people, nobody else.
    listing = (await office.say("/announce list")).last
    confirm = (await press(services, office, listing, f"an:cx:{meeting.id}")).last
    assert confirm.text == ui(services, "announce.cancel_confirm", title=TITLE)
    turn = await press(services, office, confirm, "an:cn")
    assert turn.texts == [ui(services, "announce.cancel_kept")]
    assert (await storage.get_meeting(meeting.id) or meeting).status == "active"
    confirm = (await press(services, office, listing, f"an:cx:{meeting.id}")).last
    since = len(fake.sent)
    turn = await press(services, office, confirm, f"an:cy:{meeting.id}")
    assert turn.texts == [ui(services, "announce.cancel_done", count="5")]
    cancelled = await storage.get_meeting(meeting.id)
    assert cancelled is not None
    assert cancelled.status == "cancelled"
    await deliver(services, app)
    for p in told:
        lang = "en" if p is english else "nb"
        got = received(fake, p.user_id, since)
        assert len(got) == 1, p.user_id
        assert got[0].text.startswith(ui(services, "meetings.cancelled.heading", lang))
        assert got[0].buttons == []
    coordinator_got = received(fake, COORD_LYNGEN, since)
    assert len(coordinator_got) == 1
    assert coordinator_got[0].text.startswith(ui(services, "meetings.cancelled.heading"))

    # Pressing "cancel" again queues nothing more.
    rows = await outbox_rows(services, f"meeting:{meeting.id}:cancel")
    turn = await press(services, office, confirm, f"an:cy:{meeting.id}")
    assert ui(services, "announce.stale_button") in turn.text
    assert await outbox_rows(services, f"meeting:{meeting.id}:cancel") == rows == 7

    # The list says it is cancelled, with nothing to change or cancel.
    listing = (await office.say("/announce list")).last
    cancelled_line = ui(
        services, "announce.list_cancelled", when=when_text(services, new_time), title=TITLE
    )
    assert listing.text == f"{ui(services, 'announce.list_heading')}\n{cancelled_line}"
    assert listing.buttons == []

    # The calendar button on the original announcement says it is no longer on.
    before = len(fake.sent)
    turn = await quiet.press_label(announcements[quiet.user_id], "kalenderen")
    assert turn.alerts == [ui(services, "subscribe.meeting.not_on")]
    assert "sendDocument" not in [s.method for s in fake.sent[before:]]

    # Once its time has passed, the meeting is no longer upcoming.
    now[0] = new_time.timestamp() + 60
    assert (await office.say("/announce list")).texts == [ui(services, "announce.list_none")]


# --- security ----------------------------------------------------------------------------------


async def test_announce_does_not_exist_for_residents_and_coordinators(
    services: Services, person: Person, person_factory: PersonFactory
) -> None:
    unknown = (await person.say("/nosuchcommand")).last
    for who in (person, person_factory(user_id=COORD_LYNGEN)):
        for command in ("/announce", "/announce list"):
            turn = await who.say(command)
            assert turn.last.text == ui(services, "errors.unknown_command") == unknown.text
            assert turn.last.buttons == unknown.buttons
        assert await step_of(services, who) is None


async def test_an_office_cannot_reach_another_region_even_with_a_leaked_signer(
    services: Services, office: Person
) -> None:
    storage = services.storage
    await office.say("/announce")
    for text in (TITLE, "12.03 kl 18", PLACE, LINK):
        await office.say(text)
    view = (await office.say(DESCRIPTION)).last
    assert all(
        "lillehammer" not in (services.signer.verify(OFFICE, d) or "") for d in view.callback_data
    )

    view = (await press(services, office, view, "an:t:lyngen")).last
    for forged in ("an:t:lillehammer", "an:t:oslo", "an:t:nowhere", "an:r:innlandet"):
        turn = await office.press(services.signer.sign(OFFICE, forged), on=view, forged=True)
        assert ui(services, "announce.stale_button") in turn.text, forged
        assert (await flow_of(services, office))["targets"] == ["Lyngen"]
        assert (await flow_of(services, office))["region"] == "nord-norge"

    # Even a flow that somehow names another region's municipality is not sent.
    flow = await flow_of(services, office)
    flow.update(step="preview", targets=["Lillehammer"])
    await storage.set_flow(services.user_key(OFFICE), "announce", flow)
    turn = await office.press(services.signer.sign(OFFICE, "an:send"))
    assert ui(services, "announce.stale_button") in turn.text
    assert await storage.meetings_in_region("nord-norge", 0) == []
    assert await storage.meetings_in_region("innlandet", 0) == []

    # Nor can it change or cancel another region's meeting.
    other = Meeting(
        id=0,
        uid="other",
        office_key="someone-else",
        office_chat=b"x",
        region_id="innlandet",
        title="Gjøvik",
        starts_at=int(MARCH_12.timestamp()),
        place="Gjøvik",
        link=None,
        description=None,
        municipalities=("Gjøvik",),
    )
    other_id = await storage.create_meeting(other)
    for action in ("ch", "cx", "cy"):
        turn = await office.press(services.signer.sign(OFFICE, f"an:{action}:{other_id}"))
        assert ui(services, "announce.stale_button") in turn.text, action
    still = await storage.get_meeting(other_id)
    assert still is not None
    assert still.status == "active"
    assert still.version == 1


async def test_office_buttons_work_only_for_the_office_they_were_made_for(
    services: Services, office: Person, person: Person, person_factory: PersonFactory
) -> None:
    storage = services.storage
    # A second office for the same region (granted in the database).
    second = person_factory(user_id=100000006)
    second_key = services.user_key(second.user_id)
    await storage.grant_role(
        RoleGrant(
            second_key,
            "office",
            "nord-norge",
            services.cipher.encrypt(second.user_id, second_key),
            int(T0),
        )
    )
    preview = await compose(services, office)
    confirm = preview.sent[2]
    send = signed(services, office, confirm, "an:send")
    await second.say("/announce")

    stale = ui(services, "errors.stale_button")
    coordinator = person_factory(user_id=COORD_LYNGEN)
    for other in (second, person, coordinator):
        for data in (send, signed(services, office, confirm, "an:x")):
            turn = await other.press(data, on=confirm)
            assert turn.alerts == [stale]
            assert turn.sent == []
    # Signed for themselves, the coordinator and the resident still hold no office role.
    for other in (coordinator, person):
        for plain in ("an:send", "an:tall", "an:r:nord-norge", "an:cy:1", "an:e:title"):
            turn = await other.press(services.signer.sign(other.user_id, plain))
            assert turn.alerts == [stale], plain
            assert await step_of(services, other) is None
    assert await step_of(services, office) == "preview"
    assert await step_of(services, second) == "title"
    assert await storage.meetings_in_region("nord-norge", 0) == []


async def test_revoking_the_office_role_stops_the_flow_at_the_next_step(
    services: Services, person_factory: PersonFactory
) -> None:
    storage = services.storage
    granted = person_factory(user_id=100000005)
    key = services.user_key(granted.user_id)
    grant = RoleGrant(
        key, "office", "nord-norge", services.cipher.encrypt(granted.user_id, key), int(T0)
    )

    # A text step: the typed text is no longer taken as composing.
    await storage.grant_role(grant)
    assert (await granted.say("/announce")).last.text == ui(services, "announce.ask_title")
    await granted.say(TITLE)
    assert await storage.revoke_role(key, "office", "nord-norge")
    turn = await granted.say("12.03 kl 18")
    assert ui(services, "announce.ask_place") not in turn.text
    assert await step_of(services, granted) is None

    # A button step.
    await storage.grant_role(grant)
    await granted.say("/announce")
    for text in (TITLE, "12.03 kl 18"):
        await granted.say(text)
    ask = (await granted.say(PLACE)).last
    assert await storage.revoke_role(key, "office", "nord-norge")
    turn = await skip(services, granted, ask)
    assert turn.alerts == [ui(services, "errors.stale_button")]
    assert turn.sent == []
    assert (await granted.say("/announce")).last.text == ui(services, "errors.unknown_command")
    assert await storage.meetings_in_region("nord-norge", 0) == []


async def test_crisis_words_in_an_announcement_get_the_numbers_and_keep_the_draft(
    services: Services, office: Person, person: Person
) -> None:
    await office.say("/announce")
    for text in (TITLE, "12.03 kl 18", PLACE, LINK):
        await office.say(text)
    # A bare mention that the trained model reads as harmless (a talk about suicide) is a
    # description like any other: no crisis reply (bot/answers/crisis.py).
    turn = await office.say(CRISIS_TEXT)
    assert turn.texts == [ui(services, "announce.ask_targets", region="Nord-Norge")]
    assert (await flow_of(services, office))["description"] == CRISIS_TEXT

    # Words of a crisis said outright get the numbers at once, and the draft is kept.
    await office.say("/announce")
    for text in (TITLE, "12.03 kl 18", PLACE, LINK):
        await office.say(text)
    turn = await office.say(OUTRIGHT)
    assert "113" in turn.texts[0]
    assert turn.texts[1:] == [ui(services, "announce.ask_targets", region="Nord-Norge")]
    assert (await flow_of(services, office))["description"] == OUTRIGHT

    # The same words from a resident get the numbers at once.
    turn = await person.say(OUTRIGHT)
    assert "113" in turn.texts[0]


# --- paths a reviewer found untested -----------------------------------------------------------

INNLANDET = ("Lillehammer", "Nord-Aurdal", "Gjøvik")


def cover_regions(services: Services, *regions: str) -> None:
    """config.yaml with the office covering `regions` (the sample office covers one)."""
    offices = tuple(Office(OFFICE, r) for r in regions)
    services.config = dataclasses.replace(services.config, offices=offices)


def stored_meeting(region_id: str, title: str, starts_at: datetime, *places: str) -> Meeting:
    """A meeting as another office (or this one, earlier) saved it."""
    return Meeting(
        id=0,
        uid=f"uid-{title}",
        office_key="another-office",
        office_chat=b"x",
        region_id=region_id,
        title=title,
        starts_at=int(starts_at.timestamp()),
        place=places[0],
        link=None,
        description=None,
        municipalities=places,
    )


async def test_an_office_for_several_regions_chooses_the_region_first(
    services: Services, app: App, fake: FakeTelegram, person_factory: PersonFactory
) -> None:
    cover_regions(services, "nord-norge", "innlandet")
    office = person_factory(user_id=OFFICE, language_code="en")
    lillehammer = await resident(person_factory, 4001, "ms:m:lillehammer")
    lyngen = await resident(person_factory, 4002, "ms:m:lyngen")

    choice = (await office.say("/announce")).last
    assert choice.text == ui(services, "announce.choose_region", "en")
    assert choice.button_texts == ["Innlandet", "Nord-Norge"]
    assert await step_of(services, office) is None  # nothing is composed before the choice
    # A region the office does not cover cannot be chosen, even with correctly signed data.
    turn = await office.press(services.signer.sign(OFFICE, "an:r:oslo"), on=choice, forged=True)
    assert ui(services, "announce.stale_button", "en") in turn.text
    assert await step_of(services, office) is None

    turn = await office.press_label(choice, "Innlandet")
    assert turn.last.text == ui(services, "announce.ask_title", "en")
    assert (await flow_of(services, office))["region"] == "innlandet"
    for text in (TITLE, "12.03 kl 18", "Lillehammer bibliotek"):
        turn = await office.say(text)
    turn = await skip(services, office, turn.last, "en")  # no link
    targets = (await skip(services, office, turn.last, "en")).last
    assert targets.text == ui(services, "announce.ask_targets", "en", region="Innlandet")
    assert targets.button_texts == [
        *(f"▫️ {n}" for n in INNLANDET),
        ui(services, "announce.all", "en"),
        ui(services, "announce.done", "en"),
    ]

    # A button from the region choice, pressed again, starts over in that region; the targets
    # message it leaves behind (Innlandet's, correctly signed) then reaches nothing.
    turn = await office.press_label(choice, "Nord-Norge")
    assert turn.last.text == ui(services, "announce.ask_title", "en")
    for text in (TITLE, "12.03 kl 18", PLACE, LINK):
        await office.say(text)
    nord = (await office.say(DESCRIPTION)).last
    assert nord.text == ui(services, "announce.ask_targets", "en", region="Nord-Norge")
    turn = await press(services, office, targets, "an:t:lillehammer")
    assert ui(services, "announce.stale_button", "en") in turn.text
    assert (await flow_of(services, office)).get("targets", []) == []
    turn = await press(services, office, nord, "an:tdone")
    assert turn.texts == [ui(services, "announce.need_target", "en")]

    # Back to Innlandet: Lyngen's button on the Nord-Norge message is refused there too.
    await office.press_label(choice, "Innlandet")
    for text in (TITLE, "12.03 kl 18", "Lillehammer bibliotek"):
        turn = await office.say(text)
    turn = await skip(services, office, turn.last, "en")
    targets = (await skip(services, office, turn.last, "en")).last
    turn = await press(services, office, nord, "an:t:lyngen")
    assert ui(services, "announce.stale_button", "en") in turn.text
    targets = (await press(services, office, targets, "an:t:lillehammer")).last
    preview = await press(services, office, targets, "an:tdone")
    few = ui(services, "counts.fewer_than", "en", n=3)  # one resident: banded for offices
    assert preview.sent[0].text == ui(services, "announce.preview_intro", "en", count=few)
    since = len(fake.sent)
    turn = await press(services, office, preview.sent[2], "an:send")
    assert turn.sent[0].text == ui(services, "announce.queued", "en", count=few)
    await deliver(services, app)

    meeting = await only_meeting(services, "innlandet")
    assert meeting.municipalities == ("Lillehammer",)
    assert await services.storage.meetings_in_region("nord-norge", 0) == []
    got = received(fake, lillehammer.user_id, since)
    assert len(got) == 1
    assert got[0].text.startswith(ui(services, "meetings.announcement.heading"))
    assert "Lillehammer bibliotek" in got[0].text
    assert received(fake, lyngen.user_id, since) == []

    # Its list covers both regions; the meeting can be changed and cancelled from there.
    listing = (await office.say("/announce list")).last
    assert listing.text.startswith(ui(services, "announce.list_heading", "en"))
    assert "Lillehammer bibliotek" in listing.text
    assert listing.button_texts == [
        ui(services, "announce.change", "en", meeting="12 Mar Lillehammer bibliotek"),
        ui(services, "announce.cancel_meeting", "en", meeting="12 Mar Lillehammer bibliotek"),
    ]


async def test_blank_too_long_impossible_and_non_https_answers_are_refused_in_english(
    services: Services, person_factory: PersonFactory
) -> None:
    """Each refused answer gets its error in the office's language, the flow stays at that
    step (so the next answer is for the same question) and nothing of it is kept."""
    office = person_factory(user_id=OFFICE, language_code="en")
    fields = ("title", "starts_at", "place", "link", "description")

    async def refused(typed: str, error: str, step: str, **values: object) -> None:
        turn = await office.say(typed)
        assert turn.texts == [ui(services, error, "en", **values)], typed[:40]
        assert await step_of(services, office) == step
        flow = await flow_of(services, office)
        done = fields[: fields.index("starts_at" if step == "when" else step)]
        assert [f for f in fields if f in flow] == list(done), typed[:40]

    async def blank(step: str, *, with_skip: bool = False) -> None:
        for typed in (" ", "   \n\t "):
            turn = await office.say(typed)
            assert turn.texts == [ui(services, f"announce.ask_{step}", "en")]
            skips = [ui(services, "announce.skip", "en")] if with_skip else []
            assert turn.last.button_texts == skips
            assert await step_of(services, office) == step

    assert (await office.say("/announce")).texts == [ui(services, "announce.ask_title", "en")]
    await blank("title")
    await refused("x" * (MAX_CHARS["title"] + 1), "announce.too_long", "title", max_chars=120)
    turn = await office.say("  " + "T" * MAX_CHARS["title"] + "  ")  # the limit itself is fine
    assert turn.texts == [ui(services, "announce.ask_when", "en")]

    await blank("when")
    await refused("12.03 kl 18 " * 9, "announce.too_long", "when", max_chars=100)
    for typed, error in [
        ("12.03 kl 25", "bad_time"),
        ("12.03 kl 18:75", "bad_time"),
        ("30.02 kl 18", "bad_date"),
        ("28.03 kl 02:30", "no_such_time"),  # the night the clocks go forward in 2027
        ("i dag kl 11", "past"),  # T0 is noon
        ("10.01.2027 kl 12", "past"),  # now is not the future either
        ("12.03.2030 kl 18", "too_far"),
    ]:
        await refused(typed, f"when.error.{error}", "when")
    turn = await office.say("12.03 kl 18")
    assert turn.texts == [ui(services, "announce.ask_place", "en")]

    await blank("place")
    await refused("p" * (MAX_CHARS["place"] + 1), "announce.too_long", "place", max_chars=200)
    await office.say(PLACE)

    await blank("link", with_skip=True)
    too_long = "https://example.no/" + "a" * (MAX_CHARS["link"] - 18)
    await refused(too_long, "announce.too_long", "link", max_chars=300)
    for typed in (
        "http://example.no/mote",
        "HTTP://example.no",
        "ftp://example.no/mote",
        "example.no/mote",
        "javascript:alert(1)",
        "https://example.no/a b",
        "https://",
        "https://example.no/mote\nvelkommen",
        "https://example.no/\u00a0mote",
    ):
        await refused(typed, "announce.bad_link", "link")
    turn = await office.say(LINK)
    assert turn.texts == [ui(services, "announce.ask_description", "en")]

    await blank("description", with_skip=True)
    too_long = "d" * (MAX_CHARS["description"] + 1)
    await refused(too_long, "announce.too_long", "description", max_chars=1200)
    turn = await office.say(DESCRIPTION)
    assert turn.last.text == ui(services, "announce.ask_targets", "en", region="Nord-Norge")

    flow = await flow_of(services, office)
    assert [flow[f] for f in fields] == [
        "T" * MAX_CHARS["title"],
        int(MARCH_12.timestamp()),
        PLACE,
        LINK,
        DESCRIPTION,
    ]
    assert await services.storage.meetings_in_region("nord-norge", 0) == []


async def test_done_after_unticking_every_target_is_refused_and_nothing_can_be_sent(
    services: Services, office: Person
) -> None:
    preview = await compose(services, office)
    view = (await press(services, office, preview.sent[2], "an:e:targets")).last
    view = (await press(services, office, view, "an:t:lyngen")).last
    assert "▫️ Lyngen" in view.button_texts
    for _ in range(2):  # a second tap on Done changes nothing
        turn = await press(services, office, view, "an:tdone")
        assert turn.texts == [ui(services, "announce.need_target")]
        assert await step_of(services, office) == "targets"
    # The Send button on the preview shown before is out of step now.
    turn = await press(services, office, preview.sent[2], "an:send")
    assert ui(services, "announce.stale_button") in turn.text
    assert await services.storage.meetings_in_region("nord-norge", 0) == []

    view = (await press(services, office, view, "an:t:alta")).last
    turn = await press(services, office, view, "an:tdone")
    assert turn.sent[2].text == ui(services, "announce.confirm")
    assert (await flow_of(services, office))["targets"] == ["Alta"]


async def test_a_cancelled_meeting_cannot_be_changed_or_cancelled_again(
    services: Services,
    app: App,
    fake: FakeTelegram,
    office: Person,
    person_factory: PersonFactory,
) -> None:
    storage = services.storage
    coming = await resident(person_factory, 5001, "ms:m:lyngen")
    preview = await compose(services, office)
    await press(services, office, preview.sent[2], "an:send")
    since = len(fake.sent)
    await deliver(services, app)
    meeting = await only_meeting(services)
    announcement = received(fake, coming.user_id, since)[0]
    await coming.press_label(announcement, "Jeg kommer")

    # The office opens a change and starts typing a new time; then, from the same list,
    # cancels the meeting.
    listing = (await office.say("/announce list")).last
    change = await press(services, office, listing, f"an:ch:{meeting.id}")
    ask = (await press(services, office, change.sent[2], "an:e:when")).last
    assert ask.text == ui(services, "announce.ask_when")
    confirm = (await press(services, office, listing, f"an:cx:{meeting.id}")).last
    turn = await press(services, office, confirm, f"an:cy:{meeting.id}")
    few = ui(services, "counts.fewer_than", n=3)
    assert turn.texts == [ui(services, "announce.cancel_done", count=few)]
    since = len(fake.sent)
    await deliver(services, app)
    notices = received(fake, coming.user_id, since)
    assert len(notices) == 1
    assert notices[0].text.startswith(ui(services, "meetings.cancelled.heading"))

    # Every way back into the cancelled meeting is refused, and nobody hears of it again.
    stale = ui(services, "announce.stale_button")
    since, rows = len(fake.sent), await outbox_rows(services, f"meeting:{meeting.id}:cancel")
    for data in (f"an:ch:{meeting.id}", f"an:cx:{meeting.id}"):
        turn = await press(services, office, listing, data)
        assert turn.texts == [stale], data
    turn = await press(services, office, confirm, f"an:cy:{meeting.id}")
    assert turn.texts == [stale]
    # The change that was begun before the cancellation is refused when sent.
    preview = await office.say("13.03 kl 19")
    assert preview.sent[2].text == ui(services, "announce.confirm")
    turn = await press(services, office, preview.sent[2], "an:send")
    assert turn.texts == [stale]
    assert await step_of(services, office) is None
    await deliver(services, app)

    assert received(fake, coming.user_id, since) == []
    assert received(fake, COORD_LYNGEN, since) == []
    # One cancellation each for the resident and the coordinator there, who both had it.
    assert await outbox_rows(services, f"meeting:{meeting.id}:cancel") == rows == 2
    assert await outbox_rows(services, f"meeting:{meeting.id}:v2") == 0
    kept = await storage.get_meeting(meeting.id)
    assert kept is not None
    assert (kept.status, kept.starts_at, kept.version) == (
        "cancelled",
        int(MARCH_12.timestamp()),
        meeting.version + 1,
    )
    cancelled_line = ui(
        services, "announce.list_cancelled", when=when_text(services, MARCH_12), title=TITLE
    )
    listing = (await office.say("/announce list")).last
    assert listing.text == f"{ui(services, 'announce.list_heading')}\n{cancelled_line}"
    assert listing.buttons == []


@pytest.mark.parametrize("lang", ["nb", "en"])
async def test_the_list_says_so_when_the_office_has_no_upcoming_meetings(
    services: Services, person_factory: PersonFactory, now: list[float], lang: str
) -> None:
    storage = services.storage
    office = person_factory(user_id=OFFICE, language_code=lang)
    # Another region's meeting, and one of its own that is over, are not its upcoming ones.
    await storage.create_meeting(stored_meeting("innlandet", "Gjøvik", MARCH_12, "Gjøvik"))
    await storage.create_meeting(
        stored_meeting("nord-norge", "I fjor", datetime(2026, 12, 1, 18, tzinfo=OSLO), "Alta")
    )
    for command in ("/announce list", "/announce LISTE"):
        turn = await office.say(command)
        assert turn.texts == [ui(services, "announce.list_none", lang)]
        assert turn.last.buttons == []
    assert await step_of(services, office) is None  # listing starts no announcement
    # The same meeting is listed while it is still ahead.
    now[0] = datetime(2026, 11, 1, 12, tzinfo=OSLO).timestamp()
    assert "I fjor" in (await office.say("/announce list")).text


@pytest.mark.parametrize(
    "meeting_id",
    ["", "abc", "-1", "1.0", " 1", "0x1", "²", "1²", "9" * 20],
)
async def test_a_change_or_cancel_button_with_a_forged_meeting_id_is_refused(
    services: Services, office: Person, person_factory: PersonFactory, meeting_id: str
) -> None:
    await resident(person_factory, 6001, "ms:m:lyngen")
    preview = await compose(services, office)
    await press(services, office, preview.sent[2], "an:send")
    meeting = await only_meeting(services)
    since = await outbox_rows(services, f"meeting:{meeting.id}")

    for action in ("ch", "cx", "cy"):
        turn = await office.press(services.signer.sign(OFFICE, f"an:{action}:{meeting_id}"))
        assert turn.texts == [ui(services, "announce.stale_button")], action
        assert ui(services, "errors.internal") not in turn.text
    kept = await services.storage.get_meeting(meeting.id)
    assert kept == meeting
    assert await step_of(services, office) is None
    assert await outbox_rows(services, f"meeting:{meeting.id}") == since
    assert await outbox_rows(services, f"meeting:{meeting.id}:cancel") == 0
    # The office's own list still works as before.
    assert ui(services, "announce.list_heading") in (await office.say("/announce list")).text
