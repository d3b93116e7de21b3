"""Posters: the QR code in the PNG and in the PDF decodes back to the municipality's link, the
PDF is one A4 page, every configured place fits, /poster is for coordinators, offices and admins
within their area only (forged buttons refused), and `python -m bot poster` writes both files.

Until bot/composition.py wires `bot.poster.handlers`, the `app` fixture below inserts its handlers
where
the lead will: among the commands, before the unknown-command catch-all (misc).
"""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from telegram.ext import Application
from telegram.request import RequestData

from bot.chat.rendering import main_menu_keyboard
from bot.cli import main
from bot.config import Config, Municipality, parse_config
from bot.content import Content
from bot.offline.fake_bot_api import BOT_USERNAME, FakeBotRequest, FakeTelegram, Sent
from bot.offline.fake_bot_server import FakeTelegramServer
from bot.poster import handlers as poster_handlers
from bot.poster import pdf as poster
from bot.poster.deep_links import parse_start_payload, start_link
from bot.roles.lookup import Roles
from bot.services import Services
from tests.support import CONFIG_PATH, ROOT, PersonFactory, Turn, start_app, stop_app

ADMIN = 100000001
LYNGEN = 100000002  # coordinator for Lyngen only
ALTA = 100000003  # coordinator for Alta only
NORD_NORGE = 100000004  # regional office for nord-norge
RESIDENT = 1001
A4 = (595, 842)


# --- helpers ------------------------------------------------------------------------------------


def qr_links(image: Image.Image) -> list[str]:
    return [code.text for code in zxingcpp.read_barcodes(image)]


def pdf_page(pdf: bytes) -> Any:
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0]


def pdf_qr_links(pdf: bytes) -> list[str]:
    """Decode the QR code image embedded in the PDF (the only image on the page)."""
    images = pdf_page(pdf).images
    assert len(images) == 1
    return qr_links(images[0].image)


def page_size(pdf: bytes) -> tuple[int, int]:
    box = pdf_page(pdf).mediabox
    return round(float(box.width)), round(float(box.height))


def ui(content: Content, lang: str, key: str, **values: object) -> str:
    return content.text(lang, key, **values)


def muni(config: Config, name: str) -> Municipality:
    m = config.municipality_named(name)
    assert m is not None
    return m


# --- the poster itself --------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "lang"), [("Lyngen", "nb"), ("Nord-Aurdal", "en")])
def test_the_qr_code_in_the_png_and_the_pdf_decodes_to_the_link(
    config: Config, content: Content, name: str, lang: str
) -> None:
    m = muni(config, name)
    made = poster.make_poster(content, lang, m, "selvhjelp_bot")
    assert made.link == start_link("selvhjelp_bot", m, lang)
    assert qr_links(Image.open(io.BytesIO(made.png))) == [made.link]
    assert pdf_qr_links(made.pdf) == [made.link]
    # ... and the link opens the bot set to that municipality and language.
    payload = parse_qs(urlsplit(made.link).query)["start"][0]
    parsed = parse_start_payload(payload, config)
    assert parsed is not None
    assert (parsed.municipality, parsed.lang) == (m, lang)


def test_the_pdf_is_one_a4_page_with_the_text_the_municipality_and_the_link(
    config: Config, content: Content
) -> None:
    m = muni(config, "Tromsø")
    made = poster.make_poster(content, "nb", m, "selvhjelp_bot")
    assert page_size(made.pdf) == A4
    text = " ".join(pdf_page(made.pdf).extract_text().split())
    assert "Tromsø" in text
    assert "t.me/selvhjelp_bot?start=tromso_nb" in text
    for key in ("ticket", "free", "ticket_title"):
        assert ui(content, "nb", f"poster.sheet.{key}") in text
    png = Image.open(io.BytesIO(made.png))
    assert png.size == (1240, 1754)  # A4 at 150 dpi
    assert made.stem == "plakat-tromso-nb"


def test_the_link_carries_only_the_place_and_the_language(config: Config) -> None:
    """No personal data: the payload is the municipality's code and a language, nothing else,
    so the same poster comes out whoever asks for it."""
    for m in config.municipalities:
        for lang in ("nb", "en"):
            link = start_link("selvhjelp_bot", m, lang)
            assert link == f"https://t.me/selvhjelp_bot?start={m.code}_{lang}"


