"""The load balancer's decisions without sockets: the handshake, the alert, what a refusal logs, the URL map,
the headers a backend gets, and the settings ``lab check`` refuses (file:line)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lab.errors import ScenarioError
from lab.hosts.glb import mtls, policy
from lab.model import scenario
from lab.model.certspec import CertSpec
from lab.model.glbheaders import CustomHeader, parse_template
from lab.model.glbsettings import GlbSettings, Route

REJECT = GlbSettings(cert=CertSpec(names=("mydomain",)), mode="REJECT_INVALID")
HDR = "https://cloud.google.com/load-balancing/docs/https/custom-headers"


def verdict(error: str, reason: str, present: bool = True) -> mtls.Verdict:
    return mtls.Verdict(present=present, chain_verified=not error, error=error, reason=reason, detail="d")


# (the verdict's check, the X.509 error OpenSSL is given, the alert OpenSSL sends for it)
HANDSHAKES = [
    ("expired", 10, "certificate_expired"),
    ("unknown_issuer", 20, "unknown_ca"),
    ("eku", 26, "unsupported_certificate"),
    ("ca_leaf", 26, "unsupported_certificate"),
    ("depth", 22, "unknown_ca"),
    ("weak_hash", 68, "bad_certificate"),
    ("rsa_size", 50, "handshake_failure"),
    ("curve", 50, "handshake_failure"),
    ("algorithm", 50, "handshake_failure"),
    ("pki_too_large", 50, "handshake_failure"),
    ("name_constraints", 50, "handshake_failure"),
    ("timeout", 50, "handshake_failure"),
    ("search_limit", 50, "handshake_failure"),
]


@pytest.mark.parametrize(("reason", "error", "alert"), HANDSHAKES)
def test_a_refused_certificate_ends_the_handshake_with_the_matching_error(reason: str, error: int, alert: str) -> None:
    refused = verdict("client_cert_something", reason)
    assert policy.handshake_decision(refused, REJECT) == error
    assert policy.alert_for(refused, "TLSv1.3") == alert
    permissive = dataclasses.replace(REJECT, mode="ALLOW_INVALID_OR_MISSING_CLIENT_CERT")
    assert policy.handshake_decision(refused, permissive) == 0
    assert policy.handshake_decision(refused, dataclasses.replace(REJECT, failure_style="empty-reply")) == 0


def test_an_accepted_certificate_and_no_certificate() -> None:
    assert policy.handshake_decision(verdict("", ""), REJECT) == 0
    missing = verdict("client_cert_not_provided", "not_provided", present=False)
    assert policy.alert_for(missing, "TLSv1.3") == "certificate_required"
    assert policy.alert_for(missing, "TLSv1.2") == "handshake_failure"


def test_refusals_log_googles_word_or_the_labs_apart() -> None:
    refused = policy.refusal(verdict("client_cert_chain_invalid_eku", "eku"), "ignored")
    assert (refused.status_details, refused.lab_details) == ("client_cert_chain_invalid_eku", "")
    garbage = policy.refusal(None, "wrong version number")
    assert (garbage.status_details, garbage.lab_details) == ("", "tls_handshake_failed")
    key_proof = policy.refusal(None, "bad signature")
    assert "prove it holds the certificate's key" in key_proof.lab_note


ROUTES = (Route(host="*", path="/api/*", backend="api"), Route(host="admin.*", path="*", backend="admin"))


@pytest.mark.parametrize(
    ("authority", "target", "backend"),
    [
        ("mydomain", "/api/v1", "api"),
        ("mydomain:443", "/api/v1?x=/other", "api"),
        ("admin.mydomain", "/", "admin"),
        ("ADMIN.mydomain", "/", "admin"),
        ("mydomain", "/other", None),
        ("[2001:db8::1]:443", "/api/x", "api"),
    ],
)
def test_url_map(authority: str, target: str, backend: str | None) -> None:
    route = policy.route_for(ROUTES, authority, target)
    assert (route.backend if route else None) == backend


def test_status_details_of_answered_requests() -> None:
    assert policy.answered_status_details(None, reached=False) == "direct_response"
    assert policy.answered_status_details(ROUTES[0], reached=True) == "response_sent_by_backend"
    assert policy.answered_status_details(ROUTES[0], reached=False) == "failed_to_connect_to_backend"


def test_custom_headers_overwrite_what_the_client_sent() -> None:
    """HDR: the load balancer's header replaces a client-sent header of the same name (any case)."""
    custom = (
        CustomHeader(
            name="x-client-cert-chain-verified", template="", parts=parse_template("{client_cert_chain_verified}")
        ),
    )
    client = (("X-Client-Cert-Chain-Verified", "true"), ("user-agent", "curl"), ("host", "evil"))
    headers = policy.backend_headers(
        client, custom, {"client_cert_chain_verified": "false"}, authority="mydomain", via="glb"
    )
    assert headers == [
        ("host", "mydomain"),
        ("x-lab-via", "glb"),
        ("x-client-cert-chain-verified", "false"),
        ("user-agent", "curl"),
    ], HDR


