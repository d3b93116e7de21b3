"""Relayed invitations (/invitation) through the real Application on the fake Bot API.

Residents register interest with the real /interest flow; a coordinator composes an invitation
with the bot's own (signed) buttons, sees the preview, confirms; the Sender relays the outbox.
Assertions are on what each person sees, and on the outbox and answers in the database. The
Sender runs on a fake pacing clock, so rate limits cost no real time.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.composition import create_services
from bot.config import Config
from bot.content import Content
from bot.invitations.handlers import FLOW
from bot.offline.fake_bot_api import Call, FakeApiError, FakeTelegram, Sent
from bot.outbox.sender import Sender, SendReport
from bot.services import Services
from bot.storage import RoleGrant
from bot.weeks import DAY
from tests.support import App, PacingClock, Person, PersonFactory, Turn, start_app, stop_app

LYNGEN = 100000002  # config.yaml: coordinator for Lyngen
ALTA = 100000003  # config.yaml: coordinator for Alta
GRANTED = 3001  # a coordinator for Lyngen through a DB grant (revoked in some tests)

# Residents: (Telegram id, language, municipality code, group kind, may the bot message them)
OPEN_NB = 2001
OPEN_EN = 2002
OPEN_NB_2 = 2003
GRIEF_NB = 2004
SILENT_NB = 2005  # Lyngen, open group, but said no to messages
ALTA_NB = 2006  # Alta, open group, said yes
RESIDENTS = (
    (OPEN_NB, "nb", "lyngen", "open", "yes"),
    (OPEN_EN, "en", "lyngen", "open", "yes"),
    (OPEN_NB_2, "nb", "lyngen", "open", "yes"),
    (GRIEF_NB, "nb", "lyngen", "grief", "yes"),
    (SILENT_NB, "nb", "lyngen", "open", "no"),
    (ALTA_NB, "nb", "alta", "open", "yes"),
)
LYNGEN_CONTACTABLE = {OPEN_NB, OPEN_EN, OPEN_NB_2, GRIEF_NB}
AUDIENCES = {
    "all": LYNGEN_CONTACTABLE,
    "open": {OPEN_NB, OPEN_EN, OPEN_NB_2},
    "grief": {GRIEF_NB},
}
TEXT = "Oppstartsmøte torsdag 18.00 på biblioteket i Lyngseidet. Kaffe og en prat, ingen krav."


def new_sender(services: Services) -> Sender:
    clock = PacingClock()
    return Sender(services, sleep=clock.sleep, timer=clock)


async def relay(app: App, sender: Sender | None = None) -> SendReport:
    """Send everything due, as the running bot's sending loop would."""
    services: Services = app.bot_data.services
    return await (sender or new_sender(services)).run_until_idle(app.bot, timeout=600.0)


def ui(services: Services, lang: str, key: str, **values: object) -> str:
    return services.content.text(lang, key, **values)


def db_rows(database: Path, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql, args).fetchall()


