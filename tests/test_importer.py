"""``lab import``, step by step, without a lab: how pastes are read, what a session proves, what today's curl
will say, and what the draft holds. The replays with the real curl are in tests/test_import_corpus.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lab.apps import cli, importer, scaffold
from lab.apps.importer._classify import classify
from lab.apps.importer._facts import read
from lab.apps.importer._reconstruct import rebuild
from lab.apps.importer._redact import clean_word, dns_name
from lab.apps.importer._today import expected
from lab.model import scenario
from lab.model.behaviours import OriginSettings
from lab.paths import ROOT
from lab.protocols import curlv

DATA = Path(__file__).parent / "data"
SEED_TRIMMED = DATA / "seed-transcript-trimmed.txt"
CURL_788 = DATA / "curl788-openssl.txt"
SEED_FULL = ROOT.parent / "shared" / "reference" / "seed-transcript.txt"
OUT = "* Connected to x (1.2.3.4) port 443 (#0)\ncurl: (7) nope\n"

needs_full_seed = pytest.mark.skipif(
    not SEED_FULL.exists(), reason=f"the full seed transcript is not at {SEED_FULL} (CI keeps shared/ beside the clone)"
)


def _draft(text: str, name: str = "paste.txt") -> importer.Draft:
    return importer.import_transcript(text, name)


def _load(draft: importer.Draft, tmp_path: Path) -> scenario.Scenario:
    target = tmp_path / "drafted.toml"
    target.write_text(draft.render(), encoding="utf-8")
    return scenario.load(target)


# -- finding commands in what people paste --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paste", "argv"),
    [
        ("curl -v https://x", ("curl", "-v", "https://x")),
        ("$ curl -sS -k https://x", ("curl", "-sS", "-k", "https://x")),
        ("#curl -v https://x", ("curl", "-v", "https://x")),  # a root prompt without a space
        ("[root@host ~]# curl -v https://x", ("curl", "-v", "https://x")),
        ("user@box:~$ curl -v https://x", ("curl", "-v", "https://x")),
        ("% curl -v https://x", ("curl", "-v", "https://x")),
        ("PS C:\\Users\\me> curl.exe -v https://x", ("curl.exe", "-v", "https://x")),
        ("C:\\>curl -v https://x", ("curl", "-v", "https://x")),
        ("\u279c  ~ curl -v https://x", ("curl", "-v", "https://x")),  # an oh-my-zsh prompt
        ("/usr/local/curl/bin/curl -v https://x", ("/usr/local/curl/bin/curl", "-v", "https://x")),
        ("$ ./curl -v https://x", ("./curl", "-v", "https://x")),
        ("$ sudo curl -v https://x", ("curl", "-v", "https://x")),
        ("    $ curl -v https://x", ("curl", "-v", "https://x")),  # markdown indentation
        ("$ curl -v https://x  # public DNS, no --resolve", ("curl", "-v", "https://x")),  # a shell comment
        ("$ curl -v \\\n>   --resolve x:443:1.2.3.4 \\\n  https://x", ("curl", "-v", "--resolve", "x:443:1.2.3.4", "https://x")),
        ("PS> curl.exe -v `\n  https://x", ("curl.exe", "-v", "https://x")),  # PowerShell's continuation
        ("C:\\> curl -v ^\n https://x", ("curl", "-v", "https://x")),  # cmd's continuation
        ("when I run `curl -v https://x` I get:", ("curl", "-v", "https://x")),  # inline, between backticks
    ],
)  # fmt: skip
def test_commands_in_every_paste_style(paste: str, argv: tuple[str, ...]) -> None:
    found = importer.split(paste + "\n" + OUT)
    assert found.sessions[0].argv == argv


@pytest.mark.parametrize(
    "line",
    [
        "curl failed to verify the legitimacy of the server and therefore could not",  # curl's own prose
        "# curl请求分析",
        "I think curl is broken here",
    ],
)
def test_prose_about_curl_is_no_command(line: str) -> None:
    found = importer.split(line + "\n" + OUT)
    assert [s.argv for s in found.sessions] == [()]  # the output alone: a session whose command is rebuilt


def test_exports_variables_and_env_prefixes() -> None:
    paste = (
        "$ export HTTPS_PROXY=http://proxy.corp:3128\n$ HOST=mydomain\n$ IP=88.88.88.88\n"
        "$ no_proxy=localhost curl -v --resolve $HOST:443:$IP https://$HOST/ --key $KEY\n" + OUT
    )
    session = importer.split(paste).sessions[0]
    assert session.argv == ("curl", "-v", "--resolve", "mydomain:443:88.88.88.88", "https://mydomain/", "--key", "$KEY")
    assert dict(session.env) == {"HTTPS_PROXY": "http://proxy.corp:3128", "no_proxy": "localhost"}
    assert session.unset == ("KEY",)


def test_trace_forms_become_verbose_lines() -> None:
    """curl 8's -vv timestamps, -vvv/--trace-ascii '== Info:' lines and header dumps, CRLF, ANSI colours."""
    paste = (
        "% curl -vvv https://x\r\n"
        "10:09:06.953661 [0-0] == Info:   Trying 1.2.3.4:443...\r\n"
        "10:09:06.953661 [0-0] => Send header, 40 bytes (0x28)\r\n"
        "0000: GET /path HTTP/1.1\r\n0010: Host: x\r\n"
        "10:09:06.960068 [0-0] => Send SSL data, 5 bytes (0x5)\r\n0000: .....\r\n"
        "10:09:07.1 [0-0] * \x1b[31mConnected to x (1.2.3.4) port 443\x1b[0m\r\n"
        "curl: (7) nope\r\n"
    )
    output = importer.split(paste).sessions[0].output
    assert output == (
        "*   Trying 1.2.3.4:443...",
        "> GET /path HTTP/1.1",
        "> Host: x",
        "* Connected to x (1.2.3.4) port 443",
        "curl: (7) nope",
    )