def variant(tmp_path: Path, text: str) -> str:
    path = tmp_path / "variant.toml"
    path.write_text('topology = "seed"\n[hosts.glb]\n' + text)
    return str(path)


# (glb settings, line of the error, message) - each a rule of HDR or of the ServerTlsPolicy reference
BAD = [
    ('custom_headers = { X = "{no_such_var}" }\n', 3, "unknown variable {no_such_var}"),
    ('custom_headers = { X = "{client_cert_presnt}" }\n', 3, "did you mean {client_cert_present}?"),
    ('custom_headers = { X = "{client_city}" }\n', 3, "a Google variable the lab cannot fill"),
    ('custom_headers = { X = "{client_cert_present" }\n', 3, "is not closed"),
    ('custom_headers = { X = "a}b" }\n', 3, "lone '}'"),
    ('custom_headers = { "X Y" = "v" }\n', 3, "not a valid header name"),
    ('custom_headers = { "Connection" = "v" }\n', 3, "hop-by-hop"),
    ('custom_headers = { "X-Goog-Thing" = "v" }\n', 3, "names starting 'x-goog-' are reserved"),
    ('custom_headers = { "X-A" = "1", "x-a" = "2" }\n', 3, "configured twice"),
    ("custom_headers = { " + ", ".join(f'"H{i}" = "v"' for i in range(17)) + " }\n", 3, "at most 16"),
    ('custom_headers = { X = "' + "v" * 8200 + '" }\n', 3, "the limit is 8192"),
    ('mtls = { mode = "REJECT_INVALID", trust_anchors = [] }\n', 3, "REJECT_INVALID needs a trust config"),
    ('mtls = { simulate = "slow" }\n', 3, "unknown mtls.simulate 'slow'"),
    ('load_balancer = "classic"\n', 3, "unknown load_balancer 'classic'"),
    ('logging = { optional_fields = ["tls.version"] }\n', 3, "unknown optional field 'tls.version'"),
    ('logging = { project_number = "abc" }\n', 3, "project_number must be digits"),
    ('mtls.allowlist = ["nope"]\n', 3, "allowlist must list lab client certificates"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_lab_check_refuses_what_google_would(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        scenario.load(variant(tmp_path, text))
    assert caught.value.line == line
    assert message in caught.value.message


GOOD = [
    'custom_headers = { X-Chain = "{client_cert_chain}" }',
    'custom_headers = { X-Braces = "{{literal}} {client_cert_present}" }',
    'custom_headers = { X-Conn = "{client_ip_address}:{client_port} {tls_version} {tls_cipher_suite}" }',
    'mtls = { mode = "ALLOW_INVALID_OR_MISSING_CLIENT_CERT", trust_anchors = [] }',
    'mtls = { mode = "REJECT_INVALID", trust_anchors = [], allowlist = ["rogue-client"] }',
    'load_balancer = "internal"\nlogging = { optional_mode = "CUSTOM", optional_fields = ["mtls", "tls.cipher"] }',
]


@pytest.mark.parametrize("text", GOOD)
def test_lab_check_accepts(tmp_path: Path, text: str) -> None:
    assert scenario.load(variant(tmp_path, text + "\n")).hosts["glb"].kind == "glb"


# --- which certificate the load balancer presents: by SNI, else the primary one ------------------------------

SNI_CERTS = dataclasses.replace(
    REJECT,
    more_certs=(
        CertSpec(names=("api.mydomain",)),
        CertSpec(names=("*.apps.mydomain",)),
        CertSpec(names=(), ips=("88.88.88.88",)),
    ),
)


@pytest.mark.parametrize(
    ("sni", "index"),
    [
        ("mydomain", 0),  # the primary one's own name
        ("api.mydomain", 1),
        ("API.MYDOMAIN.", 1),  # names ignore case and a trailing dot
        ("shop.apps.mydomain", 2),  # a wildcard, one label deep
        ("a.shop.apps.mydomain", 0),  # not two: the primary one
        ("other.mydomain", 0),  # no certificate carries it: the primary one
        (None, 0),  # no SNI (an address in the URL): the primary one, whatever the others carry
        ("88.88.88.88", 0),  # a certificate for an address is never chosen by a name
    ],
)
def test_the_certificate_is_chosen_by_sni_else_the_primary(sni: str | None, index: int) -> None:
    assert SNI_CERTS.certificate_for(sni) == index


def test_more_certs_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(
        'title = "t"\n[hosts.glb]\nkind = "glb"\naddress = "88.88.88.88:443"\n'
        'more_certs = [{ names = ["api.mydomain"] }, { names = ["bad name"] }]\n'
        '[[steps]]\nrun = "curl https://mydomain"\n'
    )
    with pytest.raises(ScenarioError) as failed:
        scenario.load(path)
    assert "w.toml:5" in str(failed.value)
    assert "'bad name' is not a DNS name" in str(failed.value)
    path.write_text(path.read_text().replace(', { names = ["bad name"] }', ""))
    settings = scenario.load(path).hosts["glb"].settings
    assert isinstance(settings, GlbSettings)
    assert [c.names for c in settings.more_certs] == [("api.mydomain",)]