def outbox(database: Path, campaign: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """recipient user key -> (status, payload) for every row of the campaign."""
    rows = db_rows(
        database, "SELECT recipient, status, payload FROM outbox WHERE campaign = ?", (campaign,)
    )
    assert len(rows) == len({r[0] for r in rows})
    return {str(r[0]): (str(r[1]), json.loads(r[2])) for r in rows}


def all_outbox_rows(database: Path) -> int:
    return int(db_rows(database, "SELECT COUNT(*) FROM outbox")[0][0])


def signed_button(message: Sent, prefix: str) -> str:
    """The callback data of the button on `message` whose data starts with `prefix`."""
    matches = [d for d in message.callback_data if d.startswith(prefix)]
    assert len(matches) == 1, (prefix, message.callback_data)
    return matches[0]


def labels(buttons: list[list[dict[str, Any]]]) -> list[list[str]]:
    return [[b["text"] for b in row] for row in buttons]


def invitations_to(fake: FakeTelegram, chat_id: int, services: Services, lang: str) -> list[Sent]:
    """Messages in one chat that are invitations (they start with the header)."""
    header = ui(services, lang, "invitation.header", municipality="Lyngen")
    return [s for s in fake.messages_to(chat_id) if s.text.startswith(header)]


def lang_of(person: Person) -> str:
    return "en" if person.language_code == "en" else "nb"


def invitation_of(person: Person) -> Sent:
    """The latest invitation in the person's chat, as they see it."""
    got = invitations_to(person.fake, person.user_id, services_of(person), lang_of(person))
    assert got, f"no invitation in the chat of {person.user_id}"
    return got[-1]


async def register(person: Person, place: str, kind: str, contact: str) -> None:
    """The real /interest flow, all buttons pressed by their label in the person's language."""
    services: Services = person.app.bot_data.services
    kind_key = f"interest.kind_{kind}" if kind in ("open", "any") else f"interest.theme.{kind}"
    labels = [
        "interest.entry_yes",
        "interest.age_yes",
        "interest.sober_ok",
        "Nord-Norge",
        place.capitalize(),  # the municipality's name: "lyngen" -> "Lyngen"
        kind_key,
        "interest.time_evening",
        f"interest.contact_{contact}",
        "interest.confirm",
    ]
    message = (await person.say("/interest")).first
    for label in labels:
        if label.startswith("interest."):
            label = ui(services, lang_of(person), label, min_age=services.config.min_age)
        message = (await person.press_label(message, label)).first
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    assert reg.contact_ok is (contact == "yes")


@dataclass
class Town:
    people: dict[int, Person]
    lyngen: Person
    alta: Person

    def __getitem__(self, user_id: int) -> Person:
        return self.people[user_id]


@pytest.fixture
async def town(person_factory: PersonFactory, now: list[float]) -> Town:
    people: dict[int, Person] = {}
    for user_id, lang, place, kind, contact in RESIDENTS:
        people[user_id] = person_factory(user_id=user_id, language_code=lang)
        await register(people[user_id], place, kind, contact)
    # Coordinators see the day's snapshot, which counts registrations from the day after.
    now[0] += DAY
    return Town(
        people, person_factory(user_id=LYNGEN), person_factory(user_id=ALTA, language_code="nb")
    )


@dataclass
class Draft:
    audience: Sent  # the coordinator's audience choice
    preview: Sent  # the invitation as residents will see it
    confirm: Sent  # "N will get it. Send?" with send / rewrite / cancel
    intro: Sent


async def compose(coordinator: Person, audience: str, text: str = TEXT) -> Draft:
    """/invitation, pick the audience from the bot's own buttons, write the text."""
    services = services_of(coordinator)
    lang = lang_of(coordinator)
    if audience == "all":
        label = ui(services, lang, "invitation.audience_all")
    else:
        plain = audience in ("open", "any")
        key = f"interest.kind_{audience}" if plain else f"interest.theme.{audience}"
        kind = ui(services, lang, key)
        label = ui(services, lang, "invitation.audience_kind", kind=kind)
    choose = (await coordinator.say("/invitation")).first
    write = (await coordinator.press_label(choose, label)).first
    assert write.text == ui(services_of(coordinator), lang, "invitation.write", max_chars=1500)
    turn = await coordinator.say(text)
    assert len(turn.sent) == 3, turn.texts
    intro, preview, confirm = turn.sent
    return Draft(choose, preview, confirm, intro)


async def send_now(coordinator: Person, draft: Draft) -> Turn:
    send = ui(services_of(coordinator), lang_of(coordinator), "invitation.send")
    return await coordinator.press_label(draft.confirm, send)


def services_of(person: Person) -> Services:
    services: Services = person.app.bot_data.services
    return services


async def latest_invitation(services: Services, coordinator_id: int) -> int:
    sent = await services.storage.invitations_by(services.user_key(coordinator_id))
    assert sent, "no invitation stored"
    return sent[0].id


# --- the whole flow ---------------------------------------------------------------------------


@pytest.mark.parametrize("coordinator_lang", ["nb", "en"])
@pytest.mark.parametrize("audience", ["all"])
async def test_invitation_reaches_exactly_those_who_accepted_in_their_own_language(
    town: Town,
    services: Services,
    fake: FakeTelegram,
    app: App,
    database: Path,
    audience: str,
    coordinator_lang: str,
) -> None:
    coordinator = town.lyngen
    coordinator.language_code = coordinator_lang
    lang = coordinator_lang
    expected = AUDIENCES[audience]

    draft = await compose(coordinator, audience)
    # The audience choice: signed for this coordinator, one button per kind of group.
    assert draft.audience.text == ui(
        services, lang, "invitation.choose_audience", municipality="Lyngen"
    )
    assert draft.audience.button_texts[0] == ui(services, lang, "invitation.audience_all")
    for data in draft.audience.callback_data:
        assert services.signer.verify(LYNGEN, data) is not None
        assert services.signer.verify(ALTA, data) is None
    # Lyngen's kinds are 4 open and 1 grief: the breakdown is hidden, so no per-kind buttons.
    assert len(draft.audience.callback_data) == 1
    # Preview, then how many waited at midnight (as in the digest: 5, one of whom said no to
    # messages; never the live number of recipients) and the question.
    assert draft.intro.text == ui(services, lang, "invitation.preview_intro")
    size = ui(services, lang, "invitation.recipients", count="5")
    assert draft.confirm.text.startswith(size)
    assert draft.confirm.button_texts == [
        ui(services, lang, "invitation.send"),
        ui(services, lang, "invitation.rewrite"),
        ui(services, lang, "invitation.cancel"),
    ]
    assert all_outbox_rows(database) == 0  # nothing leaves before the coordinator confirms

    queued = await send_now(coordinator, draft)
    assert queued.last.text == ui(services, lang, "invitation.queued")
    invitation_id = await latest_invitation(services, LYNGEN)
    rows = outbox(database, f"invitation:{invitation_id}")
    assert set(rows) == {services.user_key(uid) for uid in expected}
    assert {status for status, _ in rows.values()} == {"pending"}

    # The preview is exactly what residents in the coordinator's language get.
    for uid in expected:
        resident_lang = town[uid].language_code
        payload = rows[services.user_key(uid)][1]
        if resident_lang == lang:
            assert payload["text"] == draft.preview.text
            assert labels(payload["buttons"]) == labels(draft.preview.buttons)
        assert TEXT in payload["text"]

    report = await relay(app)
    assert report.sent == len(expected)
    assert report.blocked == report.failed == 0
    for uid, resident_lang, *_ in RESIDENTS:
        got = invitations_to(fake, uid, services, str(resident_lang))
        if uid not in expected:
            assert got == [], uid
            continue
        assert len(got) == 1, uid
        message = got[0]
        payload = rows[services.user_key(uid)][1]
        assert message.text == payload["text"]
        assert message.buttons == payload["buttons"]
        assert message.button_texts == [
            ui(services, str(resident_lang), f"invitation.answer_{a}")
            for a in ("yes", "maybe", "no", "share")
        ]
        assert message.callback_data == [
            f"inv:{invitation_id}:{a}" for a in ("yes", "maybe", "no", "share")
        ]
    english = invitations_to(fake, OPEN_EN, services, "en") if OPEN_EN in expected else []
    for message in english:
        assert "I'll come" in message.button_texts[0]
        assert "Maybe" in message.button_texts[1]
        assert message.button_texts[2] == "Not now"
        assert "Share my contact" in message.button_texts[3]
    # A second pass finds nothing left.
    assert (await relay(app)).sent == 0


async def test_rewrite_and_cancel_send_nothing(
    town: Town, services: Services, database: Path
) -> None:
    coordinator = town.lyngen
    draft = await compose(coordinator, "all", "Første utkast")
    rewrite = await coordinator.press_label(draft.confirm, "Skriv på nytt")
    assert rewrite.last.text == ui(services, "nb", "invitation.write", max_chars=1500)
    turn = await coordinator.say("Andre utkast")
    assert "Andre utkast" in turn.sent[1].text
    cancel = await coordinator.press_label(turn.sent[2], "Avbryt")
    assert cancel.last.text == ui(services, "nb", "invitation.cancelled")
    assert all_outbox_rows(database) == 0
    assert await services.storage.invitations_by(services.user_key(LYNGEN)) == []
    # The old send button is dead now.
    late = await coordinator.press_label(turn.sent[2], "Send")
    assert ui(services, "nb", "errors.stale_button") in late.texts
    assert all_outbox_rows(database) == 0


# --- answers, status and sharing ---------------------------------------------------------------


@pytest.fixture
async def sent_invitation(town: Town, app: App) -> int:
    """An invitation to everyone waiting in Lyngen, relayed; its id."""
    draft = await compose(town.lyngen, "all")
    await send_now(town.lyngen, draft)
    await relay(app)
    return await latest_invitation(services_of(town.lyngen), LYNGEN)


async def status_lines(coordinator: Person) -> list[str]:
    turn = await coordinator.say("/invitation status")
    assert len(turn.sent) == 1
    return turn.first.text.splitlines()


@pytest.mark.usefixtures("sent_invitation")
async def test_answers_show_as_counts_with_small_counts_banded(
    town: Town, services: Services
) -> None:
    for uid, answer in (
        (OPEN_NB, "yes"),
        (OPEN_EN, "yes"),
        (OPEN_NB_2, "yes"),
        (GRIEF_NB, "maybe"),
    ):
        lang = str(town[uid].language_code)
        label = ui(services, lang, f"invitation.answer_{answer}")
        turn = await town[uid].press_label(invitation_of(town[uid]), label)
        assert turn.alerts == [ui(services, lang, f"invitation.thanks_{answer}")]
        assert turn.sent == []
    lines = await status_lines(town.lyngen)
    assert lines[0] == ui(services, "nb", "invitation.status_heading")
    few = ui(services, "nb", "counts.fewer_than", n=3)
    assert len(lines) == 2
    assert lines[1].endswith(f"Lyngen: kommer 3, kanskje {few}, ikke nå 0, delte kontakt 0"), (
        lines[1]
    )
    # Changing one's mind changes the counts. "Coming" stays exact: those who press it are
    # told the coordinator sees how many come, and they will be seen at the meeting anyway.
    await town[OPEN_NB_2].press_label(invitation_of(town[OPEN_NB_2]), "Ikke nå")
    lines = await status_lines(town.lyngen)
    assert lines[1].endswith(f"Lyngen: kommer 2, kanskje {few}, ikke nå {few}, delte kontakt 0"), (
        lines[1]
    )
    # Nothing about who: no ids, no names.
    for uid in LYNGEN_CONTACTABLE:
        assert str(uid) not in "\n".join(lines)
    # The Alta coordinator sees none of Lyngen's invitations.
    alta = await status_lines(town.alta)
    assert alta == [ui(services, "nb", "invitation.status_none")]


async def test_people_it_was_not_sent_to_cannot_answer(
    town: Town, services: Services, sent_invitation: int, database: Path
) -> None:
    inv = sent_invitation
    refused = ui(services, "nb", "invitation.not_for_you")
    for person, data in (
        (town[SILENT_NB], f"inv:{inv}:yes"),  # in Lyngen, but said no to messages
        (town[ALTA_NB], f"inv:{inv}:yes"),  # another municipality
        (town[ALTA_NB], f"inv:{inv}:share"),
        (town[ALTA_NB], f"inv:{inv}:sharey"),
        (town[OPEN_NB], "inv:999:yes"),  # an invitation that does not exist
        (town.lyngen, "inv:0:yes"),  # the coordinator's own preview
    ):
        turn = await person.press(data)
        assert turn.alerts == [refused], (person.user_id, data, turn.alerts)
        assert turn.sent == []
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]
    for garbage in (f"inv:{inv}", f"inv:x:{inv}", f"inv:{inv}:yes:1", f"inv:{inv}:bogus"):
        turn = await town[OPEN_NB].press(garbage)
        assert turn.alerts == [ui(services, "nb", "errors.stale_button")], garbage
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]


