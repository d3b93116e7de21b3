"""What each step of the interest flow looks like: text from flows/ and buttons with `i:` data
(made by bot.interest.buttons)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.rendering import Rendered, topic_button
from bot.config import Config, Municipality
from bot.content import Content
from bot.interest import buttons as codec
from bot.interest.buttons import Action
from bot.interest.rules import ELSEWHERE, TIMES, Draft, kinds
from bot.interest.steps import Move
from bot.storage import Registration

# FAQ topics offered to someone "not sure" at the entry ticket.
UNSURE_TOPICS = ("entry_ticket", "who_for", "what_problems", "time_to_decide")
# Moves whose whole answer is one text.
_DONE_TEXTS = {
    "withdraw": "mine.withdrawn",
    "delete": "retention.deleted",
    "cancelled": "interest.cancelled",
}


def _button(text: str, action: Action, value: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=codec.data(action, value))


def _column(buttons: list[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[b] for b in buttons])


def kind_label(content: Content, lang: str, kind: str) -> str:
    if kind in ("open", "any"):
        return content.text(lang, f"interest.kind_{kind}")
    return content.text(lang, f"interest.theme.{kind}")


def place_label(content: Content, config: Config, lang: str, region_id: str, name: str) -> str:
    if name:
        return name
    if region_id == ELSEWHERE:
        return content.text(lang, "interest.elsewhere")
    region = config.region(region_id)
    return content.text(lang, "interest.not_listed", region=region.name if region else region_id)


def yes_no(content: Content, lang: str, value: bool) -> str:
    return content.text(lang, "interest.answer_yes" if value else "interest.answer_no")


def step_buttons(
    content: Content, config: Config, draft: Draft
) -> Callable[[str], list[tuple[str, str]]]:
    """(label, data) of the step's buttons in a language, in order: what a typed answer is
    compared with (bot.interest.typed_answers)."""

    def in_language(lang: str) -> list[tuple[str, str]]:
        keyboard = step_view(content, config, lang, draft).keyboard
        rows = keyboard.inline_keyboard if keyboard else ()
        return [(b.text, str(b.callback_data)) for row in rows for b in row if b.callback_data]

    return in_language


def step_view(content: Content, config: Config, lang: str, draft: Draft) -> Rendered:
    """The message for the step the draft is at."""
    t = content.text
    if draft.step == "entry":
        return Rendered(
            t(lang, "interest.entry"),
            _column(
                [
                    _button(t(lang, "interest.entry_yes"), Action.ENTRY, "yes"),
                    _button(t(lang, "interest.entry_other"), Action.ENTRY, "other"),
                    _button(t(lang, "interest.entry_unsure"), Action.ENTRY, "unsure"),
                ]
            ),
        )
    if draft.step == "age":
        age = config.min_age
        return Rendered(
            t(lang, "interest.age", min_age=config.min_age),
            _column(
                [
                    _button(t(lang, "interest.age_yes", min_age=age), Action.AGE, "yes"),
                    _button(t(lang, "interest.age_no", min_age=age), Action.AGE, "no"),
                ]
            ),
        )
    if draft.step == "sober":
        return Rendered(
            t(lang, "interest.sober"),
            _column(
                [
                    _button(t(lang, "interest.sober_ok"), Action.SOBER, "ok"),
                    _button(t(lang, "interest.sober_no"), Action.SOBER, "no"),
                ]
            ),
        )
    if draft.step in ("place", "typing"):
        buttons = []
        suggested = config.municipality_by_code(draft.suggested or "")
        if suggested is not None:  # they came from this municipality's poster: offer it first
            buttons.append(_button(f"📍 {suggested.name}", Action.MUNICIPALITY, suggested.code))
        buttons += [_button(r.name, Action.REGION, r.id) for r in config.regions]
        buttons.append(_button(t(lang, "interest.place_type"), Action.TYPE))
        buttons.append(_button(t(lang, "interest.place_not_listed"), Action.UNLISTED))
        key = "interest.place_type_prompt" if draft.step == "typing" else "interest.place"
        return Rendered(t(lang, key), _column(buttons))
    if draft.step == "region" and draft.region_id:
        region = config.region(draft.region_id)
        if region is not None:
            buttons = [_button(m.name, Action.MUNICIPALITY, m.code) for m in region.municipalities]
            label = t(lang, "interest.place_region_not_listed", region=region.name)
            buttons.append(_button(label, Action.UNLISTED_IN, region.id))
            return Rendered(
                t(lang, "interest.place_in_region", region=region.name), _column(buttons)
            )
    if draft.step == "unlisted":
        buttons = [_button(r.name, Action.UNLISTED_IN, r.id) for r in config.regions]
        buttons.append(_button(t(lang, "interest.place_elsewhere"), Action.ELSEWHERE))
        return Rendered(t(lang, "interest.place_pick_region_for_unlisted"), _column(buttons))
    if draft.step == "kind":
        buttons = [_button(kind_label(content, lang, k), Action.KIND, k) for k in kinds(config)]
        return Rendered(t(lang, "interest.kind"), _column(buttons))
    if draft.step == "time":
        buttons = [_button(t(lang, f"interest.time_{h}"), Action.TIME, h) for h in TIMES]
        return Rendered(t(lang, "interest.time"), _column(buttons))
    if draft.step == "contact":
        return Rendered(
            t(lang, "interest.contact"),
            _column(
                [
                    _button(t(lang, "interest.contact_yes"), Action.CONTACT, "yes"),
                    _button(t(lang, "interest.contact_no"), Action.CONTACT, "no"),
                ]
            ),
        )
    return summary_view(content, config, lang, draft)


def _values(content: Content, config: Config, lang: str, draft: Draft) -> dict[str, str]:
    return {
        "place": place_label(
            content, config, lang, draft.region_id or "", draft.municipality or ""
        ),
        "kind": kind_label(content, lang, draft.kind or "any"),
        "time": content.text(lang, f"interest.time_{draft.time or 'either'}"),
        "contact": yes_no(content, lang, bool(draft.contact)),
    }


def summary_view(content: Content, config: Config, lang: str, draft: Draft) -> Rendered:
    t = content.text
    return Rendered(
        t(lang, "interest.summary", **_values(content, config, lang, draft)),
        _column(
            [
                _button(t(lang, "interest.confirm"), Action.SUMMARY, "ok"),
                _button(t(lang, "interest.change"), Action.SUMMARY, "edit"),
                _button(t(lang, "interest.cancel"), Action.SUMMARY, "cancel"),
            ]
        ),
    )


def change_menu(content: Content, lang: str) -> InlineKeyboardMarkup:
    t = content.text
    return _column(
        [
            _button(t(lang, "mine.change_place"), Action.CHANGE, "place"),
            _button(t(lang, "mine.change_kind"), Action.CHANGE, "kind"),
            _button(t(lang, "mine.change_time"), Action.CHANGE, "time"),
            _button(t(lang, "mine.change_contact"), Action.CHANGE, "contact"),
        ]
    )


def matches_view(content: Content, lang: str, matches: list[Municipality]) -> Rendered:
    t = content.text
    if not matches:
        return Rendered(t(lang, "interest.place_no_match"))
    buttons = [_button(m.name, Action.MUNICIPALITY, m.code) for m in matches]
    buttons.append(_button(t(lang, "interest.place_none_of_these"), Action.TYPE))
    return Rendered(t(lang, "interest.place_matches"), _column(buttons))


def typed_place_view(
    content: Content, config: Config, lang: str, typing: Draft, matches: list[Municipality]
) -> Rendered:
    """The closest matches to a typed place; with none, the place buttons again."""
    view = matches_view(content, lang, matches)
    if matches:
        return view
    keyboard = step_view(content, config, lang, typing).keyboard
    rows = keyboard.inline_keyboard if keyboard else ()
    elsewhere = (_button(content.text(lang, "interest.place_elsewhere"), Action.ELSEWHERE),)
    return Rendered(view.text, InlineKeyboardMarkup((*rows, elsewhere)))


def stale_view(content: Content, config: Config, lang: str, draft: Draft) -> Rendered:
    """A button from another step: say so, and show the step they are at."""
    step = step_view(content, config, lang, draft)
    return Rendered(f"{content.text(lang, 'interest.stale')}\n\n{step.text}", step.keyboard)


def step_name(content: Content, lang: str, draft: Draft) -> str:
    """What the step is about, in a few words ("kommunen", "tidspunktet")."""
    step = "place" if draft.step in ("region", "typing", "unlisted") else draft.step
    return content.text(lang, f"interest.step_name.{step}")


def hinted_step_view(
    content: Content, config: Config, lang: str, draft: Draft, note: str = "interest.typed_hint"
) -> Rendered:
    """The step again, under a short note: they are mid-way in /interest, and how to stop."""
    step = step_view(content, config, lang, draft)
    return Rendered(f"{step_hint(content, lang, draft, note)}\n\n{step.text}", step.keyboard)


def step_hint(content: Content, lang: str, draft: Draft, note: str = "interest.typed_hint") -> str:
    return content.text(lang, note, step=step_name(content, lang, draft))


def _number(config: Config, key: str) -> str:
    return next((n.number for n in config.crisis_numbers if n.key == key), "")


def age_refused_view(content: Content, config: Config, lang: str) -> Rendered:
    """Under the age limit: who can help instead (never just a pointer to /help)."""
    line = _number(config, "children_line")
    key = "interest.age_refused" if line else "interest.age_refused_no_line"
    emergency = _number(config, "emergency") or "113"
    text = content.text(lang, key, min_age=config.min_age, children_line=line, emergency=emergency)
    return Rendered(text)


def sober_refused_view(content: Content, config: Config, lang: str) -> Rendered:
    """Cannot come sober: welcome when they can, and someone to talk to meanwhile."""
    line = _number(config, "mental_helse")
    key = "interest.sober_refused" if line else "interest.sober_refused_no_line"
    return Rendered(content.text(lang, key, mental_helse=line))


def withdraw_ask_view(content: Content, lang: str) -> Rendered:
    t = content.text
    return Rendered(
        t(lang, "mine.withdraw_ask"),
        _column(
            [
                _button(t(lang, "mine.withdraw_yes"), Action.WITHDRAW_YES),
                _button(t(lang, "mine.withdraw_no"), Action.WITHDRAW_NO),
            ]
        ),
    )


def unsure_view(content: Content, lang: str) -> Rendered:
    buttons = [topic_button(content, lang, tid) for tid in UNSURE_TOPICS]
    return Rendered(content.text(lang, "interest.unsure"), _column(buttons))


def move_view(content: Content, config: Config, lang: str, move: Move) -> Rendered:
    """What a press that steps or ends the flow shows (start, stale, save, keep and on_behalf
    are shown by the handler)."""
    if move.kind == "step":
        return step_view(content, config, lang, move.draft)
    if move.kind == "change_menu":
        summary = summary_view(content, config, lang, move.draft)
        return Rendered(summary.text, change_menu(content, lang))
    if move.kind == "unsure":
        return unsure_view(content, lang)
    if move.kind == "age_refused":
        return age_refused_view(content, config, lang)
    if move.kind == "sober_refused":
        return sober_refused_view(content, config, lang)
    if move.kind == "withdraw_ask":
        return withdraw_ask_view(content, lang)
    return Rendered(content.text(lang, _DONE_TEXTS[move.kind]))


def saved_view(
    content: Content, config: Config, lang: str, follow: InlineKeyboardButton | None
) -> Rendered:
    """A new registration is saved; `follow` offers the information meetings there."""
    text = content.text(lang, "interest.saved", retention_days=config.retention_days)
    return Rendered(text, InlineKeyboardMarkup([[follow]]) if follow else None)


def updated_view(content: Content, config: Config, lang: str, reg: Registration) -> Rendered:
    """A change to the registration is saved: say so above what is registered now."""
    view = mine_view(content, config, lang, reg)
    return Rendered(f"{content.text(lang, 'mine.updated')}\n\n{view.text}", view.keyboard)


def kept_view(content: Content, config: Config, lang: str, expires: int | None) -> Rendered:
    """ "Keep" on the retention reminder: the new expiry, or that nothing is registered."""
    if expires is None:
        return Rendered(content.text(lang, "mine.none"))
    return Rendered(content.text(lang, "retention.kept", expires=expiry_date(expires, config)))


def _date(ts: int, config: Config) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(config.timezone)).strftime("%d.%m.%Y")


def mine_view(content: Content, config: Config, lang: str, reg: Registration | None) -> Rendered:
    t = content.text
    if reg is None:
        return Rendered(t(lang, "mine.none"))
    draft = Draft(
        region_id=reg.region_id,
        municipality=reg.municipality,
        kind=reg.group_kind,
        time=reg.time_pref,
        contact=reg.contact_ok,
    )
    text = t(
        lang,
        "mine.shown",
        created=_date(reg.created_at, config),
        expires=_date(reg.expires_at, config),
        **_values(content, config, lang, draft),
    )
    withdraw = (_button(t(lang, "mine.withdraw"), Action.WITHDRAW),)
    keyboard = (*change_menu(content, lang).inline_keyboard, withdraw)
    return Rendered(text, InlineKeyboardMarkup(keyboard))


def expiry_date(ts: int, config: Config) -> str:
    return _date(ts, config)
