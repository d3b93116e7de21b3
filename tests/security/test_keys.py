"""The secret key: strength rules, atomic creation, where it lives, and owner-only files."""

from __future__ import annotations

import base64
import logging
import multiprocessing
import os
import secrets
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.composition import DATABASE_NAME, create_services
from bot.security.file_modes import make_private_folder
from bot.security.secret_key import (
    KEY_FILE_NAME,
    MIN_BITS,
    SecretKeyError,
    check_configured_key,
    default_key_file,
    estimated_bits,
    key_problem,
    load_or_create_key,
)
from bot.storage import Storage
from tests.support import CONFIG_PATH, ROOT, load_repo_config

STRONG = "9d4c1f7a2b8e6d3c0f5a9b1e7c4d2a8f6b3e0c9d5a1f7b4e2c8d6a0f3b9e5c1d"
WEAK_KEYS = [
    "selvhjelp2026",
    "changeme",
    "k" * 40,
    "selvhjelp2026" * 3,
    "password" * 4,
    "0" * 64,
    "0123456789abcdef" * 4,
    "abcdefghijklmnopqrstuvwxyz0123456789",
    "aB3" * 12,
    "thisisaverylongpassphrasewithoutanyspaces",
    "correct horse battery staple lyngen fjord",
    "Selvhjelp-Telegram-Secret-Key-2026!!",
]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def old(path: Path) -> None:
    """Date the file back, as if a crash had left it long ago (no wait for a writer)."""
    past = time.time() - 3600
    os.utime(path, (past, past))


# --- strength -------------------------------------------------------------------------------


@pytest.mark.parametrize("weak", WEAK_KEYS)
def test_weak_or_short_configured_keys_are_refused_without_quoting_them(weak: str) -> None:
    with pytest.raises(SecretKeyError) as refused:
        check_configured_key(weak)
    message = str(refused.value)
    assert "SELVHJELP_SECRET_KEY" in message
    assert "too short" in message or "too weak" in message
    assert weak not in message
    assert "secrets.token_hex(32)" in message  # says how to make a good one


def test_the_rule_is_32_characters_and_128_bits() -> None:
    assert "too short" in (key_problem("x7#Kq9!mZ2@vL4$") or "")
    assert estimated_bits("k" * 40) < MIN_BITS
    assert key_problem("") == "is empty"


@pytest.mark.parametrize(
    "make",
    [
        lambda: secrets.token_hex(32),
        lambda: secrets.token_urlsafe(32),
        lambda: base64.b64encode(os.urandom(32)).decode(),
    ],
    ids=["hex", "urlsafe", "base64"],
)
def test_random_keys_of_32_bytes_are_always_accepted(make: object) -> None:
    assert callable(make)
    for _ in range(1000):
        key = make()
        assert key_problem(key) is None, key
        assert estimated_bits(key) > 170  # far from the limit: never refused by bad luck
    for _ in range(500):  # base32 (upper case letter runs) is accepted too, with less margin
        assert key_problem(base64.b32encode(os.urandom(32)).decode()) is None


