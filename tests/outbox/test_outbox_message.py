"""One outbox message type (issue 12): every feature's message is stored as exactly the JSON the
hand-built payload dicts wrote, and rows already queued in a deployed database read back and
are written again byte for byte.

The `legacy_*` builders below are copies of the payload code as it was before the type (with
the button data literals of that time), so the comparison is with what deployed databases hold.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.config import Config
from bot.content import Content
from bot.digest.weekly import build_weekly_digests
from bot.interest.retention import run_retention
from bot.invitations.views import resident_view
from bot.meetings import views as meeting_views
from bot.outbox.message import OutboxButton, OutboxMessage, PayloadError
from bot.outbox.sender import message_from_payload
from bot.roles import admin_views
from bot.services import Services
from bot.storage import Meeting, RoleGrant
from bot.weeks import DAY
from tests.support import Person

T0 = 1_772_442_000.0  # Monday 2026-03-02 10:00 Oslo
Payload = dict[str, Any]


@pytest.fixture
def now() -> list[float]:
    return [T0]


def stored(payload: Payload) -> str:
    """A payload as Storage.enqueue writes it into the outbox table."""
    return json.dumps(payload, ensure_ascii=False)


def same_bytes(message: OutboxMessage, legacy: Payload) -> None:
    """The message is stored as the legacy dict was, and the stored row reads back into a
    message that is stored the same again."""
    assert stored(message.to_payload()) == stored(legacy)
    again = OutboxMessage.from_payload(json.loads(stored(legacy)))
    assert again == message
    assert stored(again.to_payload()) == stored(legacy)


def sign(data: str) -> str:
    return f"{data}:sig"


MEETING = Meeting(
    7,
    "uid-message",
    "office",
    b"",
    "nord-norge",
    "Infomøte om selvhjelp",
    int(T0 + 10 * DAY),
    "Biblioteket",
    None,
    None,
    ("Lyngen",),
)


# --- copies of the payload code before the type ---------------------------------------------


def legacy_meeting_buttons(
    content: Content, lang: str, meeting_id: int, signer: Callable[[str], str] | None
) -> list[list[dict[str, str]]]:
    def button(action: str) -> dict[str, str]:
        label = content.text(lang, f"meetings.button.{action}")
        data = f"mt:{meeting_id}:{action}"
        return {"text": label, "callback_data": signer(data) if signer else data}

    return [[button("ics")], [button("rem"), button("go")], [button("stop")]]


def legacy_announcement(
    content: Content, config: Config, lang: str, signer: Callable[[str], str] | None
) -> Payload:
    text = "\n\n".join(
        (
            content.text(lang, "meetings.announcement.heading"),
            meeting_views.meeting_text(content, config, lang, MEETING),
            content.text(lang, "meetings.announcement.footer"),
        )
    )
    return {"text": text, "buttons": legacy_meeting_buttons(content, lang, MEETING.id, signer)}


def legacy_notice(
    content: Content, config: Config, lang: str, heading: str, with_ics: bool
) -> Payload:
    text = "\n\n".join(
        (content.text(lang, heading), meeting_views.meeting_text(content, config, lang, MEETING))
    )
    buttons = legacy_meeting_buttons(content, lang, MEETING.id, sign)[:1] if with_ics else []
    return {"text": text, "buttons": buttons}


def legacy_invitation(content: Content, lang: str, text: str, invitation_id: int) -> Payload:
    body = "\n\n".join(
        (
            content.text(lang, "invitation.header", municipality="Lyngen"),
            text,
            content.text(lang, "invitation.footer"),
        )
    )
    row = [
        {
            "text": content.text(lang, f"invitation.answer_{a}"),
            "callback_data": f"inv:{invitation_id}:{a}",
        }
        for a in ("yes", "maybe", "no")
    ]
    share = {
        "text": content.text(lang, "invitation.answer_share"),
        "callback_data": f"inv:{invitation_id}:share",
    }
    return {"text": body, "buttons": [row, [share]]}


def legacy_retention(content: Content, config: Config, lang: str, days: int) -> Payload:
    return {
        "text": content.text(lang, "retention.reminder", place="Lyngen", days=days),
        "buttons": [
            [
                {
                    "text": content.text(
                        lang, "retention.keep", retention_days=config.retention_days
                    ),
                    "callback_data": "i:keep",
                }
            ],
            [{"text": content.text(lang, "retention.delete"), "callback_data": "i:del"}],
        ],
    }


# --- every feature's message, byte for byte -----------------------------------------------


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_meeting_messages_are_stored_as_before(
    content: Content, config: Config, lang: str
) -> None:
    for signer in (None, sign):
        same_bytes(
            meeting_views.announcement_message(content, config, lang, MEETING, signer),
            legacy_announcement(content, config, lang, signer),
        )
    for build, heading, with_ics in (
        (meeting_views.change_message, "meetings.changed.heading", True),
        (meeting_views.cancel_message, "meetings.cancelled.heading", False),  # "buttons": []
        (meeting_views.reminder_message, "meetings.reminder.heading", True),
    ):
        same_bytes(
            build(content, config, lang, MEETING, sign),
            legacy_notice(content, config, lang, heading, with_ics),
        )


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_invitation_is_stored_as_before(content: Content, lang: str) -> None:
    text = 'Vi starter en gruppe, «velkommen» & <hei> "alle" på øya'  # non-ASCII, quotes, <&>
    same_bytes(
        resident_view(content, lang, "Lyngen", text, 42),
        legacy_invitation(content, lang, text, 42),
    )


def test_admin_notice_is_text_alone_as_before(content: Content, config: Config) -> None:
    grant = RoleGrant("key", "coordinator", "Lyngen", b"", int(T0), None)
    notice = admin_views.used_notice(content, config, "nb", grant, "ab12")
    role = admin_views.role_text(content, config, "nb", "coordinator", "Lyngen")
    legacy = {"text": content.text("nb", "admin.invites.used", ref="ab12", role=role)}
    same_bytes(notice, legacy)
    assert list(notice.to_payload()) == ["text"]


async def test_weekly_digest_is_stored_as_before(
    services: Services, person: Person, now: list[float]
) -> None:
    del person  # the app is up
    now[0] = T0 + 7 * DAY  # past the week's digest moment
    rows = await build_weekly_digests(services)
    assert rows
    for _key, _chat, message in rows:
        legacy: Payload = {"text": message.text, "buttons": [], "parse_mode": None}
        same_bytes(message, legacy)
        assert stored(message.to_payload()).endswith('"buttons": [], "parse_mode": null}')


async def test_retention_reminder_row_holds_the_same_json_as_before(
    services: Services, config: Config, person: Person, now: list[float], database: Path
) -> None:
    message = (await person.say("/interest")).first
    for data in (
        *("i:e:yes", "i:a:yes", "i:l:ok", "i:r:nord-norge", "i:m:lyngen"),
        *("i:k:open", "i:h:day", "i:c:yes", "i:s:ok"),
    ):
        message = (await person.press(data, on=message)).first
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    now[0] = reg.expires_at - config.reminder_days * DAY
    assert (await run_retention(services)).reminded == 1
    with contextlib.closing(sqlite3.connect(database)) as conn:
        [(raw,)] = conn.execute("SELECT payload FROM outbox WHERE campaign LIKE 'reminder:%'")
    days = max(1, round((reg.expires_at - now[0]) / DAY))
    assert raw == stored(legacy_retention(services.content, config, "nb", days))
    assert stored(OutboxMessage.from_payload(json.loads(raw)).to_payload()) == raw


# --- rows as deployed databases hold them ---------------------------------------------------


DEPLOYED_ROWS = [
    '{"text": "Hei"}',
    '{"text": "Hei", "buttons": []}',
    '{"text": "Møte i morgen", "buttons":'
    ' [[{"text": "📅 Kalender", "callback_data": "mt:1:ics"}]]}',
    '{"text": "Ukeoversikt", "buttons": [], "parse_mode": null}',
    '{"text": "<b>Hei</b>", "buttons": [[{"text": "Jeg kommer", "callback_data": "inv:yes:5"}],'
    ' [{"text": "Les mer", "url": "https://selvhjelp.no/"}]], "parse_mode": "HTML"}',
]


@pytest.mark.parametrize("raw", DEPLOYED_ROWS)
def test_rows_already_queued_read_back_and_store_the_same(raw: str) -> None:
    message = OutboxMessage.from_payload(json.loads(raw))
    assert stored(message.to_payload()) == raw
    sendable = message_from_payload(json.loads(raw))  # what the sender sends
    assert sendable.text == message.text
    assert sendable.parse_mode == message.parse_mode
    rows = sendable.markup.inline_keyboard if sendable.markup else ()
    assert [[b.text for b in row] for row in rows] == [
        [b.text for b in row] for row in message.buttons if row
    ]


def test_the_sender_reads_callbacks_and_links() -> None:
    raw = json.loads(DEPLOYED_ROWS[-1])
    message = message_from_payload(raw)
    assert message.markup is not None
    [[yes], [more]] = message.markup.inline_keyboard
    assert yes.callback_data == "inv:yes:5"
    assert more.url == "https://selvhjelp.no/"


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"text": ""},
        {"text": 5},
        {"text": "x", "buttons": "no"},
        {"text": "x", "buttons": ["no"]},
        {"text": "x", "buttons": [[{"text": "no action"}]]},
        {"text": "x", "buttons": [[{"callback_data": "no text"}]]},
        {"text": "x", "parse_mode": 1},
    ],
)
def test_payloads_that_can_never_be_sent_are_refused(bad: Payload) -> None:
    with pytest.raises(PayloadError):
        OutboxMessage.from_payload(bad)
    with pytest.raises(PayloadError):
        message_from_payload(bad)


def test_a_button_is_a_callback_or_a_link() -> None:
    with pytest.raises(PayloadError):
        OutboxButton("neither")
    with pytest.raises(PayloadError):
        OutboxButton("both", callback_data="x", url="https://selvhjelp.no/")
    assert OutboxMessage.with_buttons("t", []).to_payload() == {"text": "t", "buttons": []}
    assert OutboxMessage.formatted("t", "HTML").to_payload() == {
        "text": "t",
        "buttons": [],
        "parse_mode": "HTML",
    }
