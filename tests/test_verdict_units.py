"""The explanation, hop by hop and decider by decider, from recorded real runs and typed events (no namespace).

``tests/data/explain-runs.json`` holds real curl runs of every row of tests/explain_matrix.py (recorded by
``python -m tests.record_runs``); the typed-event cases below cover what a recording cannot show on demand
(a silent load balancer, SOCKS authentication, Ctrl-C, curl -s hiding its error line).
"""

from __future__ import annotations

import io
import re
import tomllib
from pathlib import Path

import pytest
from rich.console import Console

from lab.explain.facts import Facts, gather
from lab.explain.narrate import explain_command
from lab.explain.verdict import Verdict, explain_result
from lab.model import deciders, scenario
from lab.model.events import (
    Accepted,
    Closed,
    Event,
    LimitReached,
    Resolved,
    ResponseSent,
    TlsFailed,
    TlsOk,
    TunnelOpened,
    TunnelRefused,
    TunnelRequested,
)
from lab.model.outcome import CurlResult
from lab.protocols import curlv, tlsalert
from tests.explain_checks import contradictions
from tests.explain_matrix import ROWS, WORLD, Row, world
from tests.record_runs import recorded

RUNS = recorded()
MATRIX_WORLD = scenario.load(WORLD)
WORLD_OF = {row.id: world(row.world) for row in ROWS}
CASES = [(row, run) for row in ROWS for run in [row.id] + ([f"{row.id}@8"] if row.both else [])]


def _verdict(run: str) -> Verdict:
    return explain_result(WORLD_OF[run.split("@")[0]], RUNS[run])[1]


def _hop(verdict: Verdict, key: str) -> str:
    return next(h.text for h in verdict.hops if h.key == key)


def test_every_run_of_the_matrix_is_recorded() -> None:
    """python -m tests.record_runs records every row (and its curl 8 run): none is tested only with a namespace."""
    assert sorted(RUNS) == sorted(run for _, run in CASES)


@pytest.mark.parametrize(("row", "run"), CASES, ids=[run for _, run in CASES])
def test_recorded_run_is_explained_without_contradiction(row: Row, run: str) -> None:
    verdict = _verdict(run)
    assert (verdict.decisive, verdict.decision.hop) == (row.decider, row.hop), verdict.lesson
    assert contradictions(WORLD_OF[row.id], RUNS[run], verdict) == []
    assert tuple(m.label for m in verdict.messages if m.decisive) == row.marked


# --- one test per hop ---------------------------------------------------------------------------------


def test_client_resolution_names_the_resolve_entry_and_the_unused_one() -> None:
    assert _hop(_verdict("pinned-ok"), "resolve") == "mydomain → 88.88.88.88 from --resolve mydomain:443:88.88.88.88"
    assert "--resolve mydomain:443:88.88.88.88 sits in curl's DNS cache, unused" in _hop(
        _verdict("proxy-ignores-resolve"), "resolve"
    )


def test_proxy_hop_says_which_option_or_variable_chose_it() -> None:
    assert (
        _hop(_verdict("env-https-proxy"), "proxy")
        == "http://10.9.9.9:3128, chosen by the environment variable https_proxy"
    )
    assert "HTTP_PROXY" not in _hop(_verdict("env-no-proxy"), "proxy")
    assert "nothing accepted a connection there" in _hop(_verdict("proxy-not-listening"), "proxy")


def test_proxy_dns_hop_reports_what_was_asked_and_answered() -> None:
    assert _hop(_verdict("socks5h-proxy-resolves"), "proxy-dns") == (
        "asked SOCKS5 CONNECT mydomain:443; the proxy's own DNS says mydomain → 10.1.1.1 (old)"
    )
    assert "502" in _hop(_verdict("proxy-unknown-name"), "proxy-dns")


