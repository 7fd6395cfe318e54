"""The client-certificate verdict (no sockets): statusDetails, detail and header variables per certificate."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from lab.hosts.glb import mtls
from lab.runtime.pki import Pki


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


@pytest.mark.parametrize(
    ("cert", "error", "detail"),
    [
        ("client", "", "verified"),
        ("rogue_client", "client_cert_validation_failed", "no trusted CA issued it"),
        ("expired_client", "client_cert_validation_failed", "expired on"),
        ("noeku_client", "client_cert_chain_invalid_eku", "does not allow clientAuth"),
    ],
)
def test_verdict_per_certificate(pki: Pki, cert: str, error: str, detail: str) -> None:
    leaf = getattr(pki, cert).cert
    verdict = mtls.evaluate([leaf], mtls.TrustConfig(anchors=(pki.client_ca.cert,)))
    assert verdict.present
    assert verdict.chain_verified == (error == "")
    assert verdict.error == error == verdict.status_details
    assert detail in verdict.detail
    assert verdict.rejected("REJECT_INVALID") == bool(error)
    assert not verdict.rejected("ALLOW_INVALID_OR_MISSING_CLIENT_CERT")


def test_no_certificate(pki: Pki) -> None:
    verdict = mtls.evaluate([], mtls.TrustConfig(anchors=(pki.client_ca.cert,)))
    assert (verdict.present, verdict.chain_verified, verdict.status_details) == (
        False,
        False,
        "client_cert_not_provided",
    )
    assert verdict.variables["client_cert_present"] == "false"
    assert verdict.variables["client_cert_sha256_fingerprint"] == ""


def test_allowlist_accepts_an_expired_certificate(pki: Pki) -> None:
    trust = mtls.TrustConfig(anchors=(pki.client_ca.cert,), allowlist=(pki.expired_client.cert,))
    assert mtls.evaluate([pki.expired_client.cert], trust).chain_verified
    assert not mtls.evaluate([pki.rogue_client.cert], trust).chain_verified


def test_without_trust_anchors_validation_is_not_performed(pki: Pki) -> None:
    verdict = mtls.evaluate([pki.client.cert], mtls.TrustConfig(anchors=()))
    assert verdict.status_details == "client_cert_validation_not_performed"


def test_time_is_an_input(pki: Pki) -> None:
    """The same valid certificate, judged at other times: the verdict follows the clock it is given."""
    leaf = pki.client.cert
    trust = mtls.TrustConfig(anchors=(pki.client_ca.cert,))
    later = mtls.evaluate([leaf], trust, now=leaf.not_valid_after_utc + dt.timedelta(days=1))
    assert (later.chain_verified, later.error) == (False, "client_cert_validation_failed")
    assert "expired on" in later.detail
    earlier = mtls.evaluate([leaf], trust, now=leaf.not_valid_before_utc - dt.timedelta(minutes=1))
    assert "not valid yet" in earlier.detail


def test_header_variables_follow_google_formats(pki: Pki) -> None:
    leaf = pki.client.cert
    variables = mtls.evaluate([leaf], mtls.TrustConfig(anchors=(pki.client_ca.cert,))).variables
    assert base64.b64decode(variables["client_cert_sha256_fingerprint"]) == leaf.fingerprint(hashes.SHA256())
    assert variables["client_cert_spiffe_id"] == "spiffe://lab.example/learner/client"
    assert [base64.b64decode(d).decode() for d in variables["client_cert_dnsname_sans"].split(",")] == [
        "client.lab.example"
    ]
    assert dt.datetime.fromisoformat(variables["client_cert_valid_not_after"]) == leaf.not_valid_after_utc
    assert x509.Name.from_rfc4514_string(leaf.subject.rfc4514_string()) == leaf.subject
    assert base64.b64decode(variables["client_cert_subject_dn"]) == leaf.subject.public_bytes()
    der = base64.b64decode(variables["client_cert_leaf"].strip(":"))
    assert x509.load_der_x509_certificate(der) == leaf
    unverified = mtls.evaluate([pki.rogue_client.cert], mtls.TrustConfig(anchors=(pki.client_ca.cert,)))
    assert unverified.variables["client_cert_leaf"] == ""  # RFC 9440 leaf only when validation passed
    assert unverified.variables["client_cert_error"] == "client_cert_validation_failed"


def test_render_header_fills_known_variables_only() -> None:
    variables = {"client_cert_present": "true", "client_cert_error": ""}
    assert mtls.render_header("{client_cert_present}/{client_cert_error}/{other}", variables) == "true//{other}"


@pytest.mark.parametrize(
    ("errnum", "alert"),
    [(20, "unknown_ca"), (10, "certificate_expired"), (26, "unsupported_certificate"), (7, "bad_certificate")],
)
def test_alert_for_openssl_verify_errors(errnum: int, alert: str) -> None:
    assert mtls.alert_for_verify_error(errnum) == alert
