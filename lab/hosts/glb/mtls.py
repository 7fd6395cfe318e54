"""The load balancer's verdict on a client certificate chain, as Google documents it. Pure (no I/O).

The verdict decides everything downstream: whether a ``REJECT_INVALID`` handshake goes on, the
``statusDetails`` of the log entry, and the custom-header variables a backend receives
(:mod:`lab.hosts.glb.variables`). The checks run in this order (the first that fails is the verdict);
Google's pages say what each check refuses but not the order, so the order is the lab's: cheap checks on
what the client sent come before path building, because Google says a bad key size means "no validation is
performed".

- the leaf is on the trust config's allowlist: valid, no anchor needed, expired or not (MTLS, TC);
- no trust config at all (no anchors, no allowlist): client_cert_validation_not_performed (LOG);
- a key neither RSA nor ECDSA, leaf or intermediate: client_cert_unsupported_key_algorithm (MTLS, LOG);
- an RSA key outside 2048-4096 bits: client_cert_invalid_rsa_key_size (LOG; the sizes: BMTLS);
- an ECDSA key not on P-256 or P-384: client_cert_unsupported_elliptic_curve_key (LOG; the curves: BMTLS);
- more than ten intermediates with one subject and public key: client_cert_pki_too_large (LOG);
- an intermediate with more than ten name constraints: client_cert_chain_max_name_constraints_exceeded (LOG);
- a path longer than ten certificates, root and leaf included: client_cert_validation_search_limit_exceeded
  (LOG; the ten: BMTLS);
- ``mtls.simulate``, the lab's stand-in for Google's time and search budgets: client_cert_validation_timed_out
  or client_cert_validation_search_limit_exceeded (LOG);
- a leaf with CA:TRUE, or a signature hash weaker than SHA-256: client_cert_validation_failed (MTLS);
- no clientAuth in the leaf's extended key usage, or an issuer whose EKU leaves it out:
  client_cert_chain_invalid_eku (LOG);
- no path to a trust anchor, expired, not yet valid: client_cert_validation_failed (LOG).

Sources: MTLS https://cloud.google.com/load-balancing/docs/mtls ;
TC https://cloud.google.com/certificate-manager/docs/reference/certificate-manager/rest/v1/projects.locations.trustConfigs
(the allowlist) ;
LOG https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring (statusDetails for mTLS) ;
BMTLS https://cloud.google.com/load-balancing/docs/backend-authenticated-tls-backend-mtls (limits, stated for
the same TrustConfig machinery). The full table with confidence is docs/gcp-facts.md.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from lab.model.glbsettings import Mode

RSA_BITS = (2048, 4096)
CURVES = ("secp256r1", "secp384r1")
MAX_ALIKE = 10  # intermediates sharing subject and key
MAX_NAME_CONSTRAINTS = 10
MAX_PATH = 10  # certificates in a path, root and leaf included
STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)


@dataclass(frozen=True, slots=True)
class TrustConfig:
    anchors: tuple[x509.Certificate, ...] = ()
    intermediates: tuple[x509.Certificate, ...] = ()
    allowlist: tuple[x509.Certificate, ...] = ()  # valid if parsed and the key is proven; no anchor needed

    def allowlisted(self, cert: x509.Certificate) -> bool:
        return any(cert == allowed for allowed in self.allowlist)

    @property
    def empty(self) -> bool:
        return not self.anchors and not self.allowlist


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the load balancer concluded about the client certificate."""

    present: bool
    chain_verified: bool
    error: str  # Google's client_cert_* name ("" when verified)
    reason: str  # the lab's short name of the failed check ("" when verified), e.g. "expired", "rsa_size"
    detail: str  # a sentence for the learner
    allowlisted: bool = False
    leaf: x509.Certificate | None = None
    chain: tuple[x509.Certificate, ...] = ()  # what the client sent after the leaf

    @property
    def status_details(self) -> str:
        """``jsonPayload.statusDetails`` when this verdict closes a ``REJECT_INVALID`` connection."""
        return self.error

    def rejected(self, mode: Mode | None) -> bool:
        return mode == "REJECT_INVALID" and not self.chain_verified


Failure = tuple[str, str, str]  # (statusDetails, reason, sentence)