@pytest.mark.parametrize(
    ("row_id", "status"),
    [
        ("proxy-ignores-resolve", "ok"),  # asked, and its DNS answered
        ("proxy-unknown-name", "fail"),  # asked, and its DNS knew no address (502)
        ("proxy-auth-missing", "skip"),  # refused before any lookup (407)
        ("proxy-refuses-outside-lab", "skip"),  # refused by its policy (403): the same as 407, not a failed lookup
        ("proxy-rule-403", "skip"),
        ("proxy-rule-407", "skip"),
        ("proxy-rule-drop", "skip"),  # hung up without a word
        ("socks-reply-2", "skip"),  # SOCKS "not allowed by ruleset"
        ("socks-greeting-dropped", "skip"),  # never asked
        ("proxy-rule-502", "fail"),  # it could not reach the name it was asked for
        ("socks-reply-4-dns", "fail"),
        ("socks-reply-5", "skip"),  # asked for an address: no lookup (the TCP target failed)
        ("proxy-not-listening", "skip"),  # never asked
    ],
)
def test_proxy_dns_hop_status(row_id: str, status: str) -> None:
    assert next(h.status for h in _verdict(row_id).hops if h.key == "proxy-dns") == status


@pytest.mark.parametrize(("row", "run"), CASES, ids=[run for _, run in CASES])
def test_hop_statuses_follow_one_rule(row: Row, run: str) -> None:
    """✗ marks a failure that happened at that hop; a hop that a failure before it kept from happening is ·, so
    nothing after the first ✗ passed (✓) or merely happened (•). The answer is ✓ exactly when a host answered."""
    verdict = _verdict(run)
    hops = [h for h in verdict.hops if h.key != "answer"]
    first = next((i for i, h in enumerate(hops) if h.status == "fail"), len(hops))
    assert [(h.key, h.status) for h in hops[first + 1 :] if h.status not in ("skip", "fail")] == []
    if verdict.decisive == "proxy" and verdict.decision.hop == "proxy":  # the proxy's own refusal: nothing after it
        assert {h.status for h in hops[first + 1 :]} <= {"skip"}
    answer = next((h for h in verdict.hops if h.key == "answer"), None)
    if answer is not None:
        assert (answer.status == "ok") == (verdict.reached is not None)


def test_tcp_target_is_the_host_that_accepted() -> None:
    assert _hop(_verdict("proxy-ignores-resolve"), "tcp") == "old at 10.1.1.1:443, via proxy"
    assert _hop(_verdict("connect-to-nothing-there"), "tcp").startswith(
        "nothing accepted a connection at 88.88.88.88:8443"
    )


def test_sni_hop_reads_the_sni_the_host_saw() -> None:
    assert _hop(_verdict("pinned-ok"), "sni") == "SNI mydomain, Host mydomain"
    assert _hop(_verdict("ip-san-ok"), "sni").startswith("SNI none (the URL's host is an IP address)")
    assert _hop(_verdict("http-direct"), "sni") == "no TLS (http://), Host plain"


def test_server_certificate_verified_when_curl_said_so() -> None:
    """Finding 2: a refused client certificate is no reason to say the server's was "never received"."""
    verdict = _verdict("pinned-no-cert")  # curl -v printed "SSL certificate verify ok."
    cert = next(h for h in verdict.hops if h.key == "server-cert")
    assert cert.status == "ok"
    assert "never" not in cert.text
    assert "verify ok" in cert.text
    quiet = next(h for h in _verdict("pinned-no-cert-quiet-tls12").hops if h.key == "server-cert")
    assert quiet.status == "ok"  # no -v: the load balancer judged curl's certificate, so curl had accepted its own
    assert "name check never ran" in quiet.text


def test_wrong_key_sent_nothing_and_draws_no_client_hello() -> None:
    """Finding 3: exit 58 happens before any ClientHello; the URL's name is no IP literal."""
    for row_id in ("wrong-key", "wrong-key-quiet"):
        verdict = _verdict(row_id)
        assert not any("ClientHello" in m.label or "handshake fails" in m.label for m in verdict.messages)
        sni = _hop(verdict, "sni")
        assert "no ClientHello was sent" in sni
        assert "IP" not in sni
        assert "does not belong to certs/client.crt" in _hop(verdict, "client-cert")
        assert "received 0 bytes" in _hop(verdict, "client-cert")


def test_client_certificate_hop_names_the_servers_verdict() -> None:
    assert _hop(_verdict("expired-client"), "client-cert").startswith(
        "glb refused lab expired-client: the certificate expired on"
    )
    assert "let through by ALLOW_INVALID_OR_MISSING_CLIENT_CERT" in _hop(_verdict("allow-mode-rogue"), "client-cert")
    assert _hop(_verdict("pinned-ok"), "client-cert") == "lab client: verified"


