"""The certificate a TLS host presents, as a scenario describes it (the PKI makes it from this). Pure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class CertSpec:
    """The certificate a TLS host presents (the PKI makes it from this).

    ``names = []`` makes a certificate without subjectAltName (the name only in the subject's CN);
    ``issuer = "self"`` a self-signed one; ``"rogue"`` one from a CA the client does not trust, and
    ``"rogue-chain"`` the same sent together with that CA (curl: "self-signed certificate in certificate chain").
    """

    names: tuple[str, ...]
    ips: tuple[str, ...] = ()
    subject: tuple[tuple[str, str], ...] = ()
    issuer: str = "ev"
    expired: bool = False
    intermediate: bool = True  # False: sent without its intermediate ("unable to verify the first certificate")
