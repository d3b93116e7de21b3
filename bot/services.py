"""What every handler needs, bundled once at start-up and reached through the typed context."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.answers.crisis import CrisisDetector
from bot.answers.faq_index import FaqIndex
from bot.config import Config
from bot.content import Content
from bot.security.pseudonyms import ButtonSigner, ChatCipher, Pseudonymizer, WeeklyTagger
from bot.storage import Storage


@dataclass
class Services:
    config: Config
    content: Content
    faq: FaqIndex
    crisis: CrisisDetector
    storage: Storage
    pseudonymizer: Pseudonymizer
    cipher: ChatCipher
    signer: ButtonSigner
    clock: Callable[[], float] = time.time
    # Called with every reply decision; `python -m bot ask` listens here to report the topic.
    reply_listener: Callable[[Any], None] | None = None
    # Called after rows are put in the outbox, so the sending loop starts at once.
    outbox_listener: Callable[[], None] | None = None
    # Campaign -> the message that shows its progress (bot.outbox.progress.Watcher), in memory
    # only.
    campaign_watchers: dict[str, Any] = field(default_factory=dict)
    # Per-week deduplication tags (poster-link starts), key in memory only.
    tagger: WeeklyTagger = field(default_factory=WeeklyTagger)

    def outbox_changed(self) -> None:
        if self.outbox_listener is not None:
            self.outbox_listener()

    def user_key(self, telegram_user_id: int) -> str:
        return self.pseudonymizer.user_key(telegram_user_id)

    def now(self) -> float:
        return self.clock()
