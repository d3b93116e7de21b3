"""Journey, read like a transcript: residents register -> next day the coordinator's digest ->
an invitation to everyone waiting -> the residents who said yes receive it and answer -> the
coordinator sees the answers as counts -> one resident chooses to share their contact.

Every step presses buttons by their label, as people do, through the real Application on the
fake Bot API; the outbox is relayed by the real Sender on a pacing clock.
"""

from __future__ import annotations

from bot.content import Content
from bot.offline.fake_bot_api import FakeTelegram, Sent
from bot.outbox.sender import Sender
from bot.services import Services
from bot.weeks import DAY
from tests.digest.test_differential_privacy import Reg, register
from tests.support import App, PacingClock, Person, PersonFactory

COORDINATOR = 100000002  # Lyngen (config.yaml)
EVENING_OPEN = (4001, 4002, 4003)
DAY_GRIEF = (4004, 4005)
SILENT = 4006  # said no to messages: counted, never messaged
TEXT = "Oppstartsmøte tirsdag kl 18 på biblioteket i Lyngseidet. Kaffe, ingen krav."


def t(content: Content, key: str, **values: object) -> str:
    return content.text("nb", key, **values)


def invitation_in(fake: FakeTelegram, chat_id: int, content: Content) -> Sent:
    header = t(content, "invitation.header", municipality="Lyngen")
    got = [s for s in fake.messages_to(chat_id) if s.text.startswith(header)]
    assert len(got) == 1, (chat_id, [s.text[:40] for s in fake.messages_to(chat_id)])
    return got[0]


async def test_register_digest_invite_answer_and_share(
    person_factory: PersonFactory,
    services: Services,
    content: Content,
    fake: FakeTelegram,
    app: App,
    now: list[float],
) -> None:
    people: dict[int, Person] = {}
    regs = [Reg(uid, "lyngen", "open", "evening", "yes") for uid in EVENING_OPEN]
    regs += [Reg(uid, "lyngen", "grief", "day", "yes") for uid in DAY_GRIEF]
    regs.append(Reg(SILENT, "lyngen", "grief", "day", "no"))
    for reg in regs:
        people[reg.user_id] = person_factory(user_id=reg.user_id)
        await register(people[reg.user_id], reg, content)
    coordinator = person_factory(user_id=COORDINATOR)

    # Same day: nothing shows yet (the digest is yesterday's midnight).
    digest = (await coordinator.say("/digest")).text
    assert t(content, "digest.waiting", count="0") in digest

    # Next day: 6 wait; 3 want a mixed group, 3 grief; 3 evening, 3 daytime.
    now[0] += DAY
    digest = (await coordinator.say("/digest")).text
    assert t(content, "digest.waiting", count="6") in digest
    assert "blandet gruppe 3" in digest
    assert "kveld 3" in digest
    assert "4001" not in digest  # never who

    # The invitation: everyone waiting.
    choose = (await coordinator.say("/invitation")).first
    write = await coordinator.press_label(choose, t(content, "invitation.audience_all"))
    assert write.last.text == t(content, "invitation.write", max_chars=1500)
    drafted = await coordinator.say(TEXT)
    _intro, preview, confirm = drafted.sent
    assert TEXT in preview.text
    assert confirm.text.startswith(t(content, "invitation.recipients", count="6"))
    sent = await coordinator.press_label(confirm, t(content, "invitation.send"))
    assert sent.last.text == t(content, "invitation.queued")

    clock = PacingClock()
    report = await Sender(services, sleep=clock.sleep, timer=clock).run_until_idle(
        app.bot, timeout=600
    )
    assert report.sent == 5  # the five who said yes; the silent one gets nothing
    assert not [
        s
        for s in fake.messages_to(SILENT)
        if s.text.startswith(t(content, "invitation.header", municipality="Lyngen"))
    ]

    # The residents answer by pressing their buttons.
    for uid, label in (
        (4001, "invitation.answer_yes"),
        (4002, "invitation.answer_yes"),
        (4004, "invitation.answer_maybe"),
    ):
        card = invitation_in(fake, uid, content)
        turn = await people[uid].press_label(card, t(content, label))
        assert turn.alerts, uid

    status = (await coordinator.say("/invitation status")).text
    few = t(content, "counts.fewer_than", n=3)
    assert f"kommer 2, kanskje {few}" in status

    # One resident chooses to come forward: asked first, then the coordinator is told.
    card = invitation_in(fake, 4003, content)
    ask = await people[4003].press_label(card, t(content, "invitation.answer_share"))
    shared = await people[4003].press_label(ask.last, t(content, "invitation.share_yes"))
    assert shared.last.text == t(content, "invitation.shared")
    told = [s for s in fake.messages_to(COORDINATOR) if "tg://user?id=4003" in s.text]
    assert len(told) == 1
    # Nobody else's identity crossed over.
    assert not [s for s in fake.messages_to(COORDINATOR) if "tg://user?id=4001" in s.text]