def evaluate(
    chain: list[x509.Certificate], trust: TrustConfig, now: dt.datetime | None = None, simulate: str = "none"
) -> Verdict:
    """Judge the chain the client sent (leaf first) as the load balancer's trust config would."""
    if not chain:
        return Verdict(
            present=False,
            chain_verified=False,
            error="client_cert_not_provided",
            reason="not_provided",
            detail="the client sent no certificate",
        )
    leaf, rest = chain[0], tuple(chain[1:])
    at = now or dt.datetime.now(dt.UTC)
    if trust.allowlisted(leaf):
        sentence = "the certificate is on the trust config's allowlist (valid without a trust anchor, even expired)"
        return Verdict(present=True, chain_verified=True, error="", reason="", detail=sentence, allowlisted=True,
                       leaf=leaf, chain=rest)  # fmt: skip
    try:
        failure = _first_failure(leaf, rest, trust, at, simulate)
    except ValueError as exc:  # an extension that does not parse: Google needs a certificate it can parse
        failure = "client_cert_validation_failed", "unparsable", f"the certificate cannot be parsed: {exc}"
    if failure is None:
        sentence = "the chain verified against the trust anchors, with the clientAuth EKU"
        return Verdict(present=True, chain_verified=True, error="", reason="", detail=sentence, leaf=leaf, chain=rest)
    error, reason, sentence = failure
    return Verdict(
        present=True, chain_verified=False, error=error, reason=reason, detail=sentence, leaf=leaf, chain=rest
    )


def unparsable(problem: str) -> Verdict:
    """The verdict on bytes that are not a certificate at all."""
    sentence = f"the certificate cannot be parsed: {problem}"
    return Verdict(
        present=True, chain_verified=False, error="client_cert_validation_failed", reason="unparsable", detail=sentence
    )


def _first_failure(
    leaf: x509.Certificate, rest: tuple[x509.Certificate, ...], trust: TrustConfig, at: dt.datetime, simulate: str
) -> Failure | None:
    checks: list[Callable[[], Failure | None]] = [
        lambda: _no_trust_config(trust),
        lambda: next(filter(None, (_key_problem(c, i) for i, c in enumerate((leaf, *rest)))), None),
        lambda: _pki_size(rest, trust),
        lambda: _name_constraints(rest, trust),
        lambda: _path_length(leaf, rest),
        lambda: _simulated(simulate),
        lambda: _leaf_problem(leaf, rest),
        lambda: _eku(leaf, rest),
        lambda: _path(leaf, rest, trust, at),
    ]
    return next(filter(None, (check() for check in checks)), None)


def _no_trust_config(trust: TrustConfig) -> Failure | None:
    if trust.empty:
        return "client_cert_validation_not_performed", "no_trust_config", "no trust config: the chain was not validated"
    return None


def _key_problem(cert: x509.Certificate, position: int) -> Failure | None:
    which = "the certificate" if position == 0 else f"intermediate {position} ({_cn(cert)})"
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        if not RSA_BITS[0] <= key.key_size <= RSA_BITS[1]:
            sentence = f"{which} has a {key.key_size}-bit RSA key; Google takes {RSA_BITS[0]} to {RSA_BITS[1]} bits"
            return "client_cert_invalid_rsa_key_size", "rsa_size", sentence
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVES:
            sentence = f"{which} uses the curve {key.curve.name}; Google takes P-256 and P-384 only"
            return "client_cert_unsupported_elliptic_curve_key", "curve", sentence
        return None
    algorithm = type(key).__name__.removesuffix("PublicKey").removeprefix("_")
    article = "an" if algorithm[:1] in "AEIOU" else "a"
    sentence = f"{which} has {article} {algorithm} key; Google takes RSA and ECDSA keys only"
    return "client_cert_unsupported_key_algorithm", "algorithm", sentence


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pki_size(rest: tuple[x509.Certificate, ...], trust: TrustConfig) -> Failure | None:
    alike = Counter((c.subject.public_bytes(), _spki(c)) for c in (*rest, *trust.intermediates))
    most = max(alike.values(), default=0)
    if most > MAX_ALIKE:
        sentence = f"{most} intermediates share one subject and key; Google allows {MAX_ALIKE}"
        return "client_cert_pki_too_large", "pki_too_large", sentence
    return None


def _name_constraints(rest: tuple[x509.Certificate, ...], trust: TrustConfig) -> Failure | None:
    for cert in (*rest, *trust.intermediates):
        try:
            value = cert.extensions.get_extension_for_class(x509.NameConstraints).value
        except x509.ExtensionNotFound:
            continue
        count = len(value.permitted_subtrees or []) + len(value.excluded_subtrees or [])
        if count > MAX_NAME_CONSTRAINTS:
            sentence = f"intermediate {_cn(cert)} has {count} name constraints; Google allows {MAX_NAME_CONSTRAINTS}"
            return "client_cert_chain_max_name_constraints_exceeded", "name_constraints", sentence
    return None


