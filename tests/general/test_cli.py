"""`python -m bot ask` and `python -m bot chat`: the real bot, offline, from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support import ROOT


def run_bot(
    args: list[str], tmp_path: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SELVHJELP_DATA_DIR": str(tmp_path / "data"),
        "PYTHONIOENCODING": "utf-8",
    }  # deliberately no TELEGRAM_BOT_TOKEN
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    lines = [line for line in stdout.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed


def test_ask_one_question(tmp_path: Path) -> None:
    result = run_bot(["ask", "--lang", "nb", "hva koster det"], tmp_path)
    assert result.returncode == 0, result.stderr
    [answer] = json_lines(result.stdout)
    assert answer["question"] == "hva koster det"
    assert answer["topic"] == "cost"
    assert answer["answer"].startswith("Det er gratis.")
    assert isinstance(answer["confidence"], float)
    assert 0.0 < answer["confidence"] <= 1.0
    assert answer["kind"] == "answer"
    assert answer["lang"] == "nb"
    assert answer["crisis"] is False
    # It ran against the data folder it was given, not the repository's.
    assert (tmp_path / "data-key" / "secret.key").exists()  # the key beside it, not in it


def test_ask_answers_each_argument_as_its_own_question(tmp_path: Path) -> None:
    # Like lines on stdin: one JSON object per argument, in order (blank ones skipped).
    result = run_bot(["ask", "what does it cost", " ", "hva koster det"], tmp_path)
    assert result.returncode == 0, result.stderr
    first, second = json_lines(result.stdout)
    assert first["question"] == "what does it cost"
    assert first["topic"] == "cost"
    assert first["lang"] == "en"
    assert first["answer"].startswith("It's free.")
    assert second["question"] == "hva koster det"
    assert second["topic"] == "cost"


def test_ask_reads_one_question_per_line_in_order(tmp_path: Path) -> None:
    questions = ["hva koster det", "what does it cost", "jeg orker ikke mer"]
    result = run_bot(["ask"], tmp_path, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    answers = json_lines(result.stdout)
    assert [a["question"] for a in answers] == questions
    assert [a["topic"] for a in answers[:2]] == ["cost", "cost"]
    assert answers[2]["crisis"] is True
    assert answers[2]["kind"] == "crisis"
    assert "113" in answers[2]["answer"]


def test_ask_reports_buttons_and_the_kind_of_crisis(tmp_path: Path) -> None:
    questions = [
        "hva koster det",
        "mannen min slår meg",
        "kan jeg bli med i en gruppe hvis jeg har selvmordstanker",
        "hva koster strøm i dag",
    ]
    result = run_bot(["ask", "--lang", "nb"], tmp_path, stdin="\n".join(questions) + "\n")
    assert result.returncode == 0, result.stderr
    cost, violence, check, offtopic = json_lines(result.stdout)
    assert cost["buttons"]  # related topics and "more topics", by their labels
    assert all(isinstance(b, str) and b for b in cost["buttons"])
    assert cost["buttons"][-1] == "📚 Flere temaer"
    assert (violence["crisis"], violence["crisis_kind"], violence["kind"]) == (
        True,
        "violence",
        "crisis",
    )
    assert "112" in violence["answer"]
    assert "116 006" in violence["answer"]
    assert violence["buttons"] == []
    # The gentle check comes first, and then the answer to the question, in one line.
    assert (check["crisis"], check["crisis_tier"]) == (True, "check")
    assert check["kind"] != "crisis"
    assert "116 123" in check["answer"]
    assert offtopic["kind"] == "decline"
    assert offtopic["crisis"] is False


def test_ask_skips_blank_lines(tmp_path: Path) -> None:
    result = run_bot(["ask", "--lang", "en"], tmp_path, stdin="\n  \nwhat does it cost\n\n")
    assert result.returncode == 0, result.stderr
    assert [a["question"] for a in json_lines(result.stdout)] == ["what does it cost"]


def test_chat_browses_the_faq(tmp_path: Path) -> None:
    result = run_bot(["chat"], tmp_path, stdin="/faq\n1\n/quit\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Hei, og velkommen!" in out
    for category in (
        "Om selvhjelpsgrupper",
        "Å bli med",
        "Møtene",
        "Prinsipper og regler",
        "Trygghet og personvern",
        "Organisasjoner",
    ):
        assert category in out
    # "1" pressed the first category: its topics are listed.
    assert "Om selvhjelpsgrupper: velg et spørsmål." in out
    assert "Hva koster det?" in out
    assert out.rstrip().endswith("Ha det bra!")


def test_chat_in_english(tmp_path: Path) -> None:
    result = run_bot(["chat", "--lang", "en"], tmp_path, stdin="what does it cost\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Hi, and welcome!" in result.stdout
    assert "It's free." in result.stdout


def test_chat_treats_numbers_it_cannot_press_as_text(tmp_path: Path) -> None:
    # "²" counts as a digit to Python but is no button number; 9 is out of range.
    result = run_bot(["chat"], tmp_path, stdin="²\n9\n1\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Hva vil du vite mer om?" in result.stdout  # "1" still pressed "browse the topics"
    assert result.stdout.rstrip().endswith("Ha det bra!")


def test_no_command_and_no_token_opens_the_chat(tmp_path: Path) -> None:
    result = run_bot([], tmp_path, stdin="/quit\n")
    assert result.returncode == 0, result.stderr
    assert "Hei, og velkommen!" in result.stdout


def test_run_without_a_token_explains_what_to_do(tmp_path: Path) -> None:
    result = run_bot(["run"], tmp_path)
    assert result.returncode != 0
    assert "TELEGRAM_BOT_TOKEN" in result.stderr
    assert "python -m bot chat" in result.stderr
