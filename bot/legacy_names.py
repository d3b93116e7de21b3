"""Module names from before the feature folders (issue 12), kept importable for scripts written
against them (for example the privacy review's reproductions): `import bot.app` gives
`bot.composition`. New code uses the new names; nothing in the package imports the old ones."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

OLD_TO_NEW = {
    "bot.admin_views": "bot.roles.admin_views",
    "bot.announce_views": "bot.meetings.announce_views",
    "bot.announcements": "bot.meetings.announcements",
    "bot.answering": "bot.answers.answering",
    "bot.app": "bot.composition",
    "bot.broadcast": "bot.outbox.sender",
    "bot.calendar_file": "bot.meetings.calendar_file",
    "bot.chat_language": "bot.chat.language",
    "bot.clock": "bot.weeks",
    "bot.command_menus": "bot.chat.command_menus",
    "bot.deeplink": "bot.poster.deep_links",
    "bot.digest_jobs": "bot.digest.weekly",
    "bot.fakeapi": "bot.offline.fake_bot_api",
    "bot.fakeserver": "bot.offline.fake_bot_server",
    "bot.fakeupdates": "bot.offline.fake_updates",
    "bot.faq": "bot.answers.faq_index",
    "bot.filemodes": "bot.security.file_modes",
    "bot.interest_flow": "bot.interest.steps",
    "bot.interest_typed": "bot.interest.typed_answers",
    "bot.interest_views": "bot.interest.views",
    "bot.invitation_views": "bot.invitations.views",
    "bot.invites": "bot.roles.role_links",
    "bot.keys": "bot.security.secret_key",
    "bot.link_stats": "bot.poster.link_stats",
    "bot.local": "bot.offline.terminal_chat",
    "bot.logsafe": "bot.security.log_scrub",
    "bot.meeting_jobs": "bot.meetings.reminders",
    "bot.meeting_subscriptions": "bot.meetings.subscriptions",
    "bot.meeting_views": "bot.meetings.views",
    "bot.privacy": "bot.security.pseudonyms",
    "bot.progress": "bot.outbox.progress",
    "bot.render": "bot.chat.rendering",
    "bot.replybot": "bot.botapi.reply_bot",
    "bot.retention": "bot.interest.retention",
    "bot.role_help": "bot.general.help",
    "bot.safety": "bot.answers.crisis",
    "bot.snapshots": "bot.digest.snapshots",
    "bot.transport": "bot.botapi.transport",
    "bot.webhook": "bot.botapi.webhook",
    "bot.when": "bot.meetings.when",
}


class _Loader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, _spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:
        """The module is the new one, already executed."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, _path: Sequence[str] | None, _target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = OLD_TO_NEW.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(new))


def install() -> None:
    """Let the old names resolve (once per process)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
