"""config.yaml -> frozen, typed settings. Secrets and overrides come from environment variables.

A broken file never half-loads: `load_config` collects every problem as one line
`key.path: expected ..., got ...` and raises ConfigError with all of them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot import yaml_strict

if TYPE_CHECKING:
    from bot.places import Places

LANGUAGES = ("nb", "en")
# The kinds of crisis the detector tells apart (bot/answers/crisis.py), and its gentle middle tier.
CRISIS_KINDS = ("suicide", "self_harm", "violence", "medical", "other_in_danger", "check")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CODE_RE = re.compile(r"^[a-z0-9-]{1,24}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# What a crisis number may look like without a warning: digits, spaces, a leading +.
_PHONE_RE = re.compile(r"^\+?[\d ]+$")
# The keys each part of config.yaml may have; anything else is a typo or a misplaced key.
_KEYS: dict[str, tuple[str, ...]] = {
    "(top level)": (
        "telegram",
        "data_dir",
        "key_file",
        "default_language",
        "crisis",
        "privacy",
        "interest",
        "sending",
        "digest",
        "regions",
        "roles",
        "backup",
        "health",
    ),
    "telegram": ("mode", "api_base_url", "file_base_url", "webhook"),
    "telegram.webhook": ("listen", "port", "public_url"),
    "crisis": ("numbers",),
    "crisis.numbers[]": ("key", "number", "for"),
    "privacy": ("min_count", "retention_days", "reminder_days_before_expiry", "min_age"),
    "interest": ("themes", "ready_at"),
    "sending": ("rate_per_second", "seconds_between_messages_to_one_chat"),
    "digest": ("weekday", "time", "timezone"),
    "backup": ("daily", "keep", "dir"),
    "health": ("listen", "port"),
    "regions[]": ("id", "name", "office", "municipalities"),
    "regions[].municipalities[]": ("name", "code", "aliases", "poster_from", "contact"),
    "roles": ("invite_valid_days", "admins", "coordinators", "offices"),
    "roles.coordinators[]": ("user_id", "municipalities"),
    "roles.offices[]": ("user_id", "region"),
}
_INDEX_RE = re.compile(r"\[\d+\]")


class ConfigError(Exception):
    """config.yaml is unusable; `problems` holds one line per bad key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


@dataclass(frozen=True)
class Municipality:
    name: str
    code: str
    region_id: str
    aliases: tuple[str, ...] = ()
    # Printed on its posters: who the poster is from (default: the region's office), and a
    # phone number or web address for people without Telegram ("": point to selvhjelp.no).
    poster_from: str = ""
    contact: str = ""


@dataclass(frozen=True)
class Region:
    id: str
    name: str
    office: str
    municipalities: tuple[Municipality, ...]


