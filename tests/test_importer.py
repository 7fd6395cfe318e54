"""``lab import``: pasted curl -v transcripts in, scenarios out - and the drafts reproduce the customer's failures.

Unit tests read transcript snippets in both styles (curl 8 + LibreSSL from the support chat, curl 7.x +
OpenSSL from this machine's curl and an older 7.68-style paste); one test replays a draft with the real curl.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.apps import cli, importer, scaffold
from lab.model import scenario
from lab.model.hostsettings import GlbSettings
from lab.model.outcome import compare
from lab.paths import ROOT
from lab.protocols import curlv
from lab.session import open_lab

DATA = Path(__file__).parent / "data"
SEED_TRIMMED = DATA / "seed-transcript-trimmed.txt"
CURL_788 = DATA / "curl788-openssl.txt"
SEED_FULL = ROOT.parent / "shared" / "reference" / "seed-transcript.txt"

# An older curl 7.x paste (7.68 + OpenSSL 1.1.1 wording), typed after a shell prompt, with a proxy.
CURL_768_PROXY = """\
user@host:~$ curl -v --resolve mydomain:443:88.88.88.88 -x http://corp-proxy:3128 https://mydomain
* Added mydomain:443:88.88.88.88 to DNS cache
*   Trying 10.9.9.9:3128...
* TCP_NODELAY set
* Connected to corp-proxy (10.9.9.9) port 3128 (#0)
* allocate connect buffer!
* Establish HTTP proxy tunnel to mydomain:443
> CONNECT mydomain:443 HTTP/1.1
> Host: mydomain:443
>
< HTTP/1.1 200 Connection established
<
* Proxy replied 200 to CONNECT request
* ALPN, offering h2
* TLSv1.3 (OUT), TLS handshake, Client hello (1):
* TLSv1.3 (IN), TLS handshake, Server hello (2):
* TLSv1.3 (IN), TLS handshake, Certificate (11):
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384
* ALPN, server accepted to use h2
* Server certificate:
*  subject: CN=mydomain
*  subjectAltName: host "mydomain" matched cert's "mydomain"
*  SSL certificate verify ok.
> GET / HTTP/2
< HTTP/2 200
* Connection #0 to host corp-proxy left intact
"""


needs_full_seed = pytest.mark.skipif(
    not SEED_FULL.exists(), reason=f"the full seed transcript is not at {SEED_FULL} (CI keeps shared/ beside the clone)"
)


def _draft(path: Path) -> importer.Draft:
    return importer.import_transcript(path.read_text(encoding="utf-8"), path.name)


def _load(draft: importer.Draft, tmp_path: Path) -> scenario.Scenario:
    target = tmp_path / "drafted.toml"
    target.write_text(draft.render(), encoding="utf-8")
    return scenario.load(target)


# -- finding commands in prose ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("curl -v https://88.88.88.88", "curl -v https://88.88.88.88"),
        ("   curl -v https://mydomain", "curl -v https://mydomain"),
        ("$ curl -sS -k https://x", "curl -sS -k https://x"),
        ("curl failed to verify the legitimacy of the server and therefore could not", None),  # curl's own prose
        ("# curl请求分析", None),
        ("curl: (60) SSL: no alternative certificate subject name", None),
        ("run `curl -v https://mydomain` again", None),
    ],
)
def test_which_lines_are_commands(line: str, command: str | None) -> None:
    found = importer.split(line + "\n* Connected to x (1.2.3.4) port 443\ncurl: (7) nope\n")
    assert (found.sessions[0].command if found.sessions else None) == command


def test_seed_style_sessions_skip_prose_and_keep_mentions() -> None:
    transcript = importer.split(SEED_TRIMMED.read_text(encoding="utf-8"))
    assert [s.command for s in transcript.sessions] == ["curl -v https://88.88.88.88", "curl -v https://mydomain"]
    assert transcript.sessions[0].output[-1].startswith("curl: (60)")
    # the suggestion right before the real run is the same command: it is not reported as a mention
    assert transcript.mentions == ()


def test_a_command_without_output_is_a_mention() -> None:
    text = (
        "try this:\ncurl -v -k https://88.88.88.88\n```\nthen\n"
        "curl -v https://1.2.3.4\n* Connected to 1.2.3.4 (1.2.3.4) port 443\ncurl: (7) x\n"
    )
    transcript = importer.split(text)
    assert [m.command for m in transcript.mentions] == ["curl -v -k https://88.88.88.88"]
    assert transcript.mentions[0].line == 2


# -- what a session proves ------------------------------------------------------------------------------------


def test_libressl_session_proves_an_mtls_load_balancer() -> None:
    first = importer.observe(importer.split(SEED_TRIMMED.read_text(encoding="utf-8")).sessions[0])
    assert (first.ip, first.port, first.role, first.exit_code) == ("88.88.88.88", 443, "glb", 60)
    assert first.verbose.client_cert_requested
    assert first.verbose.tls_version == "TLSv1.3"
    assert first.verbose.alpn == "h2"
    assert first.subject["jurisdictionCountryName"] == "GB"
    assert first.subject["O"] == "aibang Group Management Services Limited"
    assert first.cert_names == ["mydomain"]
    assert not first.from_dns  # an IP in the URL: nothing was resolved


def test_libressl_session_proves_a_dead_address_behind_dns() -> None:
    second = importer.observe(importer.split(SEED_TRIMMED.read_text(encoding="utf-8")).sessions[1])
    assert (second.name, second.ip, second.role, second.reset_mode) == ("mydomain", "198.0.8.245", "reset", "fin")
    assert second.from_dns
    assert second.exit_code == 35


def test_openssl_788_session_with_progress_meter() -> None:
    sessions = importer.split(CURL_788.read_text(encoding="utf-8")).sessions
    first, pinned = (importer.observe(s) for s in sessions)
    assert first.verbose.trying == ("88.88.88.88:443",)  # found behind the progress meter
    assert first.subject["jurisdictionCountryName"] == "GB"  # OpenSSL prints it as jurisdictionC
    assert first.role == "glb"
    assert first.exit_code == 60
    assert pinned.verbose.pinned == ("mydomain:443:88.88.88.88",)
    assert not pinned.from_dns
    assert pinned.exit_code == 0
    assert pinned.verbose.response_status is not None


def test_older_curl_7_proxy_session() -> None:
    obs = importer.observe(importer.split(CURL_768_PROXY).sessions[0])
    assert obs.verbose.alpn == "h2"  # "ALPN, server accepted to use h2"
    assert (obs.name, obs.address, obs.role) == ("corp-proxy", "10.9.9.9:3128", "http-proxy")
    assert obs.tunnel == "mydomain:443"
    assert obs.exit_code == 0
    draft = importer.draft(importer.split(CURL_768_PROXY), "paste.txt")
    assert dict(draft.steps[0].expect)["tunnel"] == '"mydomain:443"'
    assert draft.client_hosts == ()  # the proxy's name came from DNS, but --resolve pinned the target


# curl 8.21+ wording ("Established connection ... from ..."), a newer curl's option (--ca-native) and the
# command's options in spellings the old argv scans missed (-sSE with the file attached, --socks5-hostname).
CURL_821_SOCKS = """\
$ curl -sSv --ca-native -Emy-client.pem --key=x --socks5-hostname 10.9.9.9:1080 https://mydomain
*   Trying 10.9.9.9:1080...
* Established connection to 10.9.9.9 (10.9.9.9 port 1080) from 10.0.0.2 port 51234
* SOCKS5 connect to mydomain:443 (remotely resolved)
* SOCKS5 request granted.
* TLSv1.3 (OUT), TLS handshake, Client hello (1):
* TLSv1.3 (IN), TLS handshake, Server hello (2):
* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384 / x25519 / RSASSA-PSS
* Request completely sent off
< HTTP/2 200
"""


def test_a_shell_comment_is_not_part_of_the_command() -> None:
    """Corpus 028: "curl -v https://mydomain  # public DNS, no --resolve" ran as curl -v https://mydomain."""
    text = (DATA / "transcripts" / "028-reset-after-clienthello-curl8.txt").read_text(encoding="utf-8")
    session = importer.split(text).sessions[0]
    assert session.argv == ("curl", "-v", "https://mydomain")
    step = importer.draft(importer.split(text), "028.txt").steps[0]
    assert step.run == "curl -v https://mydomain"
    assert dict(step.expect)["exit"] == "35"


def test_newer_curl_wording_and_spellings() -> None:
    session = importer.split(CURL_821_SOCKS).sessions[0]
    obs = importer.observe(session)
    assert (obs.name, obs.address, obs.proxy, obs.role) == ("10.9.9.9", "10.9.9.9:1080", "socks5", "socks5")
    assert obs.options.errors == ("option --ca-native: is unknown", "option --key=x: is unknown")
    step = importer.draft(importer.split(CURL_821_SOCKS), "paste.txt").steps[0]
    assert step.run == (
        "curl -sSv --ca-native -Ecerts/client.crt --key=x --socks5-hostname 10.9.9.9:1080 https://mydomain"
    )
    assert "changed for the lab: -E my-client.pem -> certs/client.crt (the lab's client certificate)" in step.seen


@needs_full_seed
def test_a_request_that_never_got_an_answer_is_replayed_with_a_time_limit() -> None:
    text = SEED_FULL.read_text(encoding="utf-8")
    draft = importer.import_transcript(text, "seed-transcript.txt")
    hung = [s for s in draft.steps if "-m" in s.run.split()]
    assert [s.run for s in hung] == [
        f"curl -m {importer.HANG_LIMIT} -v --insecure https://88.88.88.88",
        f"curl -m {importer.HANG_LIMIT} -v --resolve mydomain:443:88.88.88.88 https://mydomain",
    ]
    assert all(dict(s.expect)["exit"] == "28" for s in hung)
    glb = next(h for h in draft.hosts if h.kind == "glb")
    assert ("failure_style", '"silent"') in glb.settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C=GB; L=London; CN=mydomain", ({"C": "GB", "L": "London", "CN": "mydomain"}, [])),
        ("jurisdictionC=GB; CN=x", ({"jurisdictionCountryName": "GB", "CN": "x"}, [])),
        ("CN=x; emailAddress=a@b", ({"CN": "x"}, ["emailAddress=a@b"])),
        ("", ({}, [])),
    ],
)
def test_subject_fields(text: str, expected: tuple[dict[str, str], list[str]]) -> None:
    assert importer.parse_subject(text) == expected


