"""Roles through the chat: invite links, opening them once, /roles and revoking, all refused to
anyone who is not an admin, through process_update on the fake Bot API."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.offline.fake_bot_api import BOT_USERNAME, FakeTelegram, Sent
from bot.roles.lookup import Roles, hash_token, roles_for
from bot.roles.role_links import DAY, InviteRequest, grant_id, parse_invite_args
from bot.services import Services
from tests.support import App, Person, PersonFactory, Turn, start_app, stop_app

ADMIN_ID = 100000001  # config.yaml's sample admin
LYNGEN_COORDINATOR_ID = 100000002  # config.yaml's sample coordinator
NEWCOMER_ID = 2001
RESIDENT_ID = 3001
START = 1_780_000_000.0
LINK_RE = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=inv-([A-Za-z0-9_-]+)")


@pytest.fixture
def clock() -> list[float]:
    """The injected time; tests move it by hand."""
    return [START]


@pytest.fixture
async def app(services: Services, fake: FakeTelegram, clock: list[float]) -> AsyncIterator[App]:
    services.clock = lambda: clock[0]
    application = await start_app(services, fake)
    try:
        yield application
    finally:
        await stop_app(application)


@pytest.fixture
def admin_person(person_factory: PersonFactory) -> Person:
    return person_factory(user_id=ADMIN_ID)


async def roles_of(services: Services, user_id: int) -> Roles:
    return await roles_for(services.config, services.storage, services.user_key(user_id), user_id)


async def create_link(admin_person: Person, args: str) -> tuple[Turn, str]:
    turn = await admin_person.say(f"/invite {args}")
    found = LINK_RE.search(turn.text)
    assert found, turn.text
    return turn, found.group(1)


def db_rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(sql).fetchall()


async def test_admin_invites_a_coordinator_and_the_link_works_once(
    admin_person: Person, person_factory: PersonFactory, services: Services
) -> None:
    turn, token = await create_link(admin_person, "coordinator lyngen")
    assert "kontaktperson for Lyngen" in turn.text
    assert "én gang" in turn.text
    assert "Europe/Oslo" in turn.text

    newcomer = person_factory(user_id=NEWCOMER_ID)
    opened = await newcomer.say(f"/start inv-{token}")
    assert len(opened.sent) == 1, opened.texts  # the normal welcome does not follow
    assert "kontaktperson for Lyngen" in opened.text
    assert "/digest" in opened.text
    assert "/invitation" in opened.text
    roles = await roles_of(services, NEWCOMER_ID)
    assert roles.municipalities == {"Lyngen"}
    assert not roles.admin
    # The chat id is kept (encrypted) so digests can reach the new coordinator.
    grants = await services.storage.roles_of(services.user_key(NEWCOMER_ID))
    assert services.cipher.decrypt(grants[0].chat_enc, grants[0].user_key) == NEWCOMER_ID

    # Replayed, by someone else or by the same person: refused kindly, nothing changes.
    other = person_factory(user_id=NEWCOMER_ID + 1)
    again = await other.say(f"/start inv-{token}")
    assert "virker dessverre ikke" in again.text
    assert not (await roles_of(services, NEWCOMER_ID + 1)).privileged
    assert "virker dessverre ikke" in (await newcomer.say(f"/start inv-{token}")).text
    assert (await roles_of(services, NEWCOMER_ID)).municipalities == {"Lyngen"}


async def test_an_expired_link_fails(
    admin_person: Person, person_factory: PersonFactory, services: Services, clock: list[float]
) -> None:
    _, token = await create_link(admin_person, "office Nord-Norge")
    clock[0] += services.config.invite_days * DAY + 1
    turn = await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{token}")
    assert "virker dessverre ikke" in turn.text
    assert not (await roles_of(services, NEWCOMER_ID)).privileged


async def test_a_link_used_just_before_expiry_works(
    admin_person: Person, person_factory: PersonFactory, services: Services, clock: list[float]
) -> None:
    _, token = await create_link(admin_person, "office innlandet")
    clock[0] += services.config.invite_days * DAY - 60
    turn = await person_factory(user_id=NEWCOMER_ID, language_code="en").say(f"/start inv-{token}")
    assert "regional office for Innlandet" in turn.text
    assert "/announce" in turn.text
    assert (await roles_of(services, NEWCOMER_ID)).regions == {"innlandet"}


async def test_forged_or_malformed_invite_payloads_change_nothing(
    person_factory: PersonFactory, services: Services, database: Path
) -> None:
    newcomer = person_factory(user_id=NEWCOMER_ID)
    for payload in ("inv-" + "A" * 24, "inv-short", "inv-" + "x" * 60, "inv-"):
        turn = await newcomer.say(f"/start {payload}")
        assert "virker dessverre ikke" in turn.text, payload
    assert not (await roles_of(services, NEWCOMER_ID)).privileged
    assert db_rows(database, "SELECT COUNT(*) FROM roles") == [(0,)]
    # A payload that is not an invite gets the ordinary welcome.
    welcome = await newcomer.say("/start lyngen")
    assert services.content.text("nb", "start.from_place", municipality="Lyngen") in welcome.text


async def test_the_database_holds_only_the_token_hash(
    admin_person: Person, database: Path
) -> None:
    _, token = await create_link(admin_person, "admin")
    assert db_rows(database, "SELECT token_hash, role, scope, used_at FROM invites") == [
        (hash_token(token), "admin", "", None)
    ]
    for path in (database, Path(f"{database}-wal")):
        if path.exists():
            assert token.encode() not in path.read_bytes(), path.name


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("", "/invite coordinator <kommune>"),
        ("coordinator", "/invite coordinator <kommune>"),
        ("coordinator Atlantis", "ingen kommune som heter «Atlantis»"),
        ("office Vestlandet", "ingen region som heter «Vestlandet»"),
        ("admin " + "x" * 61, "/invite admin"),  # a note beyond NOTE_MAX_CHARS
        ("wizard Lyngen", "/invite admin"),
    ],
)
async def test_bad_arguments_get_usage_with_the_valid_choices(
    admin_person: Person, database: Path, args: str, expected: str
) -> None:
    turn = await admin_person.say(f"/invite {args}".strip())
    assert expected in turn.text
    assert "Lyngen, Tromsø, Alta" in turn.text  # municipalities from config.yaml
    assert "nord-norge (Nord-Norge)" in turn.text  # region ids and names
    assert not LINK_RE.search(turn.text)
    assert db_rows(database, "SELECT COUNT(*) FROM invites") == [(0,)]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("coordinator LYNGEN", InviteRequest("coordinator", "Lyngen")),
        ("koordinator lyngseidet", InviteRequest("coordinator", "Lyngen")),  # an alias
        ("coordinator nord-aurdal", InviteRequest("coordinator", "Nord-Aurdal")),
        ("office NORD-NORGE", InviteRequest("office", "nord-norge")),
        ("kontor Innlandet", InviteRequest("office", "innlandet")),
        ("Admin", InviteRequest("admin", "")),
    ],
)
def test_names_are_matched_ignoring_case(
    config: Config, args: str, expected: InviteRequest
) -> None:
    assert parse_invite_args(config, args.split()) == expected


@pytest.mark.parametrize("user_id", [RESIDENT_ID, LYNGEN_COORDINATOR_ID])
async def test_non_admins_get_the_unknown_command_reply(
    person_factory: PersonFactory, database: Path, user_id: int
) -> None:
    someone = person_factory(user_id=user_id)
    unknown = await someone.say("/nosuchcommand")
    for command in ("/invite coordinator Lyngen", "/invite admin", "/roles"):
        turn = await someone.say(command)
        assert turn.texts == unknown.texts, command
        assert turn.first.buttons == unknown.first.buttons, command
    assert db_rows(database, "SELECT COUNT(*) FROM invites") == [(0,)]


async def test_admin_commands_do_nothing_in_group_chats(person_factory: PersonFactory) -> None:
    in_group = person_factory(user_id=ADMIN_ID, chat_id=-100123, chat_type="group")
    turn = await in_group.say("/invite admin")
    assert not LINK_RE.search(turn.text)


async def grant_lyngen(admin_person: Person, person_factory: PersonFactory) -> None:
    _, token = await create_link(admin_person, "coordinator Lyngen")
    await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{token}")


def revoke_buttons(sent: Sent) -> list[str]:
    return [d for d in sent.callback_data if d.startswith("adm:rv:")]


async def test_roles_lists_config_and_granted_roles(
    admin_person: Person, person_factory: PersonFactory, services: Services
) -> None:
    await grant_lyngen(admin_person, person_factory)
    turn = await admin_person.say("/roles")
    text = turn.text

    def line(key: str, **values: object) -> str:
        return services.content.text("nb", f"admin.roles.{key}", **values)

    assert line("config_heading") in text
    assert line("config_line", role="administrator", user_id=ADMIN_ID) in text
    coordinator = "kontaktperson for Lyngen"
    assert line("config_line", role=coordinator, user_id=LYNGEN_COORDINATOR_ID) in text
    assert line("config_line", role="regionkontor for Nord-Norge", user_id=100000004) in text
    ref = services.user_key(NEWCOMER_ID)[:6]
    granted = line("granted_line", role=coordinator, ref=ref, date="28.05.2026")
    assert granted in text, text
    assert str(NEWCOMER_ID) not in text  # no Telegram id is stored for granted roles
    # One revoke button, for the granted role only; signed and within Telegram's 64 bytes.
    (data,) = revoke_buttons(turn.first)
    assert len(data.encode()) <= 64
    assert services.signer.verify(ADMIN_ID, data) is not None


async def test_admin_revokes_a_granted_role(
    admin_person: Person, person_factory: PersonFactory, services: Services
) -> None:
    await grant_lyngen(admin_person, person_factory)
    listing = (await admin_person.say("/roles")).first
    confirm = await admin_person.press_label(listing, "kontaktperson for Lyngen")
    assert "Fjerne rollen kontaktperson for Lyngen" in confirm.last.text
    assert (await roles_of(services, NEWCOMER_ID)).municipalities == {"Lyngen"}  # not yet
    done = await admin_person.press_label(confirm.last, "Ja, fjern")
    assert "Fjernet: kontaktperson for Lyngen" in done.last.text
    assert not revoke_buttons(done.last)
    assert not (await roles_of(services, NEWCOMER_ID)).privileged
    # The config.yaml coordinator is untouched.
    assert (await roles_of(services, LYNGEN_COORDINATOR_ID)).municipalities == {"Lyngen"}
    # Pressing the old button again: already gone, nothing breaks.
    again = await admin_person.press_label(confirm.last, "Ja, fjern")
    assert "allerede fjernet" in again.last.text


async def test_forged_and_borrowed_revoke_buttons_are_refused(
    admin_person: Person, person_factory: PersonFactory, services: Services
) -> None:
    await grant_lyngen(admin_person, person_factory)
    listing = (await admin_person.say("/roles")).first
    (admin_data,) = revoke_buttons(listing)
    unsigned = admin_data.rpartition("~")[0].replace(":rv:", ":rk:")
    gid = grant_id(services.user_key(NEWCOMER_ID), "coordinator", "Lyngen")
    resident = person_factory(user_id=RESIDENT_ID)
    stale = services.content.text("nb", "errors.stale_button")
    for data in (
        admin_data,  # the admin's own button, pressed by someone else
        admin_data.replace(":rv:", ":rk:"),  # tampered: the tag no longer matches
        unsigned,  # no tag at all
        services.signer.sign(RESIDENT_ID, f"adm:rk:{gid}"),  # validly signed, but not an admin
        "adm:ls",
    ):
        turn = await resident.press(data)
        assert turn.alerts == [stale], data
        assert len(turn.callback_answers) == 1  # the generic router never saw it
        assert not turn.sent, data
    assert (await roles_of(services, NEWCOMER_ID)).municipalities == {"Lyngen"}


async def test_a_revoked_admin_loses_access_at_once(
    admin_person: Person, person_factory: PersonFactory, services: Services
) -> None:
    _, token = await create_link(admin_person, "admin")
    second = person_factory(user_id=NEWCOMER_ID, language_code="en")
    accepted = await second.say(f"/start inv-{token}")
    assert "You are now administrator" in accepted.text
    own_listing = (await second.say("/roles")).first
    assert "Given by invite link" in own_listing.text
    # Nobody removes their own admin role (that could leave no admin at all).
    refused = await second.press(revoke_buttons(own_listing)[0], on=own_listing)
    assert "cannot remove your own administrator role" in refused.last.text
    assert (await roles_of(services, NEWCOMER_ID)).admin
    # Another admin can; the second admin's old buttons then stop working.
    listing = (await admin_person.say("/roles")).first
    confirm = await admin_person.press_label(listing, "administrator")
    await admin_person.press_label(confirm.last, "Ja, fjern")
    assert not (await roles_of(services, NEWCOMER_ID)).admin
    late = await second.press(revoke_buttons(own_listing)[0], on=own_listing)
    assert late.alerts == [services.content.text("en", "errors.stale_button")]
    unknown = await second.say("/nosuchcommand")
    assert (await second.say("/roles")).texts == unknown.texts
