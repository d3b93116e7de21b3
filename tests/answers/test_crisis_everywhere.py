"""Crisis words get the emergency numbers first wherever they are written."""

from __future__ import annotations

from bot.offline.fake_updates import message_update
from bot.services import Services
from tests.support import App, FakeTelegram

CRISIS = "jeg vil ta livet mitt"


def crisis_intro(services: Services) -> str:
    return services.content.text("nb", "crisis.intro.suicide").strip()


async def send(app: App, fake: FakeTelegram, **kwargs: object) -> list[str]:
    before = len(fake.sent)
    await app.process_update(message_update(bot=app.bot, **kwargs))  # type: ignore[arg-type]
    return [s.text for s in fake.sent[before:]]


async def test_a_photo_caption(app: App, fake: FakeTelegram, services: Services) -> None:
    texts = await send(app, fake, text=None, user_id=8101, caption=CRISIS)
    assert texts[0].startswith(crisis_intro(services))
    assert "113" in texts[0]


async def test_an_ordinary_photo_still_gets_the_text_only_answer(
    app: App, fake: FakeTelegram, services: Services
) -> None:
    texts = await send(app, fake, text=None, user_id=8102, caption="se på katten min")
    assert texts == [services.content.text("nb", "errors.text_only")]


async def test_an_unknown_command_with_crisis_words(
    app: App, fake: FakeTelegram, services: Services
) -> None:
    texts = await send(app, fake, text=f"/hjelp {CRISIS}", user_id=8103)
    assert texts[0].startswith(crisis_intro(services))


async def test_a_caption_in_a_group(app: App, fake: FakeTelegram, services: Services) -> None:
    texts = await send(
        app,
        fake,
        text=None,
        user_id=8104,
        chat_id=-100123,
        chat_type="supergroup",
        caption=f"@selvhjelp_test_bot {CRISIS}",
    )
    assert texts
    assert texts[0].startswith(crisis_intro(services))