@dataclass(frozen=True)
class CrisisNumber:
    key: str
    number: str
    kinds: tuple[str, ...] = ()  # the kinds of crisis it is shown for; () = every kind

    def serves(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds


@dataclass(frozen=True)
class Coordinator:
    user_id: int
    municipalities: tuple[str, ...]


@dataclass(frozen=True)
class Office:
    user_id: int
    region: str


@dataclass(frozen=True)
class Webhook:
    listen: str
    port: int
    public_url: str
    secret_token: str | None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: a cache key per answer
class Config:
    token: str | None = field(repr=False)
    mode: str
    api_base_url: str | None
    file_base_url: str | None
    webhook: Webhook
    data_dir: Path
    default_language: str
    crisis_numbers: tuple[CrisisNumber, ...]
    min_count: int
    retention_days: int
    min_age: int
    digest_weekday: str
    digest_time: str
    timezone: str
    regions: tuple[Region, ...]
    admins: frozenset[int]
    coordinators: tuple[Coordinator, ...]
    offices: tuple[Office, ...]
    themes: tuple[str, ...] = ()
    ready_at: int = 5
    reminder_days: int = 14
    invite_days: int = 7
    send_rate: float = 25.0
    per_chat_interval: float = 1.0
    secret_key: str | None = field(default=None, repr=False)
    # The generated key's file; None: `<data_dir>-key/secret.key` beside the data folder.
    key_file: Path | None = None
    # Backups (bot/storage/backup.py): one a local day when daily; the newest `keep` are kept;
    # backup_dir None: `<data_dir>/backups`.
    backup_daily: bool = False
    backup_keep: int = 7
    backup_dir: Path | None = None
    # The health endpoint (bot/ops/health.py): /healthz, /readyz, /metrics; port 0 = off.
    health_listen: str = "127.0.0.1"
    health_port: int = 8081

    @property
    def backup_folder(self) -> Path:
        """Where backups go: `backup.dir`, else `<data_dir>/backups`."""
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    def crisis_numbers_for(self, kind: str) -> tuple[CrisisNumber, ...]:
        """The numbers to show for a kind of crisis, in config order (every number if none)."""
        return tuple(n for n in self.crisis_numbers if n.serves(kind)) or self.crisis_numbers

    @cached_property
    def places(self) -> Places:
        """The one place lookup (bot.places), built once: by name, code, alias, typed name."""
        from bot.places import Places

        return Places(self)

    def municipality_named(self, name: str) -> Municipality | None:
        """The municipality called `name` (exact config spelling), if any."""
        return self.places.municipality_named(name)

    def region(self, region_id: str) -> Region | None:
        return self.places.region(region_id)

    @property
    def municipalities(self) -> tuple[Municipality, ...]:
        """Every municipality of every region, in config order."""
        return tuple(m for r in self.regions for m in r.municipalities)

    def municipality_by_code(self, code: str) -> Municipality | None:
        """The municipality whose deep-link code is `code`, if any."""
        return self.places.municipality_by_code(code)


class _Checker:
    """Walks the raw YAML, recording `path: expected X, got Y` for each bad value."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, expected: str, value: Any, why: str = "") -> None:
        got = "nothing" if value is None else repr(value)
        if len(got) > 60:
            got = got[:57] + "..."
        self.problems.append(
            f"{path}: expected {expected}, got {got}" + (f"; {why}" if why else "")
        )

    def mapping(self, raw: Any, path: str, required: bool = True) -> Mapping[str, Any]:
        if raw is None and not required:
            return {}
        if not isinstance(raw, Mapping):
            self.fail(path, "a mapping of keys", raw)
            return {}
        known = _KEYS.get(_INDEX_RE.sub("[]", path))
        if known is not None:
            for key in raw:
                if key not in known:
                    self.problems.append(_unknown_key(path, key, known))
        return raw

    def string(self, raw: Any, path: str, default: str | None = None) -> str:
        if raw is None and default is not None:
            return default
        if not isinstance(raw, str) or not raw.strip():
            self.fail(path, "a non-empty text", raw)
            return default or ""
        return raw.strip()

    def integer(
        self,
        raw: Any,
        path: str,
        low: int,
        high: int,
        default: int | None = None,
        why_low: str = "",
    ) -> int:
        if raw is None and default is not None:
            return default
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            too_low = isinstance(raw, int) and not isinstance(raw, bool) and raw < low
            self.fail(
                path, f"a whole number from {low} to {high}", raw, why_low if too_low else ""
            )
            return default if default is not None else low
        return raw

    def choice(self, raw: Any, path: str, options: tuple[str, ...], default: str) -> str:
        if raw is None:
            return default
        if raw not in options:
            self.fail(path, "one of " + ", ".join(options), raw)
            return default
        return str(raw)

    def sequence(self, raw: Any, path: str, what: str, required: bool = True) -> list[Any]:
        if raw is None and not required:
            return []
        if not isinstance(raw, list):
            self.fail(path, f"a list of {what}", raw)
            return []
        return raw

    def names(self, raw: Any, path: str) -> tuple[str, ...]:
        items = self.sequence(raw, path, "names")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, str) and item.strip():
                out.append(item.strip())
            else:
                self.fail(f"{path}[{i}]", "a name", item)
        return tuple(out)


def _join(path: str, key: str) -> str:
    return key if path == "(top level)" else f"{path}.{key}"


def _unknown_key(path: str, key: Any, known: tuple[str, ...]) -> str:
    """`path.key: unknown key; did you mean ...?`: the nearest key here, else the same key
    (or a near one) in another part of the file, else the keys this part may have."""
    # YAML 1.1 reads some bare keys as other types (`yes:`/`on:` -> True, `1:` -> 1).
    name = key if isinstance(key, str) else repr(key)
    if len(name) > 40:
        name = name[:37] + "..."
    where = _join(path, name)
    close = difflib.get_close_matches(name.casefold(), known, n=1, cutoff=0.6)
    if close:
        return f"{where}: unknown key; did you mean {close[0]}?"
    if isinstance(key, bool):
        return f"{where}: unknown key (YAML reads a bare yes, no, on or off as {key}: quote it)"
    # A key put in the wrong section: the sections that are not list items have one path each.
    here = _INDEX_RE.sub("[]", path)
    leaves = {
        k: _join(p, k)
        for p, keys in reversed(_KEYS.items())
        if "[" not in p and p != here
        for k in keys
    }
    near = difflib.get_close_matches(name.casefold(), leaves, n=1, cutoff=0.8)
    if near:
        moved = leaves[near[0]]
        at = moved if "." in moved else f"{moved} at the top level"
        return f"{where}: unknown key here; did you mean {at}?"
    return f"{where}: unknown key; the keys here are {', '.join(known)}"


def _env(name: str, environ: Mapping[str, str]) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _key_file(c: _Checker, raw: Any, environ: Mapping[str, str]) -> Path | None:
    """`key_file` (env SELVHJELP_KEY_FILE wins); None when unset: beside the data folder."""
    chosen = _env("SELVHJELP_KEY_FILE", environ)
    if chosen:
        return Path(chosen)
    if raw is None or raw == "":
        return None
    return Path(c.string(raw, "key_file"))


def _regions(c: _Checker, raw: Any) -> tuple[Region, ...]:
    regions = []
    seen_codes: set[str] = set()
    seen_names: set[str] = set()
    seen_ids: set[str] = set()
    for i, raw_region in enumerate(c.sequence(raw, "regions", "regions")):
        path = f"regions[{i}]"
        r = c.mapping(raw_region, path)
        if not r:
            if isinstance(raw_region, dict):
                c.fail(path, "a region with id, name, office and municipalities", raw_region)
            continue
        region_id = c.string(r.get("id"), f"{path}.id")
        if region_id in seen_ids:
            c.fail(f"{path}.id", "a region id used only once", region_id)
        seen_ids.add(region_id)
        munis = []
        for j, raw_muni in enumerate(
            c.sequence(r.get("municipalities"), f"{path}.municipalities", "municipalities")
        ):
            mpath = f"{path}.municipalities[{j}]"
            m = c.mapping(raw_muni, mpath)
            if not m:
                continue
            name = c.string(m.get("name"), f"{mpath}.name")
            code = m.get("code")
            if not isinstance(code, str) or not _CODE_RE.match(code):
                c.fail(f"{mpath}.code", "a short code of a-z, 0-9 and '-' (at most 24)", code)
                code = ""
            elif code in seen_codes:
                c.fail(f"{mpath}.code", "a code no other municipality uses", code)
            if name.casefold() in seen_names:
                c.fail(f"{mpath}.name", "a municipality listed only once", name)
            seen_codes.add(code)
            seen_names.add(name.casefold())
            aliases = c.names(m["aliases"], f"{mpath}.aliases") if "aliases" in m else ()
            office = r.get("office")
            default_sender = office.strip() if isinstance(office, str) else ""
            sender = c.string(m.get("poster_from"), f"{mpath}.poster_from", "") or default_sender
            contact = c.string(m.get("contact"), f"{mpath}.contact", "")
            munis.append(
                Municipality(name, code, region_id, aliases, poster_from=sender, contact=contact)
            )
        regions.append(
            Region(
                id=region_id,
                name=c.string(r.get("name"), f"{path}.name"),
                office=c.string(r.get("office"), f"{path}.office"),
                municipalities=tuple(munis),
            )
        )
    return tuple(regions)


def _user_id(c: _Checker, raw: Any, path: str) -> int:
    return c.integer(raw, path, 1, 2**53)


def parse_config(
    raw: Any, environ: Mapping[str, str] | None = None, source: str = "config.yaml"
) -> Config:
    """Validate the raw YAML document and build Config, or raise ConfigError listing problems."""
    env = os.environ if environ is None else environ
    c = _Checker()
    root = c.mapping(raw, "(top level)")
    tg = c.mapping(root.get("telegram"), "telegram", required=False)
    wh = c.mapping(tg.get("webhook"), "telegram.webhook", required=False)
    mode = c.choice(tg.get("mode"), "telegram.mode", ("polling", "webhook"), "polling")
    public_url = str(wh.get("public_url") or "")
    if mode == "webhook" and not public_url.startswith("https://"):
        c.fail("telegram.webhook.public_url", "an https:// URL in webhook mode", public_url)
    secret = _env("TELEGRAM_WEBHOOK_SECRET", env)
    if mode == "webhook" and (
        secret is None or not re.fullmatch(r"[A-Za-z0-9_-]{16,256}", secret)
    ):
        # Without it anyone who finds the port could post updates "from" an admin.
        c.fail(
            "telegram.mode",
            "webhook mode with TELEGRAM_WEBHOOK_SECRET set (16-256 of A-Z, a-z, 0-9, _ and -)",
            "webhook without a usable secret",
        )
    webhook = Webhook(
        # Loopback by default: a TLS reverse proxy in front (README, "Webhook mode").
        listen=_env("TELEGRAM_WEBHOOK_LISTEN", env)
        or c.string(wh.get("listen"), "telegram.webhook.listen", "127.0.0.1"),
        port=c.integer(wh.get("port"), "telegram.webhook.port", 1, 65535, 8443),
        public_url=public_url,
        secret_token=secret,
    )
    for key in ("api_base_url", "file_base_url"):
        value = tg.get(key)
        if value not in (None, "") and not (
            isinstance(value, str) and value.startswith(("http://", "https://"))
        ):
            c.fail(f"telegram.{key}", "an http:// or https:// URL or nothing", value)

    crisis = c.mapping(root.get("crisis"), "crisis")
    numbers = []
    for i, item in enumerate(c.sequence(crisis.get("numbers"), "crisis.numbers", "numbers")):
        m = c.mapping(item, f"crisis.numbers[{i}]")
        if not m and isinstance(item, Mapping):
            c.fail(f"crisis.numbers[{i}]", "a number with key and number", item)
        if m:
            number = m.get("number")
            if isinstance(number, int):
                number = str(number)
            kinds = m.get("for")
            if kinds is None:
                kinds = []
            elif not isinstance(kinds, list) or not all(k in CRISIS_KINDS for k in kinds):
                c.fail(
                    f"crisis.numbers[{i}].for",
                    f"a list of kinds of crisis ({', '.join(CRISIS_KINDS)})",
                    kinds,
                )
                kinds = []
            key = c.string(m.get("key"), f"crisis.numbers[{i}].key")
            dial = c.string(number, f"crisis.numbers[{i}].number")
            if any(ch.isalpha() for ch in dial):  # "11O", "113a": cannot be dialled at all
                c.fail(
                    f"crisis.numbers[{i}].number",
                    "a phone number of digits and spaces (a letter in it cannot be dialled)",
                    dial,
                )
            numbers.append(CrisisNumber(key, dial, tuple(str(k) for k in kinds)))
    if isinstance(crisis.get("numbers"), list) and not numbers:
        c.fail("crisis.numbers", "at least one emergency number", crisis.get("numbers"))
    for kind in CRISIS_KINDS:
        if numbers and not any(n.serves(kind) for n in numbers):
            c.fail("crisis.numbers", f"at least one number for {kind}", crisis.get("numbers"))

    privacy = c.mapping(root.get("privacy"), "privacy", required=False)
    digest = c.mapping(root.get("digest"), "digest", required=False)
    tz = c.string(digest.get("timezone"), "digest.timezone", "Europe/Oslo")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: absurdly long names
        c.fail("digest.timezone", "an IANA time zone such as Europe/Oslo", tz)
    digest_time = digest.get("time", "08:00")
    if not isinstance(digest_time, str) or not _TIME_RE.match(digest_time):
        c.fail("digest.time", 'a time as "HH:MM" in quotes', digest_time)
        digest_time = "08:00"

    regions = _regions(c, root.get("regions"))
    region_ids = {r.id for r in regions}
    muni_names = {m.name for r in regions for m in r.municipalities}

    roles = c.mapping(root.get("roles"), "roles", required=False)
    admins = frozenset(
        _user_id(c, v, f"roles.admins[{i}]")
        for i, v in enumerate(c.sequence(roles.get("admins"), "roles.admins", "user ids", False))
    )
    coordinators = []
    for i, item in enumerate(
        c.sequence(roles.get("coordinators"), "roles.coordinators", "coordinators", False)
    ):
        path = f"roles.coordinators[{i}]"
        m = c.mapping(item, path)
        if not m:
            continue
        names = c.names(m.get("municipalities"), f"{path}.municipalities")
        for j, name in enumerate(names):
            if name not in muni_names:
                c.fail(f"{path}.municipalities[{j}]", "a municipality listed under regions", name)
        coordinators.append(Coordinator(_user_id(c, m.get("user_id"), f"{path}.user_id"), names))
    offices = []
    for i, item in enumerate(c.sequence(roles.get("offices"), "roles.offices", "offices", False)):
        path = f"roles.offices[{i}]"
        m = c.mapping(item, path)
        if not m:
            continue
        region = c.string(m.get("region"), f"{path}.region")
        if region and region not in region_ids:
            c.fail(f"{path}.region", "a region id listed under regions", region)
        offices.append(Office(_user_id(c, m.get("user_id"), f"{path}.user_id"), region))

    interest = c.mapping(root.get("interest"), "interest", required=False)
    themes = c.names(interest["themes"], "interest.themes") if "themes" in interest else ()
    for i, theme in enumerate(themes):
        if not _CODE_RE.match(theme.replace("_", "-")) or theme in ("open", "any"):
            c.fail(f"interest.themes[{i}]", "a short id of a-z, 0-9 and '_'", theme)
    sending = c.mapping(root.get("sending"), "sending", required=False)
    rate = sending.get("rate_per_second", 25)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.1 <= rate <= 1000:
        c.fail("sending.rate_per_second", "a number from 0.1 to 1000", rate)
        rate = 25
    per_chat = sending.get("seconds_between_messages_to_one_chat", 1.0)
    if (
        isinstance(per_chat, bool)
        or not isinstance(per_chat, int | float)
        or not 0 <= per_chat <= 60
    ):
        c.fail("sending.seconds_between_messages_to_one_chat", "a number from 0 to 60", per_chat)
        per_chat = 1.0
    backup = c.mapping(root.get("backup"), "backup", required=False)
    daily = backup.get("daily", False)
    if not isinstance(daily, bool):
        c.fail("backup.daily", "true or false", daily)
        daily = False
    backup_dir = backup.get("dir")
    if backup_dir is not None and not (isinstance(backup_dir, str) and backup_dir.strip()):
        c.fail("backup.dir", "a folder path or nothing (null: <data_dir>/backups)", backup_dir)
        backup_dir = None
    health = c.mapping(root.get("health"), "health", required=False)
    health_port = c.integer(health.get("port"), "health.port", 0, 65535, 8081)
    raw_health_port = _env("SELVHJELP_HEALTH_PORT", env)
    if raw_health_port is not None:
        if raw_health_port.isdigit() and int(raw_health_port) <= 65535:
            health_port = int(raw_health_port)
        else:
            c.fail("SELVHJELP_HEALTH_PORT", "a port from 0 to 65535 (0: off)", raw_health_port)

    config = Config(
        token=_env("TELEGRAM_BOT_TOKEN", env),
        mode=mode,
        api_base_url=_env("TELEGRAM_API_BASE_URL", env) or (tg.get("api_base_url") or None),
        file_base_url=_env("TELEGRAM_FILE_BASE_URL", env) or (tg.get("file_base_url") or None),
        webhook=webhook,
        data_dir=Path(_env("SELVHJELP_DATA_DIR", env) or str(root.get("data_dir") or "data")),
        default_language=c.choice(
            root.get("default_language"), "default_language", LANGUAGES, "nb"
        ),
        crisis_numbers=tuple(numbers),
        min_count=c.integer(
            privacy.get("min_count"),
            "privacy.min_count",
            3,
            100,
            3,
            why_low="below 3, a count of 1 or 2 would be shown to coordinators and offices, and "
            "they often know who that is (docs/THREAT_MODEL.md; Statistics Norway uses 3)",
        ),
        retention_days=c.integer(
            privacy.get("retention_days"), "privacy.retention_days", 15, 3650, 180
        ),
        min_age=c.integer(privacy.get("min_age"), "privacy.min_age", 13, 120, 18),
        digest_weekday=c.choice(digest.get("weekday"), "digest.weekday", WEEKDAYS, "monday"),
        digest_time=digest_time,
        timezone=tz,
        regions=regions,
        admins=admins,
        coordinators=tuple(coordinators),
        offices=tuple(offices),
        secret_key=_env("SELVHJELP_SECRET_KEY", env),
        key_file=_key_file(c, root.get("key_file"), env),
        themes=themes,
        ready_at=c.integer(interest.get("ready_at"), "interest.ready_at", 2, 50, 5),
        reminder_days=c.integer(
            privacy.get("reminder_days_before_expiry"),
            "privacy.reminder_days_before_expiry",
            1,
            60,
            14,
        ),
        invite_days=c.integer(roles.get("invite_valid_days"), "roles.invite_valid_days", 1, 90, 7),
        send_rate=float(rate),
        per_chat_interval=float(per_chat),
        backup_daily=daily,
        backup_keep=c.integer(backup.get("keep"), "backup.keep", 1, 366, 7),
        backup_dir=Path(backup_dir.strip()) if isinstance(backup_dir, str) else None,
        health_listen=c.string(health.get("listen"), "health.listen", "127.0.0.1"),
        health_port=health_port,
    )
    if c.problems:
        raise ConfigError(source, c.problems)
    return config


def config_warnings(config: Config) -> list[str]:
    """Values that work but are probably not what was meant, one line each (check-config
    prints them as WARNING and still exits 0)."""
    warnings = []
    if not config.admins:
        warnings.append(
            "roles.admins: no admins: nobody can create role links (/invite), see /roles or "
            "hear of interest where there is no coordinator (unless granted by an earlier link)"
        )
    if not config.coordinators:
        warnings.append(
            "roles.coordinators: no coordinators: nobody receives the weekly digest of people "
            "waiting (unless granted by an invite link)"
        )
    for i, n in enumerate(config.crisis_numbers):
        if not _PHONE_RE.match(n.number) or sum(ch.isdigit() for ch in n.number) < 3:
            warnings.append(
                f"crisis.numbers[{i}].number: {n.number!r} does not look like a phone number "
                "(digits and spaces, perhaps a + first, at least 3 digits); it is shown as "
                "written to people in crisis"
            )
    for i, r in enumerate(config.regions):
        if not r.municipalities:
            warnings.append(
                f"regions[{i}].municipalities: region {r.id!r} has no municipalities: nobody "
                "can choose it, and its office's announcements reach nobody"
            )
    return warnings


def load_config(
    path: str | Path = "config.yaml", environ: Mapping[str, str] | None = None
) -> Config:
    """Read and validate config.yaml; unreadable or invalid YAML is a ConfigError too."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(source, [f"(file): cannot read it ({exc.strerror})"]) from exc
    try:
        raw = yaml_strict.load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        problem = f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})"
        raise ConfigError(source, [problem]) from exc
    return parse_config(raw, environ, source)