def html_calls_to(fake: FakeTelegram, chat_id: int) -> list[Call]:
    return [
        c for c in fake.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == chat_id
    ]


async def test_sharing_asks_first_and_only_then_tells_the_coordinator(
    town: Town, services: Services, fake: FakeTelegram, sent_invitation: int
) -> None:
    inv = sent_invitation
    before = len(fake.messages_to(LYNGEN))
    resident = town[OPEN_NB]
    asked = await resident.press_label(invitation_of(resident), "Del kontakten min")
    assert asked.first.text == ui(services, "nb", "invitation.share_confirm")
    assert asked.first.callback_data == [f"inv:{inv}:sharey", f"inv:{inv}:sharen"]
    assert len(fake.messages_to(LYNGEN)) == before  # nothing crossed over yet

    shared = await resident.press_label(asked.first, "Ja, del kontakten min")
    assert shared.last.text == ui(services, "nb", "invitation.shared")
    notices = fake.messages_to(LYNGEN)[before:]
    assert len(notices) == 1
    assert f"tg://user?id={OPEN_NB}" in html_calls_to(fake, LYNGEN)[-1].params["text"]
    assert html_calls_to(fake, LYNGEN)[-1].params.get("parse_mode") == "HTML"
    assert notices[0].text.startswith(
        ui(services, "nb", "invitation.share_notice", municipality="Lyngen", person="")[:30]
    )

    few = ui(services, "nb", "counts.fewer_than", n=3)
    lines = await status_lines(town.lyngen)
    assert lines[1].endswith(f"delte kontakt {few}"), lines[1]


