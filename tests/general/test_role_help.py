"""A way for each role (issue 11): /help and the command menu per role, role links named by
the admin (stored encrypted, erased with the role), /announce list buttons by date and place,
a stale office button pointing back to /announce, and a chat language that stays stable."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from telegram import InlineKeyboardButton

from bot.answers.faq_index import FaqIndex
from bot.chat import command_menus
from bot.content import load_content
from bot.general import help as role_help
from bot.meetings import announce_views
from bot.offline.fake_bot_api import FakeTelegram
from bot.roles.lookup import Roles
from bot.roles.role_links import InviteProblem, InviteRequest, parse_invite_args
from bot.services import Services
from bot.storage import Meeting
from tests.roles.test_roles import ADMIN_ID, LINK_RE
from tests.support import App, PersonFactory, start_app, stop_app

LYNGEN_COORDINATOR_ID = 100000002  # config.yaml's sample coordinator
OFFICE_ID = 100000004  # config.yaml's sample office (Nord-Norge)
NEWCOMER_ID = 2001
RESIDENT_ID = 3001
START = 1_780_000_000.0
EVERYONE = ("/interest", "/mine", "/meetings", "/faq", "/privacy", "/forget", "/language")
ROLE_ONLY = ("/digest", "/invitation", "/poster", "/announce", "/invite", "/roles")


@pytest.fixture
async def app(services: Services, fake: FakeTelegram) -> AsyncIterator[App]:
    services.clock = lambda: START
    application = await start_app(services, fake)
    try:
        yield application
    finally:
        await stop_app(application)


def commands_in(text: str) -> set[str]:
    return set(re.findall(r"/[a-z]+", text))


# --- /help per role ------------------------------------------------------------------------


async def test_a_residents_help_lists_resident_commands_only(
    person_factory: PersonFactory,
) -> None:
    text = (await person_factory(user_id=RESIDENT_ID).say("/help")).text
    assert set(EVERYONE) <= commands_in(text)
    assert not commands_in(text) & set(ROLE_ONLY)


@pytest.mark.parametrize(
    ("user_id", "extra", "absent"),
    [
        (LYNGEN_COORDINATOR_ID, ("/digest", "/invitation", "/poster"), ("/announce", "/invite")),
        (OFFICE_ID, ("/digest", "/announce", "/poster"), ("/invitation", "/invite", "/roles")),
        (ADMIN_ID, ("/digest", "/invite", "/roles", "/poster"), ("/invitation", "/announce")),
    ],
)
async def test_each_role_gets_its_commands_in_help(
    person_factory: PersonFactory, user_id: int, extra: tuple[str, ...], absent: tuple[str, ...]
) -> None:
    text = (await person_factory(user_id=user_id).say("/help")).text
    found = commands_in(text)
    assert set(EVERYONE) | set(extra) <= found
    assert not found & set(absent)
    assert "113" in text  # the emergency number still ends it


async def test_help_names_the_coordinators_places_in_english(
    person_factory: PersonFactory,
) -> None:
    person = person_factory(user_id=LYNGEN_COORDINATOR_ID, language_code="en")
    text = (await person.say("/help")).text
    assert "As coordinator for Lyngen" in text
    assert "Here is what I can help with" in text


def test_every_help_command_exists_as_a_handler() -> None:
    """Only commands that really exist are listed (bot/<feature>/*.py)."""
    from bot.composition import build_application  # noqa: F401  (handlers are imported with it)
    from bot.digest import handlers as digest
    from bot.invitations import handlers as invitation
    from bot.meetings import announce_handlers as announce
    from bot.poster import handlers as poster
    from bot.roles import handlers as admin

    existing = {
        c
        for module in (admin, announce, digest, invitation, poster)
        for h in module.HANDLERS
        for c in getattr(h, "commands", ())
    }
    for role, commands in role_help.ROLE_COMMANDS.items():
        assert set(commands) <= existing, role


def test_menu_and_help_follow_roles() -> None:
    both = Roles(False, frozenset({"Lyngen"}), frozenset({"nord-norge"}))
    assert role_help.role_commands(both) == ("digest", "invitation", "poster", "announce")
    assert role_help.menu_commands(Roles()) == role_help.RESIDENT_COMMANDS
    assert role_help.help_sections(Roles()) == ("help.text",)
    assert role_help.help_sections(both) == ("help.coordinator", "help.office", "help.text")
    content = load_content()
    for lang in ("nb", "en"):
        for c in ("digest", "invitation", "announce", "poster", "invite", "roles"):
            assert content.text(lang, f"commands.{c}")


# --- command menus per role ----------------------------------------------------------------


def scoped_menus(fake: FakeTelegram) -> dict[tuple[int, str | None], list[str]]:
    menus: dict[tuple[int, str | None], list[str]] = {}
    for call in fake.calls:
        scope = call.params.get("scope")
        if call.method == "setMyCommands" and scope:
            chat = (scope if isinstance(scope, dict) else __import__("json").loads(scope))[
                "chat_id"
            ]
            commands = call.params["commands"]
            if isinstance(commands, str):
                commands = __import__("json").loads(commands)
            names = [c["command"] if isinstance(c, dict) else c.command for c in commands]
            menus[(int(chat), call.params.get("language_code"))] = names
    return menus


async def test_role_holders_get_their_menu_at_start_up(
    app: App, fake: FakeTelegram, services: Services
) -> None:
    await command_menus.publish_all(app.bot, services)
    menus = scoped_menus(fake)
    assert "announce" in menus[(OFFICE_ID, None)]
    assert "announce" in menus[(OFFICE_ID, "en")]
    assert "invitation" in menus[(LYNGEN_COORDINATOR_ID, None)]
    assert "roles" in menus[(ADMIN_ID, None)]
    assert not any(chat == RESIDENT_ID for chat, _ in menus)


async def test_a_menu_failure_is_logged_without_ids_and_never_blocks(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def set_my_commands(self, *_: object, **__: object) -> bool:
            raise RuntimeError(f"chat {OFFICE_ID} refused")

        delete_my_commands = set_my_commands

    assert not await command_menus.publish(
        Broken(),  # type: ignore[arg-type]
        services,
        OFFICE_ID,
        services.user_key(OFFICE_ID),
    )
    assert str(OFFICE_ID) not in caplog.text
    assert "RuntimeError" in caplog.text


# --- role links named by the admin ---------------------------------------------------------


def test_a_note_follows_the_scope(services: Services) -> None:
    config = services.config
    args = ["coordinator", "Lyngen", "Kari", "på", "biblioteket"]
    assert parse_invite_args(config, args) == InviteRequest(
        "coordinator", "Lyngen", "Kari på biblioteket"
    )
    assert parse_invite_args(config, ["coordinator", "Lyngen"]) == InviteRequest(
        "coordinator", "Lyngen", ""
    )
    assert parse_invite_args(config, ["admin", "-", "Per"]) == InviteRequest("admin", "", "Per")
    assert parse_invite_args(config, ["office", "nord-norge", "x" * 61]) == InviteProblem(
        "note_too_long"
    )


async def test_the_note_is_shown_in_roles_stored_encrypted_and_erased_with_the_role(
    person_factory: PersonFactory, services: Services
) -> None:
    admin = person_factory(user_id=ADMIN_ID)
    created = (await admin.say("/invite coordinator Lyngen Kari på biblioteket")).text
    assert "Kari på biblioteket" in created
    assert "kryptert" in created  # the admin is told it is stored
    pending = (await admin.say("/invite list")).text
    assert "Kari på biblioteket" in pending
    match = LINK_RE.search(created)
    assert match is not None
    newcomer = person_factory(user_id=NEWCOMER_ID)
    await newcomer.say(f"/start inv-{match.group(1)}")
    listing = await admin.say("/roles")
    assert "Kari på biblioteket" in listing.text
    assert any("Kari på biblioteket" in b for b in listing.first.button_texts)
    # Never in the database file in the clear.
    raw = b"".join(p.read_bytes() for p in services.config.data_dir.rglob("*sqlite3*"))
    assert "Kari på biblioteket".encode() not in raw
    # The newcomer's menu now has the coordinator's commands.
    # Revoked: the note goes with the role.
    confirm = await admin.press_label(listing.first, "Kari på biblioteket")
    done = await admin.press_label(
        confirm.last, services.content.text("nb", "admin.roles.confirm_yes")
    )
    assert "Kari på biblioteket" in done.text  # said once, in the confirmation note
    assert await services.storage.all_roles() == []
    assert "Kari på biblioteket" not in (await admin.say("/roles")).text


# --- /announce list buttons and stale buttons ----------------------------------------------


def test_announce_list_buttons_name_date_and_place(services: Services) -> None:
    tz = ZoneInfo("Europe/Oslo")

    def meeting(mid: int, day: int, hour: int, place: str) -> Meeting:
        starts = int(datetime(2027, 3, day, hour, 0, tzinfo=tz).timestamp())
        title = "Informasjonsmøte om selvhjelpsgrupper i Nord-Troms"
        return Meeting(
            mid, f"u{mid}", "k", b"", "nord-norge", title, starts, place, None, None, ()
        )

    counts: dict[str, int] | None = {"coming": 0, "remind": 0}
    listed: list[tuple[Meeting, dict[str, int] | None]] = [
        (meeting(1, 12, 18, "Lyngseidet, samfunnshuset"), counts),
        (meeting(2, 14, 18, "Skjervøy bibliotek"), counts),
        (meeting(3, 14, 20, "Skjervøy bibliotek"), counts),
    ]
    for lang, first, second in (
        ("nb", "Avlys 12.03 Lyngseidet", "Avlys 14.03 kl. 18.00 Skjervøy bibliotek"),
        ("en", "Cancel 12 Mar Lyngseidet", "Cancel 14 Mar 18:00 Skjervøy bibliotek"),
    ):
        screen = announce_views.Screen(services.content, services.config, lang, _button)
        keyboard = announce_views.list_view(screen, listed).keyboard
        assert keyboard is not None
        buttons = [b.text for row in keyboard.inline_keyboard for b in row]
        assert first in buttons
        assert second in buttons
        assert len(set(buttons)) == len(buttons)  # no two alike


def _button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


async def test_a_stale_office_button_points_back_to_announce(
    person_factory: PersonFactory, services: Services
) -> None:
    office = person_factory(user_id=OFFICE_ID)
    turn = await office.press(services.signer.sign(OFFICE_ID, "an:send"))
    assert "/announce" in turn.text
    assert "/faq" not in turn.text


# --- a stable chat language ----------------------------------------------------------------


@pytest.mark.parametrize("question", ["i Lyngen?", "angst", "hei"])
def test_a_short_norwegian_message_keeps_a_bokmal_chat(faq_index: FaqIndex, question: str) -> None:
    assert faq_index.read(question, "nb", firm=True).lang == "nb"


def test_clear_english_still_gets_english(faq_index: FaqIndex) -> None:
    assert faq_index.read("what is this and is it free for me", "nb", firm=True).lang == "en"


async def test_the_conversation_language_wins_over_telegrams_code(
    person_factory: PersonFactory,
) -> None:
    person = person_factory(user_id=RESIDENT_ID, language_code="en")
    first = await person.say("hva koster det å være med i en gruppe?")
    later = await person.say("i Lyngen?")
    help_text = (await person.say("/help")).text
    assert "Dette kan jeg hjelpe med" in help_text, (first.text, later.text)