def test_every_configured_place_fits_on_one_page(config: Config, content: Content) -> None:
    """All lines inside the page and their width, none over the QR code, which stays large."""
    for m in config.municipalities:
        for lang in ("nb", "en"):
            text = poster.poster_text(content, lang, m, start_link("selvhjelp_bot", m, lang))
            family = poster.choose_font(text.all())
            page = poster.layout(text, family)
            assert page.scale == 1.0, (m.name, lang)
            assert_fits(page, family)


def test_a_very_long_name_shrinks_the_text_but_keeps_one_page(
    config: Config, content: Content
) -> None:
    long_name = " og ".join(["Nordre Langt-Borte-og-Enda-Lenger-Unna herred ved Storfjorden"] * 3)
    m = dataclasses.replace(muni(config, "Lyngen"), name=long_name)
    text = poster.poster_text(content, "nb", m, start_link("selvhjelp_bot", m, "nb"))
    family = poster.choose_font(text.all())
    page = poster.layout(text, family)
    assert page.scale < 1.0
    assert_fits(page, family)
    made = poster.make_poster(content, "nb", m, "selvhjelp_bot")
    assert page_size(made.pdf) == A4
    assert pdf_qr_links(made.pdf) == [made.link]


def assert_fits(page: poster.Layout, family: poster.FontFamily) -> None:
    assert page.qr.w >= poster.MIN_QR
    assert page.qr.x >= 0
    assert page.qr.x + page.qr.w <= poster.PAGE_WIDTH
    for line in page.lines:
        width = stringWidth(line.text, family.pdf_name(line.bold), line.size)
        left = line.x - width / 2 if line.centred else line.x
        assert left >= poster.MARGIN - 1, line.text
        assert left + width <= poster.PAGE_WIDTH - poster.MARGIN + 1, line.text
        assert line.size <= line.y <= poster.PAGE_HEIGHT - poster.MARGIN / 2, line.text
        top = line.y - line.size
        assert top >= page.qr.y + page.qr.h or line.y <= page.qr.y, line.text


def test_the_poster_text_is_written_in_letters_the_bundled_font_has(content: Content) -> None:
    """No emoji or rare letters on the poster, so it prints the same on every machine."""
    bundled = poster.choose_font(["æøåÆØÅ"])
    assert bundled.name == "Vera"
    for lang in ("nb", "en"):
        sheet = content.text(lang, "poster.sheet.title", municipality="Kvæfjord")
        assert poster.choose_font([sheet]) == bundled
        for key in ("lead", "free", "ticket_title", "ticket", "scan", "link_label", "footer"):
            assert poster.choose_font([content.text(lang, f"poster.sheet.{key}")]) == bundled


@pytest.mark.skipif(
    not Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").is_file(),
    reason="no system DejaVu Sans",
)
def test_a_letter_vera_lacks_falls_back_to_dejavu() -> None:
    assert poster.choose_font(["Porsáŋgu"]).name == "DejaVu"


def test_who_may_make_posters_for_which_places(config: Config) -> None:
    def names(roles: Roles) -> list[str]:
        return [m.name for m in poster.poster_places(config, roles)]

    assert names(Roles()) == []
    assert names(Roles(municipalities=frozenset({"Lyngen"}))) == ["Lyngen"]
    office = names(Roles(regions=frozenset({"innlandet"})))
    assert office == ["Lillehammer", "Nord-Aurdal", "Gjøvik"]
    assert names(Roles(admin=True)) == [m.name for m in config.municipalities]


# --- /poster in the chat ------------------------------------------------------------------------


class DocumentCapture(FakeBotRequest):
    """The fake Bot API, also keeping uploaded files (the fake records only JSON parameters)."""

    def __init__(self, fake: FakeTelegram) -> None:
        super().__init__(fake)
        self.files: list[tuple[str, bytes]] = []

    async def do_request(
        self, url: str, method: str, request_data: RequestData | None = None, *args: Any, **kw: Any
    ) -> tuple[int, bytes]:
        if request_data is not None and url.endswith("/sendDocument"):
            for name, data, *_ in request_data.multipart_data.values():
                self.files.append((str(name), data if isinstance(data, bytes) else data.read()))
        return await super().do_request(url, method, request_data, *args, **kw)


