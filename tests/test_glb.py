"""The mTLS load balancer with the real curl: verdicts and alerts per certificate over TLS 1.2 and 1.3,
failure styles, the permissive mode and URL map, log entries, hostile bytes, and settings errors."""

from __future__ import annotations

import json
import ssl
import subprocess
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio
import trustme

from lab.apps import logs
from lab.apps.replay import replay
from lab.errors import ScenarioError
from lab.model import scenario
from lab.model.events import Event
from lab.model.outcome import CurlResult
from lab.paths import ROOT
from lab.protocols import logmatch
from lab.runtime.runner import Runner
from tests.conftest import LabFactory

pytestmark = pytest.mark.netns

GLB = ("88.88.88.88", 443)
PIN = ["--resolve", "mydomain:443:88.88.88.88"]
TLS_VERSIONS = pytest.mark.parametrize("tls_max", ["1.2", "1.3"])


def cert_args(name: str | None) -> list[str]:
    return [] if name is None else ["--cert", f"certs/{name}.crt", "--key", f"certs/{name}.key"]


def glb_events(events: tuple[Event, ...] | list[Event], host: str = "glb") -> list[Event]:
    return [e for e in events if e.host == host]


def log_entries(result: CurlResult, host: str = "glb") -> list[dict[str, Any]]:
    return [e.entry for e in result.events if e.host == host and e.kind == "log" and e.written]


async def settled(runner: Runner) -> None:
    assert await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)


def variant(tmp_path: Path, text: str, name: str = "variant") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text('topology = "seed"\n' + text)
    return str(path)


# (client certificate, {TLS version: (curl exit, curl's error)}, alert the load balancer sent, statusDetails).
# TLS 1.3: the client finishes first, so the alert comes on the first read (56); TLS 1.2: in the handshake (35).
REJECTED = [
    (
        None,
        {"1.3": (56, "alert certificate required"), "1.2": (35, "alert handshake failure")},
        {"1.3": "certificate_required", "1.2": "handshake_failure"},
        "client_cert_not_provided",
    ),
    (
        "rogue-client",
        {"1.3": (56, "alert unknown ca"), "1.2": (35, "alert unknown ca")},
        "unknown_ca",
        "client_cert_validation_failed",
    ),
    (
        "expired-client",
        # curl 7.88 maps a TLS 1.2 certificate_expired alert to exit 60 and blames the *server's* certificate.
        {"1.3": (56, "alert certificate expired"), "1.2": (60, "SSL certificate verification failed")},
        "certificate_expired",
        "client_cert_validation_failed",
    ),
    (
        "noeku-client",
        {"1.3": (56, "alert unsupported certificate"), "1.2": (35, "alert unsupported certificate")},
        "unsupported_certificate",
        "client_cert_chain_invalid_eku",
    ),
]


@TLS_VERSIONS
async def test_reject_invalid_alerts_and_logs_each_problem(lab: LabFactory, tls_max: str) -> None:
    async with lab("seed") as runner:
        for cert, outcomes, alert, details in REJECTED:
            result = await runner.run(["curl", "-sS", "--tls-max", tls_max, *PIN, *cert_args(cert), "https://mydomain"])
            exit_code, error = outcomes[tls_max]
            assert (result.exit_code, cert) == (exit_code, cert), result.stderr
            assert error in (result.error or ""), cert
            assert result.reached is None
            failed = [e for e in result.events if e.kind == "tls-failed"]
            assert len(failed) == 1
            assert failed[0].status_details == details
            assert failed[0].version == f"TLSv{tls_max}"
            assert failed[0].alert == (alert[tls_max] if isinstance(alert, dict) else alert)
            (entry,) = log_entries(result)
            assert "status" not in entry["httpRequest"]  # 0, which Cloud Logging does not write
            assert logmatch.matches(entry, f'httpRequest.status=0 jsonPayload.statusDetails="{details}"')
            assert entry["severity"] == "INFO"
            assert "mtls" not in entry["jsonPayload"]  # the global load balancer has no mtls fields
            assert "request" not in [e.kind for e in result.events]