def test_answer_hop_names_who_answered_and_who_served() -> None:
    assert _hop(_verdict("allow-mode-no-cert"), "answer") == "glb-allow: HTTP 200, served by backend app"


# --- one decision per step, advice per cause ----------------------------------------------------------


def test_one_step_has_one_decider_in_hops_lesson_change_and_diagram() -> None:
    """Finding 4: the hop list, the diagram, the lesson and the advice name the same decider."""
    for row in ROWS:
        verdict = _verdict(row.id)
        assert [h.key for h in verdict.hops if h.decisive] == [verdict.decision.hop]
        assert all(m.tag in verdict.decision.marks for m in verdict.messages if m.decisive)
        assert verdict.lesson.split(" decided:")[0] == deciders.lead(verdict.decisive, verdict.decision.named)
        assert deciders.claims(verdict.lesson).keys() == {verdict.decisive}  # the name it used is the decider's


ADVICE = {  # finding 5: the fix fits the cause
    "expired-client": ("Renew the client certificate", "from a CA"),
    "expired-client-tls12": ("validity dates", "trusted CA"),
    "noeku-client": ("extendedKeyUsage = clientAuth", "trusted CA"),
    "rogue-client": ("CA in the load balancer's trust config", "Renew"),
    "wrong-key": ("--key certs/client.key", "trusted CA"),
    "pinned-no-cert": ("--cert certs/client.crt --key certs/client.key", "Renew"),
    "missing-cert-file": ("readable PEM files", "Renew"),
    "ip-url-name-check": ("https://mydomain with --resolve mydomain:443:88.88.88.88", "-k"),
    "expired-server": ("renew its certificate", "-k"),
    "cacert-wrong-ca": ("--cacert", "-k"),
    "proxy-auth-missing": ("--proxy-user", "--connect-to"),
    "public-dns-reset": ("--resolve mydomain:443:88.88.88.88 (SNI and Host stay mydomain)", "-k"),
    # the host behaviours: each cause its own fix, never -k (or --proxy-insecure) for a certificate
    "self-signed": ("trust exactly that certificate with --cacert", "-k"),
    "no-intermediate": ("must send the whole chain", "-k"),
    "untrusted-root-sent": ("--cacert with that root's certificate", "-k"),
    "cn-only-mismatch": ("https://intranet with --connect-to intranet:443:cn.test:443", "-k"),
    "https-proxy-untrusted": ("--proxy-cacert", "--proxy-insecure"),
    "https-proxy-name-mismatch": ("-x https://proxy.corp:3446", "--proxy-insecure"),
    "https-proxy-no-client-cert": ("--proxy-cert certs/client.crt --proxy-key certs/client.key", "--insecure"),
    "https-proxy-cert-to-server": ("--cert and --key go to the server, not the proxy", "--insecure"),
    "https-to-plain-proxy": ("-x http://10.9.9.9:3128", "-k"),
    "origin-mtls-rogue": ("a CA mtls trusts", "load balancer"),
    "no-sni": ("https://sni.test with --resolve sni.test:443:192.0.2.20", "-k"),
    "sni-unrecognized": ("https://vhost.test with --resolve vhost.test:443:192.0.2.21", "-k"),
    "hello-rst": ("openssl s_client -connect 192.0.2.16:443 -servername rst.test", "-k"),
    "serverhello-close": ("openssl s_client -connect 192.0.2.12:443", "-k"),
    "https-to-plain-port": ("use http://plain.test/", "-k"),
    "redirect-not-followed": ("only with -L", "-k"),
    "redirects-followed": ("Without -L curl stops at shop's 301", "-k"),
    "redirect-to-wrong-name": ("The URL came from moved's redirect", "-k"),
    "answer-hangs": ("-m limits how long curl waits", "-k"),
    "body-over-limit": ("limits.max_body", "-k"),
    "proxy-rule-403": ("ask its administrators to allow it", "--proxy-user"),
    "proxy-rule-drop": ("filters block", "--proxy-user"),
    "proxy-rule-slow": ("give curl longer (-m)", "--proxy-user"),
    "proxy-loop-itself": ("a proxy does not tunnel into a proxy", "--proxy-user"),
    "socks-reply-5": ("from its own network", "--proxy-user"),
    "socks-greeting-dropped": ("speaks socks5h://", "--proxy-user"),
}


