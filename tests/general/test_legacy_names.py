"""Scripts written against the module names from before the feature folders still import
(bot/legacy_names.py)."""

from __future__ import annotations

import importlib

import pytest

from bot.legacy_names import OLD_TO_NEW


@pytest.mark.parametrize(("old", "new"), sorted(OLD_TO_NEW.items()))
def test_an_old_module_name_is_the_new_module(old: str, new: str) -> None:
    assert importlib.import_module(old) is importlib.import_module(new)


def test_the_privacy_reviews_imports_resolve() -> None:
    app = importlib.import_module("bot.app")
    privacy = importlib.import_module("bot.privacy")

    assert app.build_application.__module__ == "bot.composition"
    assert app.create_services.__module__ == "bot.composition"
    assert privacy.ChatCipher.__module__ == "bot.security.pseudonyms"