def test_several_commands_each_with_its_output_and_mentions() -> None:
    paste = (
        "try this:\ncurl -v -k https://88.88.88.88\n```\nthen\n"
        "$ curl -v https://1.2.3.4\n* Connected to 1.2.3.4 (1.2.3.4) port 443\ncurl: (7) x\n"
        "$ curl -v https://5.6.7.8\n* Connected to 5.6.7.8 (5.6.7.8) port 443\ncurl: (7) y\n"
    )
    transcript = importer.split(paste)
    assert [s.argv[-1] for s in transcript.sessions] == ["https://1.2.3.4", "https://5.6.7.8"]
    assert [m.command for m in transcript.mentions] == ["curl -v -k https://88.88.88.88"]


def test_only_a_command_is_drafted_without_an_outcome(tmp_path: Path) -> None:
    loaded = _load(_draft("please run: curl -v https://mydomain/health\n"), tmp_path)
    assert [s.run for s in loaded.steps] == ["curl -v https://mydomain/health"]
    assert loaded.steps[0].expect.exit is None


# -- what the output says ----------------------------------------------------------------------------------


def test_curl8_names_and_addresses() -> None:
    facts = read(("* Host api.test:443 was resolved.", "* IPv6: (none)", "* IPv4: 10.0.0.5, 10.0.0.6"))
    assert (facts.resolved, facts.ports) == ({"api.test": ["10.0.0.5", "10.0.0.6"]}, {"api.test": 443})


def test_curl719_names_and_alerts_by_number() -> None:
    facts = read(
        (
            "* About to connect() to proxy squid.corp port 3128 (#0)",
            "*   Trying 172.16.0.10... connected",
            "* TLSv1.3 (IN), TLS alert, unknown (628):",
        )
    )
    assert facts.ports == {"squid.corp": 3128}
    assert facts.trying == [("172.16.0.10", None)]
    assert facts.alerts == [("IN", "unknown", 628)]  # 628 - 512 = 116: certificate_required