@TLS_VERSIONS
async def test_valid_certificate_is_answered_and_logged(lab: LabFactory, tls_max: str) -> None:
    async with lab("seed") as runner:
        result = await runner.run(
            ["curl", "-sS", "--tls-max", tls_max, *PIN, *cert_args("client"), "https://mydomain/x"]
        )
    assert result.exit_code == 0, result.stderr
    assert result.reached == "glb"
    assert "client-cert-verdict: verified" in result.stdout
    assert f"tls: TLSv{tls_max}" in result.stdout
    assert "request: GET /x HTTP/2" in result.stdout
    (entry,) = log_entries(result)
    assert entry["httpRequest"]["status"] == 200
    assert entry["httpRequest"]["requestUrl"] == "https://mydomain/x"
    assert entry["jsonPayload"]["statusDetails"] == "direct_response"  # no URL map: the load balancer answered


async def _start_s_server(nursery: trio.Nursery, args: list[str]) -> trio.Process:
    """``openssl s_server``, ready once it prints ACCEPT (no sleeping)."""
    process: trio.Process = await nursery.start(
        partial(
            trio.run_process,
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.PIPE,
            check=False,
        )
    )
    assert process.stdout is not None
    seen = b""
    with trio.fail_after(10):
        while b"ACCEPT" not in seen:
            chunk = await process.stdout.receive_some(4096)
            assert chunk, f"s_server ended before it was ready: {seen!r}"
            seen += chunk
    return process


def _reason(result: CurlResult) -> str:
    """The OpenSSL reason curl printed (``tlsv13 alert certificate required``), without curl's framing."""
    error = result.error or ""
    return error.split("SSL routines::", 1)[-1].split(", errno", 1)[0]


@TLS_VERSIONS
async def test_same_exit_codes_and_alerts_as_openssl_s_server(lab: LabFactory, tmp_path: Path, tls_max: str) -> None:
    """Differential: the load balancer and ``openssl s_server -Verify 1 -verify_return_error`` must fail the
    same client certificates the same way. The reference server shares only the client CA with the lab: its
    own certificate comes from a throwaway trustme CA, and so does one more client certificate, from a CA
    that neither side trusts."""
    reference = trustme.CA()
    reference.issue_cert("mydomain").private_key_and_cert_chain_pem.write_to_path(tmp_path / "s_server.pem")
    reference.cert_pem.write_to_path(tmp_path / "s_server-ca.pem")
    stranger = tmp_path / "stranger-client.pem"
    trustme.CA().issue_cert("stranger-client").private_key_and_cert_chain_pem.write_to_path(stranger)
    clients = [cert_args(None), *(cert_args(name) for name in ["rogue-client", "expired-client", "noeku-client"])]
    clients += [cert_args("client"), ["--cert", str(stranger)]]
    async with lab("seed") as runner:
        args = ["openssl", "s_server", "-accept", "88.88.88.88:8443", "-cert", str(tmp_path / "s_server.pem")]
        args += ["-CAfile", str(ROOT / "certs/client-ca.crt"), "-Verify", "1", "-verify_return_error", "-www"]
        async with trio.open_nursery() as nursery:
            server = await _start_s_server(nursery, [*args, "-no_ticket"])
            outcomes = []
            for client in clients:
                base = ["curl", "-sS", "-o", "/dev/null", "--tls-max", tls_max, *client]
                ours = await runner.run([*base, *PIN, "https://mydomain/"])
                reference_trust = ["--cacert", str(tmp_path / "s_server-ca.pem")]
                theirs = await runner.run(
                    [*base, *reference_trust, "--resolve", "mydomain:8443:88.88.88.88", "https://mydomain:8443/"]
                )
                assert (ours.exit_code, _reason(ours)) == (theirs.exit_code, _reason(theirs)), client
                outcomes.append(ours.exit_code)
            server.terminate()
    assert outcomes[-2:] == [0, 56 if tls_max == "1.3" else 35]  # the lab's client passes, the stranger does not


@TLS_VERSIONS
async def test_failure_styles(lab: LabFactory, tmp_path: Path, tls_max: str) -> None:
    path = variant(
        tmp_path,
        '[hosts.glb]\nfailure_style = "silent"\n'
        '[hosts.glb-reset]\nkind = "glb"\naddress = "88.88.88.89:443"\nfailure_style = "reset"\n',
    )
    async with lab(path) as runner:
        silent = await runner.run(["curl", "-sS", "-k", "-m", "1", "--tls-max", tls_max, "https://88.88.88.88"])
        reset = await runner.run(["curl", "-sS", "-k", "--tls-max", tls_max, "https://88.88.88.89"])
    assert silent.exit_code == 28, silent.stderr  # the seed's -k transcript: nothing comes back, curl gives up
    (failed,) = [e for e in silent.events if e.kind == "tls-failed"]
    assert failed.alert is None
    assert "held silently" in next(e for e in silent.events if e.kind == "closed").summary
    # TLS 1.3: curl has finished its side, so the reset hits its HTTP/2 preface (16), request write (55) or
    # first read (56), whichever curl is doing when the RST arrives (measured: all three occur).
    assert reset.exit_code in ((16, 55, 56) if tls_max == "1.3" else (35,)), reset.stderr
    assert "Connection reset by peer" in (reset.error or "")
    assert [e["jsonPayload"]["statusDetails"] for e in log_entries(reset, "glb-reset")] == ["client_cert_not_provided"]