@pytest.mark.usefixtures("sent_invitation")
async def test_saying_no_to_sharing_reveals_nothing(
    town: Town, services: Services, fake: FakeTelegram, database: Path
) -> None:
    before = len(fake.calls)
    resident = town[OPEN_EN]
    share = ui(services, "en", "invitation.answer_share")
    asked = await resident.press_label(invitation_of(resident), share)
    assert asked.first.text == ui(services, "en", "invitation.share_confirm")
    kept = await resident.press_label(asked.first, ui(services, "en", "invitation.share_no"))
    assert kept.last.text == ui(services, "en", "invitation.share_kept")
    to_coordinator = [
        c for c in fake.calls[before:] if int(c.params.get("chat_id", 0) or 0) == LYNGEN
    ]
    assert to_coordinator == []
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers WHERE shared = 1") == [(0,)]


@pytest.mark.usefixtures("sent_invitation")
async def test_sharing_twice_tells_the_coordinator_once(town: Town, fake: FakeTelegram) -> None:
    """A double tap on "Yes, share" (or pressing it again later) must not send the coordinator
    the same person twice."""
    before = len(fake.messages_to(LYNGEN))
    resident = town[OPEN_NB]
    asked = await resident.press_label(invitation_of(resident), "Del kontakten min")
    await resident.press_label(asked.first, "Ja, del kontakten min")
    await resident.press_label(asked.first, "Ja, del kontakten min")
    assert len(fake.messages_to(LYNGEN)) == before + 1