SITUATIONS = [
    # (error and -v lines, exit code, proxied, (kind, alert, point, close))
    ("curl: (35) OpenSSL/3.0.19: error:0A000410:SSL routines::sslv3 alert handshake failure", 35, None,
     ("tls-alert", "handshake_failure", "client-hello", "fin")),
    ("curl: (35) error:14094438:SSL routines:ssl3_read_bytes:tlsv1 alert internal error", 35, None,
     ("tls-alert", "internal_error", "client-hello", "fin")),
    ("curl: (56) LibreSSL SSL_read: LibreSSL/3.3.6: error:1404C45C:SSL routines:ST_OK:reason(1116), errno 0", 56, None,
     ("tls-alert", "certificate_required", "client-cert", "fin")),
    ("* NSS error -12271 (SSL_ERROR_BAD_CERT_ALERT)\ncurl: (35) SSL peer cannot verify your certificate.", 35, None,
     ("tls-alert", "bad_certificate", "client-cert", "fin")),
    ("curl: (35) schannel: next InitializeSecurityContext failed: SEC_E_ILLEGAL_MESSAGE (0x80090326) - This error "
     "usually occurs when a fatal SSL/TLS alert is received (e.g. handshake failed).", 35, None,
     ("tls-alert", "handshake_failure", "client-hello", "fin")),
    ("curl: (35) LibreSSL SSL_connect: SSL_ERROR_SYSCALL in connection to x:443 ", 35, None,
     ("tls-close", None, "client-hello", "fin")),
    ("* NSS error -5961 (PR_CONNECT_RESET_ERROR)\ncurl: (35) TCP connection reset by peer", 35, None,
     ("tls-close", None, "client-hello", "rst")),
    ("curl: (35) gnutls_handshake() failed: The TLS connection was non-properly terminated.", 35, None,
     ("tls-close", None, "client-hello", "fin")),
    ("curl: (35) SSL connect error", 35, None, ("tls-close", None, "client-hello", "fin")),
    ("curl: (51) Unable to communicate securely with peer: requested domain name does not match the server's "
     "certificate.", 51, None, ("cert-name", None, "san", "fin")),
    ("curl: (60) SSL: certificate subject name 'a' does not match target host name 'b'", 60, None,
     ("cert-name", None, "cn", "fin")),
    ("curl: (60) SSL certificate problem: self signed certificate in certificate chain", 60, None,
     ("cert-untrusted", None, "chain", "fin")),
    ("curl: (77) schannel: next InitializeSecurityContext failed: SEC_E_UNTRUSTED_ROOT (0x80090325)", 60, None,
     ("cert-untrusted", None, "", "fin")),
    ("curl: (60) Peer's Certificate has expired.", 60, None, ("cert-expired", None, "", "fin")),
    ("curl: (60) SSL certificate problem: unable to verify the first certificate", 60, None,
     ("cert-untrusted", None, "first", "fin")),
    ("> GET / HTTP/1.1\ncurl: (56) SSL read: error:00000000:lib(0):func(0):reason(0), errno 104", 56, None,
     ("reset-after-request", None, "", "rst")),
    ("* Establish HTTP proxy tunnel to x:443\ncurl: (28) Proxy CONNECT aborted due to timeout", 28, "http",
     ("proxy-timeout", None, "", "fin")),
    ("curl: (58) unable to set private key file: 'k.pem' type PEM", 58, None, ("client-cert-file", None, "", "fin")),
    ("* NSS: client certificate not found (nickname not specified)\ncurl: (35) NSS: client certificate not found "
     "(nickname not specified)", 35, None, ("tls-alert", "handshake_failure", "client-cert", "fin")),
    ("curl: (35) error:1408F10B:SSL routines:ssl3_get_record:wrong version number", 35, None,
     ("plain-on-tls", None, "", "fin")),
    ("curl: (56) Received HTTP code 407 from proxy after CONNECT", 56, "http", ("proxy-status", None, "", "fin")),
    ("* Establish HTTP proxy tunnel to x:443\ncurl: (56) Proxy CONNECT aborted", 56, "http",
     ("proxy-drop", None, "", "fin")),
    ("curl: (7) Can't complete SOCKS5 connection to 0.0.0.0:0. (4)", 7, "socks", ("socks-reply", None, "", "fin")),
    ("curl: (7) Unable to receive initial SOCKS5 response.", 7, "socks", ("socks-drop", None, "greeting", "fin")),
    ("curl: (97) No authentication method was acceptable.", 97, "socks", ("socks-auth", None, "", "fin")),
    ("curl: (28) Failed to connect to x port 443 after 129000 ms: Connection timed out", 28, None,
     ("connect-timeout", None, "", "fin")),
    ("curl: (52) Empty reply from server", 52, None, ("empty-reply", None, "", "fin")),
    ("curl: (6) Could not resolve host: x", 6, None, ("dns", None, "", "fin")),
]  # fmt: skip


