"""config.yaml: the sample is valid; a broken file names every bad key and what was expected."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import Config, ConfigError, load_config, parse_config
from bot.content import Content
from bot.poster.deep_links import parse_start_payload, start_link
from tests.support import CONFIG_PATH, ROOT

Raw = dict[str, Any]


@pytest.fixture
def raw() -> Raw:
    """A fresh copy of the repository's config.yaml as plain data."""
    data = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def problems_of(raw: Raw, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, environ or {}, "config.yaml")
    assert caught.value.source == "config.yaml"
    return caught.value.problems


def write_yaml(path: Path, raw: Raw) -> Path:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


# --- the sample deployment -----------------------------------------------------------------------


def test_repository_config_is_valid() -> None:
    config = load_config(CONFIG_PATH, environ={})
    assert config.mode == "polling"
    assert config.token is None
    assert config.api_base_url is None
    assert config.default_language == "nb"
    assert [n.number for n in config.crisis_numbers_for("suicide")] == [
        "113",
        "116 117",
        "116 123",
        "22 40 00 40",
    ]
    assert [n.number for n in config.crisis_numbers_for("violence")] == [
        "112",
        "113",
        "116 006",
        "116 111",
    ]
    assert "22 59 13 00" in [n.number for n in config.crisis_numbers_for("medical")]
    assert [r.id for r in config.regions] == ["nord-norge", "innlandet", "oslo"]
    assert len(config.municipalities) == 12
    assert config.municipality_by_code("lyngen") is not None
    assert config.timezone == "Europe/Oslo"
    assert config.digest_time == "08:00"
    assert config.min_count == 3
    assert config.retention_days == 180
    assert config.data_dir == Path("data")


def test_every_sample_municipality_has_a_working_deep_link() -> None:
    config = load_config(CONFIG_PATH, environ={})
    for muni in config.municipalities:
        for lang in (None, "nb", "en"):
            payload = start_link("selvhjelp_bot", muni, lang).rsplit("=", 1)[1]
            parsed = parse_start_payload(payload, config)
            assert parsed is not None, payload
            assert parsed.municipality == muni
            assert parsed.lang == lang


def test_sample_crisis_numbers_have_labels(content: Content) -> None:
    config = load_config(CONFIG_PATH, environ={})
    for number in config.crisis_numbers:
        for lang in ("nb", "en"):
            assert content.has(lang, f"crisis.number.{number.key}"), (lang, number.key)


# --- broken files: one line per problem, with the key path ---------------------------------------


def test_municipalities_not_a_list(raw: Raw) -> None:
    raw["regions"][0]["municipalities"] = 7
    problems = problems_of(raw)
    assert problems[0] == "regions[0].municipalities: expected a list of municipalities, got 7"
    # Each problem is one line.
    assert all("\n" not in p for p in problems)


def test_bad_timezone(raw: Raw) -> None:
    raw["digest"]["timezone"] = "Europe/Nowhere"
    assert problems_of(raw) == [
        "digest.timezone: expected an IANA time zone such as Europe/Oslo, got 'Europe/Nowhere'"
    ]


def test_timezone_that_is_a_path_is_refused(raw: Raw) -> None:
    raw["digest"]["timezone"] = "../../etc/passwd"
    assert problems_of(raw) == [
        "digest.timezone: expected an IANA time zone such as Europe/Oslo, got '../../etc/passwd'"
    ]


@pytest.mark.parametrize(
    ("value", "shown"),
    [("25:00", "'25:00'"), ("8", "'8'"), (480, "480"), ("08:60", "'08:60'")],
)
def test_bad_time(raw: Raw, value: object, shown: str) -> None:
    raw["digest"]["time"] = value
    assert problems_of(raw) == [f'digest.time: expected a time as "HH:MM" in quotes, got {shown}']


def test_unquoted_time_read_by_yaml_as_a_number_is_explained(tmp_path: Path) -> None:
    # YAML 1.1 reads 8:00 as the number 480: the message must say to use quotes.
    text = CONFIG_PATH.read_text(encoding="utf-8").replace('time: "08:00"', "time: 8:00")
    assert "time: 8:00" in text
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == ['digest.time: expected a time as "HH:MM" in quotes, got 480']