def test_a_strong_configured_key_is_used_as_is_and_no_file_is_made(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert load_or_create_key(data, STRONG) == STRONG.encode()
    assert not default_key_file(data).exists()
    assert not (data / KEY_FILE_NAME).exists()


# --- the key file ---------------------------------------------------------------------------


def test_the_key_lives_beside_the_data_folder_not_in_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    key = load_or_create_key(data, None)
    assert default_key_file(data) == tmp_path / "data-key" / KEY_FILE_NAME
    assert (tmp_path / "data-key" / KEY_FILE_NAME).read_bytes() == key
    assert not (data / KEY_FILE_NAME).exists()
    assert len(key) == 64
    assert key_problem(key.decode()) is None
    assert mode(tmp_path / "data-key") == 0o700
    assert mode(tmp_path / "data-key" / KEY_FILE_NAME) == 0o600
    assert load_or_create_key(data, None) == key  # generated once
    assert [p.name for p in (tmp_path / "data-key").iterdir()] == [KEY_FILE_NAME]  # no temp


def test_default_key_file_of_relative_and_odd_folders(tmp_path: Path) -> None:
    assert default_key_file(Path("data")) == Path.cwd() / "data-key" / KEY_FILE_NAME
    assert default_key_file(tmp_path / "x" / "..") == tmp_path.parent / (
        f"{tmp_path.name}-key/{KEY_FILE_NAME}"
    )


def test_an_explicit_key_file_is_used(tmp_path: Path) -> None:
    chosen = tmp_path / "secrets" / "bot.key"
    key = load_or_create_key(tmp_path / "data", None, chosen)
    assert chosen.read_bytes() == key
    assert not default_key_file(tmp_path / "data").exists()


@pytest.mark.parametrize("content", [b"", b"\n", b"   \n"])
def test_an_empty_key_file_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = default_key_file(tmp_path / "data")
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    old(path)
    with pytest.raises(SecretKeyError, match=r"is empty.*will not make a new key"):
        load_or_create_key(tmp_path / "data", None)
    assert path.read_bytes() == content  # never regenerated over (that would orphan everyone)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"3f9a1c", "too short"),
        (STRONG[:20].encode(), "too short"),  # part of a key: a torn write
        (b"a" * 64, "too weak"),
        (b"selvhjelp2026selvhjelp2026selvhjelp2026", "too weak"),
    ],
)
def test_a_short_or_weak_key_file_is_refused(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "key" / KEY_FILE_NAME
    path.parent.mkdir()
    path.write_bytes(content)
    old(path)
    with pytest.raises(SecretKeyError, match=problem) as refused:
        load_or_create_key(tmp_path / "data", None, path)
    assert content.decode() not in str(refused.value)
    assert path.read_bytes() == content


def test_a_raw_binary_key_file_and_a_trailing_newline_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "raw.key"
    raw = b"\x00" + os.urandom(32) + b"\xff"  # stripping whitespace must not leave it short
    path.write_bytes(raw)
    assert load_or_create_key(tmp_path / "data", None, path) == raw.strip()
    path.write_bytes(STRONG.encode() + b"\n")
    assert load_or_create_key(tmp_path / "data", None, path) == STRONG.encode()


def test_a_key_file_still_being_written_is_waited_for(tmp_path: Path) -> None:
    """Where hard links are unsupported a writer creates, then writes: a fresh empty file."""
    path = tmp_path / "key" / KEY_FILE_NAME
    path.parent.mkdir()
    path.write_bytes(b"")
    writer = threading.Timer(0.3, path.write_bytes, (STRONG.encode(),))
    writer.start()
    try:
        assert load_or_create_key(tmp_path / "data", None, path) == STRONG.encode()
    finally:
        writer.join()


def test_a_loose_key_file_is_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "key" / KEY_FILE_NAME
    path.parent.mkdir()
    path.write_bytes(STRONG.encode())
    path.chmod(0o644)
    assert load_or_create_key(tmp_path / "data", None, path) == STRONG.encode()
    assert mode(path) == 0o600


def test_creation_without_hard_links_still_makes_one_complete_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    key = load_or_create_key(tmp_path / "data", None)
    assert default_key_file(tmp_path / "data").read_bytes() == key
    assert mode(default_key_file(tmp_path / "data")) == 0o600
    assert [p.name for p in default_key_file(tmp_path / "data").parent.iterdir()] == [
        KEY_FILE_NAME
    ]


# --- many creators at once ------------------------------------------------------------------


def _create_in_thread(
    data: Path, barrier: threading.Barrier, results: list[bytes | BaseException]
) -> None:
    barrier.wait()
    try:
        results.append(load_or_create_key(data, None))
    except Exception as exc:  # reported by the test
        results.append(exc)


def test_many_threads_creating_at_once_end_with_one_key(tmp_path: Path) -> None:
    for trial in range(15):
        data = tmp_path / f"t{trial}" / "data"
        barrier = threading.Barrier(12)
        results: list[bytes | BaseException] = []
        args = (data, barrier, results)
        threads = [threading.Thread(target=_create_in_thread, args=args) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(results)) == 1, results
        [key] = set(results)
        assert isinstance(key, bytes)
        assert len(key) == 64
        assert default_key_file(data).read_bytes() == key


def _create_in_process(data: str, barrier: object, queue: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        queue.put(load_or_create_key(Path(data), None))  # type: ignore[attr-defined]
    except SecretKeyError as exc:
        queue.put(f"refused: {exc}")  # type: ignore[attr-defined]


def test_many_processes_starting_at_once_end_with_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")  # like two bots started at once on one server
    for trial in range(6):
        data = tmp_path / f"p{trial}" / "data"
        barrier, queue = ctx.Barrier(6), ctx.Queue()
        procs = [
            ctx.Process(target=_create_in_process, args=(str(data), barrier, queue))
            for _ in range(6)
        ]
        for p in procs:
            p.start()
        keys = [queue.get(timeout=30) for _ in procs]
        for p in procs:
            p.join(timeout=30)
        assert len(set(keys)) == 1, keys
        assert isinstance(keys[0], bytes)
        assert len(keys[0]) == 64
        assert default_key_file(data).read_bytes() == keys[0]


# --- the old place --------------------------------------------------------------------------


def test_a_key_in_the_old_place_is_still_used_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / KEY_FILE_NAME).write_bytes(STRONG.encode())
    with caplog.at_level(logging.WARNING, logger="selvhjelp.keys"):
        assert load_or_create_key(data, None) == STRONG.encode()
        assert load_or_create_key(data, None) == STRONG.encode()
    assert not default_key_file(data).exists()  # nothing new made: registrations stay found
    warnings = [r for r in caplog.records if r.name == "selvhjelp.keys"]
    assert len(warnings) == 1
    assert "inside the data folder" in warnings[0].getMessage()
    assert STRONG not in warnings[0].getMessage()
    # Once moved to the new place, that one wins.
    moved = default_key_file(data)
    moved.parent.mkdir()
    (data / KEY_FILE_NAME).rename(moved)
    assert load_or_create_key(data, None) == STRONG.encode()


def test_an_empty_key_in_the_old_place_is_refused_not_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / KEY_FILE_NAME).write_bytes(b"")
    old(data / KEY_FILE_NAME)
    with pytest.raises(SecretKeyError, match="is empty"):
        load_or_create_key(data, None)
    assert not default_key_file(data).exists()


