"""How role management looks: /invite's usage and link, the answer to an opened invite link,
/roles with its revoke buttons and the confirmation (text from flows/, keys under `admin.`).

Buttons (bot.roles.buttons) are `adm:rv:<grant id>` (ask to revoke), `adm:rk:<grant id>`
(revoke) and `adm:ls` (the list again); for unused invite links `adm:iv:<invite id>`,
`adm:ik:<invite id>` and `adm:il`. The caller's `Button` factory makes them, so the handler
can sign them for that admin; `parse_press` reads them back once the signature is verified.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.rendering import Rendered, main_menu_keyboard
from bot.config import Config
from bot.content import Content
from bot.outbox.message import OutboxMessage
from bot.roles import buttons
from bot.roles.buttons import Action
from bot.roles.role_links import (
    NOTE_MAX_CHARS,
    CreatedInvite,
    GrantedRole,
    InviteOutcome,
    InviteProblem,
    RevokeOutcome,
    config_roles,
    invite_id,
    invite_ref,
    scope_label,
)
from bot.storage import PendingInvite, RoleGrant

PREFIX = buttons.PREFIX  # every callback the admin handler signs; its pattern keeps it ours
MAX_LISTED = 40  # granted roles shown with a button; keeps the message and keyboard small

# (label, callback data) -> a button; the handler signs every admin button with it.
Button = Callable[[str, str], InlineKeyboardButton]
# An encrypted admin's label for a role link -> its text ("" for none); the handler decrypts.
NoteOf = Callable[[bytes | None], str]


def _no_note(_: bytes | None) -> str:
    return ""


def ref_text(content: Content, lang: str, ref: str, note: str) -> str:
    """ "34eea9", or with the admin's label: "34eea9 «Kari på biblioteket»"."""
    return content.text(lang, "admin.roles.ref_with_note", ref=ref, note=note) if note else ref


def day_text(content: Content, config: Config, lang: str, ts: int) -> str:
    """ "02.12.2026" / "2 Dec 2026", in config's time zone."""
    local = datetime.fromtimestamp(ts, ZoneInfo(config.timezone))
    month = content.text(lang, f"admin.invites.month.{local.month}")
    return content.text(lang, "admin.roles.date", day=local.day, month=month, year=local.year)


def parse_press(data: str | None) -> tuple[str, str] | None:
    """(action, argument) of a verified `adm:` press, or None for anything else."""
    press = buttons.decode(data)
    return None if press is None else (press.action, press.value)


def role_text(content: Content, config: Config, lang: str, role: str, scope: str) -> str:
    """A role as people read it, e.g. "kontaktperson for Lyngen"."""
    label = scope_label(config, role, scope)
    return content.text(lang, f"admin.role.{role}", scope=label)


def usage_view(content: Content, config: Config, lang: str, problem: InviteProblem) -> Rendered:
    """How to call /invite, listing the valid names, after what was wrong (if not just usage)."""
    usage = content.text(
        lang,
        "admin.invite.usage",
        municipalities=", ".join(m.name for m in config.municipalities),
        regions=", ".join(f"{r.id} ({r.name})" for r in config.regions),
    )
    if problem.reason == "usage":
        return Rendered(usage)
    if problem.reason == "note_too_long":
        what = content.text(lang, "admin.invite.note_too_long", max=NOTE_MAX_CHARS)
        return Rendered(f"{what}\n\n{usage}")
    what = content.text(lang, f"admin.invite.unknown_{problem.reason}", given=problem.given)
    return Rendered(f"{what}\n\n{usage}")


def expiry_text(content: Content, config: Config, lang: str, ts: int) -> str:
    """ "08.12.2026 kl. 20.06" / "8 Dec 2026, 20:06", in config's time zone."""
    local = datetime.fromtimestamp(ts, ZoneInfo(config.timezone))
    month = content.text(lang, f"admin.invites.month.{local.month}")
    return content.text(
        lang,
        "admin.invites.when",
        day=local.day,
        month=month,
        year=local.year,
        hour=local.hour,
        minute=local.minute,
    )


def created_view(
    content: Content, config: Config, lang: str, invite: CreatedInvite, link: str
) -> Rendered:
    """The new single-use link, what it grants and until when."""
    text = content.text(
        lang,
        "admin.invite.created",
        grants=role_text(content, config, lang, invite.role, invite.scope),
        expires=expiry_text(content, config, lang, invite.expires_at),
        timezone=config.timezone,
        link=link,
    )
    if invite.note:  # say that the label is kept, and until when
        kept = content.text(lang, "admin.invite.note", note=invite.note)
        text = f"{text.rstrip()}\n\n{kept}"
    return Rendered(text)


def accepted_view(
    content: Content, config: Config, lang: str, grant: RoleGrant | None
) -> Rendered:
    """What an opened invite link gave; None: invalid, used or expired (with the main menu)."""
    if grant is None:
        text = content.text(lang, "admin.accepted.invalid")
        return Rendered(text, main_menu_keyboard(content, lang))
    grants = role_text(content, config, lang, grant.role, grant.scope)
    return Rendered(content.text(lang, f"admin.accepted.{grant.role}", grants=grants))