@pytest.mark.parametrize(("lines", "exit_code", "proxied", "want"), SITUATIONS, ids=[s[0][:40] for s in SITUATIONS])
def test_situations_in_any_library_s_words(
    lines: str, exit_code: int, proxied: str | None, want: tuple[str, str | None, str, str]
) -> None:
    facts = read(tuple(lines.splitlines()))
    found = classify(facts, exit_code, proxied=proxied, hung=False)
    assert (found.kind, found.alert, found.point, found.close) == want


@pytest.mark.parametrize(
    ("lines", "customer", "tls13", "exits", "words", "note"),
    [
        ("curl: (51) SSL: no alternative certificate subject name matches target host name 'x'", 51, True,
         (60,), "no alternative certificate subject name", "curl 7.62 merged exit 51"),
        ("curl: (7) Can't complete SOCKS5 connection to x. (5)", 7, True, (97,), "SOCKS5 connection to x. (5)",
         "since curl 7.73"),
        ("curl: (35) error:14094412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate", 35, True,
         (56,), "alert bad certificate", "after the handshake"),
        ("* TLSv1.2 (IN), TLS alert, certificate expired (557):\ncurl: (60) SSL certificate verification failed", 60,
         False, (60,), "SSL certificate verification failed", ""),
    ],
)  # fmt: skip
def test_todays_exit_codes_with_the_customer_s_noted(
    lines: str, customer: int, tls13: bool, exits: tuple[int, ...], words: str, note: str
) -> None:
    facts = read(tuple(lines.splitlines()))
    proxied = "socks" if "SOCKS" in lines else None
    situation = classify(facts, customer, proxied=proxied, hung=False)
    found = expected(situation, customer, target="x", tls13=tls13, error=facts.verbose.error or "")
    assert found.exits == exits
    assert any(words in e for e in found.errors)
    assert note in found.note


# -- commands rebuilt from output alone ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "argv"),
    [
        ("013-mtls-no-client-cert-tls12-no-cmd.txt",
         ["curl", "-v", "--resolve", "mydomain:443:88.88.88.88", "https://mydomain/"]),
        ("046-proxy-403-port-curl8-no-cmd.txt",
         ["curl", "-v", "-x", "http://proxy.example.com:3128", "https://api.<redacted>:8443/"]),
        ("060-proxy-tunnel-output-only-german.txt",
         ["curl", "-v", "-x", "http://10.9.9.9:3128", "--resolve", "mydomain:443:88.88.88.88",
          "https://mydomain/healthz"]),
        ("068-socks5-drops-greeting-curl8-tail.txt",
         ["curl", "-v", "-x", "socks5h://proxy-not-in-paste.example:1080", "https://host-not-in-paste.example/"]),
    ],
)  # fmt: skip
def test_commands_rebuilt_from_output(name: str, argv: list[str]) -> None:
    session = importer.split((DATA / "transcripts" / name).read_text(encoding="utf-8")).sessions[0]
    assert rebuild(read(session.output)).argv == argv


def test_a_rebuilt_command_says_so(tmp_path: Path) -> None:
    drafted = _draft((DATA / "transcripts" / "049-proxy-407-wrong-password-tail.txt").read_text(encoding="utf-8"))
    step = drafted.steps[0]
    assert "reconstructed from the output" in step.say
    assert any("rebuilt from the output" in t for t in step.todos)
    assert step.run.startswith("curl -v -x http://proxy-not-in-paste.example:3128 -U user:password-not-in-paste")
    assert _load(drafted, tmp_path).steps[0].expect.exit == 56


