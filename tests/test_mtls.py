"""The client-certificate verdict (no sockets): every statusDetails a certificate or a setting can cause, each
row citing the page that documents it, plus the allowlist and the order of the checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from lab.hosts.glb import mtls
from lab.runtime.pki import Pki
from tests import certs

LOG = "https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring"
MTLS = "https://cloud.google.com/load-balancing/docs/mtls"
BMTLS = "https://cloud.google.com/load-balancing/docs/backend-authenticated-tls-backend-mtls"
TC = "https://cloud.google.com/certificate-manager/docs/reference/certificate-manager/rest/v1/projects.locations.trustConfigs"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("certs"))


def chain_of(pki: Pki, name: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pki.clients[name].pair.cert.read_bytes())


def trust(pki: Pki) -> mtls.TrustConfig:
    return mtls.TrustConfig(anchors=(pki.client_ca.cert,))


# (lab client certificate, settings, statusDetails, words of the sentence, source of the rule)
STATUS_DETAILS = [
    (None, "none", "client_cert_not_provided", "sent no certificate", LOG),
    ("rogue-client", "none", "client_cert_validation_failed", "no trusted CA issued it", LOG),
    ("expired-client", "none", "client_cert_validation_failed", "expired on", LOG),
    ("ca-leaf-client", "none", "client_cert_validation_failed", "is a CA", MTLS),
    ("noeku-client", "none", "client_cert_chain_invalid_eku", "does not allow clientAuth", LOG),
    ("rsa4608-client", "none", "client_cert_invalid_rsa_key_size", "4608-bit RSA key", LOG + " ; sizes: " + BMTLS),
    ("p521-client", "none", "client_cert_unsupported_elliptic_curve_key", "secp521r1", LOG + " ; curves: " + BMTLS),
    ("ed25519-client", "none", "client_cert_unsupported_key_algorithm", "an Ed25519 key", LOG + " ; " + MTLS),
    ("pki-too-large-client", "none", "client_cert_pki_too_large", "11 intermediates share", LOG),
    ("name-constraints-client", "none", "client_cert_chain_max_name_constraints_exceeded", "11 name constraints", LOG),
    (
        "deep-chain-client",
        "none",
        "client_cert_validation_search_limit_exceeded",
        "13 certificates",
        LOG + " ; " + BMTLS,
    ),
    ("client", "validation_timed_out", "client_cert_validation_timed_out", "ran out of time", LOG),
    ("client", "validation_search_limit_exceeded", "client_cert_validation_search_limit_exceeded", "search limit", LOG),
]


@pytest.mark.parametrize(("cert", "simulate", "details", "words", "source"), STATUS_DETAILS)
def test_each_status_details(pki: Pki, cert: str | None, simulate: str, details: str, words: str, source: str) -> None:
    verdict = mtls.evaluate(chain_of(pki, cert) if cert else [], trust(pki), simulate=simulate)
    assert (verdict.chain_verified, verdict.error, verdict.status_details) == (False, details, details), source
    assert words in verdict.detail
    assert verdict.rejected("REJECT_INVALID")
    assert not verdict.rejected("ALLOW_INVALID_OR_MISSING_CLIENT_CERT")


def test_without_a_trust_config_nothing_is_validated(pki: Pki) -> None:
    verdict = mtls.evaluate(chain_of(pki, "client"), mtls.TrustConfig())  # LOG: "mTLS configured without a TrustConfig"
    assert verdict.error == "client_cert_validation_not_performed"


@pytest.mark.parametrize(
    ("cert", "limit"),
    [
        ("pki-too-large-client", "MAX_ALIKE"),
        ("name-constraints-client", "MAX_NAME_CONSTRAINTS"),
        ("deep-chain-client", "MAX_PATH"),
    ],
)
def test_the_limit_is_each_chains_only_fault(pki: Pki, monkeypatch: pytest.MonkeyPatch, cert: str, limit: str) -> None:
    """Without Google's limit the same chain verifies: each certificate teaches exactly one rule."""
    monkeypatch.setattr(mtls, limit, 50)
    assert mtls.evaluate(chain_of(pki, cert), trust(pki)).chain_verified


def test_a_valid_certificate(pki: Pki) -> None:
    verdict = mtls.evaluate(chain_of(pki, "client"), trust(pki))
    assert (verdict.present, verdict.chain_verified, verdict.error, verdict.reason) == (True, True, "", "")


# The allowlist: "always considered valid" if it parses, the key is proven (the handshake's job) and its SAN
# constraints hold; no trust store needed, expired ones too (MTLS, TC).
@pytest.mark.parametrize("cert", ["rogue-client", "expired-client", "noeku-client"])
def test_allowlisted_certificates_need_no_anchor(pki: Pki, cert: str) -> None:
    chain = chain_of(pki, cert)
    for anchors in ((pki.client_ca.cert,), ()):
        verdict = mtls.evaluate(chain, mtls.TrustConfig(anchors=anchors, allowlist=(chain[0],)))
        assert verdict.chain_verified, (cert, anchors)
        assert verdict.allowlisted


def test_the_allowlist_matches_whole_certificates(pki: Pki) -> None:
    allow = mtls.TrustConfig(allowlist=(pki.clients["expired-client"].cert,))
    assert mtls.evaluate(chain_of(pki, "rogue-client"), allow).error == "client_cert_validation_failed"