@pytest.mark.usefixtures("sent_invitation")
async def test_forget_erases_the_invitations_a_resident_got(
    town: Town, services: Services, database: Path
) -> None:
    """/forget erases everything: no outbox row keeps their key, encrypted chat id and which
    municipality they wait in, and the old invitation's buttons stop counting them."""
    resident = town[OPEN_NB]
    key = services.user_key(OPEN_NB)
    invitation = invitation_of(resident)
    await resident.press_label(invitation, "Jeg kommer")
    asked = (await resident.say("/forget")).first
    await resident.press_label(asked, "Ja, slett alt")
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]
    assert db_rows(database, "SELECT status FROM outbox WHERE recipient = ?", (key,)) == []
    turn = await resident.press_label(invitation, "Jeg kommer")  # the old invitation's button
    assert turn.alerts == [ui(services, "nb", "invitation.not_for_you")]
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]


# --- security ----------------------------------------------------------------------------------


async def test_a_resident_gets_exactly_the_unknown_command_reply(
    person_factory: PersonFactory, services: Services, database: Path
) -> None:
    for lang in ("nb", "en"):
        resident = person_factory(user_id=OPEN_NB, language_code=lang)
        unknown = await resident.say("/nosuchcommand")
        for attempt in ("/invitation", "/invitation status"):
            turn = await resident.say(attempt)
            assert turn.texts == unknown.texts
            assert [s.buttons for s in turn.sent] == [s.buttons for s in unknown.sent]
        assert unknown.first.text == ui(services, lang, "errors.unknown_command")
    assert await services.storage.get_flow(services.user_key(OPEN_NB)) is None
    assert all_outbox_rows(database) == 0


async def test_a_resident_pressing_coordinator_buttons_is_refused(
    town: Town, services: Services, database: Path
) -> None:
    draft = await compose(town.lyngen, "all")
    resident = town[OPEN_NB]
    stale = ui(services, "nb", "errors.stale_button")
    copied = [*draft.audience.callback_data, *draft.confirm.callback_data]
    forged = [
        "ci:s",
        "ci:a:all",
        "ci:m:lyngen",
        "ci:s~AAAAAAAAAA",
        "ci:m:lyngen~",
        services.signer.sign(OPEN_NB, "ci:s"),  # signed for the resident: still no role
        services.signer.sign(OPEN_NB, "ci:m:lyngen"),
    ]
    for data in [*copied, *forged]:
        turn = await resident.press(data)
        assert turn.alerts == [stale], data
        assert turn.sent == [], data
    assert all_outbox_rows(database) == 0
    assert await services.storage.invitations_by(services.user_key(OPEN_NB)) == []
    assert await services.storage.get_flow(services.user_key(OPEN_NB)) is None
    # The coordinator's own draft is untouched and still sends.
    await send_now(town.lyngen, draft)
    assert all_outbox_rows(database) == len(LYNGEN_CONTACTABLE)


