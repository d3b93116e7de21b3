"""How role management looks: /invite's usage and link, the answer to an opened invite link,
/roles with its revoke buttons and the confirmation (text from flows/, keys under `admin.`).

Buttons are `adm:rv:<grant id>` (ask to revoke), `adm:rk:<grant id>` (revoke) and `adm:ls`
(the list again), made by the caller's `Button` factory so the handler can sign them for that
admin; `parse_press` reads them back once the signature is verified.
"""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.config import Config
from bot.content import Content
from bot.invites import (
    CreatedInvite,
    GrantedRole,
    InviteProblem,
    RevokeOutcome,
    config_roles,
    local_time,
    scope_label,
)
from bot.render import Rendered, main_menu_keyboard
from bot.storage import RoleGrant

PREFIX = "adm:"  # every callback the admin handler signs; its pattern keeps it ours alone
MAX_LISTED = 40  # granted roles shown with a button; keeps the message and keyboard small

# (label, callback data) -> a button; the handler signs every admin button with it.
Button = Callable[[str, str], InlineKeyboardButton]


def parse_press(data: str | None) -> tuple[str, str] | None:
    """(action, argument) of a verified `adm:` press, or None for anything else."""
    if data is None or not data.startswith(PREFIX):
        return None
    action, _, arg = data.removeprefix(PREFIX).partition(":")
    return action, arg


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
    what = content.text(lang, f"admin.invite.unknown_{problem.reason}", given=problem.given)
    return Rendered(f"{what}\n\n{usage}")


def created_view(
    content: Content, config: Config, lang: str, invite: CreatedInvite, link: str
) -> Rendered:
    """The new single-use link, what it grants and until when."""
    text = content.text(
        lang,
        "admin.invite.created",
        grants=role_text(content, config, lang, invite.role, invite.scope),
        expires=local_time(invite.expires_at, config.timezone),
        timezone=config.timezone,
        link=link,
    )
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
) -> Rendered:
    """Config roles (read-only) and granted roles, each granted one with a revoke button."""

    def t(key: str, **values: object) -> str:
        return content.text(lang, f"admin.roles.{key}", **values)

    def role(role: str, scope: str) -> str:
        return role_text(content, config, lang, role, scope)

    def day(ts: int) -> str:
        return local_time(ts, config.timezone, "%Y-%m-%d")

    lines = [note, ""] if note else []
    lines += [t("title"), "", t("config_heading")]
    lines += [
        t("config_line", role=role(r.role, r.scope), user_id=r.user_id)
        for r in config_roles(config)
    ] or [t("none")]
    shown = granted[:MAX_LISTED]
    lines += ["", t("granted_heading")]
    lines += [
        t("granted_line", role=role(g.role, g.scope), ref=g.ref, date=day(g.granted_at))
        for g in shown
    ] or [t("none")]
    if len(granted) > len(shown):
        lines.append(t("more", count=len(granted) - len(shown)))
    if shown:
        lines += ["", t("revoke_hint")]
    rows = [
        [
            button(
                t("revoke_button", ref=g.ref, role=role(g.role, g.scope)),
                f"{PREFIX}rv:{g.grant_id}",
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
) -> Rendered:
    """What a press led to: the confirmation, or the list (`granted`) with a note on it."""
    grant = outcome.grant
    role = role_text(content, config, lang, grant.role, grant.scope) if grant else ""
    if outcome.kind == "confirm" and grant is not None:
        text = content.text(lang, "admin.roles.confirm", role=role, ref=grant.ref)
        yes = content.text(lang, "admin.roles.confirm_yes")
        no = content.text(lang, "admin.roles.confirm_no")
        rows = [
            [button(yes, f"{PREFIX}rk:{grant.grant_id}")],
            [button(no, f"{PREFIX}ls")],
        ]
        return Rendered(text, InlineKeyboardMarkup(rows))
    note = ""
    if outcome.kind in ("gone", "not_self"):
        note = content.text(lang, f"admin.roles.{outcome.kind}")
    elif outcome.kind == "revoked" and grant is not None:
        note = content.text(lang, "admin.roles.revoked", role=role, ref=grant.ref)
    return roles_view(content, config, lang, granted, button, note)