# Google's certificate requirements (MTLS): leaf not a CA, SHA-256 or stronger, RSA/ECDSA keys and sizes; the
# EKU rule covers the issuer too (LOG: "the client certificate or its issuer").
@pytest.mark.parametrize("digest", ["sha1", "sha224"])
def test_weak_signature_hashes_fail_validation(pki: Pki, tmp_path: Path, digest: str) -> None:
    """cryptography no longer signs with SHA-1, so the openssl command line signs the test certificate."""
    leaf = certs.signed_by_openssl(pki.client_ca.cert, pki.client_ca.key, digest, tmp_path)
    verdict = mtls.evaluate([leaf], trust(pki))
    assert (verdict.error, verdict.reason) == ("client_cert_validation_failed", "weak_hash")
    assert f"signed with {digest.upper()}" in verdict.detail


def test_a_small_rsa_key_in_an_intermediate(pki: Pki) -> None:
    middle = certs.issue(
        (pki.client_ca.cert, pki.client_ca.key), subject=certs.name("small CA"), key=certs.rsa_key(1024), ca=True
    )
    leaf, _ = certs.issue(middle)
    verdict = mtls.evaluate([leaf, middle[0]], trust(pki))
    assert verdict.error == "client_cert_invalid_rsa_key_size"
    assert "intermediate 1 (small CA) has a 1024-bit RSA key" in verdict.detail


def test_an_issuer_whose_eku_leaves_out_client_auth(pki: Pki) -> None:
    middle = certs.issue(
        (pki.client_ca.cert, pki.client_ca.key),
        subject=certs.name("server-only CA"),
        ca=True,
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
    )
    leaf, _ = certs.issue(middle)
    verdict = mtls.evaluate([leaf, middle[0]], trust(pki))
    assert verdict.error == "client_cert_chain_invalid_eku"
    assert "server-only CA" in verdict.detail


def test_a_leaf_without_any_eku_fails_like_googles_sample(pki: Pki) -> None:
    """Google's sample: a CAS leaf made without client_auth was refused with client_cert_chain_invalid_eku."""
    leaf, _ = certs.issue((pki.client_ca.cert, pki.client_ca.key), eku=[])
    assert mtls.evaluate([leaf], trust(pki)).error == "client_cert_chain_invalid_eku"


def test_key_checks_come_before_path_building(pki: Pki) -> None:
    """Google: a bad key size means "no validation is performed" - an untrusted CA is not reported then."""
    rogue = certs.issue(None, subject=certs.name("nobody's CA"), ca=True)
    leaf, _ = certs.issue(rogue, key=certs.rsa_key(1024))
    assert mtls.evaluate([leaf], trust(pki)).error == "client_cert_invalid_rsa_key_size"


def test_time_is_an_input(pki: Pki) -> None:
    leaf = pki.client.cert
    later = mtls.evaluate([leaf], trust(pki), now=leaf.not_valid_after_utc + dt.timedelta(days=1))
    assert (later.chain_verified, later.error, later.reason) == (False, "client_cert_validation_failed", "expired")
    earlier = mtls.evaluate([leaf], trust(pki), now=leaf.not_valid_before_utc - dt.timedelta(minutes=1))
    assert "not valid yet" in earlier.detail


def test_chains_on_disk_are_sent_leaf_first(pki: Pki) -> None:
    deep = chain_of(pki, "deep-chain-client")
    assert len(deep) == 12
    assert deep[0].issuer == deep[1].subject
    assert deep[-1].issuer == pki.client_ca.cert.subject
    alike = chain_of(pki, "pki-too-large-client")[1:]
    assert len({c.subject for c in alike}) == 1
    assert len({c.serial_number for c in alike}) == 11
    assert Path(pki.clients["deep-chain-client"].pair.key).stat().st_mode & 0o777 == 0o600


def _intermediates(pki: Pki, count: int, *, alike: bool) -> list[x509.Certificate]:
    """``count`` CAs under the client CA: a chain one under the other, or (``alike``) siblings with one subject
    and one key that differ only in serial number."""
    made: list[x509.Certificate] = []
    parent = (pki.client_ca.cert, pki.client_ca.key)
    for i in range(count):
        subject = certs.name("alike CA" if alike else f"level {i} CA")
        issued = certs.issue(parent, subject=subject, key=certs.rsa_key(), ca=True, serial=0x2000 + i)
        made.append(issued[0])
        parent = parent if alike else issued
    return made


@pytest.mark.parametrize(("length", "verified"), [(10, True), (11, False)])
def test_a_path_of_ten_certificates_passes_and_eleven_do_not(pki: Pki, length: int, verified: bool) -> None:
    """BMTLS: at most ten certificates in a path, root and leaf included."""
    middles = _intermediates(pki, length - 2, alike=False)
    leaf, _ = certs.issue((middles[-1], certs.rsa_key()))
    verdict = mtls.evaluate([leaf, *reversed(middles)], trust(pki))
    assert (verdict.chain_verified, verdict.reason) == (verified, "" if verified else "depth"), verdict.detail


@pytest.mark.parametrize(("count", "verified"), [(10, True), (11, False)])
def test_ten_alike_intermediates_pass_and_eleven_do_not(pki: Pki, count: int, verified: bool) -> None:
    """LOG: client_cert_pki_too_large for more than ten intermediates sharing one subject and public key."""
    alike = _intermediates(pki, count, alike=True)
    leaf, _ = certs.issue((alike[0], certs.rsa_key()))
    verdict = mtls.evaluate([leaf, *alike], trust(pki))
    assert (verdict.chain_verified, verdict.reason) == (verified, "" if verified else "pki_too_large"), verdict.detail


@pytest.mark.parametrize("digest", [hashes.SHA256(), hashes.SHA384(), hashes.SHA512()])
def test_sha_256_and_stronger_signatures_pass(pki: Pki, digest: hashes.HashAlgorithm) -> None:
    leaf, _ = certs.issue((pki.client_ca.cert, pki.client_ca.key), digest=digest)
    verdict = mtls.evaluate([leaf], trust(pki))
    assert (verdict.chain_verified, verdict.error) == (True, ""), verdict.detail
