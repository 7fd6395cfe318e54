"""Host behaviours from customers' transcripts, each replayed with the real curl (tests/data/behaviours-world.toml).

Every row is one behaviour: what curl must say (exit code and error line, curl 7.88 wording as the system's
curl prints it), and what the host that decided must have reported - so a behaviour that "works" only because
curl failed some other way (a missing hosts entry, a wrong address) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.model.events import TlsFailed, TunnelRefused
from lab.model.outcome import CurlResult
from tests.conftest import LabFactory

pytestmark = pytest.mark.netns

WORLD = str(Path(__file__).parent / "data" / "behaviours-world.toml")
CLIENT = ["--cert", "certs/client.crt", "--key", "certs/client.key"]
ROGUE = ["--cert", "certs/rogue-client.crt", "--key", "certs/rogue-client.key"]
EXPIRED = ["--cert", "certs/expired-client.crt", "--key", "certs/expired-client.key"]
NOEKU = ["--cert", "certs/noeku-client.crt", "--key", "certs/noeku-client.key"]
FUTURE = ["--cert", "certs/future-client.crt", "--key", "certs/future-client.key"]
PROXY = ["-x", "http://10.9.9.9:3128"]
SOCKS, SOCKS_H = ["-x", "socks5://10.9.9.9:1080"], ["-x", "socks5h://10.9.9.9:1080"]
PROXY_CERT = ["--proxy-cert", "certs/client.crt", "--proxy-key", "certs/client.key"]

HTTPS_PROXY = "https://proxy.corp:{}"
SITE = "https://mydomain/"

# (id, curl arguments, exit code, piece of the error line, the host that decides, an event it must report)
CASES = [
    # a TLS origin: a chosen alert right after the ClientHello, a close there, a close after the ServerHello
    ("alert-after-hello", ["https://gw.test/"], 35, "sslv3 alert handshake failure", "alert", "tls-failed"),
    ("other-alert", ["https://in.test/"], 35, "tlsv1 alert internal error", "internal", "tls-failed"),
    ("rst-after-hello", ["https://rst.test/"], 35, "Connection reset by peer", "rst", "tls-failed"),
    ("close-after-serverhello", ["https://staging.test/"], 35, "SSL_ERROR_SYSCALL", "serverhello", "tls-failed"),
    ("tls13-only", ["--tls-max", "1.2", "https://tls13.test/"], 35, "alert protocol version", "tls13", "tls-failed"),
    # the certificates curl refuses
    ("self-signed", ["https://jenkins.corp.internal/"], 60, "self-signed certificate", "jenkins", "tls-failed"),
    ("untrusted", ["https://api.partner.test/"], 60, "unable to get local issuer", "partner", "tls-failed"),
    ("untrusted-root-sent", ["https://mitm.test/"], 60, "self-signed certificate in certificate chain", "mitm",
     "tls-failed"),
    ("no-intermediate", ["https://nochain.test/"], 60, "unable to get local issuer certificate", "nochain",
     "tls-failed"),
    ("cn-only-ok", ["https://intranet/"], 0, "", "cnonly", "response"),
    ("cn-only-wrong", ["https://cn.test/"], 60, "subject name 'intranet' does not match", "cnonly", "tls-ok"),
    ("expired", ["https://legacy.shop.test/"], 60, "certificate has expired", "legacy", "tls-failed"),
    # client certificates: OpenSSL's own alert for each lab certificate
    ("mtls-none-tls13", ["https://api.mydomain/"], 56, "alert certificate required", "mtls", "tls-failed"),
    ("mtls-none-tls12", ["--tls-max", "1.2", "https://api.mydomain/"], 35, "alert handshake failure", "mtls", None),
    ("mtls-rogue", [*ROGUE, "https://api.mydomain/"], 56, "alert unknown ca", "mtls", "tls-failed"),
    ("mtls-expired-tls12", [*EXPIRED, "--tls-max", "1.2", "https://api.mydomain/"], 60, "verification failed",
     "mtls", None),
    ("mtls-noeku", [*NOEKU, "https://api.mydomain/"], 56, "alert unsupported certificate", "mtls", "tls-failed"),
    ("mtls-not-yet-valid", [*FUTURE, "https://api.mydomain/"], 56, "alert bad certificate", "mtls", "tls-failed"),
    ("mtls-ok", [*CLIENT, "https://api.mydomain/"], 0, "", "mtls", "response"),
    # plain HTTP, redirects across hosts, answers that never come
    ("redirects", ["-L", "http://shop.test/"], 0, "", "www", "response"),
    ("redirect-not-followed", ["http://shop.test/"], 0, "", "shop", "response"),
    ("hang", ["-m", "1", "https://hang.test/"], 28, "Operation timed out", "hang", None),
    ("empty-reply", ["https://empty.test/"], 52, "Empty reply from server", "empty", None),
    ("http-on-tls-port", ["https://plain.test/"], 35, "wrong version number", "plain443", "error"),
    ("unresolvable", ["https://nothere.test/"], 6, "Could not resolve host: nothere.test", None, None),
    # proxy rules per destination
    ("proxy-403", [*PROXY, "https://mydomain:8443/"], 56, "response 403", "proxy", "tunnel-refused"),
    ("proxy-502", [*PROXY, "https://dead.internal/"], 56, "response 502", "proxy", "tunnel-refused"),
    ("proxy-407", [*PROXY, "https://login.test/"], 56, "response 407", "proxy", "tunnel-refused"),
    ("proxy-drop", [*PROXY, "https://drop.test/"], 56, "Proxy CONNECT aborted", "proxy", "tunnel-refused"),
    ("proxy-reset", [*PROXY, "https://rst.test/"], 56, "Connection reset by peer", "proxy", "tunnel-refused"),
    ("proxy-slow", ["-m", "1", *PROXY, "https://slow.test/"], 28, "timed out", "proxy", "error"),
    ("proxy-allowed", [*PROXY, SITE], 0, "", "old", "response"),
    # an HTTPS proxy: its certificate, --proxy-insecure, and --proxy-cert
    ("https-proxy", ["-x", HTTPS_PROXY.format(3443), SITE], 0, "", "old", "response"),
    ("https-proxy-untrusted", ["-x", HTTPS_PROXY.format(3444), SITE], 60, "unable to get local issuer",
     "rogueproxy", "tls-failed"),
    ("https-proxy-insecure", ["--proxy-insecure", "-x", HTTPS_PROXY.format(3444), SITE], 0, "", "old", "response"),
    ("https-proxy-no-cert", ["-x", HTTPS_PROXY.format(3445), SITE], 56, "alert certificate required",
     "certproxy", "tls-failed"),
    ("https-proxy-cert", [*PROXY_CERT, "-x", HTTPS_PROXY.format(3445), SITE], 0, "", "old", "response"),
    # SOCKS5 reply codes per destination, and a proxy that drops the greeting
    ("socks-refused", [*SOCKS, "https://192.0.2.14/"], 97, "connection to 192.0.2.14. (5)", "socks", "tunnel-refused"),
    ("socks-not-allowed", [*SOCKS_H, "https://mydomain:8443/"], 97, "connection to mydomain. (2)", "socks",
     "tunnel-refused"),
    ("socks-unknown-name", [*SOCKS_H, "https://nothere/"], 97, "connection to nothere. (4)", "socks", "tunnel-refused"),
    ("socks-drop", [*SOCKS_H, "https://drop.test/"], 97, "connection to proxy closed", "socks", "tunnel-refused"),
    ("socks-drop-greeting", ["-x", "socks5h://10.9.9.9:1081", SITE], 97, "connection to proxy closed", "dropsocks",
     "tunnel-refused"),
]  # fmt: skip


def _wrong(case: tuple[str, list[str], int, str, str | None, str | None], result: CurlResult) -> str | None:
    """Why ``result`` is not what the row says (None when it is)."""
    _, _, exit_code, error, host, kind = case
    if (result.exit_code, error in (result.error or "")) != (exit_code, True):
        return f"exit {result.exit_code}, error {result.error!r}"
    if exit_code == 0:
        return None if result.reached == host else f"reached {result.reached}"
    kinds = [e.kind for e in result.events if e.host == host]
    if host is not None and "accepted" not in kinds:  # the host that should decide was the one reached
        return f"{host} saw {kinds}"
    if kind is not None and kind not in kinds:
        return f"{host} reported {kinds}, no {kind}"
    return None


async def test_each_behaviour_with_real_curl(lab: LabFactory) -> None:
    """One lab for every row (a lab per row would cost ~0.4 s each); every wrong row is listed."""
    async with lab(WORLD) as runner:
        results = [await runner.run(["curl", "-sS", *case[1]]) for case in CASES]
    wrong = [(case[0], why) for case, result in zip(CASES, results, strict=True) if (why := _wrong(case, result))]
    assert wrong == []


async def test_alert_and_close_points_are_what_the_host_reports(lab: LabFactory) -> None:
    """The timeline says which alert was sent and where the handshake stopped (the explanation reads it)."""
    async with lab(WORLD) as runner:
        alerted = await runner.run(["curl", "-sS", "https://gw.test/"])
        stopped = await runner.run(["curl", "-sSv", "https://staging.test/"])
    failed = next(e for e in alerted.events if isinstance(e, TlsFailed))
    assert failed.sni == "gw.test"
    assert (failed.alert, failed.stopped) == ("handshake_failure", "client-hello")  # what left, and where
    assert "Server hello" in stopped.stderr  # curl read the ServerHello, and nothing after it
    assert "Certificate (11)" not in stopped.stderr
    assert "ServerHello" in next(e for e in stopped.events if isinstance(e, TlsFailed)).summary


async def test_proxy_rule_refusals_are_reported(lab: LabFactory) -> None:
    async with lab(WORLD) as runner:
        result = await runner.run(["curl", "-sS", "-x", "http://10.9.9.9:3128", "https://mydomain:8443/"])
    assert result.tunnel == "mydomain:8443"
    refused = next(e for e in result.events if isinstance(e, TunnelRefused))
    assert (refused.status, "'*:8443'" in refused.reason) == (403, True)
    assert not any(e.kind == "resolved" for e in result.events)  # the rule decided before the proxy's DNS