def test_coordinator_naming_an_unknown_municipality(raw: Raw) -> None:
    raw["roles"]["coordinators"][1]["municipalities"] = ["Alta", "Atlantis"]
    assert problems_of(raw) == [
        "roles.coordinators[1].municipalities[1]: "
        "expected a municipality listed under regions, got 'Atlantis'"
    ]


def test_office_naming_an_unknown_region(raw: Raw) -> None:
    raw["roles"]["offices"][0]["region"] = "mars"
    assert problems_of(raw) == [
        "roles.offices[0].region: expected a region id listed under regions, got 'mars'"
    ]


def test_several_problems_are_all_reported_at_once(raw: Raw) -> None:
    raw["digest"]["timezone"] = "Mars/Olympus"
    raw["digest"]["weekday"] = "Monday"
    raw["default_language"] = "de"
    raw["privacy"]["min_count"] = 0
    raw["roles"]["admins"] = ["abc"]
    problems = problems_of(raw)
    assert problems == [
        "digest.timezone: expected an IANA time zone such as Europe/Oslo, got 'Mars/Olympus'",
        "roles.admins[0]: expected a whole number from 1 to 9007199254740992, got 'abc'",
        "default_language: expected one of nb, en, got 'de'",
        "privacy.min_count: expected a whole number from 3 to 100, got 0; below 3, a count of 1 "
        "or 2 would be shown to coordinators and offices, and they often know who that is "
        "(docs/THREAT_MODEL.md; Statistics Norway uses 3)",
        "digest.weekday: expected one of monday, tuesday, wednesday, thursday, friday, "
        "saturday, sunday, got 'Monday'",
    ]


def test_duplicate_municipality(raw: Raw) -> None:
    raw["regions"][1]["municipalities"].append({"name": "Lyngen", "code": "lyngen"})
    assert problems_of(raw) == [
        "regions[1].municipalities[3].code: expected a code no other municipality uses, "
        "got 'lyngen'",
        "regions[1].municipalities[3].name: expected a municipality listed only once, "
        "got 'Lyngen'",
    ]


def test_bad_deep_link_code(raw: Raw) -> None:
    raw["regions"][0]["municipalities"][0]["code"] = "Lyngen Kommune"
    assert problems_of(raw) == [
        "regions[0].municipalities[0].code: expected a short code of a-z, 0-9 and '-' "
        "(at most 24), got 'Lyngen Kommune'"
    ]


def test_duplicate_region_id(raw: Raw) -> None:
    # Offices and coordinators find regions by id: two regions with one id make that ambiguous.
    raw["regions"][1]["id"] = "nord-norge"
    problems = problems_of(raw)
    assert any(p.startswith("regions[1].id: ") for p in problems), problems


def test_empty_crisis_numbers(raw: Raw) -> None:
    raw["crisis"]["numbers"] = []
    assert problems_of(raw) == ["crisis.numbers: expected at least one emergency number, got []"]


def test_a_crisis_number_for_an_unknown_kind(raw: Raw) -> None:
    raw["crisis"]["numbers"][0]["for"] = ["danger"]
    problems = problems_of(raw)
    assert any(p.startswith("crisis.numbers[0].for: expected a list of kinds") for p in problems)


def test_every_kind_of_crisis_needs_a_number(raw: Raw) -> None:
    raw["crisis"]["numbers"] = [{"key": "police", "number": "112", "for": ["violence"]}]
    problems = problems_of(raw)
    assert "crisis.numbers: expected at least one number for suicide" in problems[0]


def test_missing_crisis_section(raw: Raw) -> None:
    del raw["crisis"]
    problems = problems_of(raw)
    assert problems[0] == "crisis: expected a mapping of keys, got nothing"