@pytest.fixture
def capture(fake: FakeTelegram) -> DocumentCapture:
    return DocumentCapture(fake)


@pytest.fixture
async def app(services: Services, capture: DocumentCapture) -> AsyncIterator[Application]:
    """The real Application on the fake, started as every mode starts it (tests/support.py)."""
    application = await start_app(services, request=capture)
    assert any(h in application.handlers[0] for h in poster_handlers.HANDLERS)
    try:
        yield application
    finally:
        await stop_app(application)


def documents(turn: Turn) -> list[Sent]:
    return [s for s in turn.sent if s.method == "sendDocument"]


async def test_a_coordinator_gets_a_pdf_and_a_png_for_their_municipality(
    person_factory: PersonFactory, services: Services, capture: DocumentCapture
) -> None:
    content = services.content
    coordinator = person_factory(user_id=LYNGEN)
    # One municipality: straight to the language (no place to choose).
    choice = (await coordinator.say("/poster")).first
    assert choice.text == ui(content, "nb", "poster.choose_language", municipality="Lyngen")
    assert choice.button_texts == ["Bokmål", "Engelsk"]
    assert all(services.signer.verify(LYNGEN, d) for d in choice.callback_data)
    assert all(services.signer.verify(ALTA, d) is None for d in choice.callback_data)

    turn = await coordinator.press_label(choice, "Bokmål")
    link = f"https://t.me/{BOT_USERNAME}?start=lyngen_nb"
    assert "sendChatAction" in turn.methods()
    assert [d.text for d in documents(turn)] == [
        ui(content, "nb", "poster.caption_pdf", municipality="Lyngen", link=link),
        ui(content, "nb", "poster.caption_png"),
    ]
    assert turn.last.text == ui(
        content, "nb", "poster.done", municipality="Lyngen", language="Bokmål"
    )
    (pdf_name, pdf), (png_name, png) = capture.files
    assert (pdf_name, png_name) == ("plakat-lyngen-nb.pdf", "plakat-lyngen-nb.png")
    assert page_size(pdf) == A4
    assert pdf_qr_links(pdf) == [link]
    assert qr_links(Image.open(io.BytesIO(png))) == [link]


async def test_an_office_chooses_among_its_regions_places(
    person_factory: PersonFactory, services: Services, capture: DocumentCapture
) -> None:
    office = person_factory(user_id=NORD_NORGE, language_code="en")
    choose = (await office.say("/poster")).first
    assert choose.text == ui(services.content, "en", "poster.choose_place")
    nord_norge = [m.name for m in services.config.municipalities if m.region_id == "nord-norge"]
    assert choose.button_texts == nord_norge
    languages = (await office.press_label(choose, "Alta")).last
    assert languages.text == ui(
        services.content, "en", "poster.choose_language", municipality="Alta"
    )
    turn = await office.press_label(languages, "English")
    assert len(documents(turn)) == 2
    (name, pdf), _ = capture.files
    assert name == "poster-alta-en.pdf"
    assert pdf_qr_links(pdf) == [f"https://t.me/{BOT_USERNAME}?start=alta_en"]


async def test_an_admin_may_choose_any_place(
    person_factory: PersonFactory, services: Services
) -> None:
    admin = person_factory(user_id=ADMIN)
    choose = (await admin.say("/poster")).first
    assert choose.button_texts == [m.name for m in services.config.municipalities]


async def test_residents_get_the_unknown_command_reply(
    person_factory: PersonFactory, services: Services
) -> None:
    content = services.content
    resident = person_factory(user_id=RESIDENT)
    reply = (await resident.say("/poster")).first
    assert reply.text == ui(content, "nb", "errors.unknown_command")
    assert reply.buttons == main_menu_keyboard(content, "nb").to_dict()["inline_keyboard"]
    # A button signed for the resident is still refused: they have no role.
    pressed = await resident.press(services.signer.sign(RESIDENT, "po:l:lyngen:nb"))
    assert pressed.alerts == [ui(content, "nb", "errors.stale_button")]
    assert documents(pressed) == []


