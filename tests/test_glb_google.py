"""The load balancer as Google documents it, through the lab with the real curl: every statusDetails a
certificate can cause, the allowlist, overwritten client headers, every header variable, the empty-reply
style, and the filters the gcp-status-details scenario shows."""

from __future__ import annotations

import base64
import json
import re
import socket
import warnings
from pathlib import Path
from typing import Any

import pytest
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from lab.apps import logs
from lab.apps.replay import replay
from lab.model import scenario
from lab.model.events import Event
from lab.model.glbheaders import MTLS_VARIABLES
from lab.model.outcome import CurlResult
from lab.paths import ROOT
from lab.protocols import logmatch
from lab.runtime.runner import Runner
from tests import certs
from tests.conftest import LabFactory

pytestmark = pytest.mark.netns

LOG = "https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring"
MTLS = "https://cloud.google.com/load-balancing/docs/mtls"
HDR = "https://cloud.google.com/load-balancing/docs/https/custom-headers"


def cert_args(name: str | None, directory: str = "certs") -> list[str]:
    return [] if name is None else ["--cert", f"{directory}/{name}.crt", "--key", f"{directory}/{name}.key"]


def entries(result: CurlResult, host: str) -> list[dict[str, Any]]:
    return [e.entry for e in result.events if e.host == host and e.kind == "log" and e.written]


def first(events: tuple[Event, ...], kind: str) -> Any:
    return next(e for e in events if e.kind == kind)


# (certificate, load balancer, statusDetails, {TLS: (curl exit, curl's words)}, source). The alerts are
# OpenSSL's for the matching X.509 error (lab/hosts/glb/policy.py); TLS 1.2 curl 7.88 reports an incoming
# certificate_expired alert as exit 60.


def alert(words: str, tls12: tuple[int, str] | None = None) -> dict[str, tuple[int, str]]:
    """curl's outcome when the load balancer's alert says ``words``: exit 56 in TLS 1.3, 35 in TLS 1.2."""
    return {"1.3": (56, words), "1.2": tls12 or (35, words)}


HANDSHAKE_FAILURE, UNSUPPORTED = alert("handshake failure"), alert("unsupported certificate")
ROWS = [
    (None, "glb", "client_cert_not_provided", alert("certificate required", (35, "handshake failure")), LOG),
    ("rogue-client", "glb", "client_cert_validation_failed", alert("unknown ca"), LOG),
    ("expired-client", "glb", "client_cert_validation_failed", alert("certificate expired", (60, "")), LOG),
    ("ca-leaf-client", "glb", "client_cert_validation_failed", UNSUPPORTED, MTLS),
    ("noeku-client", "glb", "client_cert_chain_invalid_eku", UNSUPPORTED, LOG),
    ("rsa4608-client", "glb", "client_cert_invalid_rsa_key_size", HANDSHAKE_FAILURE, LOG),
    ("p521-client", "glb", "client_cert_unsupported_elliptic_curve_key", HANDSHAKE_FAILURE, LOG),
    ("ed25519-client", "glb", "client_cert_unsupported_key_algorithm", HANDSHAKE_FAILURE, LOG),
    ("pki-too-large-client", "glb", "client_cert_pki_too_large", HANDSHAKE_FAILURE, LOG),
    ("name-constraints-client", "glb", "client_cert_chain_max_name_constraints_exceeded", HANDSHAKE_FAILURE, LOG),
    ("deep-chain-client", "glb", "client_cert_validation_search_limit_exceeded", alert("unknown ca"), LOG),
    ("client", "glb-timeout", "client_cert_validation_timed_out", HANDSHAKE_FAILURE, LOG),
    ("client", "glb-search", "client_cert_validation_search_limit_exceeded", HANDSHAKE_FAILURE, LOG),
]
ADDRESSES = {"glb": "88.88.88.88", "glb-timeout": "88.88.88.91", "glb-search": "88.88.88.92"}


@pytest.mark.parametrize("tls", ["1.3", "1.2"])
async def test_every_status_details_through_the_lab(lab: LabFactory, tls: str) -> None:
    async with lab("gcp-status-details") as runner:
        for cert, lb, details, outcomes, source in ROWS:
            pin = ["--resolve", f"mydomain:443:{ADDRESSES[lb]}"]
            result = await runner.run(["curl", "-sS", "--tls-max", tls, *pin, *cert_args(cert), "https://mydomain"])
            code, words = outcomes[tls]
            assert (cert, result.exit_code) == (cert, code), result.stderr
            assert words in (result.error or ""), (cert, source)
            assert first(result.events, "tls-failed").status_details == details
            (entry,) = entries(result, lb)
            assert logmatch.matches(entry, f'jsonPayload.statusDetails="{details}" httpRequest.status=0'), source
            assert entry["resource"]["labels"]["forwarding_rule_name"] == lb


