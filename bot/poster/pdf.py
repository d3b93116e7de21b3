"""Outreach posters: a printable A4 PDF and a PNG whose QR code opens the bot for one municipality.

Why it is built this way:
- One layout, in PDF points from the top-left corner, drawn twice (reportlab for the PDF, Pillow
  for the PNG), so the printed poster and the one on a screen say and show the same.
- Fonts: Bitstream Vera, which ships inside reportlab, so every machine (the slim Docker image
  too) has it; it covers æ, ø and å and is embedded in the PDF, so a print shop sees what we
  drew. Pillow's built-in default font cannot be used: it draws æøå as empty boxes. If a
  municipality's name needs a letter Vera lacks, a system DejaVu Sans is used when present.
- The QR code is qrcode's module matrix as an image whose pixels are whole modules (scaled with
  nearest-neighbour, never smoothed), with error correction Q, because posters get scuffed.
- The text comes from flows/<lang>/ui_poster.yaml; the link from bot.poster.deep_links.start_link,
so it
  carries only a municipality code and a language, never anything about a person.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import qrcode
import reportlab
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_Q
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from bot.config import Config, Municipality
from bot.content import Content
from bot.poster.deep_links import start_link
from bot.roles.lookup import Roles

PAGE_WIDTH, PAGE_HEIGHT = A4  # points (1/72 inch): 595 x 842
PNG_DPI = 150  # 1240 x 1754 pixels: sharp on a screen, good enough to print at A4
QR_PIXELS_PER_MODULE_PDF = 12  # the embedded QR image; whole pixels per module keep it crisp
FALLBACK_BOT_USERNAME = "selvhjelp_bot"
_USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{4,31}$")  # Telegram: 5-32 characters

Color = tuple[int, int, int]
TEAL: Color = (29, 92, 99)
WARM: Color = (204, 102, 51)
WARM_TINT: Color = (253, 241, 228)
INK: Color = (34, 34, 34)
GREY: Color = (96, 96, 96)
WHITE: Color = (255, 255, 255)
MARGIN = 44.0
_RENDER_LOCK = threading.Lock()


# --- what may be made, by whom ------------------------------------------------------------------


def poster_places(config: Config, roles: Roles) -> tuple[Municipality, ...]:
    """Municipalities this person may make posters for: an admin any, an office its regions',
    a coordinator their own; in config order."""
    return tuple(
        m
        for m in config.municipalities
        if roles.admin or roles.covers(m.name) or m.region_id in roles.regions
    )


def valid_username(username: str) -> bool:
    return bool(_USERNAME_RE.match(username))


# --- text -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PosterText:
    """Every string on the poster, in one language."""

    title: str
    lead: str
    free: str
    ticket_title: str
    ticket: str
    scan: str
    link_label: str
    link: str
    footer: str
    sender: str = ""  # "Fra LINK Lyngen": who the poster is from ("" = no such line)
    no_telegram: str = ""  # a way in for people without Telegram

    def all(self) -> tuple[str, ...]:
        return (
            self.title,
            self.sender,
            self.no_telegram,
            self.lead,
            self.free,
            self.ticket_title,
            self.ticket,
            self.scan,
            self.link_label,
            self.link,
            self.footer,
        )


def poster_text(content: Content, lang: str, municipality: Municipality, link: str) -> PosterText:
    def t(key: str, **values: str) -> str:
        name = municipality.name
        return content.text(lang, f"poster.sheet.{key}", municipality=name, **values).strip()

    sender = municipality.poster_from.strip()
    contact = municipality.contact.strip()
    return PosterText(
        title=t("title"),
        lead=t("lead"),
        free=t("free"),
        ticket_title=t("ticket_title"),
        ticket=t("ticket"),
        scan=t("scan"),
        link_label=t("link_label"),
        link=link.removeprefix("https://"),  # what a person would type; t.me works without it
        footer=t("footer"),
        sender=t("from", sender=sender) if sender else "",
        no_telegram=t("no_telegram", contact=contact) if contact else t("no_telegram_web"),
    )


def file_stem(content: Content, lang: str, municipality: Municipality) -> str:
    """e.g. plakat-lyngen-nb (the word from flows/, the rest from config)."""
    return f"{content.text(lang, 'poster.file_stem')}-{municipality.code}-{lang}"


# --- fonts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFamily:
    name: str
    regular: Path
    bold: Path

    def pdf_name(self, bold: bool) -> str:
        return f"Poster{self.name}{'-Bold' if bold else ''}"

    def path(self, bold: bool) -> Path:
        return self.bold if bold else self.regular


def _families() -> tuple[FontFamily, ...]:
    bundled = Path(reportlab.__file__).parent / "fonts"
    system = Path("/usr/share/fonts/truetype/dejavu")
    return (
        FontFamily("Vera", bundled / "Vera.ttf", bundled / "VeraBd.ttf"),
        FontFamily("DejaVu", system / "DejaVuSans.ttf", system / "DejaVuSans-Bold.ttf"),
    )


@lru_cache(maxsize=8)
def _registered(family: FontFamily) -> frozenset[int]:
    """Register both faces with reportlab (once) and return the characters both cover."""
    covered: frozenset[int] | None = None
    for bold in (False, True):
        font = TTFont(family.pdf_name(bold), str(family.path(bold)))
        pdfmetrics.registerFont(font)
        chars = frozenset(font.face.charToGlyph)
        covered = chars if covered is None else covered & chars
    return covered or frozenset()


def choose_font(texts: Sequence[str]) -> FontFamily:
    """The first font family present that has every character of `texts`, else the bundled
    one (a missing letter then shows as a box, which is better than no poster)."""
    needed = {ord(c) for text in texts for c in text if not c.isspace()}
    present = [f for f in _families() if f.regular.is_file() and f.bold.is_file()]
    for family in present:
        if needed <= _registered(family):
            return family
    _registered(present[0])
    return present[0]


# --- the QR code ------------------------------------------------------------------------------


def qr_image(link: str) -> Image.Image:
    """The QR code for `link`: one pixel per module, black on white, quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
    code.add_data(link)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    image = Image.new("L", (size, size), 255)
    image.putdata([0 if dark else 255 for row in matrix for dark in row])
    return image


