"""selvhjelp-bot: a private Telegram bot for self-organised self-help groups."""

from bot import legacy_names

legacy_names.install()