# -- redactions, shell variables, placeholders ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "cleaned"),
    [
        ("https://api.<redacted>:8443/", "https://api.redacted.example:8443/"),
        ("https://x.x.x.x/", "https://redacted.example/"),
        ("http://user:***@proxy.corp:8080", "http://user:***@proxy.corp:8080"),
        ("https://mydomain/", "https://mydomain/"),
    ],
)
def test_redacted_hosts_become_names_the_lab_serves(word: str, cleaned: str) -> None:
    assert clean_word(word) == cleaned


def test_idn_and_junk_names() -> None:
    assert (dns_name("Bücher.example"), dns_name("$HOST"), dns_name("a.b")) == ("xn--bcher-kva.example", "", "a.b")


def test_redacted_addresses_get_placeholders_and_todos(tmp_path: Path) -> None:
    drafted = _draft((DATA / "transcripts" / "006-expired-server-cert-redacted.txt").read_text(encoding="utf-8"))
    loaded = _load(drafted, tmp_path)
    assert loaded.client.hosts == {"www.example.com": "198.18.0.1"}
    assert any(
        "198.18.0.1 stands for the address the client's DNS gives for www.example.com" in n for n in drafted.todos
    )
    origin = loaded.hosts["www-example-com"].settings
    assert isinstance(origin, OriginSettings)
    assert origin.cert.expired


def test_environment_proxies_stay_in_run() -> None:
    drafted = _draft((DATA / "transcripts" / "054-env-HTTPS_PROXY-curl8.txt").read_text(encoding="utf-8"))
    assert drafted.steps[0].run == "env HTTPS_PROXY=http://proxy.corp:3128 curl -v https://mydomain/"
    assert ("proxy.corp", "10.9.9.9") in drafted.client_hosts


def test_unset_shell_variables_are_flagged() -> None:
    step = _draft("$ curl -v --cert $CERT https://x/\n" + OUT).steps[0]
    assert any("$CERT" in t for t in step.todos)


# -- the draft ------------------------------------------------------------------------------------------------


def test_draft_of_the_seed_maps_what_it_saw(tmp_path: Path) -> None:
    loaded = _load(_draft(SEED_TRIMMED.read_text(encoding="utf-8")), tmp_path)
    assert loaded.client.hosts == {"mydomain": "198.0.8.245"}
    lb = loaded.host_at("88.88.88.88", 443)
    dead = loaded.host_at("198.0.8.245", 443)
    assert lb is not None
    assert dead is not None
    assert isinstance(lb.settings, OriginSettings)
    assert lb.settings.cert.names == ("mydomain",)
    assert ("businessCategory", "Private Organization") in lb.settings.cert.subject
    assert lb.settings.client_cert is not None
    assert dead.kind == "reset"
    assert [(s.expect.exit, s.expect.reached) for s in loaded.steps] == [(60, "none"), (35, "none")]


def test_client_certificates_follow_the_alert_the_server_sent() -> None:
    runs = {
        name: _draft((DATA / "transcripts" / name).read_text(encoding="utf-8")).steps[-1].run
        for name in ("014-mtls-untrusted-client-cert.txt", "016-mtls-expired-client-cert.txt",
                     "019-mtls-client-cert-without-clientauth.txt", "024-mtls-success.txt", "022-mtls-wrong-key.txt")
    }  # fmt: skip
    assert [r.split("--cert ")[1].split()[0] for r in runs.values()] == [
        "certs/rogue-client.crt",
        "certs/expired-client.crt",
        "certs/noeku-client.crt",
        "certs/client.crt",
        "certs/client.crt",
    ]
    assert "--key other.key" in runs["022-mtls-wrong-key.txt"]  # the key curl could not use stays


def test_files_curl_would_write_go_to_dev_null() -> None:
    step = _draft("$ curl -v -O -D h.txt https://x/f.tgz\n" + OUT).steps[0]
    assert step.run == "curl -o /dev/null -v -D /dev/null https://x/f.tgz"