async def test_buttons_are_signed_per_coordinator(
    town: Town, services: Services, app: App, fake: FakeTelegram, database: Path
) -> None:
    alta_draft = await compose(town.alta, "all", "Møte i Alta")
    stale = ui(services, "nb", "errors.stale_button")
    # The Lyngen coordinator, mid-flow for Lyngen, replays the Alta coordinator's buttons.
    lyngen_choose = (await town.lyngen.say("/invitation")).first
    for data in [*alta_draft.audience.callback_data, *alta_draft.confirm.callback_data]:
        turn = await town.lyngen.press(data)
        assert turn.alerts == [stale], data
        assert turn.sent == []
    state = await services.storage.get_flow(services.user_key(LYNGEN))
    assert state == (FLOW, {"step": "audience", "municipality": "Lyngen"})
    assert all_outbox_rows(database) == 0
    # ... and the Alta coordinator's draft goes only to Alta.
    await send_now(town.alta, alta_draft)
    await relay(app)
    assert [m.text for m in fake.messages_to(ALTA_NB) if "Møte i Alta" in m.text]
    for uid in LYNGEN_CONTACTABLE:
        assert not [m for m in fake.messages_to(uid) if "Møte i Alta" in m.text]
    assert "Lyngen" in lyngen_choose.text


async def test_the_lyngen_coordinator_can_never_target_alta(
    town: Town, services: Services, app: App, fake: FakeTelegram, database: Path
) -> None:
    """Even with a leaked signer (forged data signed for the Lyngen user), the area check on
    the server refuses Alta at every step."""
    coordinator = town.lyngen
    key = services.user_key(LYNGEN)
    forged = services.signer.sign(LYNGEN, "ci:m:alta")
    turn = await coordinator.press(forged)
    assert not any("Alta" in t for t in [*turn.texts, *turn.alerts])
    assert await services.storage.get_flow(key) is None
    # Continue as if Alta had been chosen: no flow, so the next step is refused.
    turn = await coordinator.press(services.signer.sign(LYNGEN, "ci:a:all"))
    assert ui(services, "nb", "errors.stale_button") in turn.texts
    # Tampered state (as if Alta got into the flow somehow): refused at each step.
    await services.storage.set_flow(key, FLOW, {"step": "audience", "municipality": "Alta"})
    turn = await coordinator.press(services.signer.sign(LYNGEN, "ci:a:all"))
    assert ui(services, "nb", "errors.stale_button") in turn.texts
    await services.storage.set_flow(key, FLOW, {"step": "text", "municipality": "Alta"})
    turn = await coordinator.say("Møte i Alta")
    assert not any("Møte i Alta" in t for t in turn.texts)  # no preview: not an invitation
    await services.storage.set_flow(
        key, FLOW, {"step": "confirm", "municipality": "Alta", "text": "Møte i Alta", "count": 1}
    )
    turn = await coordinator.press(services.signer.sign(LYNGEN, "ci:s"))
    assert ui(services, "nb", "errors.stale_button") in turn.texts
    assert all_outbox_rows(database) == 0
    assert await services.storage.invitations_by(key) == []
    await relay(app)
    assert not [m for m in fake.messages_to(ALTA_NB) if "Møte i Alta" in m.text]
    # Lyngen's status never lists Alta.
    assert await status_lines(coordinator) == [ui(services, "nb", "invitation.status_none")]


async def test_a_replayed_send_queues_nothing_more(
    town: Town, services: Services, app: App, fake: FakeTelegram, database: Path
) -> None:
    draft = await compose(town.lyngen, "all")
    await send_now(town.lyngen, draft)
    assert all_outbox_rows(database) == len(LYNGEN_CONTACTABLE)
    await relay(app)
    stale = ui(services, "nb", "errors.stale_button")
    for data in (*draft.confirm.callback_data, *draft.audience.callback_data):
        turn = await town.lyngen.press(data, on=draft.confirm, forged=True)
        assert stale in turn.texts, (data, turn.texts)
    assert all_outbox_rows(database) == len(LYNGEN_CONTACTABLE)
    assert len(await services.storage.invitations_by(services.user_key(LYNGEN))) == 1
    assert (await relay(app)).sent == 0
    for uid in LYNGEN_CONTACTABLE:
        lang = str(town[uid].language_code)
        assert len(invitations_to(fake, uid, services, lang)) == 1


async def grant_coordinator(services: Services, user_id: int) -> None:
    key = services.user_key(user_id)
    chat = services.cipher.encrypt(user_id, key)
    await services.storage.grant_role(RoleGrant(key, "coordinator", "Lyngen", chat, 0))