PERMISSIVE = """
[hosts.glb]
mtls = { mode = "ALLOW_INVALID_OR_MISSING_CLIENT_CERT" }
url_map = [{ path = "/api/*", backend = "api" }]
[hosts.glb.custom_headers]
X-Client-Cert-Present = "{client_cert_present}"
X-Client-Cert-Chain-Verified = "{client_cert_chain_verified}"
X-Client-Cert-Error = "{client_cert_error}"
X-Client-Cert-Spiffe = "{client_cert_spiffe_id}"
[hosts.api]
kind = "backend"
address = "10.2.2.2:443"
"""


@TLS_VERSIONS
async def test_permissive_mode_forwards_the_verdict_in_headers(lab: LabFactory, tmp_path: Path, tls_max: str) -> None:
    async with lab(variant(tmp_path, PERMISSIVE)) as runner:
        results = {
            cert: await runner.run(
                ["curl", "-sS", "--tls-max", tls_max, *PIN, *cert_args(cert), "https://mydomain/api/v1"]
            )
            for cert in (None, "rogue-client", "client")
        }
        own = await runner.run(["curl", "-sS", "--tls-max", tls_max, *PIN, "https://mydomain/other"])
    for result in results.values():
        assert result.exit_code == 0, result.stderr
        assert result.reached == "glb"  # the client's TLS ended at the load balancer
        (backend_response,) = [e for e in result.events if e.host == "api" and e.kind == "response"]
        assert backend_response.via == "glb"
        assert "served-by: api" in result.stdout
    assert "x-client-cert-present: false" in results[None].stdout
    assert "x-client-cert-error: client_cert_not_provided" in results[None].stdout
    assert "x-client-cert-chain-verified: false" in results["rogue-client"].stdout
    assert "x-client-cert-error: client_cert_validation_failed" in results["rogue-client"].stdout
    assert "x-client-cert-chain-verified: true" in results["client"].stdout
    assert "x-client-cert-spiffe: spiffe://lab.example/learner/client" in results["client"].stdout
    assert "forwarded" not in [e.kind for e in own.events]
    assert "served-by: glb" in own.stdout


@pytest.mark.parametrize(
    "data",
    [
        b"GET / HTTP/1.1\r\nHost: mydomain\r\n\r\n",  # plain HTTP at the TLS port
        b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",  # a ClientHello that makes no sense
        b"\x16\x03\x01\x02\x00\x01",  # a ClientHello cut short, then the client leaves
    ],
)
async def test_garbage_gets_one_event_one_log_entry_and_the_glb_keeps_serving(lab: LabFactory, data: bytes) -> None:
    async with lab("seed") as runner:
        with trio.fail_after(5):
            stream = await trio.open_tcp_stream(*GLB)
            async with stream:
                await stream.send_all(data)
                await stream.send_eof()
                while await stream.receive_some(65536):
                    pass
        await settled(runner)
        seen = glb_events(runner.world.timeline.since(0))
        assert [e.kind for e in seen] == ["listening", "accepted", "tls-failed", "log", "closed"]
        assert "statusDetails" not in seen[3].entry["jsonPayload"]  # Google has no word for it
        assert seen[3].entry["lab"]["statusDetails"] == "tls_handshake_failed"  # the lab's, kept apart
        result = await runner.run(["curl", "-sS", *PIN, *cert_args("client"), "https://mydomain"])
        assert result.reached == "glb"


