"""The verdict, the narrated replay, workshop mode (quiz, lab up) and the HTML report, with real curl."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from lab.apps.workshop import Guess, QuizInputError, parse_guess, score
from lab.explain.verdict import explain_result
from lab.model import deciders, scenario
from lab.model.outcome import CurlResult, compare, compare_decider
from lab.paths import ROOT
from tests.conftest import LabFactory, curls
from tests.conftest import run_lab as _lab
from tests.explain_checks import contradictions


@pytest.mark.parametrize("path", scenario.catalog(), ids=lambda p: p.stem)
async def test_every_step_decided_as_its_scenario_says(lab: LabFactory, path: Path) -> None:
    """`decided_by` of every step holds with real curl, and the lesson names that decider and no other.

    Every step runs with each curl (the default one and curl 8 from `make curl8`, when fetched) in one lab:
    every expectation and every explanation must hold with both."""
    loaded = scenario.load(path)
    async with lab(str(path)) as runner:
        for step in loaded.steps:
            assert step.expect.decided_by is not None, f"step {step.number} has no decided_by"
            assert set(deciders.claims(step.lesson)) == {step.expect.decided_by}, step.lesson
            for curl in curls():
                result = await runner.run(step.argv, curl=curl)
                assert result.curl == curl
                _, verdict = explain_result(loaded, result)
                with_curl = f"{step.run} with {curl.version}"
                assert compare(step.expect, result) + compare_decider(step.expect, verdict.decisive) == [], with_curl
                assert contradictions(loaded, result, verdict) == [], with_curl
                assert verdict.drift == (), with_curl


def _result(reached: str | None, code: int) -> CurlResult:
    from lab.model.events import ResponseSent
    from lab.protocols import curlv

    events = (ResponseSent(host=reached, status=200),) if reached else ()
    return CurlResult(
        argv=("curl",), env={}, exit_code=code, stdout="", stderr="", verbose=curlv.parse(""), events=events, duration=0
    )


def test_quiz_reads_and_scores_answers() -> None:
    choices = ("glb", "old", "none")
    assert parse_guess("OLD\n", " 0\n", choices) == Guess(reached="old", exit_code=0)
    assert parse_guess("\n", "\n", choices) == Guess(reached=None, exit_code=None)
    with pytest.raises(QuizInputError, match="expected one of: glb, old, none"):
        parse_guess("proxy", "0", choices)
    with pytest.raises(QuizInputError, match="expected a number"):
        parse_guess("old", "zero", choices)
    assert score(Guess(reached="old", exit_code=0), _result("old", 0))[0] == 2
    points, line = score(Guess(reached="glb", exit_code=35), _result(None, 35))
    assert points == 1
    assert "it was none" in line


@pytest.fixture(scope="module")
def quiz_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, int]:
    """`lab run proxy-resolve --quiz --report` fed from stdin: right answers except one wrong host."""
    loaded = scenario.load("proxy-resolve")
    answers = []
    expected = 0
    for i, step in enumerate(loaded.steps):
        host = step.expect.reached or "none"
        if i == 1:
            host = next(h for h in loaded.hosts if h != host)  # the learner believes --resolve still holds
        else:
            expected += 1
        answers += [host, str(step.expect.exit)]
        expected += 1
    report = tmp_path_factory.mktemp("report") / "proxy-resolve.html"
    done = _lab("run", "proxy-resolve", "--quiz", "--report", str(report), stdin="\n".join(answers) + "\n")
    return done, report, expected


def test_quiz_scores_predictions_from_stdin(quiz_run: tuple[subprocess.CompletedProcess[str], Path, int]) -> None:
    done, _, expected = quiz_run
    assert done.returncode == 0, done.stderr
    total = 2 * len(scenario.load("proxy-resolve").steps)
    assert f"quiz score: {expected}/{total}" in done.stdout
    assert "Who will answer?" in done.stdout
    assert "\x1b[" not in done.stdout  # not a terminal: plain text


def test_narration_explains_proxy_resolve(quiz_run: tuple[subprocess.CompletedProcess[str], Path, int]) -> None:
    out = quiz_run[0].stdout
    assert "proxy DNS" in out
    assert "◀ decisive" in out
    assert "Proxy DNS decided" in out
    assert "--connect-to mydomain:443:88.88.88.88:443" in out  # what to change
    assert "unused" in out  # the --resolve entry curl never used


def test_run_json_has_one_object_per_step_with_the_explanation() -> None:
    done = _lab("run", "public-dns", "--json")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(records) == len(scenario.load("public-dns").steps)
    record = records[0]
    assert {"exit_code", "error", "reached", "tunnel", "proxy_env", "events"} <= set(record)
    assert record["explain"]["decisive"] == "client DNS"
    assert any(h["decisive"] for h in record["explain"]["hops"])


def test_exec_json_carries_the_same_explanation_as_run_json() -> None:
    done = _lab(
        "exec", "seed", "--json", "--", "curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", "https://mydomain"
    )
    record = json.loads(done.stdout.splitlines()[-1])
    explain = record["explain"]
    assert explain["decisive"] == "client-cert check"
    assert {"decisive", "lesson", "change", "hops"} <= set(explain)
    assert [h["key"] for h in explain["hops"] if h["decisive"]] == ["client-cert"]
    assert all({"key", "status", "text"} <= set(h) for h in explain["hops"])
    assert "--cert certs/client.crt" in explain["change"]


def test_a_step_whose_verdict_disagrees_fails_like_a_wrong_exit_code(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        'title = "t"\nstory = "s"\ntopology = "seed"\n[[steps]]\nrun = "curl -sS https://mydomain"\n'
        '[steps.expect]\nexit = 35\ndecided_by = "--resolve"\n'
    )
    done = _lab("run", str(wrong))
    assert done.returncode == 1
    assert "expected decisive hop --resolve, got client DNS" in done.stdout
    record = json.loads(_lab("run", str(wrong), "--json").stdout)
    assert record["ok"] is False
    assert record["problems"] == ["expected decisive hop --resolve, got client DNS"]


def test_piped_narrow_output_is_plain_and_fits() -> None:
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "lab", "run", "client-cert-problems"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "\x1b[" not in done.stdout
    for line in done.stdout.splitlines():
        assert line == line.rstrip(), repr(line)
        assert len(line) <= 80 or max(len(w) for w in line.split()) > 26, repr(line)
    assert "--key certs/rogue-client.key" in done.stdout  # an option never parted from its argument
    assert "◀ decisive" in done.stdout


def test_lab_up_explains_each_curl_typed() -> None:
    commands = (
        "curl -sS -o /dev/null --resolve mydomain:443:88.88.88.88 -x http://10.9.9.9:3128 https://mydomain\n"
        'echo "rc=$?"\n'
        "curl -sS https://mydomain\n"
        "exit 0\n"
    )
    done = _lab("up", "seed", stdin=commands)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "rc=0" in out
    assert out.index("Proxy DNS decided") < out.index("rc=0")  # explained before the next command ran
    assert "Client DNS decided" in out.split("rc=0")[1]


def _png_is_not_blank(data: bytes) -> bool:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    idat = b""
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8 : pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return len(set(pixels)) > 16  # text, colours and rules, not a single flat colour


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (make test installs the Debian package when run as root)"
)
def test_report_renders_offline_in_headless_chromium(
    quiz_run: tuple[subprocess.CompletedProcess[str], Path, int], tmp_path: Path
) -> None:
    report = quiz_run[1]
    html = report.read_text()
    assert "http://" not in html.split("<body>")[0]  # no external stylesheet, font or script
    assert "<script" not in html
    assert CHROMIUM is not None
    flags = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
    ]  # fmt: skip
    # The test process is inside the lab namespace: no network but loopback, so this proves "offline".
    dom = subprocess.run(
        [*flags, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Proxy DNS decided" in dom.stdout, dom.stderr[-2000:]
    assert "CONNECT mydomain:443" in dom.stdout
    assert "Load balancer log entries" in dom.stdout
    shot = tmp_path / "report.png"
    subprocess.run(
        [*flags, "--window-size=1200,1600", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert shot.exists()
    assert _png_is_not_blank(shot.read_bytes())
