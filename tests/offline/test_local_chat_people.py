"""The terminal chat with several people: `/as` switches between residents and the role
holders of config.yaml, everything the bot sends to anyone is shown with its recipient, and
files (posters, calendar files) are saved into the folder the chat names at start."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.content import Content
from bot.offline.terminal_chat import (
    LOCAL_USER_ID,
    LocalSession,
    Person,
    config_people,
    find_person,
    run_terminal_chat,
)
from tests.support import ROOT

ADMIN = 100000001
LYNGEN = 100000002  # coordinator for Lyngen
ALTA = 100000003  # coordinator for Alta
OFFICE = 100000004  # regional office for nord-norge
RESIDENT = 5001
# Wednesday 15.11.2023 12:13 in Oslo: after this week's digest moment (Monday 08:00).
WEDNESDAY = 1_700_000_000.0 + 13 * 3600


@pytest.fixture
async def session(config: Config, content: Content, tmp_path: Path) -> AsyncIterator[LocalSession]:
    chat = await LocalSession.start(
        config,
        "nb",
        background=True,
        database=str(tmp_path / "chat.sqlite3"),
        files_dir=tmp_path / "files",
        clock=lambda: WEDNESDAY,
        content=content,
    )
    yield chat
    await chat.close()


def documents(session: LocalSession) -> list[Path]:
    paths = [session.saved_file(s) for s in session.turn if s.method == "sendDocument"]
    assert all(p is not None for p in paths)
    return [p for p in paths if p is not None]


# --- who is who ---------------------------------------------------------------------------------


def test_the_cast_is_the_role_holders_of_config_yaml(config: Config) -> None:
    assert config_people(config) == [
        Person(ADMIN, "admin"),
        Person(LYNGEN, "coordinator", "Lyngen"),
        Person(ALTA, "coordinator", "Alta"),
        Person(OFFICE, "office", "nord-norge"),
        Person(LOCAL_USER_ID, "resident"),
    ]


@pytest.mark.parametrize(
    ("wanted", "user_id"),
    [
        ("5001", RESIDENT),
        ("coordinator", LYNGEN),
        ("Koordinator", LYNGEN),
        ("coordinator 2", ALTA),
        ("coordinator alta", ALTA),
        ("office", OFFICE),
        ("kontor nord-norge", OFFICE),
        ("admin", ADMIN),
        ("resident", LOCAL_USER_ID),
        ("nobody", None),
        ("coordinator 3", None),
        ("coordinator Oslo", None),
        ("0", None),
        ("²", None),
    ],
)
def test_as_finds_people_by_id_role_place_or_number(
    config: Config, wanted: str, user_id: int | None
) -> None:
    assert find_person(config_people(config), wanted) == user_id


# --- one fake Telegram, several people ----------------------------------------------------------


async def test_what_the_outbox_sends_to_others_is_in_the_turn(session: LocalSession) -> None:
    """The first turn runs the scheduler: this week's digests go to the role holders, and the
    chat sees them with their recipients, while `say` returns only the resident's own."""
    mine = await session.say("/start")
    assert {s.chat_id for s in mine} == {LOCAL_USER_ID}
    to = {s.chat_id for s in session.turn}
    assert {LOCAL_USER_ID, LYNGEN, ALTA, OFFICE} <= to
    digest = next(s for s in session.turn if s.chat_id == LYNGEN)
    assert "Lyngen" in digest.text
    assert session.relayed == len(session.turn) - len(mine)


async def test_switching_keeps_each_persons_buttons(session: LocalSession) -> None:
    session.switch(LYNGEN)
    await session.say("/poster")  # the first turn also brings this week's digest
    choose = session.last_buttons
    assert choose is not None
    assert choose.button_texts == ["Bokmål", "Engelsk"]
    session.switch(RESIDENT)
    assert session.last_buttons is None
    [welcome] = await session.say("/start")
    assert welcome.chat_id == RESIDENT
    assert session.last_buttons is welcome
    session.switch(LYNGEN)
    assert session.last_buttons is choose
    assert session.button_for("bokmål") == choose.callback_data[0]  # a label, any case
    assert session.button_for("2") == choose.callback_data[1]  # a number
    assert session.button_for("3") is None
    assert session.button_for("²") is None
    assert session.button_for("Nynorsk") is None