# -- the draft -----------------------------------------------------------------------------------------------


def test_draft_of_the_seed_loads_and_maps_what_it_saw(tmp_path: Path) -> None:
    loaded = _load(_draft(SEED_TRIMMED), tmp_path)
    assert loaded.client.hosts == {"mydomain": "198.0.8.245"}
    glb = loaded.host_at("88.88.88.88", 443)
    reset = loaded.host_at("198.0.8.245", 443)
    assert glb is not None
    assert glb.kind == "glb"
    assert isinstance(glb.settings, GlbSettings)
    assert glb.settings.cert.names == ("mydomain",)
    assert ("businessCategory", "Private Organization") in glb.settings.cert.subject
    assert reset is not None
    assert reset.kind == "reset"
    assert [(s.expect.exit, s.expect.reached) for s in loaded.steps] == [(60, "none"), (35, "none")]


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("just some notes\nabout curl\n", encoding="utf-8")
    orphan = tmp_path / "orphan.txt"
    orphan.write_text("output only:\n* Connected to x (1.2.3.4) port 443 (#0)\ncurl: (7) x\n", encoding="utf-8")
    for path, message in [
        (prose, f"{prose}: no curl -v output found"),
        (orphan, f"{orphan}:2: curl -v output with no curl command before it"),
        (tmp_path / "missing.txt", "cannot read: No such file or directory"),
    ]:
        assert cli.main(["import", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert err.count("\n") == 1
        assert "Traceback" not in err


def test_cli_writes_once_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "drafted.toml"
    assert cli.main(["import", str(CURL_788), "-o", str(out)]) == 0
    assert f"wrote {out}: 1 host, 2 steps from 2 curl commands" in capsys.readouterr().err
    loaded = scenario.load(out)
    assert [s.expect.reached for s in loaded.steps] == ["none", "glb"]
    before = out.read_text(encoding="utf-8")
    assert cli.main(["import", str(CURL_788), "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == before


# -- lab new -------------------------------------------------------------------------------------------------


def test_new_scaffold_is_a_valid_scenario(tmp_path: Path) -> None:
    path = scaffold.create("customer-case", tmp_path)
    loaded = scenario.load(path)
    assert loaded.topology == "seed"
    assert loaded.steps[0].expect.reached == "glb"
    with pytest.raises(scaffold.ScaffoldError, match="already exists"):
        scaffold.create("customer-case", tmp_path)


@pytest.mark.parametrize(("name", "message"), [("Bad_Name", "lowercase letters"), ("public-dns", "already exists")])
def test_new_refuses(name: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["new", name]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


# -- the real thing ------------------------------------------------------------------------------------------


@pytest.mark.netns
async def test_drafted_scenario_reproduces_the_seed_failures(tmp_path: Path) -> None:
    """The draft of the chat's first two commands, replayed with real curl: exit 60 on the IP, 35 via DNS."""
    loaded = _load(_draft(SEED_TRIMMED), tmp_path)
    async with open_lab(loaded) as runner:
        results = [await runner.run(step.argv) for step in loaded.steps]
    assert [r.exit_code for r in results] == [60, 35]
    assert all(compare(step.expect, r) == [] for step, r in zip(loaded.steps, results, strict=True))
    assert "no alternative certificate subject name" in (results[0].error or "")
    assert [e.host for e in results[1].events if e.kind == "tls-failed"] == ["reset"]
    assert curlv.parse(results[1].stderr).trying == ("198.0.8.245:443",)


@pytest.mark.netns
@needs_full_seed
async def test_draft_of_the_whole_seed_transcript_replays_as_the_customer_saw_it(tmp_path: Path) -> None:
    """All four commands with output: 60 on the IP, 35 via public DNS, and two requests that never get an answer."""
    loaded = _load(_draft(SEED_FULL), tmp_path)
    async with open_lab(loaded) as runner:
        results = [await runner.run(step.argv) for step in loaded.steps]
    assert [r.exit_code for r in results] == [60, 35, 28, 28]
    assert all(compare(step.expect, r) == [] for step, r in zip(loaded.steps, results, strict=True))
    # the hung requests did reach the load balancer, which held them after rejecting the missing certificate
    assert all(any(e.host == "glb" and e.kind == "tls-failed" for e in r.events) for r in results[2:])