async def test_bad_http_after_a_good_handshake_is_one_error_event(lab: LabFactory) -> None:
    async with lab("seed") as runner:
        context = ssl.create_default_context(cafile=str(runner.world.pki.trust_bundle))
        context.load_cert_chain(ROOT / "certs/client.crt", ROOT / "certs/client.key")
        context.set_alpn_protocols(["http/1.1"])
        with trio.fail_after(5):
            tcp = await trio.open_tcp_stream(*GLB)
            tls = trio.SSLStream(tcp, context, server_hostname="mydomain")
            async with tls:
                await tls.send_all(b"NOT HTTP AT ALL\r\n\r\n")
                answer = b""
                while chunk := await tls.receive_some(65536):
                    answer += chunk
        await settled(runner)
        assert [e.kind for e in glb_events(runner.world.timeline.since(0))] == [
            "listening",
            "accepted",
            "tls-ok",
            "error",
            "closed",
        ]
        result = await runner.run(["curl", "-sS", *PIN, *cert_args("client"), "https://mydomain"])
        assert result.reached == "glb"


async def test_lab_run_keeps_the_log_for_lab_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logs, "LOG_DIR", tmp_path)
    assert await replay([scenario.load("mtls-logging")], True) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(step["step"], step["ok"]) for step in steps] == [(1, True), (2, True), (3, True), (4, True)]
    stored = logs.load("mtls-logging")
    client_cert = [e for e in stored.entries if logmatch.matches(e, 'jsonPayload.statusDetails=~"client_cert"')]
    assert [e["resource"]["labels"]["forwarding_rule_name"] for e in client_cert] == ["glb-logged"]
    assert [lb for lb, _ in stored.unwritten] == ["glb"]  # logging off: the customer's "no logs"
    allowed = [e for e in stored.entries if e["resource"]["labels"]["forwarding_rule_name"] == "glb-allow"]
    assert [e["jsonPayload"]["mtls"]["clientCertError"] for e in allowed] == [
        "client_cert_not_provided",
        "client_cert_validation_failed",
    ]
    for entry in allowed:  # a regional load balancer: ports on addresses, the protocol, its own resource type
        assert entry["resource"]["type"] == "http_external_regional_lb_rule"
        assert entry["httpRequest"]["remoteIp"].count(":") == 1
        assert entry["httpRequest"]["protocol"] == "HTTP/2"
        assert entry["jsonPayload"]["statusDetails"] == "response_sent_by_backend"


async def test_sampling_drops_entries_and_says_so(lab: LabFactory, tmp_path: Path) -> None:
    async with lab(variant(tmp_path, "[hosts.glb]\nlogging = { sample_rate = 0.0 }\n")) as runner:
        result = await runner.run(["curl", "-sS", "-k", "https://88.88.88.88"])
    (log,) = [e for e in result.events if e.kind == "log"]
    assert not log.written
    assert "sampled away" in log.summary


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '[hosts.glb]\nmtls = { mode = "STRICT" }\n',
            3,
            "unknown mtls mode 'STRICT' (expected one of: REJECT_INVALID, ALLOW_INVALID_OR_MISSING_CLIENT_CERT, none)",
        ),
        ('[hosts.glb]\nmtls.trust_anchors = ["nope"]\n', 3, "trust_anchors must list CAs among"),
        ('[hosts.glb]\nmtls.allowlist = ["nope"]\n', 3, "allowlist must list lab client certificates among"),
        ('[hosts.glb]\ntls.min = "1.1"\n', 3, "unknown TLS version '1.1' (expected one of: 1.2, 1.3)"),
        (
            '[hosts.glb]\nfailure_style = "loud"\n',
            3,
            "unknown failure_style 'loud' (expected one of: alert, silent, reset, empty-reply)",
        ),
        ("[hosts.glb]\nlogging.sample_rate = 2\n", 3, "sample_rate must be between 0.0 and 1.0, not 2"),
        (
            '[hosts.glb]\nurl_map = [{ path = "/x", backend = "old2" }]\n',
            3,
            "unknown backend 'old2' (backend hosts here: old)",
        ),
        (
            "[hosts.glb]\ncustom_headers = { X = 1 }\n",
            3,
            'custom_headers must be a table like { "X-Client-Cert-Present" = "{client_cert_present}" }, not {\'X\': 1}',
        ),
        (
            '[hosts.glb]\nmtlss = "x"\n',
            3,
            "unknown setting 'mtlss' for a glb host (expected one of: cert, custom_headers, failure_style, "
            "load_balancer, logging, more_certs, mtls, region, tls, url_map)",
        ),
    ],
)
def test_bad_settings_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = variant(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        scenario.load(path)
    assert caught.value.line == line
    if message.endswith(" among"):  # the rest lists the lab's CAs or client certificates
        assert caught.value.message.startswith(f"{message}: ")
    else:
        assert caught.value.message == message