def test_webhook_mode_needs_https(raw: Raw) -> None:
    raw["telegram"]["mode"] = "webhook"
    raw["telegram"]["webhook"]["public_url"] = "http://example.org/telegram"
    secret = {"TELEGRAM_WEBHOOK_SECRET": "s" * 32}
    assert problems_of(raw, secret) == [
        "telegram.webhook.public_url: expected an https:// URL in webhook mode, "
        "got 'http://example.org/telegram'"
    ]


def test_webhook_mode_needs_a_secret(raw: Raw) -> None:
    raw["telegram"]["mode"] = "webhook"
    for environ in ({}, {"TELEGRAM_WEBHOOK_SECRET": "short"}):
        [problem] = problems_of(raw, environ)
        assert problem.startswith(
            "telegram.mode: expected webhook mode with TELEGRAM_WEBHOOK_SECRET"
        )
    good = parse_config(raw, {"TELEGRAM_WEBHOOK_SECRET": "a" * 24}, "config.yaml")
    assert good.webhook.secret_token == "a" * 24


def test_long_values_are_shortened_in_the_message(raw: Raw) -> None:
    raw["digest"]["timezone"] = "x" * 500
    [problem] = problems_of(raw)
    assert problem.startswith("digest.timezone: expected an IANA time zone")
    assert len(problem) < 140
    assert problem.endswith("...")