@pytest.mark.parametrize(("row_id", "advice"), ADVICE.items(), ids=list(ADVICE))
def test_advice_fits_the_cause(row_id: str, advice: tuple[str, str]) -> None:
    wanted, never = advice
    change = _verdict(row_id).change
    assert wanted in change
    assert never not in change


# --- typed events: what a recording cannot show on demand ----------------------------------------------


def _result(argv: str, code: int, events: list[Event], stderr: str = "") -> CurlResult:
    return CurlResult(
        argv=tuple(argv.split()),
        env={},
        exit_code=code,
        stdout="",
        stderr=stderr,
        verbose=curlv.parse(stderr),
        events=tuple(events),
        duration=0.0,
    )


def _typed(argv: str, code: int, events: list[Event], stderr: str = "") -> Verdict:
    return explain_result(MATRIX_WORLD, _result(argv, code, events, stderr))[1]


def _glb(failed: TlsFailed, received: int = 700) -> list[Event]:
    return [Accepted(host="glb", conn=1), failed, Closed(host="glb", conn=1, received=received, sent=2000)]


def test_a_silent_load_balancer_still_says_which_certificate_problem() -> None:
    failed = TlsFailed(
        host="glb-silent", conn=1, reason="certificate verify failed", alert=None, chosen_alert="certificate_expired",
        version="TLSv1.3", status_details="client_cert_validation_failed", client_cert="lab expired-client",
        sni="mydomain", detail="the certificate expired on 2026-10-30",
    )  # fmt: skip
    argv = "curl -sS -m 3 --resolve mydomain:443:88.88.88.91 --cert certs/expired-client.crt --key k https://mydomain"
    events: list[Event] = [Accepted(host="glb-silent", conn=1), failed, Closed(host="glb-silent", conn=1, received=900)]
    verdict = _typed(argv, 28, events)
    assert verdict.decisive == "client-cert check"
    assert verdict.decision.cause == "expired"
    assert "Renew" in verdict.change
    assert "no alert: it held the connection open" in verdict.lesson
    assert any(m.decisive and "held the connection open" in m.label for m in verdict.messages)


def test_curl_s_hides_the_error_line_and_the_exit_code_with_the_tls_version_tells() -> None:
    none_sent = {"reason": "peer did not return a certificate", "status_details": "client_cert_not_provided"}
    tls13 = TlsFailed(host="glb", conn=1, version="TLSv1.3", alert="certificate_required", **none_sent)
    assert _typed("curl -s https://88.88.88.88", 60, _glb(tls13)).decisive == "cert check"  # the name check
    tls12 = TlsFailed(
        host="glb", conn=1, version="TLSv1.2", alert="certificate_expired", client_cert="lab expired-client",
        reason="certificate verify failed", status_details="client_cert_validation_failed",
    )  # fmt: skip
    assert _typed("curl -s --cert c --key k https://88.88.88.88", 60, _glb(tls12)).decisive == "client-cert check"


def test_a_socks_proxy_refusing_the_login_is_the_proxy_deciding() -> None:
    events: list[Event] = [
        Accepted(host="socks", conn=1),
        TunnelRefused(host="socks", conn=1, reason="wrong user or password", summary="SOCKS5 refused: wrong user"),
    ]
    verdict = _typed("curl -sS -x socks5h://u:x@10.9.9.9:1080 https://mydomain", 97, events)
    assert (verdict.decisive, verdict.decision.hop) == ("proxy", "proxy")
    assert "--proxy-user" in verdict.change


def test_ctrl_c_is_said_as_such() -> None:
    verdict = _typed("curl -v https://mydomain", 130, [Accepted(host="reset", conn=1)])
    assert _hop(verdict, "answer") == "nobody before curl was stopped (Ctrl-C)"


