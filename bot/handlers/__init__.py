"""Telegram handlers, one module per feature; each exports HANDLERS for bot.app to register."""
