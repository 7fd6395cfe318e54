"""``lab import`` on the transcript corpus: every paste drafts, loads, and its replay with today's curl ends as
the manifest says the customer's curl ended - the same exit code and error words (curl 8.14.1's wording
accepted in the other's form, as tests/data/transcripts/README.md and shared/reference/curl-versions.md document;
the lab's curl is $LAB_CURL or the system's) - and ``lab import --check`` finds every step reproduced.

One lab per transcript (~0.1 s each). The corpus was made with real curl 7.88.1 and 8.14.1 against servers
that are not the lab's; tests/data/import-forms/ holds pastes in the forms other TLS libraries and older
curls print (written for these tests from the documented forms, tests/data/import-forms/README.md).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from lab.apps import cli, importer
from lab.apps.importer._check import StepCheck, check
from lab.model import scenario
from lab.paths import ROOT

pytestmark = pytest.mark.netns

CORPUS = Path(__file__).parent / "data" / "transcripts"
FORMS = Path(__file__).parent / "data" / "import-forms"
# What decided each step, as the lab must tell it (the draft's decided_by and lesson come from its verdict)
DECIDED: dict[str, list[str]] = tomllib.loads((Path(__file__).parent / "data" / "import-deciders.toml").read_text())
MANIFEST: dict[str, dict[str, Any]] = {
    t["file"]: t for t in tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["transcript"]
}
# The same outcome in curl 8.14.1's and curl 7.88.1's words (curl-versions.md, "Wording"): both sides of a
# comparison are brought to one form, so the test holds whichever curl the lab runs ($LAB_CURL).
WORDING = (
    (r"TLS connect error: error:0A000126:SSL routines::unexpected eof while reading", "SSL_ERROR_SYSCALL"),
    (r"OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to \S+", "SSL_ERROR_SYSCALL"),
    (r"(?:TLS connect error|OpenSSL/[\d.]+): error:", "error:"),
    (r"target (?:hostname|host name|ipv4 address)", "target host"),
    (r"(?:cannot|Can't) complete SOCKS5", "complete SOCKS5"),
    (r"(?:Could not|Couldn't) connect to server", "connect to server"),
)


def same_words(error: str) -> str:
    for pattern, common in WORDING:
        error = re.sub(pattern, common, error)
    return error.strip()


def racy(entry: dict[str, Any]) -> set[int]:
    """Exit codes the manifest's note says the same command gave from run to run."""
    return {int(code) for code in re.findall(r"exit (\d+)", entry.get("note", ""))}


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


async def _checked(path: Path) -> list[StepCheck]:
    """What ``lab import --check`` does: draft, load, replay every step once, judge each."""
    drafted = importer.import_transcript(_text(path), path.name)
    loaded = importer._load(drafted, "drafted.toml")
    assert loaded.steps, "no step drafted"
    return await check(loaded, drafted)


@pytest.mark.parametrize("name", sorted(MANIFEST), ids=lambda n: n[:3])
async def test_corpus_transcript_replays_as_the_customer_saw_it(name: str) -> None:
    entry = MANIFEST[name]
    checks = await _checked(CORPUS / name)
    last = checks[-1]  # the manifest records the last command of a paste
    assert last.exit_code in {entry["exit"]} | racy(entry), last.error
    if entry["error"] and last.exit_code == entry["exit"]:
        assert same_words(entry["error"]) in same_words(last.error or "")
    # and lab import --check agrees: every step reproduces what the transcript shows, per today's curl
    assert [c.summary() for c in checks if not c.reproduced] == []
    assert [c.decisive for c in checks] == DECIDED[name]  # the draft's decided_by, for the right cause