# --- configuration --------------------------------------------------------------------------


def test_key_file_setting_and_its_environment_override(tmp_path: Path) -> None:
    import yaml

    from bot.config import parse_config

    raw = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
    assert parse_config(raw, {}, "c").key_file is None
    raw["key_file"] = "/srv/selvhjelp-key/secret.key"
    assert parse_config(raw, {}, "c").key_file == Path("/srv/selvhjelp-key/secret.key")
    env = {"SELVHJELP_KEY_FILE": str(tmp_path / "k")}
    assert parse_config(raw, env, "c").key_file == tmp_path / "k"


async def test_services_refuse_a_weak_key_before_opening_the_database(tmp_path: Path) -> None:
    import dataclasses

    config = dataclasses.replace(load_repo_config(tmp_path / "data"), secret_key="selvhjelp2026")
    with pytest.raises(SecretKeyError):
        await create_services(config)
    assert not (tmp_path / "data" / DATABASE_NAME).exists()


def run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", [["run"], ["check-config"]])
def test_the_cli_refuses_a_weak_key_in_one_line(tmp_path: Path, command: list[str]) -> None:
    result = run_cli(
        command, tmp_path, SELVHJELP_SECRET_KEY="selvhjelp2026", TELEGRAM_BOT_TOKEN="1:x"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("secret key: SELVHJELP_SECRET_KEY is too short")
    assert "selvhjelp2026" not in result.stderr + result.stdout


def test_the_cli_refuses_an_empty_key_file(tmp_path: Path) -> None:
    key = default_key_file(tmp_path / "data")
    key.parent.mkdir(parents=True)
    key.write_bytes(b"")
    old(key)
    result = run_cli(["ask", "hei"], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"the key file {key} is empty" in result.stderr
    assert key.read_bytes() == b""


# --- owner-only database files --------------------------------------------------------------


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("usual_umask")
async def test_database_files_are_owner_only_after_open(tmp_path: Path) -> None:
    data = tmp_path / "data"
    storage = await Storage.open(data / DATABASE_NAME, time.time)
    try:
        await storage.set_flow("someone", "interest", {"step": 1})  # a write: -wal and -shm
        files = sorted(p.name for p in data.iterdir())
        assert files == [DATABASE_NAME, f"{DATABASE_NAME}-shm", f"{DATABASE_NAME}-wal"]
        assert mode(data) == 0o700
        for name in files:
            assert mode(data / name) == 0o600, name
    finally:
        await storage.close()


@pytest.mark.usefixtures("usual_umask")
async def test_an_old_deployment_is_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    first = await Storage.open(data / DATABASE_NAME, time.time)
    await first.close()
    for name in (DATABASE_NAME, f"{DATABASE_NAME}-wal", f"{DATABASE_NAME}-shm"):
        (data / name).touch()
        (data / name).chmod(0o644)
    services = await create_services(load_repo_config(data))
    try:
        assert mode(data) == 0o700
        for path in data.iterdir():
            assert mode(path) == 0o600, path.name
        assert mode(default_key_file(data)) == 0o600
        assert mode(default_key_file(data).parent) == 0o700
    finally:
        await services.storage.close()


def test_a_shared_folder_is_never_tightened(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # like /tmp
    make_private_folder(shared)
    assert mode(shared) == 0o1777
