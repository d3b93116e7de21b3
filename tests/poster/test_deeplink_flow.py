"""A poster's link opens the bot set to its municipality and language."""

from __future__ import annotations

from bot.services import Services
from tests.support import PersonFactory


async def test_a_poster_link_offers_interest_and_meetings_for_its_municipality(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(user_id=7101, language_code="nb")
    welcome = (await person.say("/start lyngen_en")).first
    content = services.content
    assert welcome.text.startswith(content.text("en", "start.welcome").split("\n")[0])
    assert "Lyngen" in welcome.text
    assert welcome.callback_data[:2] == ["i:start:lyngen", "ms:sub:lyngen"]
    # The English poster chose the language for the rest of the chat.
    assert await services.storage.get_language(services.user_key(7101)) == "en"

    entry = (await person.press_label(welcome, "Register interest in a group in Lyngen")).first
    assert entry.text == content.text("en", "interest.entry")
    age = (await person.press_label(entry, "Yes, there is")).first
    limits = (await person.press_label(age, "Yes, I am 18 or older")).first
    place = (await person.press_label(limits, "Yes, I can")).first
    assert place.button_texts[0] == "📍 Lyngen"
    kind = (await person.press_label(place, "Lyngen")).first
    assert kind.text == content.text("en", "interest.kind")


async def test_a_forged_start_button_changes_nothing(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(user_id=7102)
    turn = await person.press("i:start:atlantis")
    assert turn.sent == []
    assert await services.storage.get_flow(services.user_key(7102)) is None


async def test_a_plain_start_has_no_place_buttons(person_factory: PersonFactory) -> None:
    welcome = (await person_factory(user_id=7103).say("/start")).first
    assert not any(d.startswith(("i:start", "ms:sub")) for d in welcome.callback_data)