ALLOWLIST = """
[hosts.glb]
mtls = { mode = "REJECT_INVALID", allowlist = ["rogue-client", "expired-client"] }
[hosts.glb-bare]
kind = "glb"
address = "88.88.88.89:443"
cert.names = ["mydomain"]
mtls = { mode = "REJECT_INVALID", trust_anchors = [], allowlist = ["rogue-client"] }
"""


def variant(tmp_path: Path, text: str) -> str:
    path = tmp_path / "variant.toml"
    path.write_text('topology = "seed"\n' + text)
    return str(path)


@pytest.mark.parametrize("address", ["88.88.88.88", "88.88.88.89"])
async def test_allowlisted_certificates_pass_without_an_anchor_even_expired(
    lab: LabFactory, tmp_path: Path, address: str
) -> None:
    """MTLS: an allowlisted certificate is valid if it parses and its key is proven; no trust store needed."""
    async with lab(variant(tmp_path, ALLOWLIST)) as runner:
        for cert in ("rogue-client", "expired-client"):
            if address == "88.88.88.89" and cert == "expired-client":
                continue  # glb-bare allowlists only rogue-client
            pin = ["--resolve", f"mydomain:443:{address}"]
            result = await runner.run(["curl", "-sS", *pin, *cert_args(cert), "https://mydomain"])
            assert result.exit_code == 0, (cert, result.stderr)
            assert "client-cert-verdict: verified" in result.stdout
            (entry,) = [e for e in result.events if e.kind == "log"]
            assert entry.entry["jsonPayload"]["statusDetails"] == "direct_response"
        refused = await runner.run(
            ["curl", "-sS", "--resolve", f"mydomain:443:{address}", *cert_args("noeku-client"), "https://mydomain"]
        )
        assert refused.exit_code == 56  # not on the list: judged as usual


def _handshake_without_the_key(address: str, cert: Path, key: Path) -> str:
    """tlslite-ng, unlike OpenSSL, sends a certificate with any key: the failed proof of possession."""
    with warnings.catch_warnings():  # tlslite-ng imports asyncore, deprecated since Python 3.10
        warnings.simplefilter("ignore", DeprecationWarning)
        from tlslite import HandshakeSettings, TLSConnection, X509CertChain, parsePEMKey
        from tlslite.errors import TLSRemoteAlert

    chain = X509CertChain()
    chain.parsePemList(cert.read_text())
    settings = HandshakeSettings()
    settings.maxVersion = (3, 3)  # TLS 1.2: tlslite-ng 0.8's TLS 1.3 client and OpenSSL 4 disagree
    with socket.create_connection((address, 443), timeout=5) as sock:
        connection = TLSConnection(sock)
        try:
            connection.handshakeClientCert(chain, parsePEMKey(key.read_text(), private=True), settings=settings)
        except TLSRemoteAlert as alert:
            return str(alert)
        return "handshake ok"


@pytest.mark.parametrize("mode", ["REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"])
async def test_an_allowlisted_certificate_without_its_key_is_refused(
    lab: LabFactory, tmp_path: Path, mode: str
) -> None:
    """STP/MTLS: proof of private-key possession is always checked; the handshake ends (both modes)."""
    text = f'[hosts.glb]\nmtls = {{ mode = "{mode}", allowlist = ["rogue-client"] }}\n'
    async with lab(variant(tmp_path, text)) as runner:
        wrong = await trio.to_thread.run_sync(
            _handshake_without_the_key, "88.88.88.88", ROOT / "certs/rogue-client.crt", ROOT / "certs/client.key"
        )
        right = await trio.to_thread.run_sync(
            _handshake_without_the_key, "88.88.88.88", ROOT / "certs/rogue-client.crt", ROOT / "certs/rogue-client.key"
        )
        assert await trio.to_thread.run_sync(runner.world.timeline.wait_idle, 5.0)
        seen = [e for e in runner.world.timeline.since(0) if e.host == "glb"]
    assert wrong == "decrypt_error"
    assert right == "handshake ok"
    failed = first(tuple(seen), "tls-failed")
    assert "bad signature" in failed.reason
    assert failed.alert == "decrypt_error"
    assert failed.status_details == ""  # no client_cert_* word: the certificate itself was fine
    log = first(tuple(seen), "log")
    assert log.entry["lab"]["statusDetails"] == "tls_handshake_failed"
    assert "prove it holds the certificate's key" in log.entry["lab"]["note"]


