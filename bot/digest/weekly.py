"""Who gets which digest, and the weekly digests enqueued exactly once (the I/O around
bot.digest.figures).

Exactly once: the weekly digests of week W form the outbox campaign `digest:W`, enqueued in
one transaction. `enqueue_weekly_digests` runs on every scheduler tick; it does nothing before
the configured moment or once the campaign exists, so a digest missed while the bot was down
goes out when it comes back that week, and the outbox's UNIQUE(campaign, recipient) makes a
second enqueue of the same person impossible, across restarts too.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from bot.config import LANGUAGES
from bot.digest import snapshots
from bot.digest.figures import MESSAGE_LIMIT, DigestData, digest_sections, pack
from bot.outbox import message as outbox
from bot.outbox.message import OutboxMessage, OutboxRowDraft
from bot.roles.lookup import Roles, config_role_ids, merge, roles_from_config
from bot.services import Services
from bot.storage import RoleGrant
from bot.weeks import digest_moment, iso_week_label, week_index

events = logging.getLogger("selvhjelp.events")


@dataclass(frozen=True)
class Recipient:
    """A person who gets a digest: their pseudonymous key, encrypted chat and roles."""

    user_key: str
    chat_enc: bytes
    roles: Roles


def campaign_name(week: int) -> str:
    return f"digest:{week}"


async def recipients(services: Services) -> list[Recipient]:
    """Everyone with a role, from config.yaml and from invite grants, one entry per person."""
    config = services.config
    grants: dict[str, list[RoleGrant]] = defaultdict(list)
    for grant in await services.storage.all_roles():
        grants[grant.user_key].append(grant)
    out: dict[str, Recipient] = {}
    for user_id in sorted(config_role_ids(config)):
        key = services.user_key(user_id)
        roles = merge(roles_from_config(config, user_id), grants.pop(key, []), config)
        # A config.yaml role holder's private chat id is their Telegram user id.
        out[key] = Recipient(key, services.cipher.encrypt(user_id, key), roles)
    for key, held in grants.items():
        roles = merge(Roles(), held, config)
        if roles.privileged:
            newest = max(held, key=lambda g: g.created_at)
            out[key] = Recipient(key, newest.chat_enc, roles)
    return [r for r in out.values() if r.roles.privileged]


def covered_by(people: list[Recipient]) -> frozenset[str]:
    """Municipalities that some coordinator covers."""
    return frozenset(m for r in people for m in r.roles.municipalities)


async def load_data(services: Services, people: list[Recipient]) -> DigestData:
    """Every digest of the day is built from the day's snapshot (bot.digest.snapshots), never from
    live rows."""
    snap = await snapshots.today(services)
    return DigestData(snap.counts, covered_by(people), snap.week, snap.link_starts)


async def language_of(services: Services, user_key: str) -> str:
    chosen = await services.storage.get_language(user_key)
    return chosen if chosen in LANGUAGES else services.config.default_language


def one_message(services: Services, lang: str, sections: list[str]) -> str:
    """The weekly digest must be one outbox message: if it is too long, it says where the
    rest is (/digest splits into several messages instead)."""
    messages = pack(sections)
    if len(messages) == 1:
        return messages[0]
    note = services.content.text(lang, "digest.truncated")
    return pack([pack(sections, limit=MESSAGE_LIMIT - len(note) - 2)[0], note])[0]


async def digest_messages(services: Services, roles: Roles, lang: str) -> list[str]:
    """One person's digest right now, split into messages (for /digest)."""
    people = await recipients(services)
    data = await load_data(services, people)
    return pack(digest_sections(services.content, services.config, lang, data, roles))


async def build_weekly_digests(services: Services) -> list[OutboxRowDraft]:
    """(recipient, encrypted chat, outbox message) for everyone with a role, each in their
    language (their /language choice, else the deployment's default)."""
    people = await recipients(services)
    if not people:
        return []
    data = await load_data(services, people)
    rows: list[OutboxRowDraft] = []
    for person in people:
        lang = await language_of(services, person.user_key)
        sections = digest_sections(services.content, services.config, lang, data, person.roles)
        text = one_message(services, lang, sections)
        message = OutboxMessage.formatted(text, parse_mode=None)  # plain text
        rows.append((person.user_key, person.chat_enc, message))
    return rows


async def enqueue_weekly_digests(services: Services) -> int:
    """Enqueue this week's digests once the weekly moment has passed; rows added (0 if it is
    too early or they were enqueued already). Call it on every scheduler tick."""
    now = services.now()
    week = week_index(now, services.config.timezone)
    if now < digest_moment(week, services.config):
        return 0
    campaign = campaign_name(week)
    if await services.storage.campaign_exists(campaign):
        return 0
    rows = await build_weekly_digests(services)
    if not rows:
        return 0
    added = await outbox.enqueue(services.storage, campaign, rows)
    events.info("digest enqueued week=%s recipients=%d", iso_week_label(week), added)
    return added