def test_a_handshake_event_with_no_bytes_is_no_client_hello() -> None:
    closed_early = TlsFailed(host="glb", conn=1, version="TLSv1.3", reason="the client closed the connection")
    facts = gather(
        CurlResult(
            argv=("curl",),
            env={},
            exit_code=58,
            stdout="",
            stderr="",
            verbose=curlv.parse(""),
            events=tuple(_glb(closed_early, received=0)),
            duration=0.0,
        ),
        MATRIX_WORLD,
    )
    assert facts.hello_reached_server is False
    assert facts.hello_sent is None  # no -v, and no host read one: unknown, not "sent"


CORPUS = Path(__file__).parent / "data" / "transcripts"


def _pasted(entry: dict[str, object]) -> Facts:
    """Facts from curl's side alone: a pasted transcript (curl 7.88.1 or 8.14.1), indentation and prompts off."""
    text = (CORPUS / str(entry["file"])).read_text(encoding="utf-8")
    stderr = "\n".join(line.strip() for line in text.splitlines())
    verbose = curlv.parse(stderr)
    return Facts(exit_code=int(str(entry["exit"])), message=str(entry["error"]) or None, curl=verbose)


def test_curls_own_words_are_read_the_same_in_curl_7_and_8() -> None:
    """The transcript corpus: curl's verdict on the server certificate, the alert it received, a TLS version
    it could not agree - read from curl's side alone, in both curl versions' wording."""
    manifest = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))
    checked = 0
    for entry in manifest["transcript"]:
        text = (CORPUS / str(entry["file"])).read_text(encoding="utf-8")
        if len(re.findall(r"^\s*\*\s+Trying ", text, re.MULTILINE)) > 1:
            continue  # several commands in one paste: the manifest describes the last
        error, facts = str(entry["error"]), _pasted(entry)
        own = any(k in error for k in ("SSL certificate problem", "no alternative certificate subject name"))
        assert (facts.curl_cert_problem is not None) == own, (entry["file"], error, facts.curl_cert_problem)
        named = tlsalert.from_text(error)
        if named is not None:
            assert facts.alert_in == named, (entry["file"], error, facts.alert_in)
        assert facts.no_common_version == ("protocol version" in error), entry["file"]
        checked += own or named is not None
    assert checked >= 15


def test_a_name_sent_to_the_proxy_is_the_proxys_dns_deciding_even_after_connect_to() -> None:
    """--connect-to swapped the name, but curl still sent a name: the proxy's DNS chose the address."""
    events: list[Event] = [
        Accepted(host="proxy", conn=1),
        TunnelRequested(host="proxy", conn=1, method="CONNECT", target="stale:443", line="CONNECT stale:443 HTTP/1.1"),
        Resolved(host="proxy", conn=1, name="stale", address="10.4.4.4", table="proxy DNS", upstream="stale"),
        TunnelOpened(host="proxy", conn=1, upstream="10.4.4.4:443", upstream_host="stale"),
        Accepted(host="stale", conn=1),
        TlsOk(host="stale", conn=1, sni="mydomain", version="TLSv1.3"),
        ResponseSent(host="stale", conn=1, status=200),
    ]
    argv = "curl -sS -k --connect-to mydomain:443:stale:443 -x http://10.9.9.9:3128 https://mydomain"
    verdict = _typed(argv, 0, events)
    assert (verdict.decisive, verdict.decision.hop) == ("proxy DNS", "proxy-dns")
    assert verdict.lesson == (
        "Proxy DNS decided: curl asked the proxy (the -x option) for stale:443, and the proxy's own DNS said stale is "
        "10.4.4.4; stale answered."
    )


PROXY_CONNECT = [Accepted(host="proxy", conn=1)]