def roles_view(
    content: Content,
    config: Config,
    lang: str,
    granted: list[GrantedRole],
    button: Button,
    note: str = "",
    note_of: NoteOf = _no_note,
) -> Rendered:
    """Config roles (read-only) and granted roles, each granted one with a revoke button and
    named by its reference and the admin's label for the link, if any."""

    def t(key: str, **values: object) -> str:
        return content.text(lang, f"admin.roles.{key}", **values)

    def role(role: str, scope: str) -> str:
        return role_text(content, config, lang, role, scope)

    def day(ts: int) -> str:
        return day_text(content, config, lang, ts)

    def ref(g: GrantedRole) -> str:
        return ref_text(content, lang, g.ref, note_of(g.note_enc))

    lines = [note, ""] if note else []
    lines += [t("title"), "", t("config_heading")]
    lines += [
        t("config_line", role=role(r.role, r.scope), user_id=r.user_id)
        for r in config_roles(config)
    ] or [t("none")]
    shown = granted[:MAX_LISTED]
    lines += ["", t("granted_heading")]
    lines += [
        t("granted_line", role=role(g.role, g.scope), ref=ref(g), date=day(g.granted_at))
        for g in shown
    ] or [t("none")]
    if len(granted) > len(shown):
        lines.append(t("more", count=len(granted) - len(shown)))
    if shown:
        lines += ["", t("revoke_hint")]
    rows = [
        [
            button(
                t("revoke_button", ref=ref(g), role=role(g.role, g.scope)),
                buttons.data(Action.ASK_REVOKE, g.grant_id),
            )
        ]
        for g in shown
    ]
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def press_view(
    content: Content,
    config: Config,
    lang: str,
    outcome: RevokeOutcome,
    granted: list[GrantedRole],
    button: Button,
    note_of: NoteOf = _no_note,
) -> Rendered:
    """What a press led to: the confirmation, or the list (`granted`) with a note on it."""
    grant = outcome.grant
    role = role_text(content, config, lang, grant.role, grant.scope) if grant else ""
    ref = ref_text(content, lang, grant.ref, note_of(grant.note_enc)) if grant else ""
    if outcome.kind == "confirm" and grant is not None:
        text = content.text(lang, "admin.roles.confirm", role=role, ref=ref)
        yes = content.text(lang, "admin.roles.confirm_yes")
        no = content.text(lang, "admin.roles.confirm_no")
        rows = [
            [button(yes, buttons.data(Action.REVOKE, grant.grant_id))],
            [button(no, buttons.data(Action.LIST))],
        ]
        return Rendered(text, InlineKeyboardMarkup(rows))
    note = ""
    if outcome.kind in ("gone", "not_self"):
        note = content.text(lang, f"admin.roles.{outcome.kind}")
    elif outcome.kind == "revoked" and grant is not None:
        note = content.text(lang, "admin.roles.revoked", role=role, ref=ref)
    return roles_view(content, config, lang, granted, button, note, note_of)


def invites_view(
    content: Content,
    config: Config,
    lang: str,
    pending: list[PendingInvite],
    button: Button,
    note: str = "",
    note_of: NoteOf = _no_note,
) -> Rendered:
    """Unused invite links (role, scope, expiry, reference and label), each with a revoke
    button."""

    def ref(i: PendingInvite) -> str:
        return ref_text(content, lang, invite_ref(i), note_of(i.note_enc))

    def t(key: str, **values: object) -> str:
        return content.text(lang, f"admin.invites.{key}", **values)

    shown = pending[:MAX_LISTED]
    lines = [note, ""] if note else []
    lines += [t("title"), ""]
    lines += [
        t(
            "line",
            role=role_text(content, config, lang, i.role, i.scope),
            ref=ref(i),
            expires=expiry_text(content, config, lang, i.expires_at),
        )
        for i in shown
    ] or [t("none")]
    if len(pending) > len(shown):
        lines.append(content.text(lang, "admin.roles.more", count=len(pending) - len(shown)))
    if shown:
        lines += ["", t("hint", timezone=config.timezone)]
    rows = [
        [
            button(
                t(
                    "revoke_button",
                    ref=ref(i),
                    role=role_text(content, config, lang, i.role, i.scope),
                ),
                buttons.data(Action.ASK_REVOKE_INVITE, invite_id(i)),
            )
        ]
        for i in shown
    ]
    return Rendered("\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def invite_press_view(
    content: Content,
    config: Config,
    lang: str,
    outcome: InviteOutcome,
    pending: list[PendingInvite],
    button: Button,
    note_of: NoteOf = _no_note,
) -> Rendered:
    """What a press on an invite link's button led to: the confirmation, or the list again
    (`pending`) with a note on it."""
    invite = outcome.invite
    role = role_text(content, config, lang, invite.role, invite.scope) if invite else ""
    ref = ref_text(content, lang, invite_ref(invite), note_of(invite.note_enc)) if invite else ""
    if outcome.kind == "confirm" and invite is not None:
        text = content.text(lang, "admin.invites.confirm", role=role, ref=ref)
        yes = content.text(lang, "admin.invites.confirm_yes")
        no = content.text(lang, "admin.invites.confirm_no")
        rows = [
            [button(yes, buttons.data(Action.REVOKE_INVITE, invite_id(invite)))],
            [button(no, buttons.data(Action.LIST_INVITES))],
        ]
        return Rendered(text, InlineKeyboardMarkup(rows))
    note = ""
    if outcome.kind == "gone":
        note = content.text(lang, "admin.invites.gone")
    elif outcome.kind == "revoked" and invite is not None:
        note = content.text(lang, "admin.invites.revoked", role=role, ref=ref)
    return invites_view(content, config, lang, pending, button, note, note_of)


def used_notice(
    content: Content, config: Config, lang: str, grant: RoleGrant, token_ref: str
) -> OutboxMessage:
    """The outbox message telling an admin their link was used: role and scope, never who."""
    role = role_text(content, config, lang, grant.role, grant.scope)
    text = content.text(lang, "admin.invites.used", ref=token_ref, role=role)
    return OutboxMessage.notice(text)
