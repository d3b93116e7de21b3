"""The database file alone reveals no Telegram id or chat id, and keeps no free text.

A resident with an unmistakable id registers through the real Application, typing a
municipality with a marker word in it and asking a free-text question with another; then the raw
bytes of the database file (and its WAL, where recent writes live) are searched for the id, the
chat id, the marker words and unkeyed hashes of the id. The encrypted chat id must still decrypt
with the deployment's key, and only for the resident it belongs to.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from bot.config import Config
from bot.interest.retention import run_retention
from bot.security.pseudonyms import ChatCipher
from bot.security.secret_key import default_key_file
from bot.services import Services
from bot.weeks import DAY
from tests.support import Person, PersonFactory

RESIDENT_ID = 987_654_321  # a private chat's id is the user's id
MARKER = "Lyngenzzqx"
QUESTION_MARKER = "plorkzzqx"


def database_bytes(database: Path) -> dict[str, bytes]:
    """The database file and its WAL / shared-memory companions, as a thief would copy them."""
    files = {}
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = database.with_name(database.name + suffix)
        if path.exists():
            files[path.name] = path.read_bytes()
    assert database.name in files
    return files


def identifying_patterns(user_id: int) -> dict[str, bytes]:
    """Ways the id could leak: decimal text, binary integers, unkeyed (brute-forceable) hashes."""
    decimal = str(user_id).encode()
    patterns = {
        "decimal": decimal,
        "int32": user_id.to_bytes(4, "big"),
        "int64": user_id.to_bytes(8, "big"),
        "int32le": user_id.to_bytes(4, "little"),
    }
    for name, data in (("id", decimal), ("user", b"user:" + decimal)):
        patterns[f"sha256({name})"] = hashlib.sha256(data).hexdigest().encode()
        patterns[f"sha256({name}) raw"] = hashlib.sha256(data).digest()
    return patterns


def assert_nothing_identifying(database: Path, user_id: int, words: list[str]) -> None:
    needles = identifying_patterns(user_id)
    for word in words:
        for form in (word, word.casefold(), word.upper()):
            needles[f"text {form}"] = form.encode()
            needles[f"text {form} utf16"] = form.encode("utf-16-le")
    for name, data in database_bytes(database).items():
        for what, needle in needles.items():
            assert needle not in data, f"{what} found in {name}"


async def register_typing_a_marker(person: Person, services: Services) -> None:
    """/interest, typing the municipality with a marker word, then every button."""
    message = (await person.say("/interest")).first
    message = (await person.press_label(message, "Ja, det har jeg")).first
    message = (await person.press_label(message, "Ja, jeg er 18 eller eldre")).first
    message = (await person.press_label(message, "Ja, det kan jeg")).first
    offer = (await person.say(MARKER)).first
    assert offer.callback_data[0] == "i:m:lyngen", offer.text
    message = (await person.press_label(offer, "Lyngen")).first
    for label in ("Sorg", "På kvelden", "Ja, send meg beskjed", "Bekreft"):
        message = (await person.press_label(message, label)).first
    reg = await services.storage.get_registration(services.user_key(person.user_id))
    assert reg is not None
    assert reg.municipality == "Lyngen"


async def test_the_database_file_alone_reveals_no_telegram_id_chat_id_or_typed_text(
    person_factory: PersonFactory, services: Services, database: Path
) -> None:
    person = person_factory(user_id=RESIDENT_ID)
    await person.press_label((await person.say("/language")).first, "English")

    # Mid-flow, right after typing: the draft in flow_state must not hold the typed text.
    message = (await person.say("/interest")).first
    message = (await person.press_label(message, "Yes, there is")).first
    message = (await person.press_label(message, "Yes, I am 18 or older")).first
    await person.press_label(message, "Yes, I can")
    offer = await person.say(MARKER)
    assert offer.first.callback_data[0] == "i:m:lyngen"
    assert_nothing_identifying(database, RESIDENT_ID, [MARKER])

    message = (await person.press_label(offer.first, "Lyngen")).first
    for label in ("Grief", "Evening", "Yes, let me know", "Confirm"):
        message = (await person.press_label(message, label)).first
    await person.say(f"how much does a group cost {QUESTION_MARKER}?")
    # A reminder in the outbox carries the encrypted chat id too.
    key = services.user_key(RESIDENT_ID)
    reg = await services.storage.get_registration(key)
    assert reg is not None
    services.clock = lambda: float(reg.expires_at - 14 * DAY)
    assert (await run_retention(services)).reminded == 1

    # The rows are really there (so the search below is not vacuous)...
    assert await services.storage.has_resident(key)
    chat = await services.storage.resident_chat(key)
    assert chat is not None
    assert await services.storage.due_outbox(services.now(), 10)
    # ...and neither the live files nor the file after a clean shutdown identify anyone.
    assert_nothing_identifying(database, RESIDENT_ID, [MARKER, QUESTION_MARKER])
    await services.storage.close()
    assert_nothing_identifying(database, RESIDENT_ID, [MARKER, QUESTION_MARKER])

    # The deployment's key still turns the stored blob back into the chat id.
    assert services.cipher.decrypt(chat, key) == RESIDENT_ID


async def test_chat_id_decrypts_only_with_the_key_and_only_for_its_resident(
    person_factory: PersonFactory, services: Services
) -> None:
    person = person_factory(user_id=RESIDENT_ID)
    await register_typing_a_marker(person, services)
    key = services.user_key(RESIDENT_ID)
    chat = await services.storage.resident_chat(key)
    assert chat is not None
    assert services.cipher.decrypt(chat, key) == RESIDENT_ID
    # Copied onto another resident's row, it does not decrypt.
    assert services.cipher.decrypt(chat, services.user_key(RESIDENT_ID + 1)) is None
    # Another deployment's key (a stolen file without the key) cannot read it.
    assert ChatCipher(b"another deployment's secret").decrypt(chat, key) is None
    # Tampered ciphertext is refused, not misread.
    tampered = chat[:-1] + bytes([chat[-1] ^ 1])
    assert services.cipher.decrypt(tampered, key) is None
    # Fresh nonce each time: the same chat id never encrypts to the same bytes.
    assert services.cipher.encrypt(RESIDENT_ID, key) != services.cipher.encrypt(RESIDENT_ID, key)


async def test_user_key_is_a_keyed_hash_not_the_id(services: Services) -> None:
    key = services.user_key(RESIDENT_ID)
    assert str(RESIDENT_ID) not in key
    assert key == services.user_key(RESIDENT_ID)  # stable, so the resident is found again
    assert key != services.user_key(RESIDENT_ID + 1)
    for needle in identifying_patterns(RESIDENT_ID).values():
        assert needle not in key.encode()


async def test_generated_secret_key_is_owner_only_and_outside_the_database(
    services: Services, config: Config, database: Path, person: Person
) -> None:
    await register_typing_a_marker(person, services)
    assert config.secret_key is None  # the test deployment relies on the generated key
    key_file = default_key_file(config.data_dir)  # beside the data folder, not in it
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_bytes().strip()
    for name, data in database_bytes(database).items():
        assert secret not in data, f"the secret key is in {name}"


async def test_the_search_would_find_a_leak(services: Services, database: Path) -> None:
    """Control: what a careless write would leave behind is found, in the WAL and after close."""
    await services.storage.set_flow("somebody", "interest", {"typed": MARKER, "chat": RESIDENT_ID})
    with pytest.raises(AssertionError, match="found in"):
        assert_nothing_identifying(database, RESIDENT_ID, [MARKER])
    await services.storage.close()
    with pytest.raises(AssertionError, match=r"found in t\.sqlite3"):
        assert_nothing_identifying(database, RESIDENT_ID, [MARKER])