async def test_a_lyngen_coordinator_cannot_make_an_alta_poster(
    person_factory: PersonFactory, services: Services, capture: DocumentCapture
) -> None:
    """Forged buttons: even correctly signed for the Lyngen coordinator (a leaked signer),
    the area check refuses Alta; unsigned and other people's buttons are refused too."""
    stale = ui(services.content, "nb", "errors.stale_button")
    coordinator = person_factory(user_id=LYNGEN)
    forged = [
        services.signer.sign(LYNGEN, "po:l:alta:nb"),
        services.signer.sign(LYNGEN, "po:m:alta"),
        services.signer.sign(ALTA, "po:l:alta:nb"),  # the Alta coordinator's own button
        services.signer.sign(ALTA, "po:l:lyngen:nb"),
        "po:l:lyngen:nb",  # unsigned
        services.signer.sign(LYNGEN, "po:l:lyngen:xx"),  # no such language
        services.signer.sign(LYNGEN, "po:x:lyngen"),
        services.signer.sign(LYNGEN, "po:l:lyngen:nb:extra"),
    ]
    for data in forged:
        turn = await coordinator.press(data)
        assert turn.alerts == [stale], data
        assert turn.sent == [], data
    assert capture.files == []


# --- python -m bot poster ---------------------------------------------------------------------


def test_the_command_line_writes_the_pdf_and_the_png(tmp_path: Path) -> None:
    out = tmp_path / "out" / "poster.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "poster", "--municipality", "Lyngen", "--lang", "nb",
         "--out", str(out), "--bot-username", "selvhjelp_test_bot"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    link = "https://t.me/selvhjelp_test_bot?start=lyngen_nb"
    png = out.with_suffix(".png")
    assert result.stdout.split() == [str(out), str(png), link]
    assert page_size(out.read_bytes()) == A4
    assert pdf_qr_links(out.read_bytes()) == [link]
    assert qr_links(Image.open(png)) == [link]


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_USERNAME", "TELEGRAM_API_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SELVHJELP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("cli_env")
def test_the_command_line_names_the_defaults_it_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No username given anywhere: the fallback, with a warning to check it; the default file
    name comes from flows/ and the language from config.yaml."""
    assert main(["--config", str(CONFIG_PATH), "poster", "--municipality", "kvaefjord"]) == 0
    out, err = capsys.readouterr()
    assert "@selvhjelp_bot" in err
    pdf, png, link = out.split()
    assert (pdf, png) == ("plakat-kvaefjord-nb.pdf", "plakat-kvaefjord-nb.png")
    assert link == "https://t.me/selvhjelp_bot?start=kvaefjord_nb"
    assert pdf_qr_links((tmp_path / pdf).read_bytes()) == [link]


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--municipality", "Atlantis"], "--municipality: 'Atlantis' is not in config.yaml"),
        (["--municipality", "Alta", "--bot-username", "no"], "expected 5-32 letters"),
        (["--municipality", "Alta", "--out", "poster.png"], "--out: expected a .pdf"),
    ],
)
def test_the_command_line_refuses_what_it_cannot_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    assert main(["--config", str(CONFIG_PATH), "poster", *args]) == 2
    assert complaint in capsys.readouterr().err
    assert list(tmp_path.glob("*.p*")) == []


async def test_the_username_comes_from_telegram_when_a_token_is_set(tmp_path: Path) -> None:
    async with FakeTelegramServer(token="123:POSTER") as server:
        environ = {
            "TELEGRAM_BOT_TOKEN": "123:POSTER",
            "TELEGRAM_API_BASE_URL": server.base_url,
            "SELVHJELP_DATA_DIR": str(tmp_path),
        }
        raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
        config = parse_config(raw, environ, str(CONFIG_PATH))
        assert await poster.resolve_bot_username(None, environ, config) == (
            BOT_USERNAME,
            "Telegram (getMe)",
        )
        # An explicit choice wins, with or without its @.
        assert await poster.resolve_bot_username("@other_bot", environ, config) == (
            "other_bot",
            "--bot-username",
        )
        env_named = {**environ, "TELEGRAM_BOT_USERNAME": "env_named_bot"}
        assert (await poster.resolve_bot_username(None, env_named, config))[0] == "env_named_bot"
