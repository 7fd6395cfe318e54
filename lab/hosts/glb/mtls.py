"""The load balancer's client-certificate verdict, as Google documents it (no I/O).

Two things decide what a learner sees when a client certificate is wrong:

* the TLS alert, which OpenSSL chooses while it verifies the chain during the handshake
  (:mod:`lab.hosts.glb` lets OpenSSL do that, so the alert is the real one); and
* the *verdict*: ``statusDetails`` in the load balancer's log and the mTLS custom-header variables the
  backend receives. That is computed here with ``cryptography``'s X.509 verifier against the trust config
  (trust anchors, intermediates, allowlist), in both validation modes.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from lab.model.hostsettings import Mode

# OpenSSL X509_V_ERR_* codes the verify callback sees, and the alert OpenSSL sends for each.
X509_V_ERR_CERT_HAS_EXPIRED = 10
ALERTS = {
    "no_certificate_tls13": "certificate_required",
    "no_certificate_tls12": "handshake_failure",
    2: "unknown_ca",  # unable to get issuer certificate
    18: "unknown_ca",  # self-signed leaf
    19: "unknown_ca",  # self-signed in chain
    20: "unknown_ca",  # unable to get local issuer certificate
    21: "unknown_ca",  # unable to verify the first certificate
    9: "bad_certificate",  # not yet valid
    X509_V_ERR_CERT_HAS_EXPIRED: "certificate_expired",
    26: "unsupported_certificate",  # invalid purpose (no clientAuth EKU)
}


def alert_for_verify_error(errnum: int) -> str:
    return ALERTS.get(errnum, "bad_certificate")


@dataclass(frozen=True, slots=True)
class TrustConfig:
    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    allowlist: tuple[x509.Certificate, ...] = ()  # accepted even if expired or unchained

    def allowlisted(self, cert: x509.Certificate) -> bool:
        return any(cert == allowed for allowed in self.allowlist)


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the load balancer concluded about the client certificate."""

    present: bool
    chain_verified: bool
    error: str  # Google's {client_cert_error}: "" when verified
    status_details: str  # jsonPayload.statusDetails for a rejected handshake ("" if accepted)
    detail: str  # a sentence for the learner
    leaf: x509.Certificate | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def rejected(self, mode: Mode) -> bool:
        return mode == "REJECT_INVALID" and not self.chain_verified


def evaluate(chain: list[x509.Certificate], trust: TrustConfig, now: dt.datetime | None = None) -> Verdict:
    """Verify the client's chain (leaf first) like the load balancer's trust config would."""
    if not chain:
        return Verdict(
            present=False,
            chain_verified=False,
            error="client_cert_not_provided",
            status_details="client_cert_not_provided",
            detail="the client sent no certificate",
            variables=_variables(None, verified=False, error="client_cert_not_provided"),
        )
    leaf, rest = chain[0], chain[1:]
    error, detail = _verify(leaf, rest, trust, now)
    verified = not error
    return Verdict(
        present=True,
        chain_verified=verified,
        error=error,
        status_details="" if verified else error,
        detail=detail,
        leaf=leaf,
        variables=_variables(leaf, verified=verified, error=error),
    )


def _verify(
    leaf: x509.Certificate, rest: list[x509.Certificate], trust: TrustConfig, now: dt.datetime | None
) -> tuple[str, str]:
    if trust.allowlisted(leaf):
        return "", "the certificate is on the trust config's allowlist (accepted even if expired)"
    if not trust.anchors:
        return "client_cert_validation_not_performed", "no trust config: the chain was not validated"
    builder = PolicyBuilder().store(Store(list(trust.anchors)))
    if now is not None:
        builder = builder.time(now)
    try:
        builder.build_client_verifier().verify(leaf, [*rest, *trust.intermediates])
    except VerificationError as exc:
        return _classify(leaf, str(exc), now)
    return "", "the chain verified against the trust anchors, with the clientAuth EKU"


def _classify(leaf: x509.Certificate, message: str, now: dt.datetime | None) -> tuple[str, str]:
    """Map cryptography's reason to Google's statusDetails (and a sentence a learner understands)."""
    at = now or dt.datetime.now(dt.UTC)
    try:
        eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        has_client_auth = ExtendedKeyUsageOID.CLIENT_AUTH in eku
    except x509.ExtensionNotFound:
        has_client_auth = True
    if not has_client_auth:
        return "client_cert_chain_invalid_eku", "the certificate's extended key usage does not allow clientAuth"
    if leaf.not_valid_after_utc < at:
        when = leaf.not_valid_after_utc.date().isoformat()
        return "client_cert_validation_failed", f"the certificate expired on {when}"
    if leaf.not_valid_before_utc > at:
        return "client_cert_validation_failed", "the certificate is not valid yet"
    if "candidates exhausted" in message or "issuer" in message:
        return "client_cert_validation_failed", f"no trusted CA issued it (issuer: {leaf.issuer.rfc4514_string()})"
    return "client_cert_validation_failed", f"the chain did not verify: {message}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _variables(leaf: x509.Certificate | None, *, verified: bool, error: str) -> dict[str, str]:
    """Google's mTLS custom-header variables (see the custom headers documentation)."""
    values = {
        "client_cert_present": "true" if leaf is not None else "false",
        "client_cert_chain_verified": "true" if verified else "false",
        "client_cert_error": error,
        "client_cert_sha256_fingerprint": "",
        "client_cert_serial_number": "",
        "client_cert_spiffe_id": "",
        "client_cert_uri_sans": "",
        "client_cert_dnsname_sans": "",
        "client_cert_valid_not_before": "",
        "client_cert_valid_not_after": "",
        "client_cert_issuer_dn": "",
        "client_cert_subject_dn": "",
        "client_cert_leaf": "",
    }
    if leaf is None:
        return values
    try:
        sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
        dns = sans.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        uris, dns = [], []
    values.update(
        client_cert_sha256_fingerprint=_b64(leaf.fingerprint(hashes.SHA256())),
        client_cert_serial_number=format(leaf.serial_number, "x"),
        client_cert_spiffe_id=next((u for u in uris if u.startswith("spiffe://")), ""),
        client_cert_uri_sans=",".join(_b64(u.encode()) for u in uris),
        client_cert_dnsname_sans=",".join(_b64(d.encode()) for d in dns),
        client_cert_valid_not_before=leaf.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        client_cert_valid_not_after=leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        client_cert_issuer_dn=_b64(leaf.issuer.public_bytes()),
        client_cert_subject_dn=_b64(leaf.subject.public_bytes()),
    )
    if verified:  # RFC 9440 form, only when validation passed
        values["client_cert_leaf"] = ":" + _b64(leaf.public_bytes(serialization.Encoding.DER)) + ":"
    return values


def render_header(template: str, variables: dict[str, str]) -> str:
    """Fill ``{client_cert_present}``-style variables in a custom header value."""
    out = template
    for name, value in variables.items():
        out = out.replace("{" + name + "}", value)
    return out