# --- layout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float  # top edge, from the top of the page
    w: float
    h: float
    color: Color


@dataclass(frozen=True)
class Line:
    x: float  # left edge, or the centre when centred
    y: float  # baseline, from the top of the page
    text: str
    size: float
    bold: bool
    color: Color
    centred: bool = False


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Box, ...]
    lines: tuple[Line, ...]
    qr: Box  # where the QR code goes (its colour is unused)
    scale: float  # 1.0, or smaller when long texts had to shrink to fit one page


class _Flow:
    """Stacks wrapped text from a top edge downwards."""

    def __init__(self, family: FontFamily, scale: float) -> None:
        self.family = family
        self.scale = scale
        self.lines: list[Line] = []

    def wrap(self, text: str, size: float, bold: bool, width: float) -> list[str]:
        return simpleSplit(text, self.family.pdf_name(bold), size * self.scale, width) or [""]

    def paragraph(
        self,
        y: float,
        text: str,
        size: float,
        *,
        bold: bool = False,
        color: Color = INK,
        x: float = MARGIN,
        width: float = PAGE_WIDTH - 2 * MARGIN,
        centred: bool = False,
        leading: float = 1.35,
    ) -> float:
        """Add `text` with its first line's top at `y`; return the y below its last line."""
        px = size * self.scale
        parts = self.wrap(text, size, bold, width)
        left = PAGE_WIDTH / 2 if centred else x
        for i, part in enumerate(parts):
            baseline = y + px * 0.9 + i * px * leading
            self.lines.append(Line(left, baseline, part, px, bold, color, centred))
        return y + px * 1.15 + (len(parts) - 1) * px * leading

    def height(self, text: str, size: float, bold: bool, width: float, leading: float) -> float:
        """What `paragraph` would take, without adding anything."""
        px = size * self.scale
        return px * 1.15 + (len(self.wrap(text, size, bold, width)) - 1) * px * leading


MIN_QR = 200.0  # points (7 cm): scans from a couple of metres
MAX_QR = 330.0