async def test_a_poster_pressed_by_label_lands_in_the_persons_folder(
    session: LocalSession, tmp_path: Path
) -> None:
    session.switch(LYNGEN)
    await session.say("/poster")
    await session.type_or_press("Bokmål")
    pdf, png = documents(session)
    folder = tmp_path / "files" / str(LYNGEN)
    assert (pdf, png) == (folder / "plakat-lyngen-nb.pdf", folder / "plakat-lyngen-nb.png")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert png.read_bytes().startswith(b"\x89PNG")
    # The language question was edited into "making it": its buttons are gone, so "1" is text.
    assert session.last_buttons is None
    await session.type_or_press("1")
    assert documents(session) == []
    # A second poster in the same session keeps the first.
    await session.say("/poster")
    await session.type_or_press("Engelsk")
    await session.say("/poster")
    await session.type_or_press("1")
    again, _ = documents(session)
    assert again == folder / "plakat-lyngen-nb-2.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")


async def test_without_a_folder_nothing_is_saved(
    config: Config, content: Content, tmp_path: Path
) -> None:
    chat = await LocalSession.start(
        config, "nb", LYNGEN, database=str(tmp_path / "x.sqlite3"), content=content
    )
    try:
        await chat.say("/poster")
        await chat.type_or_press("1")
        sent = [s for s in chat.turn if s.method == "sendDocument"]
        assert len(sent) == 2
        assert all(chat.saved_file(s) is None for s in sent)
        assert chat.files_dir is None
    finally:
        await chat.close()
    assert not (tmp_path / "chat-files").exists()


# --- the terminal ------------------------------------------------------------------------------


async def chat_transcript(config: Config, typed: str, folder: Path, lang: str = "nb") -> str:
    out = io.StringIO()
    code = await run_terminal_chat(config, lang, io.StringIO(typed), out, files_dir=folder)
    assert code == 0
    return out.getvalue()


async def test_the_terminal_shows_who_received_what(config: Config, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    typed = "/as\n/as coordinator\n/poster\nBokmål\n/as 5001\n/start\n/as nobody\n/quit\n"
    out = await chat_transcript(config, typed, folder)
    assert f"Filer boten sender (plakater, kalenderfiler) lagres i {folder}/" in out
    assert f"   /as {LYNGEN}    koordinator (Lyngen)" in out
    assert f"   /as {OFFICE}    regionkontor (nord-norge)" in out
    assert f"   /as {ADMIN}    administrator" in out
    assert f"Nå skriver du som koordinator {LYNGEN}." in out
    assert f"du (koordinator {LYNGEN})> " in out
    assert f"→ koordinator {LYNGEN}: Plakat for Lyngen. Hvilket språk" in out
    assert f"→ koordinator {LYNGEN} (endret): Lager plakaten for Lyngen" in out
    pdf = folder / str(LYNGEN) / "plakat-lyngen-nb.pdf"
    assert f"   📎 lagret som {pdf}" in out
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "Nå skriver du som 5001." in out
    assert "→ 5001: Hei, og velkommen!" in out
    assert "Kjenner ikke «nobody»." in out
    assert "   /as 5001         innbygger (deg nå)" in out
    assert out.rstrip().endswith("Ha det bra!")


async def test_the_terminal_in_english(config: Config, tmp_path: Path) -> None:
    folder = tmp_path / "files"
    out = await chat_transcript(config, "/as office\n/poster\n/as\n/quit\n", folder, "en")
    assert f"Files the bot sends (posters, calendar files) are saved in {folder}/" in out
    assert f"You are now typing as regional office {OFFICE}." in out
    assert f"→ regional office {OFFICE}: Which municipality is the poster for?" in out
    assert f"   /as {OFFICE}    regional office (nord-norge) (you now)" in out


def test_the_chat_command_takes_a_files_folder(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONIOENCODING": "utf-8",
    }  # no TELEGRAM_BOT_TOKEN: nothing leaves the machine
    folder = tmp_path / "my files"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--files", str(folder)],
        cwd=ROOT,
        env=env,
        input="/as coordinator\n/poster\n1\n/quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (folder / str(LYNGEN) / "plakat-lyngen-nb.pdf").is_file()
    assert (folder / str(LYNGEN) / "plakat-lyngen-nb.png").is_file()
    assert f"lagret som {folder / str(LYNGEN) / 'plakat-lyngen-nb.pdf'}" in result.stdout