def test_top_level_not_a_mapping() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(["not", "a", "mapping"], {}, "config.yaml")
    assert caught.value.problems[0] == (
        "(top level): expected a mapping of keys, got ['not', 'a', 'mapping']"
    )


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("telegram:\n  mode: polling\nregions: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.source == str(path)
    [problem] = caught.value.problems
    assert problem.startswith("line ")
    assert "not valid YAML" in problem


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == ["(file): cannot read it (No such file or directory)"]
    assert str(path) in str(caught.value)


# --- environment overrides -----------------------------------------------------------------------


def test_environment_overrides(raw: Raw) -> None:
    raw["telegram"]["api_base_url"] = "https://config.example/bot"
    env = {
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:8081/bot",
        "TELEGRAM_FILE_BASE_URL": "http://127.0.0.1:8081/file/bot",
        "TELEGRAM_BOT_TOKEN": "123456:secret-token",
        "SELVHJELP_DATA_DIR": "/srv/selvhjelp",
        "SELVHJELP_SECRET_KEY": "k" * 40,
    }
    config = parse_config(raw, env)
    assert config.api_base_url == "http://127.0.0.1:8081/bot"
    assert config.file_base_url == "http://127.0.0.1:8081/file/bot"
    assert config.token == "123456:secret-token"
    assert config.data_dir == Path("/srv/selvhjelp")
    assert config.secret_key == "k" * 40
    # Secrets never show up when a Config is printed (tracebacks, test output, debugging).
    assert "k" * 40 not in repr(config)
    assert "secret-token" not in repr(config)


def test_config_values_apply_without_environment(raw: Raw) -> None:
    raw["telegram"]["api_base_url"] = "https://config.example/bot"
    raw["data_dir"] = "/var/lib/selvhjelp"
    config = parse_config(raw, {})
    assert config.api_base_url == "https://config.example/bot"
    assert config.data_dir == Path("/var/lib/selvhjelp")
    assert config.token is None


def test_blank_environment_values_are_ignored(raw: Raw) -> None:
    config = parse_config(
        raw, {"TELEGRAM_BOT_TOKEN": "  ", "SELVHJELP_DATA_DIR": "", "TELEGRAM_API_BASE_URL": " "}
    )
    assert config.token is None
    assert config.data_dir == Path("data")
    assert config.api_base_url is None


def test_bad_api_base_url_in_config(raw: Raw) -> None:
    raw["telegram"]["api_base_url"] = "127.0.0.1:8081/bot"
    assert problems_of(raw) == [
        "telegram.api_base_url: expected an http:// or https:// URL or nothing, "
        "got '127.0.0.1:8081/bot'"
    ]


def test_fixture_config_uses_the_test_data_dir(config: Config, tmp_path: Path) -> None:
    assert config.data_dir == tmp_path


# --- python -m bot check-config ------------------------------------------------------------------


def run_cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONIOENCODING": "utf-8",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_accepts_the_sample(tmp_path: Path) -> None:
    result = run_cli("check-config", str(CONFIG_PATH), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout
    assert "12 municipalities" in result.stdout


def test_check_config_prints_one_line_per_problem(raw: Raw, tmp_path: Path) -> None:
    raw["regions"][0]["municipalities"] = 7
    raw["digest"]["timezone"] = "Europe/Nowhere"
    raw["roles"]["offices"][0]["region"] = "mars"
    path = write_yaml(tmp_path / "broken.yaml", raw)
    result = run_cli("check-config", str(path), tmp_path=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert f"{path}: regions[0].municipalities: expected a list of municipalities, got 7" in lines
    assert (
        f"{path}: digest.timezone: expected an IANA time zone such as Europe/Oslo, "
        "got 'Europe/Nowhere'"
    ) in lines
    assert (
        f"{path}: roles.offices[0].region: expected a region id listed under regions, got 'mars'"
    ) in lines
    assert "Traceback" not in result.stderr


def test_check_config_on_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [1, 2\n", encoding="utf-8")
    result = run_cli("check-config", str(bad), tmp_path=tmp_path)
    assert result.returncode != 0
    assert result.stderr.startswith(f"{bad}: line ")
    assert "not valid YAML" in result.stderr

    missing = tmp_path / "missing.yaml"
    result = run_cli("check-config", str(missing), tmp_path=tmp_path)
    assert result.returncode != 0
    assert (
        result.stderr.strip() == f"{missing}: (file): cannot read it (No such file or directory)"
    )


def test_check_config_refuses_a_crisis_number_without_a_label(raw: Raw, tmp_path: Path) -> None:
    # Without a label in flows/<lang>/ui.yaml the crisis reply cannot be written at all, so a
    # deployer must hear about it before the first person in crisis does.
    raw["crisis"]["numbers"][0]["key"] = "alarm"
    path = write_yaml(tmp_path / "crisis.yaml", raw)
    result = run_cli("check-config", str(path), tmp_path=tmp_path)
    assert result.returncode != 0, result.stdout
    assert "crisis.numbers[0].key" in result.stderr
    assert "alarm" in result.stderr


# --- typos and risky values (issue 11) -----------------------------------------------------------


def rename(section: Raw, old: str, new: str) -> None:
    section[new] = section.pop(old)


@pytest.mark.parametrize(
    ("where", "old", "new", "problem"),
    [
        ("roles", "admins", "admin", "roles.admin: unknown key; did you mean admins?"),
        (
            "roles",
            "coordinators",
            "cordinators",
            "roles.cordinators: unknown key; did you mean coordinators?",
        ),
        (
            "privacy",
            "retention_days",
            "retension_days",
            "privacy.retension_days: unknown key; did you mean retention_days?",
        ),
        ("digest", "timezone", "timzone", "digest.timzone: unknown key; did you mean timezone?"),
        ("(top level)", "regions", "Regions", "Regions: unknown key; did you mean regions?"),
    ],
)
def test_a_misspelt_key_is_an_error_with_a_suggestion(
    raw: Raw, where: str, old: str, new: str, problem: str
) -> None:
    rename(raw if where == "(top level)" else raw[where], old, new)
    assert problem in problems_of(raw)


def test_misspelt_keys_in_list_items_name_the_item(raw: Raw) -> None:
    rename(raw["regions"][0]["municipalities"][1], "aliases", "alias")
    rename(raw["crisis"]["numbers"][2], "for", "fro")
    rename(raw["roles"]["coordinators"][1], "user_id", "userid")
    rename(raw["roles"]["offices"][0], "region", "regon")
    rename(raw["regions"][2], "office", "offfice")
    rename(raw["telegram"]["webhook"], "public_url", "publicurl")
    problems = problems_of(raw)
    for line in (
        "regions[0].municipalities[1].alias: unknown key; did you mean aliases?",
        "crisis.numbers[2].fro: unknown key; did you mean for?",
        "roles.coordinators[1].userid: unknown key; did you mean user_id?",
        "roles.offices[0].regon: unknown key; did you mean region?",
        "regions[2].offfice: unknown key; did you mean office?",
        "telegram.webhook.publicurl: unknown key; did you mean public_url?",
    ):
        assert line in problems, problems


def test_a_key_in_the_wrong_section_names_where_it_belongs(raw: Raw) -> None:
    raw["min_count"] = raw["privacy"].pop("min_count")
    raw["roles"]["retention_day"] = 90
    raw["roles"]["digest"] = {}
    problems = problems_of(raw)
    assert "min_count: unknown key here; did you mean privacy.min_count?" in problems
    assert (
        "roles.retention_day: unknown key here; did you mean privacy.retention_days?" in problems
    )
    assert "roles.digest: unknown key here; did you mean digest at the top level?" in problems


def test_an_unknown_key_without_a_near_one_lists_the_keys(raw: Raw) -> None:
    raw["sending"]["burst"] = 3
    raw["roles"][True] = [1]  # what YAML 1.1 makes of a bare `on:` or `yes:`
    problems = problems_of(raw)
    assert (
        "sending.burst: unknown key; the keys here are rate_per_second, "
        "seconds_between_messages_to_one_chat"
    ) in problems
    [yes] = [p for p in problems if p.startswith("roles.True")]
    assert "quote it" in yes


def test_unknown_keys_are_reported_with_every_other_problem(raw: Raw) -> None:
    rename(raw["roles"], "admins", "admin")
    rename(raw["privacy"], "retention_days", "retension_days")
    raw["digest"]["timezone"] = "Mars/Olympus"
    raw["privacy"]["min_count"] = 1
    problems = problems_of(raw)
    assert len(problems) == 4, problems
    assert "roles.admin: unknown key; did you mean admins?" in problems
    assert "privacy.retension_days: unknown key; did you mean retention_days?" in problems
    assert any(p.startswith("digest.timezone: ") for p in problems)
    assert any(p.startswith("privacy.min_count: ") for p in problems)


def test_every_key_of_the_sample_is_known() -> None:
    # Each part of the sample is a part _KEYS describes (a key the parser reads but _KEYS lacks
    # is an unknown-key error in the sample's own test above), and no part of it is missing.
    from bot.config import _INDEX_RE, _KEYS

    data = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    seen: dict[str, set[str]] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            seen.setdefault(_INDEX_RE.sub("[]", path), set()).update(node)
            for key, value in node.items():
                child = key if path == "(top level)" else f"{path}.{key}"
                walk(value, child)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}[{i}]")

    walk(data, "(top level)")
    assert set(seen) == set(_KEYS)
    for path, keys in seen.items():
        assert keys <= set(_KEYS[path]), path


def test_min_count_below_3_is_refused_and_says_why(raw: Raw) -> None:
    for low in (0, 1, 2):
        raw["privacy"]["min_count"] = low
        [problem] = problems_of(raw)
        assert problem.startswith(
            f"privacy.min_count: expected a whole number from 3 to 100, got {low}; below 3"
        )
        assert "docs/THREAT_MODEL.md" in problem
    raw["privacy"]["min_count"] = 101
    assert problems_of(raw) == [
        "privacy.min_count: expected a whole number from 3 to 100, got 101"
    ]
    raw["privacy"]["min_count"] = 3
    assert parse_config(raw, {}).min_count == 3


@pytest.mark.parametrize("number", ["11a", "1I3", "II6 123", "II3", "I13"])
def test_a_letter_in_a_crisis_number_is_an_error(raw: Raw, number: str) -> None:
    raw["crisis"]["numbers"][1]["number"] = number
    assert problems_of(raw) == [
        "crisis.numbers[1].number: expected a phone number of digits and spaces (a letter in it "
        f"cannot be dialled), got {number!r}"
    ]


def test_an_empty_crisis_number_entry_is_an_error(raw: Raw) -> None:
    raw["crisis"]["numbers"].append({})
    assert problems_of(raw) == ["crisis.numbers[9]: expected a number with key and number, got {}"]


def warnings_of(raw: Raw) -> list[str]:
    from bot.config import config_warnings

    return config_warnings(parse_config(raw, {}, "config.yaml"))


def test_the_sample_has_no_warnings(raw: Raw) -> None:
    assert warnings_of(raw) == []


def test_no_admins_and_no_coordinators_are_warnings(raw: Raw) -> None:
    raw["roles"]["admins"] = []
    del raw["roles"]["coordinators"]
    admins, coordinators = warnings_of(raw)
    assert admins.startswith("roles.admins: no admins")
    assert coordinators.startswith("roles.coordinators: no coordinators")
    assert "digest" in coordinators


@pytest.mark.parametrize(
    ("number", "warned"),
    [
        ("113", False),
        ("+47 22 40 00 40", False),
        (113, False),  # YAML reads a bare number as a number: still dialled the same
        ("11", True),
        ("+47", True),
        ("22-40-00-40", True),
        ("(22) 40 00 40", True),
        ("1+13", True),
    ],
)
def test_a_crisis_number_that_is_not_a_phone_number_is_a_warning(
    raw: Raw, number: object, warned: bool
) -> None:
    raw["crisis"]["numbers"][1]["number"] = number
    warnings = warnings_of(raw)
    if warned:
        [warning] = warnings
        assert warning.startswith(f"crisis.numbers[1].number: {number!r} does not look like")
    else:
        assert warnings == []


def test_a_region_without_municipalities_is_a_warning(raw: Raw) -> None:
    raw["regions"][2]["municipalities"] = []
    assert warnings_of(raw) == [
        "regions[2].municipalities: region 'oslo' has no municipalities: nobody can choose it, "
        "and its office's announcements reach nobody"
    ]


def test_check_config_names_the_typos_and_exits_1(raw: Raw, tmp_path: Path) -> None:
    rename(raw["roles"], "admins", "admin")
    rename(raw["roles"], "coordinators", "cordinators")
    rename(raw["privacy"], "retention_days", "retension_days")
    raw["privacy"]["min_count"] = 1
    raw["crisis"]["numbers"][1]["number"] = "11E"
    path = write_yaml(tmp_path / "typos.yaml", raw)
    result = run_cli("check-config", str(path), tmp_path=tmp_path)
    assert result.returncode == 1
    assert "OK" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert f"{path}: roles.admin: unknown key; did you mean admins?" in lines
    assert f"{path}: roles.cordinators: unknown key; did you mean coordinators?" in lines
    assert f"{path}: privacy.retension_days: unknown key; did you mean retention_days?" in lines
    assert any(line.startswith(f"{path}: privacy.min_count: ") for line in lines)
    assert any(line.startswith(f"{path}: crisis.numbers[1].number: ") for line in lines)
    assert len(lines) == 5, lines


def test_check_config_prints_warnings_and_exits_0(raw: Raw, tmp_path: Path) -> None:
    raw["roles"]["admins"] = []
    raw["roles"]["coordinators"] = []
    raw["crisis"]["numbers"][1]["number"] = "11-3"
    raw["regions"][2]["municipalities"] = []
    path = write_yaml(tmp_path / "risky.yaml", raw)
    result = run_cli("check-config", str(path), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 4, warnings
    assert all(w.startswith(f"{path}: WARNING: ") for w in warnings)
    assert result.stdout.strip() == (
        f"{path}: OK with 4 warnings, see above (11 municipalities, 3 regions)"
    )
    # The sample itself: OK with nothing on stderr.
    clean = run_cli("check-config", str(CONFIG_PATH), tmp_path=tmp_path)
    assert clean.returncode == 0
    assert clean.stderr == ""


def test_a_key_given_twice_names_the_line(tmp_path: Path) -> None:
    """A second `roles:` would otherwise drop every role above it without a word."""
    path = tmp_path / "config.yaml"
    path.write_text("telegram:\n  mode: polling\ntelegram:\n  mode: webhook\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    [problem] = caught.value.problems
    assert problem.startswith("line 3")
    assert "given twice" in problem