@pytest.mark.usefixtures("town")
@pytest.mark.parametrize("revoked_at", ["audience", "text", "confirm"])
async def test_a_revoked_coordinator_is_refused_at_the_next_step(
    person_factory: PersonFactory,
    services: Services,
    database: Path,
    revoked_at: str,
) -> None:
    await grant_coordinator(services, GRANTED)
    coordinator = person_factory(user_id=GRANTED)
    key = services.user_key(GRANTED)
    stale = ui(services, "nb", "errors.stale_button")

    async def revoke() -> None:
        assert await services.storage.revoke_role(key, "coordinator", "Lyngen")

    choose = (await coordinator.say("/invitation")).first
    assert choose.text == ui(services, "nb", "invitation.choose_audience", municipality="Lyngen")
    if revoked_at == "audience":
        await revoke()
        turn = await coordinator.press_label(choose, "Alle som venter")
        assert turn.alerts == [stale]
        assert turn.sent == []
    else:
        await coordinator.press_label(choose, "Alle som venter")
        if revoked_at == "text":
            await revoke()
            turn = await coordinator.say(TEXT)
            assert not any(TEXT in t for t in turn.texts)  # no preview: an ordinary question
            assert await services.storage.get_flow(key) is None
        else:
            turn = await coordinator.say(TEXT)
            confirm = turn.sent[2]
            await revoke()
            turn = await coordinator.press_label(confirm, "Send")
            assert turn.alerts == [stale]
            assert turn.sent == []
    assert all_outbox_rows(database) == 0
    assert await services.storage.invitations_by(key) == []
    # From now on /invitation is an unknown command for them.
    again = await coordinator.say("/invitation")
    assert again.texts == [ui(services, "nb", "errors.unknown_command")]


# --- delivery: restarts and blocked residents ----------------------------------------------------


async def test_a_restart_never_sends_anyone_the_invitation_twice(
    town: Town,
    services: Services,
    app: App,
    fake: FakeTelegram,
    config: Config,
    content: Content,
    database: Path,
) -> None:
    draft = await compose(town.lyngen, "all")
    await send_now(town.lyngen, draft)
    invitation_id = await latest_invitation(services, LYNGEN)
    first = await new_sender(services).send_due(app.bot, max_rows=2)
    assert first.sent == 2
    await services.storage.close()  # the process dies here

    revived = await create_services(config, content=content, database=str(database))
    new_app = await start_app(revived, fake)
    try:
        rest = await relay(new_app)
        assert rest.sent == len(LYNGEN_CONTACTABLE) - 2
        assert (await relay(new_app)).sent == 0
        for uid in LYNGEN_CONTACTABLE:
            lang = str(town[uid].language_code)
            assert len(invitations_to(fake, uid, services, lang)) == 1, uid
        rows = outbox(database, f"invitation:{invitation_id}")
        assert {status for status, _ in rows.values()} == {"sent"}
        # The invitation outlived the restart: residents answer on the new process.
        revived_resident = Person(new_app, fake, user_id=OPEN_NB)
        turn = await revived_resident.press_label(invitation_of(revived_resident), "Jeg kommer")
        assert turn.alerts == [ui(services, "nb", "invitation.thanks_yes")]
    finally:
        await stop_app(new_app)