def _variable_headers() -> str:
    lines = [f'"X-Client-Cert-V-{v.removeprefix("client_cert_")}" = "{{{v}}}"' for v in MTLS_VARIABLES]
    return "\n".join(lines)


VARIABLES = f"""
[hosts.glb]
mtls = {{ mode = "ALLOW_INVALID_OR_MISSING_CLIENT_CERT" }}
url_map = [{{ path = "/*", backend = "app" }}]
[hosts.glb.custom_headers]
{_variable_headers()}
[hosts.app]
kind = "backend"
address = "10.2.2.2:443"
"""


def echoed(stdout: str) -> dict[str, str]:
    prefix = "x-client-cert-v-"
    return {
        "client_cert_" + k.removeprefix(prefix): v
        for k, _, v in (line.partition(": ") for line in stdout.splitlines())
        if k.startswith(prefix)
    }


def expected_for(leaf: x509.Certificate) -> dict[str, str]:
    """The values HDR describes, worked out here from the certificate file, independently of the lab."""
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    serial = leaf.serial_number.to_bytes(leaf.serial_number.bit_length() // 8 + 1, "big")
    return {
        "client_cert_present": "true",
        "client_cert_chain_verified": "true",
        "client_cert_error": "",
        "client_cert_sha256_fingerprint": b64(leaf.fingerprint(hashes.SHA256())).rstrip("="),
        "client_cert_serial_number": ":".join(f"{b:02x}" for b in serial),
        "client_cert_spiffe_id": "spiffe://lab.example/learner/client",
        "client_cert_uri_sans": "",  # its only URI SAN is the SPIFFE ID, which is left out
        "client_cert_dnsname_sans": ",".join(b64(d.encode()) for d in sans.get_values_for_type(x509.DNSName)),
        "client_cert_valid_not_before": leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "client_cert_valid_not_after": leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "client_cert_issuer_dn": b64(leaf.issuer.public_bytes()),
        "client_cert_subject_dn": b64(leaf.subject.public_bytes()),
        "client_cert_leaf": ":" + b64(leaf.public_bytes(serialization.Encoding.DER)) + ":",
        "client_cert_chain": "",  # client.crt carries no intermediates
    }


async def test_every_variable_reaches_the_backend_in_googles_format(lab: LabFactory, tmp_path: Path) -> None:
    async with lab(variant(tmp_path, VARIABLES)) as runner:
        good = await runner.run(
            ["curl", "-sS", *["--resolve", "mydomain:443:88.88.88.88"], *cert_args("client"), "https://mydomain/"]
        )
        none = await runner.run(["curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", "https://mydomain/"])
        big = await _oversized_subject(runner, tmp_path)
    leaf = x509.load_pem_x509_certificate((ROOT / "certs/client.crt").read_bytes())
    assert echoed(good.stdout) == expected_for(leaf), HDR
    # HDR: a value that cannot be known is empty; the backend still gets the header (empty values are sent)
    missing = echoed(none.stdout)
    assert (missing["client_cert_present"], missing["client_cert_error"]) == ("false", "client_cert_not_provided")
    assert missing["client_cert_sha256_fingerprint"] == ""
    values = echoed(big.stdout)
    assert values["client_cert_subject_dn"] == ""
    assert values["client_cert_error"] == "client_cert_subject_dn_exceeded_size_limit", HDR
    assert values["client_cert_chain_verified"] == "true"


async def _oversized_subject(runner: Runner, directory: Path) -> CurlResult:
    """A valid client certificate from the lab's client CA whose subject is over 512 bytes."""
    pki = runner.world.pki
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 60) for _ in range(10)])
    leaf, key = certs.issue((pki.client_ca.cert, pki.client_ca.key), subject=subject)
    (directory / "big.crt").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (directory / "big.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return await runner.run(
        ["curl", "-sS", "--resolve", "mydomain:443:88.88.88.88", *cert_args("big", str(directory)), "https://mydomain/"]
    )


