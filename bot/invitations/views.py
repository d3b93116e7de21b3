"""How a relayed invitation looks: the coordinator's composing steps and status, the invitation
as residents receive it (an outbox payload), and the share-contact messages (text from flows/).

Coordinator buttons are `ci:...` (bot.invitations.buttons), made by the caller's `Button`
factory so the handler can sign them for that coordinator. Resident buttons are
`inv:<invitation id>:<answer>`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.rendering import Rendered, small_count
from bot.config import Config, Municipality
from bot.content import Content
from bot.digest.figures import FEW
from bot.interest.views import kind_label
from bot.invitations import buttons as codec
from bot.invitations.buttons import CoordinatorAction as Do
from bot.outbox.message import OutboxButton, OutboxMessage
from bot.storage import Invitation

MAX_CHARS = 1500
ANSWERS = codec.ANSWERS

# (label, callback data) -> a button; the handler signs coordinator buttons with it.
Button = Callable[[str, str], InlineKeyboardButton]


def _column(buttons: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[b] for b in buttons])


def place_choice(
    content: Content, lang: str, municipalities: Iterable[Municipality], button: Button
) -> Rendered:
    """Which of their municipalities a coordinator with several invites in."""
    buttons = [button(m.name, codec.coordinator(Do.MUNICIPALITY, m.code)) for m in municipalities]
    return Rendered(content.text(lang, "invitation.choose_place"), _column(buttons))


def audience_choice(
    content: Content,
    lang: str,
    municipality: str,
    kinds_shown: Sequence[str],
    button: Button,
) -> Rendered:
    """Everyone waiting there, or those who asked for one kind of group: only the kinds the
    day's digest shows for this place (a button per kind would otherwise tell, by whether
    anyone gets it, which kind a hidden person chose)."""
    everyone = codec.coordinator(Do.AUDIENCE, codec.ALL)
    buttons = [button(content.text(lang, "invitation.audience_all"), everyone)]
    for kind in kinds_shown:
        label = content.text(
            lang, "invitation.audience_kind", kind=kind_label(content, lang, kind)
        )
        buttons.append(button(label, codec.coordinator(Do.AUDIENCE, kind)))
    text = content.text(lang, "invitation.choose_audience", municipality=municipality)
    return Rendered(text, _column(buttons))


def audience_size(
    content: Content, config: Config, lang: str, kind: str | None, count: int | str
) -> str:
    """How many were waiting at midnight (the day's snapshot, as in the digest), never how
    many will actually get it: that live count would time a registration and reveal contact
    choices."""
    if count == FEW:
        shown = content.text(lang, "counts.fewer_than", n=config.min_count)
    else:
        shown = str(count)
    key = "invitation.recipients" if kind is None else "invitation.recipients_kind"
    return content.text(lang, key, count=shown)


def write_prompt(content: Content, lang: str) -> Rendered:
    return Rendered(content.text(lang, "invitation.write", max_chars=MAX_CHARS))


def too_long(content: Content, lang: str, length: int) -> Rendered:
    return Rendered(content.text(lang, "invitation.too_long", length=length, max_chars=MAX_CHARS))


def resident_view(
    content: Content, lang: str, municipality: str, text: str, invitation_id: int
) -> OutboxMessage:
    """The invitation exactly as residents receive it (an outbox message)."""
    body = "\n\n".join(
        (
            content.text(lang, "invitation.header", municipality=municipality),
            text,
            content.text(lang, "invitation.footer"),
        )
    )
    row = [
        OutboxButton(
            content.text(lang, f"invitation.answer_{a}"),
            callback_data=codec.answer(invitation_id, a),
        )
        for a in ANSWERS
    ]
    share = OutboxButton(
        content.text(lang, "invitation.answer_share"),
        callback_data=codec.answer(invitation_id, codec.Answer.SHARE),
    )
    return OutboxMessage.with_buttons(body, [row, [share]])


def markup(message: OutboxMessage) -> InlineKeyboardMarkup:
    """The inline keyboard of an outbox message, to show it directly."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data) for b in row]
            for row in message.buttons
        ]
    )


def preview(
    content: Content,
    config: Config,
    lang: str,
    draft: dict[str, Any],
    text: str,
    button: Button,
) -> list[Rendered]:
    """The three messages before sending: an intro, the invitation as residents will see it,
    and how many get it with send / rewrite / cancel."""
    shown = resident_view(content, lang, draft["municipality"], text, 0)
    buttons = _column(
        [
            button(content.text(lang, "invitation.send"), codec.coordinator(Do.SEND)),
            button(content.text(lang, "invitation.rewrite"), codec.coordinator(Do.REWRITE)),
            button(content.text(lang, "invitation.cancel"), codec.coordinator(Do.CANCEL)),
        ]
    )
    question = "\n".join(
        (
            audience_size(content, config, lang, draft.get("kind"), draft.get("count", 0)),
            content.text(lang, "invitation.confirm_question"),
        )
    )
    return [
        Rendered(content.text(lang, "invitation.preview_intro")),
        Rendered(shown.text, markup(shown)),
        Rendered(question, buttons),
    ]


def queued(content: Content, lang: str) -> Rendered:
    """Sent: no count of recipients (see audience_size)."""
    return Rendered(content.text(lang, "invitation.queued"))


def status_view(
    content: Content,
    config: Config,
    lang: str,
    answers: list[tuple[Invitation, dict[str, int]]] | None,
) -> Rendered:
    """The answers to a coordinator's recent invitations (None: they sent none), every count
    privacy-suppressed."""
    if answers is None:
        return Rendered(content.text(lang, "invitation.status_none"))
    lines = [content.text(lang, "invitation.status_heading")]
    tz = ZoneInfo(config.timezone)
    for inv, counts in answers:
        # "Coming" is exact: the residents who press it are told the coordinator sees how many
        # come, and they will be seen at the meeting anyway. The rest keep the small-count rule.
        shown = {k: small_count(content, config, lang, v) for k, v in counts.items()}
        shown["yes"] = str(counts.get("yes", 0))
        date = datetime.fromtimestamp(inv.created_at, tz).strftime("%d.%m")
        lines.append(
            content.text(
                lang, "invitation.status_line", date=date, municipality=inv.municipality, **shown
            )
        )
    return Rendered("\n".join(lines))


def parse_answer(data: str) -> tuple[int, str] | None:
    """(invitation id, answer) from a resident button, or None for anything malformed."""
    return codec.decode_answer(data)


def share_confirm(content: Content, lang: str, invitation_id: int) -> Rendered:
    """Asked before a resident's contact is shared with the coordinator."""

    def button(key: str, answer: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(
            content.text(lang, key), callback_data=codec.answer(invitation_id, answer)
        )

    buttons = _column(
        [button("invitation.share_yes", "sharey"), button("invitation.share_no", "sharen")]
    )
    return Rendered(content.text(lang, "invitation.share_confirm"), buttons)


def share_notice(
    content: Content, lang: str, municipality: str, user_id: int, full_name: str
) -> str:
    """What the coordinator is told (HTML): a link that opens a chat with the resident."""
    person = f'<a href="tg://user?id={user_id}">{html.escape(full_name)}</a>'
    return content.text(
        lang, "invitation.share_notice", municipality=html.escape(municipality), person=person
    )
