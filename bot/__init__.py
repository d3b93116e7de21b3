"""selvhjelp-bot: a private Telegram bot for self-organised self-help groups."""