def test_the_customer_s_machine_and_files_stay_out() -> None:
    paste = "$ curl -v --interface eth1 -F doc=@report.pdf -d @body.json https://x/up 2>&1 | tee log.txt\n" + OUT
    assert _draft(paste).steps[0].run == "curl -v -F doc=@/dev/null -d @/dev/null https://x/up"


def test_a_body_over_several_lines() -> None:
    paste = "$ curl -v -X POST https://x/api -d '{\n  \"a\": 1\n}' -H 'Content-Type: application/json'\n" + OUT
    assert importer.split(paste).sessions[0].argv[-3:] == ('{\n"a": 1\n}', "-H", "Content-Type: application/json")


@needs_full_seed
def test_a_request_that_never_got_an_answer_is_replayed_with_a_time_limit() -> None:
    drafted = _draft(SEED_FULL.read_text(encoding="utf-8"), "seed-transcript.txt")
    hung = [s for s in drafted.steps if "-m" in s.run.split()]
    assert [s.run for s in hung] == [
        f"curl -m {importer.HANG_LIMIT} -v --insecure https://88.88.88.88",
        f"curl -m {importer.HANG_LIMIT} -v --resolve mydomain:443:88.88.88.88 https://mydomain",
    ]
    assert all(dict(s.expect)["exit"] == "28" for s in hung)


# -- never fails on a paste with a curl command or a `* ` line ------------------------------------------------

_PIECES = [
    line
    for path in sorted((DATA / "transcripts").glob("*.txt")) + sorted((DATA / "import-forms").glob("*.txt"))
    for line in path.read_text(encoding="utf-8").splitlines()
] + ["curl -v 'unbalanced", "curl -v https://[::1", "* Trying :::", "curl -v --resolve a:b:c https://a", "curl -x"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=30), st.sampled_from(["* Connected to x", "curl -v x"]))
def test_any_paste_with_a_command_or_a_verbose_line_drafts_and_loads(lines: list[str], anchor: str) -> None:
    import tempfile

    drafted = _draft("\n".join([anchor, *lines]))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "d.toml"
        path.write_text(drafted.render(), encoding="utf-8")
        scenario.load(path)


# -- the command line ---------------------------------------------------------------------------------------


def test_bad_input_is_one_line_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("just some notes\nabout curl\n", encoding="utf-8")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01* Connected")
    for path, message in [
        (prose, f"{prose}: no curl command and no curl -v output found"),
        (binary, "this is a binary file"),
        (tmp_path / "missing.txt", "cannot read: No such file or directory"),
    ]:
        assert cli.main(["import", "--no-check", str(path)]) == 2
        err = capsys.readouterr().err
        assert message in err
        assert err.count("\n") == 1
        assert "Traceback" not in err


def test_cli_writes_once_and_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "drafted.toml"
    assert cli.main(["import", "--no-check", str(CURL_788), "-o", str(out)]) == 0
    assert f"wrote {out}: 1 host, 2 steps from 2 curl commands" in capsys.readouterr().err
    assert [s.expect.reached for s in scenario.load(out).steps] == ["none", "88-88-88-88"]
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


def test_the_drafted_lines_read_as_curl_v() -> None:
    """The draft quotes only lines curlv reads (the same reader as the lab's own runs)."""
    session = importer.split(CURL_788.read_text(encoding="utf-8")).sessions[0]
    assert curlv.parse("\n".join(session.output)).error_code == 60


def test_without_namespaces_the_draft_is_written_unchecked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from lab.errors import NamespaceUnavailable
    from lab.runtime import netns

    def refuse() -> None:
        raise NamespaceUnavailable("unshare(network, mount) failed (Operation not permitted)")

    monkeypatch.setattr(netns, "enter", refuse)
    out = tmp_path / "case.toml"
    assert cli.main(["import", str(CURL_788), "-o", str(out)]) == 0
    assert "not checked (no replay here): unshare(network, mount) failed" in capsys.readouterr().err
    assert scenario.load(out).steps