async def test_a_client_cannot_forge_a_header_the_load_balancer_sets(lab: LabFactory) -> None:
    """HDR: the load balancer's header overwrites one of the same name; directly at the backend it does not."""
    async with lab("mtls-header-trust") as runner:
        forged = "X-Client-Cert-Chain-Verified: true"
        through = await runner.run(
            ["curl", "-sS", "--resolve", "mydomain:443:88.88.88.90", "-H", forged, "https://mydomain/"]
        )
        direct = await runner.run(["curl", "-sS", "-k", "-H", forged, "https://10.2.2.2/"])
    verified = [line for line in through.stdout.splitlines() if line.startswith("x-client-cert-chain-verified")]
    assert verified == ["x-client-cert-chain-verified: false"]
    assert "x-client-cert-chain-verified: true" in direct.stdout
    assert through.reached == "glb-allow"
    assert direct.reached == "app"


async def test_empty_reply_style_finishes_the_handshake_then_closes(lab: LabFactory, tmp_path: Path) -> None:
    """What a real Google load balancer was seen to do; curl's words depend on HTTP/1.1 or HTTP/2
    (measured: docs/scenarios.md, "How a refused connection ends")."""
    async with lab(variant(tmp_path, '[hosts.glb]\nfailure_style = "empty-reply"\n')) as runner:
        pin = ["--resolve", "mydomain:443:88.88.88.88"]
        h1 = await runner.run(["curl", "-sS", "--http1.1", *pin, *cert_args("noeku-client"), "https://mydomain"])
        h2 = await runner.run(["curl", "-sS", *pin, "https://mydomain"])
        ok = await runner.run(["curl", "-sS", *pin, *cert_args("client"), "https://mydomain"])
    assert (h1.exit_code, h1.error) == (52, "curl: (52) Empty reply from server")
    assert h2.exit_code in (16, 18), h2.stderr  # curl 8: HTTP/2 framing layer (16); curl 7.88: stream not closed (18)
    kinds = [e.kind for e in h1.events if e.host == "glb"]
    assert kinds.index("tls-ok") < kinds.index("tls-failed")
    assert first(h1.events, "tls-failed").status_details == "client_cert_chain_invalid_eku"
    assert "close_notify, closed without an HTTP response" in first(h1.events, "closed").summary
    assert [e["jsonPayload"]["statusDetails"] for e in entries(h2, "glb")] == ["client_cert_not_provided"]
    assert ok.exit_code == 0


def _filters(step: scenario.Step) -> list[str]:
    return [
        line.removeprefix("Filter:").split(" (")[0].strip()
        for line in step.lesson.splitlines()
        if line.startswith("Filter:")
    ]


async def test_the_filters_the_scenario_shows_find_each_steps_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(logs, "LOG_DIR", tmp_path)
    loaded = scenario.load("gcp-status-details")
    assert await replay([loaded], True) == 0
    steps = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(step["step"], step["ok"]) for step in steps] == [(s.number, True) for s in loaded.steps]
    stored = logs.load("gcp-status-details").entries
    for step in loaded.steps:
        (query,) = _filters(step)
        found = [e for e in stored if logmatch.matches(e, query)]
        assert found, (step.number, query)
        named = re.search(r'statusDetails="([a-z_]+)"', query) or re.search(r'clientCertError="([a-z_]+)"', query)
        assert named is not None
        for entry in found:
            payload = entry["jsonPayload"]
            assert named.group(1) in (payload.get("statusDetails"), payload.get("mtls", {}).get("clientCertError"))


async def test_tls_cipher_suite_variable_is_the_iana_code(lab: LabFactory, tmp_path: Path) -> None:
    text = VARIABLES.replace("[hosts.app]", '"X-Client-Cert-V-cipher" = "{tls_cipher_suite}"\n[hosts.app]')
    async with lab(variant(tmp_path, text)) as runner:
        result = await runner.run(
            [
                "curl",
                "-sS",
                "--tls13-ciphers",
                "TLS_AES_128_GCM_SHA256",
                "--resolve",
                "mydomain:443:88.88.88.88",
                "https://mydomain/",
            ]
        )
    assert echoed(result.stdout)["client_cert_cipher"] == "1301"  # TLS_AES_128_GCM_SHA256, from OpenSSL's list
