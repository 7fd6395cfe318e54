"""Choosing the curl (--curl, LAB_CURL), reading which curl it is, version-aware expectations, and comparing
two curls on one scenario (with the system's curl and Debian's curl 8 from `make curl8`)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from lab.apps import importer
from lab.apps.compare import compare_curls
from lab.explain.curlchanges import differences
from lab.explain.curldiff import described
from lab.explain.verdict import explain_result
from lab.model import scenario
from lab.model.outcome import CurlBuild, CurlResult, compare
from lab.model.scenario import Expect
from lab.protocols import curlv, curlversion
from lab.protocols.curlversion import CurlVersion, NotCurlVersion
from lab.runtime import curlbin
from lab.runtime.curlbin import CurlChoiceError
from tests.conftest import LabFactory
from tests.conftest import run_lab as _lab

DATA = Path(__file__).parent / "data"


# -- which curl: curl --version and transcripts (pure) ---------------------------------------------------


@pytest.mark.parametrize(
    ("first_line", "version", "tls"),
    [
        ("curl 7.88.1 (x86_64-pc-linux-gnu) libcurl/7.88.1 OpenSSL/3.0.19 zlib/1.2.13 nghttp2/1.52.0", "7.88.1",
         "OpenSSL/3.0.19"),
        ("curl 8.7.1 (x86_64-apple-darwin23.0) libcurl/8.7.1 (SecureTransport) LibreSSL/3.3.6 zlib/1.2.12", "8.7.1",
         "LibreSSL/3.3.6"),  # a multi-TLS build: the bracketed back-end is not the one in use
        ("curl 8.15.0-DEV (x86_64-pc-linux-gnu) libcurl/8.15.0-DEV GnuTLS/3.8.9", "8.15.0", "GnuTLS/3.8.9"),
        ("curl 8.5.0 (x86_64-pc-linux-gnu) libcurl/8.5.0 zlib/1.3", "8.5.0", None),
    ],
)  # fmt: skip
def test_version_line(first_line: str, version: str, tls: str | None) -> None:
    parsed = curlversion.parse(first_line + "\nRelease-Date: 2025-06-04\nProtocols: http https\n")
    assert (parsed.version, parsed.tls) == (version, tls)


@pytest.mark.parametrize("text", ["", "Usage: true [ignored command line arguments]", "wget 1.21"])
def test_not_a_curl_version(text: str) -> None:
    with pytest.raises(NotCurlVersion, match=r"expected 'curl X\.Y\.Z"):
        curlversion.parse(text)


def test_transcript_curl_libressl_from_the_seed() -> None:
    found = curlversion.from_transcript((DATA / "seed-transcript-trimmed.txt").read_text())
    assert found.version is None  # the trimmed chat has no request headers
    assert found.tls == "LibreSSL"
    assert "LibreSSL SSL_connect" in (found.tls_evidence or "")  # a named library beats a "(304)" line


def test_transcript_curl_788_from_its_user_agent() -> None:
    found = curlversion.from_transcript((DATA / "curl788-openssl.txt").read_bytes().decode())
    assert found.version == "7.88.1"
    assert found.version_evidence == "line 106: > user-agent: curl/7.88.1"


def test_transcript_tls_library_with_its_version_wins() -> None:
    text = (
        "* (304) (OUT), TLS handshake, Client hello (1):\n> User-Agent: curl/8.7.1\n"
        "* LibreSSL SSL_connect: SSL_ERROR_SYSCALL in connection to mydomain:443\n"
        "curl: (56) LibreSSL SSL_read: LibreSSL/3.3.6: error:1404C45C:SSL routines:ST_OK:reason(1116), errno 0\n"
    )
    found = curlversion.from_transcript(text)
    assert (found.version, found.tls) == ("8.7.1", "LibreSSL/3.3.6")
    assert (found.tls_evidence or "").startswith("line 4: curl: (56)")
    only_304 = curlversion.from_transcript("* (304) (IN), TLS handshake, Server hello (2):\n")
    assert only_304.tls == "LibreSSL"


def test_transcripts_are_dated_by_user_agent_or_wording_and_never_wrongly() -> None:
    """The corpus of real curl 7.88.1 / 8.14.1 pastes: every version or range read agrees with the manifest."""
    corpus = DATA / "transcripts"
    manifest = tomllib.loads((corpus / "manifest.toml").read_text())["transcript"]
    dated = 0
    for entry in manifest:
        found = curlversion.from_transcript((corpus / entry["file"]).read_bytes().decode())
        real = curlversion.version_key(entry["curl"])
        assert found.version in (None, entry["curl"]), entry["file"]
        assert found.since is None or real >= curlversion.version_key(found.since[0]), (entry["file"], found.since)
        assert found.before is None or real < curlversion.version_key(found.before[0]), (entry["file"], found.before)
        assert found.tls is None or found.tls.startswith("OpenSSL"), entry["file"]
        dated += bool(found.version or found.since or found.before)
    assert dated >= 0.9 * len(manifest)
    # curl 8's -vvv trace: "10:09:06.978410 [0-0] == Info: closing connection #0" is read as "* closing ..."
    traced = curlversion.from_transcript((corpus / "002-ip-url-name-mismatch-macos-prompt.txt").read_text())
    assert traced.since is not None
    assert traced.since[0] == "8.9.0"


def _customer(text: str) -> curlversion.TranscriptCurl:
    return curlversion.from_transcript(text)


def test_what_changes_between_the_customers_curl_and_the_labs() -> None:
    ours = CurlVersion("7.88.1", "OpenSSL/3.0.19")
    notes = differences(_customer("> User-Agent: curl/8.7.1\n* LibreSSL SSL_connect: x\n"), ours)
    assert any("target ipv4 address" in n for n in notes)  # 8.7.0 is between 7.88.1 and 8.7.1
    assert any("prefix" in n for n in notes)  # 8.6.0 too
    assert not any("TLS connect error" in n for n in notes)  # 8.11.0 is not
    assert any("'(304)'" in n for n in notes)
    newer = differences(
        _customer("> User-Agent: curl/7.88.1\n* OpenSSL/3.0.11: x\n"), CurlVersion("8.14.1", "OpenSSL/3.0.19")
    )
    assert sum("TLS connect error" in n or "Could not resolve proxy" in n for n in newer) == 2
    assert not any("TLS library" in n for n in newer)
    assert differences(_customer("> User-Agent: curl/8.14.1\n"), CurlVersion("8.14.1", "OpenSSL/3.0.19")) == []
    # no User-Agent: only what the wording proves ("TLS connect error" means 8.11 or later, nothing about 8.14)
    dated = differences(_customer("curl: (35) TLS connect error: error:0A000126:SSL routines::unexpected eof\n"), ours)
    assert [n for n in dated if "TLS connect error" in n]
    assert not any("Could not resolve proxy" in n for n in dated)
    assert differences(_customer("nothing that dates it\n"), ours) == []


def test_import_says_which_curl_the_customer_ran_and_what_differs_here() -> None:
    text = (DATA / "seed-transcript-trimmed.txt").read_text()
    notes = importer.curl_notes(text)
    assert notes[0].startswith("the customer's curl: 8.7.0 or later (line ")  # "target ipv4 address"
    assert "; LibreSSL (line " in notes[0]
    lab_curl = curlbin.choose().version
    assert notes[1].startswith(f"the lab runs {lab_curl}")
    if lab_curl.tls and not lab_curl.tls.startswith("LibreSSL"):
        assert any("TLS errors quote the TLS library" in n for n in notes[2:])
    drafted = importer.import_transcript(text, "seed.txt").render()
    # the dead address's reset: worded by curl 7.88 / LibreSSL and by curl 8.11+ with OpenSSL, both accepted
    assert 'error = ["SSL_ERROR_SYSCALL", "unexpected eof while reading"]  # SSL_ERROR_SYSCALL: curl' in drafted


# -- version-aware expectations (pure) --------------------------------------------------------------------


def _result(code: int, error_line: str) -> CurlResult:
    return CurlResult(
        argv=("curl",), env={}, exit_code=code, stdout="", stderr=error_line + "\n",
        verbose=curlv.parse(error_line), events=(), duration=0.0,
    )  # fmt: skip


def test_an_expectation_accepts_any_listed_code_and_wording() -> None:
    racy = Expect(exit=(55, 56), error=("SSL_ERROR_SYSCALL", "unexpected eof while reading"))
    assert compare(racy, _result(55, "curl: (55) OpenSSL SSL_ERROR_SYSCALL")) == []
    assert compare(racy, _result(56, "curl: (56) TLS connect error: ... unexpected eof while reading")) == []
    problems = [str(p) for p in compare(racy, _result(35, "curl: (35) Connection reset by peer"))]
    assert problems == [
        "expected exit code 55 or 56, got 35",
        "expected error containing 'SSL_ERROR_SYSCALL' or 'unexpected eof while reading', "
        "got 'curl: (35) Connection reset by peer'",
    ]
    assert [str(p) for p in compare(Expect(exit=60), _result(35, "curl: (35) x"))] == ["expected exit code 60, got 35"]


def test_scenarios_list_wordings_with_a_comment_saying_which_curl() -> None:
    listed = 0
    for path in scenario.catalog():
        lines = path.read_text().splitlines()
        for step in scenario.load(path).steps:
            for value in (step.expect.exit, step.expect.error):
                if isinstance(value, tuple):
                    listed += 1
                    for item in value:  # a wording on a line of its own; codes in one `exit = [...]` line
                        mark = json.dumps(item) if isinstance(item, str) else "exit = ["
                        line = next(li for li in lines if li.strip().startswith(mark))
                        assert "# curl" in line, f"{path.name}: say which curl gives {item!r}"
    assert listed >= 2


# -- choosing the curl --------------------------------------------------------------------------------------


def test_choice_order_is_flag_then_env_then_path(tmp_path: Path) -> None:
    default = curlbin.choose(environ={"PATH": os.environ["PATH"]})
    assert Path(default.path).name == "curl"
    assert os.path.isabs(default.path)
    assert curlbin.choose(environ={"LAB_CURL": default.path, "PATH": "/nonexistent"}).path == default.path
    with pytest.raises(CurlChoiceError, match=r"^\$LAB_CURL: /nope: no such file$"):
        curlbin.choose(environ={"LAB_CURL": "/nope"})
    assert curlbin.choose(default.path, environ={"LAB_CURL": "/nope"}).path == default.path


@pytest.mark.parametrize(
    ("script", "mode", "message"),
    [
        (None, 0, r"no such file"),
        ("#!/bin/sh\necho curl\n", 0o644, r"not executable"),
        ("#!/bin/sh\necho 'Usage: not curl'\n", 0o755, r"is not a working curl: expected 'curl X\.Y\.Z"),
        ("#!/bin/sh\necho 'libcurl.so.4: cannot open' >&2; exit 127\n", 0o755, r"it said: libcurl\.so\.4: cannot open"),
    ],
)
def test_a_bad_curl_is_one_clear_error(tmp_path: Path, script: str | None, mode: int, message: str) -> None:
    path = tmp_path / "curl"
    if script is not None:
        path.write_text(script)
        path.chmod(mode)
    with pytest.raises(CurlChoiceError, match=message) as caught:
        curlbin.choose(str(path))
    assert caught.value.exit_code == 2
    assert "\n" not in str(caught.value)


def test_a_bare_name_is_looked_up_on_path() -> None:
    with pytest.raises(CurlChoiceError, match="no 'curl-that-is-not-here' on PATH"):
        curlbin.choose("curl-that-is-not-here")


# -- with real curl: the chosen curl runs inside the lab ----------------------------------------------------


@pytest.mark.netns
def test_lab_curl_chooses_the_curl_that_exec_runs_in_the_lab(curl8: CurlBuild) -> None:
    eight = curl8
    done = _lab("exec", "seed", "--json", "--", "curl", "--version", env={"LAB_CURL": str(eight.path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("curl 8.")
    record = json.loads(done.stdout.splitlines()[-1])
    assert record["curl"] == {"path": eight.path, "version": eight.version.version, "tls": eight.version.tls}
    # and it meets the lab's hosts: the load balancer asks it for a client certificate
    done = _lab("exec", "seed", "--curl", eight.path, "--json", "--", "curl", "-sS", "https://88.88.88.88")
    record = json.loads(done.stdout.splitlines()[-1])
    assert (done.returncode, record["curl"]["version"]) == (60, eight.version.version)
    assert "target ipv4 address '88.88.88.88'" in record["error"]


@pytest.mark.netns
def test_run_names_the_curl_once_and_json_carries_it(curl8: CurlBuild) -> None:
    eight = curl8
    text = _lab("run", "ip-san-mismatch", "--curl", eight.path)
    assert text.returncode == 0, text.stdout[-2000:]
    assert text.stdout.count(f"curl {eight.version.version} ({eight.version.tls})") == 1
    records = [
        json.loads(line) for line in _lab("run", "ip-san-mismatch", "--json", "--curl", eight.path).stdout.splitlines()
    ]
    assert {r["curl"]["version"] for r in records} == {eight.version.version}


@pytest.mark.netns
def test_the_workshop_shell_runs_the_chosen_curl(curl8: CurlBuild) -> None:
    eight = curl8
    done = _lab("up", "seed", "--curl", eight.path, stdin="curl --version\nexit 0\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"curl {eight.version.version} ")
    assert f"curl here is curl {eight.version.version}" in done.stderr


@pytest.mark.netns
async def test_compare_shows_where_two_curls_word_the_same_outcome_differently(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], curl8: CurlBuild
) -> None:
    eight, default = curl8, curlbin.choose()
    if default.version.major_minor >= (8, 7):
        pytest.skip(f"the default curl is {default.version}: it words a name mismatch on an IP as curl 8 does")
    report = tmp_path / "compare.html"
    loaded = scenario.load("ip-san-mismatch")
    assert await compare_curls([loaded], (default, eight), True, str(report)) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["step"] for r in rows] == [s.number for s in loaded.steps]
    first = rows[0]
    assert first["differs"] == ["error line"]
    a, b = first["curls"]
    assert (a["exit_code"], b["exit_code"]) == (60, 60)
    assert (a["decisive"], a["reached"]) == (b["decisive"], b["reached"])
    assert "target host name '88.88.88.88'" in a["error"]
    assert "target ipv4 address '88.88.88.88'" in b["error"]
    assert (a["ok"], b["ok"]) == (True, True)
    html = report.read_text()
    assert "Two curls compared" in html
    assert "target host name &#x27;88.88.88.88&#x27;" in html
    assert "target ipv4 address &#x27;88.88.88.88&#x27;" in html


@pytest.mark.netns
def test_compare_in_text(curl8: CurlBuild) -> None:
    eight, default = curl8, curlbin.choose()
    done = _lab("compare", "ip-san-mismatch", "--curl", eight.path)
    assert done.returncode == 0, done.stdout
    out = done.stdout
    first, second = described(default, eight)  # "curl 7.88.1 (OpenSSL/3.0.19) at /usr/bin/curl", or "curl A: ..."
    assert f"comparing {first}\n     with {second}" in out
    assert "── Step 1/3" in out
    step1 = out.split("── Step 1/3")[1].split("── Step 2/3")[0]
    if default.version.major_minor < (8, 7):
        assert "differs: error line" in step1
        assert "same: exit code 60; reached host none" in step1
    assert "steps differ between" in out.splitlines()[-1]


@pytest.mark.netns
async def test_the_explanation_has_no_drift_when_curl8_reaches_a_socks_proxy(lab: LabFactory, curl8: CurlBuild) -> None:
    """curl 8 prints "Connected to 10.9.9.9 () port 1080" for a SOCKS proxy: no address, so nothing to disagree."""
    loaded = scenario.load("seed")
    command = [
        "curl",
        "-v",
        "--resolve",
        "mydomain:443:88.88.88.88",
        "-x",
        "socks5://10.9.9.9:1080",
        "https://mydomain",
    ]
    async with lab("seed") as runner:
        result = await runner.run(command, curl=curl8)
    assert "() port 1080" in result.stderr
    _, verdict = explain_result(loaded, result)
    assert verdict.drift == ()