async def test_a_failure_after_queueing_and_a_retry_never_doubles_the_invitation(
    town: Town,
    services: Services,
    app: App,
    fake: FakeTelegram,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process can fail right after the outbox rows are committed (here: clearing the
    draft fails). The coordinator is told "something went wrong, try again"; pressing Send
    again must not send everyone the same invitation a second time."""
    draft = await compose(town.lyngen, "all")
    storage = services.storage
    real_clear = storage.clear_flow
    failures = [RuntimeError("disk I/O error")]

    async def failing_clear(user_key: str) -> bool:
        if failures:
            raise failures.pop()
        return await real_clear(user_key)

    monkeypatch.setattr(storage, "clear_flow", failing_clear)
    failed = await send_now(town.lyngen, draft)
    assert failed.texts == [ui(services, "nb", "errors.internal")]
    await send_now(town.lyngen, draft)  # "try again"
    await relay(app)
    for uid in LYNGEN_CONTACTABLE:
        lang = str(town[uid].language_code)
        assert len(invitations_to(fake, uid, services, lang)) == 1, uid


def block_chat(fake: FakeTelegram, chat_id: int) -> list[int]:
    """Telegram answers 403 for every message to `chat_id`; returns the list of tries."""
    tries: list[int] = []

    def hook(call: Call) -> None:
        if call.method == "sendMessage" and int(call.params["chat_id"]) == chat_id:
            tries.append(chat_id)
            raise FakeApiError(403, "Forbidden: bot was blocked by the user")

    fake.send_hook = hook
    return tries


async def test_a_resident_who_blocked_the_bot_is_dropped(
    town: Town, services: Services, app: App, fake: FakeTelegram, database: Path
) -> None:
    tries = block_chat(fake, OPEN_EN)
    draft = await compose(town.lyngen, "all")
    await send_now(town.lyngen, draft)
    first_id = await latest_invitation(services, LYNGEN)
    report = await relay(app)
    assert (report.sent, report.blocked) == (len(LYNGEN_CONTACTABLE) - 1, 1)
    assert tries == [OPEN_EN]
    assert outbox(database, f"invitation:{first_id}")[services.user_key(OPEN_EN)][0] == "blocked"
    assert db_rows(
        database, "SELECT active FROM residents WHERE user_key = ?", (services.user_key(OPEN_EN),)
    ) == [(0,)]

    # The next invitation counts and queues only those still reachable.
    draft = await compose(town.lyngen, "all")
    queued = await send_now(town.lyngen, draft)
    assert queued.last.text == ui(services, "nb", "invitation.queued")
    second_id = await latest_invitation(services, LYNGEN)
    assert set(outbox(database, f"invitation:{second_id}")) == {
        services.user_key(OPEN_NB),
        services.user_key(OPEN_NB_2),
        services.user_key(GRIEF_NB),
    }
    report = await relay(app)
    assert (report.sent, report.blocked) == (3, 0)
    assert tries == [OPEN_EN]  # never tried again


@pytest.mark.usefixtures("sent_invitation")
async def test_no_contact_is_shared_with_someone_who_lost_the_role(
    town: Town, services: Services, fake: FakeTelegram
) -> None:
    # The coordinator leaves (config.yaml no longer names them) before the resident shares.
    services.config = dataclasses.replace(services.config, coordinators=())
    before = len(fake.messages_to(LYNGEN))
    resident = town[OPEN_NB]
    asked = await resident.press_label(invitation_of(resident), "Del kontakten min")
    answer = await resident.press_label(asked.first, "Ja, del kontakten min")
    assert answer.last.text == ui(services, "nb", "invitation.share_gone")
    assert len(fake.messages_to(LYNGEN)) == before


async def test_forget_by_a_coordinator_removes_their_invitations(
    town: Town, services: Services, sent_invitation: int, database: Path
) -> None:
    confirm = (await town.lyngen.say("/forget")).first
    await town.lyngen.press_label(confirm, "Ja, slett alt")
    assert await services.storage.get_invitation(sent_invitation) is None
    assert db_rows(database, "SELECT COUNT(*) FROM invitation_answers") == [(0,)]


async def test_per_kind_audiences_follow_the_digest_and_are_checked_on_the_server(
    town: Town,
    services: Services,
    person_factory: PersonFactory,
    now: list[float],
    database: Path,
) -> None:
    """A kind is offered only when the day's digest shows its count; a signed button for a
    hidden kind is refused, so "nobody" versus the write prompt cannot reveal one person's kind."""
    coordinator = town.lyngen
    choose = (await coordinator.say("/invitation")).first
    assert choose.button_texts == [ui(services, "nb", "invitation.audience_all")]
    for kind in ("grief", "open", "anxiety"):
        forged = services.signer.sign(LYNGEN, f"ci:a:{kind}")
        turn = await coordinator.press(forged, on=choose, forged=True)
        assert ui(services, "nb", "errors.stale_button") in turn.texts, kind
    assert all_outbox_rows(database) == 0
    # Two more grief registrations: 4 open, 3 grief. Not before tomorrow's snapshot...
    for uid in (2101, 2102):
        await register(person_factory(user_id=uid), "lyngen", "grief", "yes")
    choose = (await coordinator.say("/invitation")).first
    assert len(choose.callback_data) == 1
    now[0] += DAY
    choose = (await coordinator.say("/invitation")).first
    grief_label = [t for t in choose.button_texts if "Sorg" in t or "sorg" in t]
    assert len(choose.callback_data) == 3, choose.button_texts
    assert grief_label, choose.button_texts
    write = await coordinator.press_label(choose, grief_label[0])
    assert write.last.text == ui(services, "nb", "invitation.write", max_chars=1500)
    turn = await coordinator.say(TEXT)
    size = ui(services, "nb", "invitation.recipients_kind", count="3")
    assert turn.sent[2].text.startswith(size)
    await send_now(coordinator, Draft(choose, turn.sent[1], turn.sent[2], turn.sent[0]))
    invitation_id = await latest_invitation(services, LYNGEN)
    assert set(outbox(database, f"invitation:{invitation_id}")) == {
        services.user_key(uid) for uid in (GRIEF_NB, 2101, 2102)
    }
