"""The poster names who it is from and gives a way in for people without Telegram.

The sender is a municipality's `poster_from` in config.yaml, else its region's office; the way
in is its `contact` (a phone number or web address), else a line pointing to selvhjelp.no.
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import pytest
import yaml
from pypdf import PdfReader
from reportlab.pdfbase.pdfmetrics import stringWidth

from bot.config import Config, ConfigError, Municipality, parse_config
from bot.content import Content
from bot.poster import pdf as poster
from bot.poster.deep_links import start_link
from tests.support import CONFIG_PATH

LONG_CONTACT = "LINK Lyngen, Lyngseidet: tlf. 77 71 00 00 eller www.linklyngen.example.no"


def raw_config() -> dict[str, Any]:
    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    assert isinstance(raw, dict)
    return raw


def with_lyngen(tmp_path: Any, **keys: Any) -> Config:
    """config.yaml with extra keys on Lyngen."""
    raw = raw_config()
    for region in raw["regions"]:
        region["municipalities"] = [
            {**m, **keys} if m["name"] == "Lyngen" else m for m in region["municipalities"]
        ]
    return parse_config(raw, {"SELVHJELP_DATA_DIR": str(tmp_path)}, "config.yaml")


def muni(config: Config, name: str) -> Municipality:
    m = config.municipality_named(name)
    assert m is not None
    return m


def sheet(content: Content, lang: str, m: Municipality) -> poster.PosterText:
    return poster.poster_text(content, lang, m, start_link("selvhjelp_bot", m, lang))


def pdf_text(pdf: bytes) -> str:
    [page] = PdfReader(io.BytesIO(pdf)).pages
    return " ".join(page.extract_text().split())


# --- config -------------------------------------------------------------------------------------


def test_without_poster_from_the_sender_is_the_regions_office(config: Config) -> None:
    for region in config.regions:
        for m in region.municipalities:
            assert m.poster_from == region.office
            assert m.contact == ""


def test_poster_from_and_contact_are_read_from_config(tmp_path: Any) -> None:
    config = with_lyngen(tmp_path, poster_from=" LINK Lyngen ", contact="77 71 00 00")
    lyngen = muni(config, "Lyngen")
    assert (lyngen.poster_from, lyngen.contact) == ("LINK Lyngen", "77 71 00 00")
    assert muni(config, "Alta").poster_from == "Selvhjelp Norge Nord-Norge (Tromsø)"


@pytest.mark.parametrize("key", ["poster_from", "contact"])
def test_an_empty_or_wrong_poster_value_is_a_config_problem(tmp_path: Any, key: str) -> None:
    for bad in ("", 77710000):
        with pytest.raises(ConfigError) as caught:
            with_lyngen(tmp_path, **{key: bad})
        assert any(
            f"municipalities[0].{key}: expected a non-empty text" in p
            for p in caught.value.problems
        ), caught.value.problems


def test_a_misspelt_poster_key_is_caught(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        with_lyngen(tmp_path, poster_form="LINK Lyngen")
    [problem] = caught.value.problems
    assert "poster_form" in problem
    assert "poster_from" in problem


def test_the_sample_config_documents_both_keys() -> None:
    text = CONFIG_PATH.read_text(encoding="utf-8")
    assert "`poster_from`" in text
    assert "`contact`" in text
    assert "selvhjelp.no" in text


# --- the lines on the poster --------------------------------------------------------------------


def test_the_poster_names_the_office_and_points_to_selvhjelp_no(
    config: Config, content: Content
) -> None:
    text = sheet(content, "nb", muni(config, "Lyngen"))
    assert text.sender == "Fra Selvhjelp Norge Nord-Norge (Tromsø)"
    assert text.no_telegram == "Har du ikke Telegram? Les om selvhjelpsgrupper på selvhjelp.no."
    english = sheet(content, "en", muni(config, "Lillehammer"))
    assert english.sender == "From Selvhjelp Norge Hedmark og Oppland (Lillehammer)"
    assert "selvhjelp.no" in english.no_telegram
    assert english.no_telegram.startswith("No Telegram?")


def test_a_configured_sender_and_contact_are_printed(tmp_path: Any, content: Content) -> None:
    config = with_lyngen(tmp_path, poster_from="LINK Lyngen", contact="77 71 00 00")
    lyngen = muni(config, "Lyngen")
    nb = sheet(content, "nb", lyngen)
    assert nb.sender == "Fra LINK Lyngen"
    assert nb.no_telegram == "Har du ikke Telegram? Ta kontakt: 77 71 00 00"
    en = sheet(content, "en", lyngen)
    assert (en.sender, en.no_telegram) == (
        "From LINK Lyngen",
        "No Telegram? Get in touch: 77 71 00 00",
    )
    made = poster.make_poster(content, "nb", lyngen, "selvhjelp_bot")
    printed = pdf_text(made.pdf)
    assert "Fra LINK Lyngen" in printed
    assert "Har du ikke Telegram? Ta kontakt: 77 71 00 00" in printed


def test_both_lines_are_in_the_pdf_of_the_sample_deployment(
    config: Config, content: Content
) -> None:
    made = poster.make_poster(content, "en", muni(config, "Tromsø"), "selvhjelp_bot")
    printed = pdf_text(made.pdf)
    assert "From Selvhjelp Norge Nord-Norge (Tromsø)" in printed
    assert "No Telegram? Read about self-help groups at selvhjelp.no." in printed


def test_a_hand_made_municipality_without_a_sender_has_no_from_line(content: Content) -> None:
    m = Municipality("Lyngen", "lyngen", "nord-norge")
    text = sheet(content, "nb", m)
    assert text.sender == ""
    assert "selvhjelp.no" in text.no_telegram


@pytest.mark.parametrize("lang", ["nb", "en"])
def test_a_long_sender_and_contact_still_fit_on_the_page(
    config: Config, content: Content, lang: str
) -> None:
    """Inside the margins, clear of the QR code, which stays at least MIN_QR."""
    for m in config.municipalities:
        long = dataclasses.replace(
            m, poster_from=f"Frivilligsentralen i {m.name} og LINK {m.name}", contact=LONG_CONTACT
        )
        text = sheet(content, lang, long)
        family = poster.choose_font(text.all())
        page = poster.layout(text, family)
        assert page.qr.w >= poster.MIN_QR
        shown = {line.text for line in page.lines}
        assert any(text.sender.startswith(part) for part in shown)
        for line in page.lines:
            width = stringWidth(line.text, family.pdf_name(line.bold), line.size)
            left = line.x - width / 2 if line.centred else line.x
            assert left >= poster.MARGIN - 1, line.text
            assert left + width <= poster.PAGE_WIDTH - poster.MARGIN + 1, line.text
            assert line.size <= line.y <= poster.PAGE_HEIGHT - poster.MARGIN / 2, line.text
            top = line.y - line.size
            assert top >= page.qr.y + page.qr.h or line.y <= page.qr.y, line.text


def test_the_new_lines_use_letters_the_bundled_font_has(content: Content) -> None:
    bundled = poster.choose_font(["æøåÆØÅ"])
    for lang in ("nb", "en"):
        for key, values in (
            ("from", {"sender": "Selvhjelp Norge Nord-Norge (Tromsø)"}),
            ("no_telegram", {"contact": "77 71 00 00"}),
            ("no_telegram_web", {}),
        ):
            line = content.text(lang, f"poster.sheet.{key}", municipality="Kvæfjord", **values)
            assert poster.choose_font([line]) == bundled
