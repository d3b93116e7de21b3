"""Unused invite links: an admin lists them (role, scope, expiry, a short reference) and revokes
one (signed button, confirmed, the admin role checked at every press), and the admin who made a
link is told when it is used, with role and scope but nothing about the person (issue 10,
item 12).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.offline.fake_bot_api import BOT_USERNAME, FakeTelegram, Sent
from bot.outbox.sender import Sender
from bot.roles.lookup import hash_token, roles_for
from bot.services import Services
from tests.support import App, PacingClock, Person, PersonFactory, start_app, stop_app

ADMIN_ID = 100000001  # config.yaml's sample admin
NEWCOMER_ID = 2001
RESIDENT_ID = 3001
OSLO = ZoneInfo("Europe/Oslo")
EXPIRES = datetime(2026, 12, 8, 20, 6, tzinfo=OSLO)  # what the listing shows
LINK_RE = re.compile(rf"https://t\.me/{BOT_USERNAME}\?start=inv-([A-Za-z0-9_-]+)")


@pytest.fixture
def clock(services: Services) -> list[float]:
    return [EXPIRES.timestamp() - services.config.invite_days * 86400]


@pytest.fixture
async def app(services: Services, fake: FakeTelegram, clock: list[float]) -> AsyncIterator[App]:
    services.clock = lambda: clock[0]
    application = await start_app(services, fake)
    try:
        yield application
    finally:
        await stop_app(application)


@pytest.fixture
def admin(person_factory: PersonFactory) -> Person:
    return person_factory(user_id=ADMIN_ID)


def ui(services: Services, key: str, lang: str = "nb", **values: object) -> str:
    return services.content.text(lang, key, **values)


async def make_link(admin: Person, args: str) -> str:
    found = LINK_RE.search((await admin.say(f"/invite {args}")).text)
    assert found
    return found.group(1)


async def deliver(services: Services, app: App) -> None:
    clock = PacingClock()
    await Sender(services, sleep=clock.sleep, timer=clock).run_until_idle(app.bot, timeout=60)


def revoke_data(sent: Sent) -> list[str]:
    return [d for d in sent.callback_data if d.startswith("adm:iv:")]


async def test_the_list_shows_role_scope_expiry_and_reference(
    admin: Person, person_factory: PersonFactory, services: Services
) -> None:
    lyngen = await make_link(admin, "coordinator Lyngen")
    await make_link(admin, "office nord-norge")
    used = await make_link(admin, "admin")
    await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{used}")

    listing = (await admin.say("/invite list")).first
    ref = hash_token(lyngen)[:6]
    assert (
        ui(
            services,
            "admin.invites.line",
            role="kontaktperson for Lyngen",
            ref=ref,
            expires="08.12.2026 kl. 20.06",
        )
        in listing.text
    )
    assert "regionkontor for Nord-Norge" in listing.text
    assert "administrator" not in listing.text  # the used one is not pending
    assert "Europe/Oslo" in listing.text
    assert lyngen not in listing.text  # never the token itself
    assert len(revoke_data(listing)) == 2
    for data in listing.callback_data:
        assert services.signer.verify(ADMIN_ID, data) is not None
        assert len(data.encode()) <= 64

    english = person_factory(user_id=ADMIN_ID, language_code="en")  # Telegram set to English
    listing_en = (await english.say("/invite list")).first
    expected = ui(
        services,
        "admin.invites.line",
        "en",
        role="coordinator for Lyngen",
        ref=ref,
        expires="8 Dec 2026, 20:06",
    )
    assert expected in listing_en.text


async def test_the_english_expiry_form(services: Services) -> None:
    from bot.roles.admin_views import expiry_text

    ts = int(EXPIRES.timestamp())
    assert expiry_text(services.content, services.config, "en", ts) == "8 Dec 2026, 20:06"
    assert expiry_text(services.content, services.config, "nb", ts) == "08.12.2026 kl. 20.06"


async def test_an_expired_link_is_no_longer_listed(
    admin: Person, services: Services, clock: list[float]
) -> None:
    await make_link(admin, "coordinator Alta")
    clock[0] = EXPIRES.timestamp() + 1
    listing = (await admin.say("/invite list")).first
    assert ui(services, "admin.invites.none") in listing.text
    assert not listing.callback_data


async def test_revoking_a_link_after_confirmation_makes_it_useless(
    admin: Person, person_factory: PersonFactory, services: Services
) -> None:
    token = await make_link(admin, "coordinator Lyngen")
    listing = (await admin.say("/invite list")).first
    confirm = await admin.press_label(listing, "kontaktperson for Lyngen")
    ref = hash_token(token)[:6]
    assert confirm.last.text == ui(
        services, "admin.invites.confirm", role="kontaktperson for Lyngen", ref=ref
    )
    # "No" goes back and keeps the link.
    back = await admin.press_label(confirm.last, ui(services, "admin.invites.confirm_no"))
    assert len(revoke_data(back.last)) == 1
    confirm = await admin.press_label(back.last, "kontaktperson for Lyngen")
    done = await admin.press_label(confirm.last, ui(services, "admin.invites.confirm_yes"))
    assert (
        ui(services, "admin.invites.revoked", role="kontaktperson for Lyngen", ref=ref)
        in done.last.text
    )
    assert not revoke_data(done.last)
    opened = await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{token}")
    assert "virker dessverre ikke" in opened.text
    roles = await roles_for(
        services.config, services.storage, services.user_key(NEWCOMER_ID), NEWCOMER_ID
    )
    assert not roles.privileged
    # The old confirmation pressed again: already gone, nothing breaks.
    again = await admin.press_label(confirm.last, ui(services, "admin.invites.confirm_yes"))
    assert ui(services, "admin.invites.gone") in again.last.text


async def test_a_link_used_meanwhile_cannot_be_revoked(
    admin: Person, person_factory: PersonFactory, services: Services
) -> None:
    token = await make_link(admin, "office innlandet")
    confirm = await admin.press_label(
        (await admin.say("/invite list")).first, "regionkontor for Innlandet"
    )
    await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{token}")
    done = await admin.press_label(confirm.last, ui(services, "admin.invites.confirm_yes"))
    assert ui(services, "admin.invites.gone") in done.last.text
    roles = await roles_for(
        services.config, services.storage, services.user_key(NEWCOMER_ID), NEWCOMER_ID
    )
    assert roles.regions == {"innlandet"}  # the role stays: /roles removes roles


async def test_forged_borrowed_and_stale_buttons_are_refused(
    admin: Person, person_factory: PersonFactory, services: Services, database: Path
) -> None:
    token = await make_link(admin, "coordinator Lyngen")
    listing = (await admin.say("/invite list")).first
    (data,) = revoke_data(listing)
    plain = data.rpartition("~")[0]
    stale = ui(services, "errors.stale_button")
    resident = person_factory(user_id=RESIDENT_ID)
    for pressed in (
        data,  # the admin's button, pressed by someone else
        data.replace(":iv:", ":ik:"),  # tampered
        plain.replace(":iv:", ":ik:"),  # unsigned
        services.signer.sign(RESIDENT_ID, plain.replace(":iv:", ":ik:")),  # not an admin
        services.signer.sign(RESIDENT_ID, "adm:il"),
    ):
        turn = await resident.press(pressed)
        assert turn.alerts == [stale], pressed
        assert not turn.sent
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM invites").fetchone() == (1,)
    # Someone who is no admin asks for the list: the unknown-command answer.
    unknown = await resident.say("/nosuchcommand")
    assert (await resident.say("/invite list")).texts == unknown.texts
    assert token not in "".join(t.text for t in resident.history)


async def test_a_revoked_admin_cannot_revoke_links(
    admin: Person, person_factory: PersonFactory, services: Services
) -> None:
    admin_token = await make_link(admin, "admin")
    second = person_factory(user_id=NEWCOMER_ID)
    await second.say(f"/start inv-{admin_token}")
    await make_link(admin, "coordinator Alta")
    listing = (await second.say("/invite list")).first
    confirm = await second.press_label(listing, "kontaktperson for Alta")
    await services.storage.revoke_role(services.user_key(NEWCOMER_ID), "admin", "")
    turn = await second.press_label(confirm.last, ui(services, "admin.invites.confirm_yes"))
    assert turn.alerts == [ui(services, "errors.stale_button")]
    assert len(await services.storage.pending_invites(0)) == 1


async def test_the_admin_who_made_a_link_is_told_when_it_is_used(
    admin: Person,
    person_factory: PersonFactory,
    services: Services,
    app: App,
    fake: FakeTelegram,
    database: Path,
) -> None:
    token = await make_link(admin, "coordinator Lyngen")
    with sqlite3.connect(database) as conn:
        (creator,) = conn.execute("SELECT created_by FROM invites").fetchone()
    assert creator == services.user_key(ADMIN_ID)
    before = len(fake.messages_to(ADMIN_ID))
    newcomer = person_factory(user_id=NEWCOMER_ID, language_code="en")
    await newcomer.say(f"/start inv-{token}")
    await deliver(services, app)
    told = fake.messages_to(ADMIN_ID)[before:]
    expected = ui(
        services,
        "admin.invites.used",
        ref=hash_token(token)[:6],
        role="kontaktperson for Lyngen",
    )
    assert [s.text for s in told] == [expected]
    assert str(NEWCOMER_ID) not in expected
    assert "Test" not in expected  # the person's Telegram name is never passed on
    # Told once; the used link no longer points to its maker.
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT created_by, creator_chat FROM invites").fetchall() == [
            (None, None)
        ]
    await person_factory(user_id=NEWCOMER_ID + 1).say(f"/start inv-{token}")  # refused
    await deliver(services, app)
    assert len(fake.messages_to(ADMIN_ID)) == before + 1


async def test_a_forgotten_admin_is_not_told(
    admin: Person, person_factory: PersonFactory, services: Services, database: Path
) -> None:
    token = await make_link(admin, "office nord-norge")
    await services.storage.forget_resident(services.user_key(ADMIN_ID))
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT created_by, creator_chat FROM invites").fetchall() == [
            (None, None)
        ]
    turn = await person_factory(user_id=NEWCOMER_ID).say(f"/start inv-{token}")
    assert "regionkontor for Nord-Norge" in turn.text  # the link itself still works
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