FORM_OUTCOMES = {  # today's curl on the lab's OpenSSL 3: exit code and a piece of the error line
    "curl719-refused.txt": (7, "Failed to connect to 10.10.10.10 port 8080"),
    "curl729-nss-handshake.txt": (35, "alert protocol version"),
    "empty-reply.txt": (52, "Empty reply from server"),
    "env-proxy-export-403.txt": (56, "CONNECT tunnel failed, response 403"),
    "fail-404.txt": (22, "returned error: 404"),
    "gnutls-closed.txt": (35, "SSL_ERROR_SYSCALL"),
    "https-proxy-plain.txt": (35, "wrong version number"),
    "ipv6-expired.txt": (60, "certificate has expired"),
    "ipv6-refused.txt": (7, "Failed to connect to 2001:db8::25 port 8080"),
    "libressl-badcert.txt": (56, "alert bad certificate"),
    "mitm-chain.txt": (60, "self-signed certificate in certificate chain"),
    "mitm-env.txt": (60, "self-signed certificate in certificate chain"),
    "nss-mismatch.txt": (60, "does not match target host name 'git.internal.corp'"),  # "hostname": curl 8
    "nss-proxy-407.txt": (56, "CONNECT tunnel failed, response 407"),
    "nss-unknown-issuer.txt": (60, "unable to get local issuer certificate"),
    "old-curl-ack.txt": (97, "connection to proxy closed"),
    "old-socks-7.txt": (97, "SOCKS5 connection to internal.onion.example. (4)"),
    "openssl1-internal-error.txt": (35, "tlsv1 alert internal error"),
    "openssl1-unknown-protocol.txt": (35, "wrong version number"),
    "p12-ok.txt": (0, ""),
    "proxy-reset-connect.txt": (56, "Connection reset by peer"),
    "redirect-http-to-https.txt": (0, ""),
    "redirect-mismatch.txt": (60, "no alternative certificate subject name matches target host"),
    "schannel-untrusted.txt": (60, "unable to get local issuer certificate"),
    "secure-transport-clientcert.txt": (35, "alert handshake failure"),
    "socks-auth.txt": (97, "No authentication method was acceptable"),
    "tls-rst-nss.txt": (35, "Connection reset by peer"),
}


def test_every_form_has_an_outcome() -> None:
    assert sorted(p.name for p in FORMS.glob("*.txt")) == sorted(FORM_OUTCOMES)


def test_every_paste_has_its_deciders() -> None:
    pasted = [p.name for p in [*CORPUS.glob("*.txt"), *FORMS.glob("*.txt")]]
    assert sorted(pasted) == sorted(DECIDED)


@pytest.mark.parametrize("name", sorted(FORM_OUTCOMES), ids=lambda n: n.removesuffix(".txt"))
async def test_other_libraries_and_older_curls_replay(name: str) -> None:
    exit_code, words = FORM_OUTCOMES[name]
    checks = await _checked(FORMS / name)
    last = checks[-1]
    assert (last.exit_code, same_words(words) in same_words(last.error or "")) == (exit_code, True), last.error
    assert [c.summary() for c in checks if not c.reproduced] == []
    assert [c.decisive for c in checks] == DECIDED[name]


SEED_TRIMMED = Path(__file__).parent / "data" / "seed-transcript-trimmed.txt"
SEED_FULL = ROOT.parent / "shared" / "reference" / "seed-transcript.txt"


async def test_the_seed_chat_trimmed() -> None:
    """The support chat's first two commands: exit 60 on the IP, 35 via public DNS (a dead address)."""
    assert [(c.exit_code, c.reproduced) for c in await _checked(SEED_TRIMMED)] == [(60, True), (35, True)]


@pytest.mark.skipif(not SEED_FULL.exists(), reason=f"the full seed transcript is not at {SEED_FULL}")
async def test_the_whole_seed_chat() -> None:
    """All four commands with output - 60, 35, and two requests that never got an answer - and the single
    -v line the chat quotes in its prose is not taken for a fifth run."""
    checks = await _checked(SEED_FULL)
    assert [(c.exit_code, c.reproduced) for c in checks] == [(60, True), (35, True), (28, True), (28, True)]


def test_lab_import_checks_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI: the draft is replayed once, the report says which steps reproduce, and the file holds the
    lab's verdict (lesson and decided_by) for each step."""
    out = tmp_path / "case.toml"
    assert cli.main(["import", str(CORPUS / "026-mtls-three-commands.txt"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "checked: 3 of 3 steps reproduce the transcript's outcome with today's curl" in err
    assert "step 2 (transcript line 36): reproduced (exit 56" in err
    loaded = scenario.load(out)
    assert [s.expect.decided_by for s in loaded.steps] == ["cert check", "client-cert check", "--resolve"]
    assert loaded.steps[1].lesson.startswith("The client-certificate check decided:")