def _path_length(leaf: x509.Certificate, rest: tuple[x509.Certificate, ...]) -> Failure | None:
    """Certificates on the path the client's chain spells out, plus the trust anchor it ends at."""
    length, current, pool = 1, leaf, list(rest)
    while parent := next((c for c in pool if c.subject == current.issuer and c.subject != c.issuer), None):
        pool.remove(parent)
        length, current = length + 1, parent
    if length + 1 > MAX_PATH:
        sentence = f"the path has {length + 1} certificates; Google stops searching at {MAX_PATH}"
        return "client_cert_validation_search_limit_exceeded", "depth", sentence
    return None


def _simulated(simulate: str) -> Failure | None:
    if simulate == "validation_timed_out":
        sentence = "validation ran out of time (simulated: mtls.simulate = validation_timed_out)"
        return "client_cert_validation_timed_out", "timeout", sentence
    if simulate == "validation_search_limit_exceeded":
        sentence = "path building hit its search limit (simulated: mtls.simulate = validation_search_limit_exceeded)"
        return "client_cert_validation_search_limit_exceeded", "search_limit", sentence
    return None


def _leaf_problem(leaf: x509.Certificate, rest: tuple[x509.Certificate, ...]) -> Failure | None:
    try:
        if leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            return (
                "client_cert_validation_failed",
                "ca_leaf",
                "the certificate is a CA (CA:TRUE); a client leaf must not be",
            )
    except x509.ExtensionNotFound:
        pass
    for cert in (leaf, *rest):
        algorithm = cert.signature_hash_algorithm
        if algorithm is not None and not isinstance(algorithm, STRONG_HASHES):
            sentence = f"{_cn(cert)} is signed with {algorithm.name.upper()}; Google needs SHA-256 or stronger"
            return "client_cert_validation_failed", "weak_hash", sentence
    return None


def _eku_allows(cert: x509.Certificate, *, required: bool) -> bool:
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return not required  # a leaf without EKU was refused in Google's sample; a CA without one limits nothing
    return ExtendedKeyUsageOID.CLIENT_AUTH in usages or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages


def _eku(leaf: x509.Certificate, rest: tuple[x509.Certificate, ...]) -> Failure | None:
    if not _eku_allows(leaf, required=True):
        return "client_cert_chain_invalid_eku", "eku", "the certificate's extended key usage does not allow clientAuth"
    issuer = next((c for c in rest if c.subject == leaf.issuer), None)
    if issuer is not None and not _eku_allows(issuer, required=False):
        sentence = f"its issuer {_cn(issuer)} limits extended key usage and leaves out clientAuth"
        return "client_cert_chain_invalid_eku", "eku", sentence
    return None


def _path(
    leaf: x509.Certificate, rest: tuple[x509.Certificate, ...], trust: TrustConfig, at: dt.datetime
) -> Failure | None:
    if not trust.anchors:
        return (
            "client_cert_validation_failed",
            "unknown_issuer",
            "it is not allowlisted and the trust config has no anchors",
        )
    builder = PolicyBuilder().store(Store(list(trust.anchors))).time(at).max_chain_depth(MAX_PATH - 2)
    try:
        builder.build_client_verifier().verify(leaf, [*rest, *trust.intermediates])
    except VerificationError as exc:
        return _classify(leaf, str(exc), at)
    return None


def _classify(leaf: x509.Certificate, message: str, at: dt.datetime) -> Failure:
    """cryptography's reason, as Google's statusDetails and a sentence a learner understands."""
    if leaf.not_valid_after_utc < at:
        when = leaf.not_valid_after_utc.date().isoformat()
        return "client_cert_validation_failed", "expired", f"the certificate expired on {when}"
    if leaf.not_valid_before_utc > at:
        return "client_cert_validation_failed", "not_yet_valid", "the certificate is not valid yet"
    if "candidates exhausted" in message or "issuer" in message:
        sentence = f"no trusted CA issued it (issuer: {leaf.issuer.rfc4514_string()})"
        return "client_cert_validation_failed", "unknown_issuer", sentence
    return "client_cert_validation_failed", "chain", f"the chain did not verify: {message}"


def _cn(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
    return str(names[0].value) if names else cert.subject.rfc4514_string()