def layout(text: PosterText, family: FontFamily, scale: float = 1.0) -> Layout:
    """Where everything goes on one A4 page; shrinks the text until the QR code fits at
    MIN_QR points or more."""
    flow = _Flow(family, scale)
    s = scale
    width = PAGE_WIDTH - 2 * MARGIN
    boxes: list[Box] = []
    # The header band: the title (with the municipality), white on teal.
    title_top = MARGIN * 0.9
    below_title = flow.paragraph(title_top, text.title, 32, bold=True, color=WHITE, leading=1.15)
    if text.sender:
        below_title = flow.paragraph(below_title + 6 * s, text.sender, 14, color=WHITE)
    header_h = below_title + MARGIN * 0.55
    boxes.append(Box(0, 0, PAGE_WIDTH, header_h, TEAL))
    y = header_h + 26 * s
    y = flow.paragraph(y, text.lead, 15)
    y = flow.paragraph(y + 8 * s, text.free, 15)
    # The entry ticket in a tinted box with a warm bar on its left.
    pad = 14 * s
    ticket_top = y + 16 * s
    inner = width - 2 * pad - 6 * s
    left = MARGIN + pad + 6 * s
    after = flow.paragraph(
        ticket_top + pad, text.ticket_title, 13, bold=True, color=WARM, x=left, width=inner
    )
    after = flow.paragraph(
        after + 2 * s, text.ticket, 18, bold=True, x=left, width=inner, leading=1.2
    )
    ticket_h = after - ticket_top + pad
    boxes.append(Box(MARGIN, ticket_top, width, ticket_h, WARM_TINT))
    boxes.append(Box(MARGIN, ticket_top, 6 * s, ticket_h, WARM))
    top_of_qr_area = ticket_top + ticket_h + 18 * s
    # From the bottom up: footer, link, its label, how to scan.
    bottom: list[tuple[str, float, bool, Color, float]] = [
        (text.scan, 13, False, INK, 1.3),
        (text.link_label, 11, False, GREY, 1.2),
        (text.link, 15, True, TEAL, 1.2),
    ]
    footer_h = flow.height(text.footer, 10.5, False, width, 1.3)
    stack_h = sum(flow.height(t, sz, b, width, ld) for t, sz, b, _, ld in bottom)
    gaps = (14 + 4) * s
    if text.no_telegram:
        stack_h += flow.height(text.no_telegram, 12, True, width, 1.25)
        gaps += 10 * s
    bottom_top = PAGE_HEIGHT - MARGIN - footer_h - 18 * s - stack_h - gaps
    qr_size = min(MAX_QR, bottom_top - 14 * s - top_of_qr_area)
    if qr_size < MIN_QR and scale > 0.5:
        return layout(text, family, round(scale * 0.92, 3))
    qr_size = max(qr_size, MIN_QR / 2)  # absurdly long texts: overlap rather than no code
    qr_top = top_of_qr_area + (bottom_top - 14 * s - top_of_qr_area - qr_size) / 2
    qr = Box((PAGE_WIDTH - qr_size) / 2, qr_top, qr_size, qr_size, INK)
    y = qr_top + qr_size + 14 * s
    (scan, sz, b, color, ld), *rest = bottom
    y = flow.paragraph(y, scan, sz, bold=b, color=color, centred=True, leading=ld) + 14 * s
    for t, sz, b, color, ld in rest:
        y = flow.paragraph(y, t, sz, bold=b, color=color, centred=True, leading=ld) + 2 * s
    if text.no_telegram:
        y = flow.paragraph(y + 8 * s, text.no_telegram, 12, bold=True, centred=True, leading=1.25)
    flow.paragraph(PAGE_HEIGHT - MARGIN - footer_h, text.footer, 10.5, color=GREY, centred=True)
    return Layout(tuple(boxes), tuple(flow.lines), qr, scale)


# --- drawing ----------------------------------------------------------------------------------


def _rgb(color: Color) -> tuple[float, float, float]:
    return color[0] / 255, color[1] / 255, color[2] / 255