@pytest.mark.parametrize(
    ("argv", "stderr", "events", "drift"),
    [
        (
            "curl -sS --resolve mydomain:443:88.88.88.88 -x http://10.9.9.9:3128 https://mydomain",
            "",
            [*PROXY_CONNECT, TunnelRequested(host="proxy", conn=1, method="CONNECT", target="88.88.88.88:443")],
            "the proxy was asked for 88.88.88.88:443, the plan said mydomain:443",
        ),
        (
            "curl -v https://mydomain",
            "*   Trying 10.1.1.1:443...\n* Connected to mydomain (10.1.1.1) port 443 (#0)\n",
            [Accepted(host="old", conn=1)],
            "curl connected to 10.1.1.1, the plan said 198.0.8.245",
        ),
        (
            "curl -sS https://mydomain",
            "",
            [*PROXY_CONNECT, TunnelRequested(host="proxy", conn=1, method="CONNECT", target="mydomain:443")],
            "a proxy was used, the plan said none",
        ),
        (
            "curl -v -x http://10.9.9.9:3128 https://mydomain",
            "* Uses proxy env variable NO_PROXY == 'other'\n*   Trying 10.9.9.9:3128...\n"
            "* Connected to 10.9.9.9 (10.9.9.9) port 3128 (#0)\n",
            PROXY_CONNECT,
            "curl reported proxy variables ('NO_PROXY',), the plan said ()",
        ),
    ],
    ids=["tunnel", "address", "proxy", "variables"],
)
def test_where_real_curl_and_the_plan_part_the_learner_is_told(
    argv: str, stderr: str, events: list[Event], drift: str
) -> None:
    verdict = _typed(argv, 0, events, stderr)
    assert verdict.drift == (drift,)
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(
        explain_command(MATRIX_WORLD, _result(argv, 0, events, stderr))
    )
    assert f"emulator drift (please report): {drift}" in out.getvalue().splitlines()


def test_exit_58_says_no_client_hello_even_before_the_server_reported_its_close() -> None:
    """curl -v printed no ClientHello: that alone says none was sent, whether or not the host's close came in."""
    recorded_run = RUNS["wrong-key"]
    early = [e for e in recorded_run.events if not isinstance(e, Closed)]
    verdict = _typed(" ".join(recorded_run.argv), 58, early, recorded_run.stderr)
    assert verdict.lesson == _verdict("wrong-key").lesson
    assert "; no ClientHello was sent;" in verdict.lesson


@pytest.mark.parametrize(
    ("alert", "problem"),
    [
        ("unknown CA (560)", "curl sent alert unknown_ca"),
        ("bad certificate (554)", "curl sent alert bad_certificate"),
        ("certificate expired (557)", "curl sent alert certificate_expired"),
        ("decode error (562)", None),  # curl 8 sends it on an early EOF: no verdict on the certificate
    ],
)
def test_a_certificate_alert_curl_sent_is_curl_refusing_the_server(alert: str, problem: str | None) -> None:
    stderr = f"* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n* TLSv1.3 (OUT), TLS alert, {alert}:\n"
    facts = Facts(exit_code=35, message="OpenSSL SSL_connect: SSL_ERROR_SYSCALL", curl=curlv.parse(stderr))
    assert facts.curl_cert_problem == problem


# --- limits (lab.model.limits): what one curl command cannot make a host reach on demand --------------------


def test_a_proxy_at_its_connection_limit_is_the_proxy_deciding() -> None:
    """At limits.max_connections the proxy takes the TCP connection and closes it at once: it was reachable, and
    it refused (not "nothing accepted a connection")."""
    said = "closed a connection from 192.168.1.23:40000 at once: 1 are open, the limit (limits.max_connections)"
    full = LimitReached(host="proxy", peer="192.168.1.23:40000", limit="max_connections", value=1, summary=said)
    argv = "curl -sS -x http://10.9.9.9:3128 https://mydomain"
    result = _result(argv, 56, [full])
    verdict = _typed(argv, 56, [full])
    assert (verdict.decisive, verdict.decision.hop, verdict.decision.cause) == ("proxy", "proxy", "limit")
    assert "limits.max_connections" in _hop(verdict, "proxy")
    assert "max_connections" in verdict.change
    assert contradictions(MATRIX_WORLD, result, verdict) == []


def test_a_server_at_its_connection_limit_is_where_the_routing_went() -> None:
    full = LimitReached(host="glb", peer="192.168.1.23:40000", limit="max_connections", value=2, summary="closed")
    argv = "curl -sS --resolve mydomain:443:88.88.88.88 https://mydomain"
    verdict = _typed(argv, 35, [full])
    assert (verdict.decisive, verdict.decision.cause, verdict.decision.ending) == ("--resolve", "resolve", "limit")
    assert _hop(verdict, "tcp") == "glb at 88.88.88.88:443"  # it took the connection
    assert "closed the connection at once" in verdict.lesson
    assert "limits.max_connections" in verdict.change
    assert contradictions(MATRIX_WORLD, _result(argv, 35, [full]), verdict) == []