def render_pdf(page: Layout, qr: Image.Image, family: FontFamily, title: str) -> bytes:
    """One A4 page; reportlab's origin is the bottom-left corner, ours the top-left."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=True, pageCompression=1)
    canvas.setTitle(title)
    canvas.setCreator("selvhjelp-bot")
    for box in page.boxes:
        canvas.setFillColorRGB(*_rgb(box.color))
        canvas.rect(box.x, PAGE_HEIGHT - box.y - box.h, box.w, box.h, stroke=0, fill=1)
    for line in page.lines:
        canvas.setFillColorRGB(*_rgb(line.color))
        canvas.setFont(family.pdf_name(line.bold), line.size)
        if line.centred:
            canvas.drawCentredString(line.x, PAGE_HEIGHT - line.y, line.text)
        else:
            canvas.drawString(line.x, PAGE_HEIGHT - line.y, line.text)
    big = qr.resize(
        (qr.width * QR_PIXELS_PER_MODULE_PDF, qr.height * QR_PIXELS_PER_MODULE_PDF),
        Image.Resampling.NEAREST,
    )
    q = page.qr
    canvas.drawImage(ImageReader(big), q.x, PAGE_HEIGHT - q.y - q.h, q.w, q.h)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


@lru_cache(maxsize=32)
def _pil_font(path: Path, pixels: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), pixels)


def render_png(page: Layout, qr: Image.Image, family: FontFamily, dpi: int = PNG_DPI) -> bytes:
    """The same page as pixels. The QR code gets a whole number of pixels per module."""
    k = dpi / 72
    image = Image.new("RGB", (round(PAGE_WIDTH * k), round(PAGE_HEIGHT * k)), WHITE)
    draw = ImageDraw.Draw(image)
    for box in page.boxes:
        x0, y0 = round(box.x * k), round(box.y * k)
        x1, y1 = round((box.x + box.w) * k) - 1, round((box.y + box.h) * k) - 1
        draw.rectangle((x0, y0, x1, y1), fill=box.color)
    for line in page.lines:
        font = _pil_font(family.path(line.bold), round(line.size * k))
        anchor = "ms" if line.centred else "ls"
        draw.text((line.x * k, line.y * k), line.text, font=font, fill=line.color, anchor=anchor)
    target = page.qr.w * k
    per_module = max(1, int(target // qr.width))
    side = per_module * qr.width
    big = qr.resize((side, side), Image.Resampling.NEAREST)
    left = round(page.qr.x * k + (target - side) / 2)
    top = round(page.qr.y * k + (target - side) / 2)
    image.paste(big, (left, top))
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), optimize=False)
    return out.getvalue()


# --- the whole poster -------------------------------------------------------------------------


@dataclass(frozen=True)
class Poster:
    link: str
    pdf: bytes
    png: bytes
    stem: str  # file name without extension


def make_poster(
    content: Content, lang: str, municipality: Municipality, bot_username: str
) -> Poster:
    """The poster for `municipality` in `lang` (CPU-bound, ~0.1 s: run it in a thread from
    async code; one at a time, as reportlab's font registry and shared FreeType faces are not
    made for concurrent use)."""
    link = start_link(bot_username, municipality, lang)
    text = poster_text(content, lang, municipality, link)
    with _RENDER_LOCK:
        family = choose_font(text.all())
        page = layout(text, family)
        qr = qr_image(link)
        return Poster(
            link=link,
            pdf=render_pdf(page, qr, family, text.title),
            png=render_png(page, qr, family),
            stem=file_stem(content, lang, municipality),
        )


# --- command line: python -m bot poster ---------------------------------------------------------


async def username_from_telegram(config: Config) -> str:
    """The bot's username from getMe (uses TELEGRAM_BOT_TOKEN and TELEGRAM_API_BASE_URL)."""
    from telegram import Bot

    assert config.token
    base_url = config.api_base_url or "https://api.telegram.org/bot"
    async with Bot(config.token, base_url=base_url) as bot:
        return bot.username


async def resolve_bot_username(
    given: str | None, environ: Mapping[str, str], config: Config
) -> tuple[str, str]:
    """(username, where it came from): the option, the environment, Telegram, or the
    fallback."""
    if given:
        return given.lstrip("@"), "--bot-username"
    if environ.get("TELEGRAM_BOT_USERNAME"):
        return environ["TELEGRAM_BOT_USERNAME"].lstrip("@"), "TELEGRAM_BOT_USERNAME"
    if config.token:
        return await username_from_telegram(config), "Telegram (getMe)"
    return FALLBACK_BOT_USERNAME, "fallback"


def run_cli(
    config: Config,
    content: Content,
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
) -> int:
    """`python -m bot poster`: write the PDF and the PNG beside it; print both paths and the
    link. Exit 2 on a usage problem."""
    environ = os.environ if environ is None else environ
    municipality = config.places.by_name_or_code(args.municipality)
    if municipality is None:
        names = ", ".join(m.name for m in config.municipalities)
        print(
            f"--municipality: {args.municipality!r} is not in config.yaml; choose one of: {names}",
            file=sys.stderr,
        )
        return 2
    lang = args.lang or config.default_language
    try:
        username, source = asyncio.run(resolve_bot_username(args.bot_username, environ, config))
    except Exception as exc:  # network, a revoked token: say what to do instead
        print(
            f"could not ask Telegram for the bot's username ({exc}); pass --bot-username",
            file=sys.stderr,
        )
        return 2
    if not valid_username(username):
        print(
            f"bot username {username!r} ({source}): expected 5-32 letters, digits or _",
            file=sys.stderr,
        )
        return 2
    if source == "fallback":
        print(
            f"note: no --bot-username, TELEGRAM_BOT_USERNAME or TELEGRAM_BOT_TOKEN; the link uses "
            f"@{username}. Check that it is your bot before you print.",
            file=sys.stderr,
        )
    poster = make_poster(content, lang, municipality, username)
    pdf_path = Path(args.out) if args.out else Path(f"{poster.stem}.pdf")
    png_path = pdf_path.with_suffix(".png")
    if png_path == pdf_path:
        print("--out: expected a .pdf file name (the PNG is written beside it)", file=sys.stderr)
        return 2
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    pdf_path.write_bytes(poster.pdf)
    png_path.write_bytes(poster.png)
    print(pdf_path)
    print(png_path)
    print(poster.link)
    return 0
