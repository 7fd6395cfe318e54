"""What the load balancer does, decided without sockets: the handshake's fate, the alert that says why, what a
refused connection logs, the URL map, and the headers a backend gets. The trio shell (:mod:`.server`)
only carries these decisions out.

The alert. Google documents none (https://cloud.google.com/load-balancing/docs/mtls names the modes and
the log, not the bytes). The lab's ``alert`` style lets OpenSSL send the alert it sends for the X.509 error
that means the same as the verdict (:data:`X509_ERRORS`); where OpenSSL has no such error, the lab uses
``X509_V_ERR_APPLICATION_VERIFICATION``, which OpenSSL answers with handshake_failure. The ``empty-reply``
style lets every handshake finish and refuses afterwards, as a real Google load balancer was seen to do.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from lab.hosts.glb.mtls import Verdict
from lab.model.glbheaders import CustomHeader
from lab.model.glbsettings import GlbSettings, Route

X509_V_OK = 0
# The lab's check (Verdict.reason) -> OpenSSL's X509_V_ERR_* for the same problem.
X509_ERRORS = {
    "expired": 10,  # CERT_HAS_EXPIRED
    "not_yet_valid": 9,  # CERT_NOT_YET_VALID
    "unknown_issuer": 20,  # UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    "chain": 20,
    "eku": 26,  # INVALID_PURPOSE
    "ca_leaf": 26,
    "depth": 22,  # CERT_CHAIN_TOO_LONG
    "weak_hash": 68,  # CA_MD_TOO_WEAK
}
APPLICATION_VERIFICATION = 50  # the rest: Google's own limits
# OpenSSL's alert for each of those errors (ssl/statem/statem_lib.c, x509table).
ALERTS = {
    10: "certificate_expired",
    9: "bad_certificate",
    20: "unknown_ca",
    26: "unsupported_certificate",
    22: "unknown_ca",
    68: "bad_certificate",
    APPLICATION_VERIFICATION: "handshake_failure",
}
LAB_HANDSHAKE_FAILED = "tls_handshake_failed"  # the lab's word, never Google's (see logentry)


def handshake_decision(verdict: Verdict, settings: GlbSettings) -> int:
    """0 lets the handshake go on; otherwise the X.509 error OpenSSL reports (and alerts about)."""
    if settings.failure_style == "empty-reply" or not verdict.rejected(settings.mode):
        return X509_V_OK
    return X509_ERRORS.get(verdict.reason, APPLICATION_VERIFICATION)


def alert_for(verdict: Verdict | None, version: str) -> str | None:
    """The alert OpenSSL sends for this verdict (None: the verdict does not end the handshake)."""
    if verdict is None or verdict.chain_verified:
        return None
    if not verdict.present:
        return "certificate_required" if version == "TLSv1.3" else "handshake_failure"
    return ALERTS[X509_ERRORS.get(verdict.reason, APPLICATION_VERIFICATION)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Refusal:
    """A connection that ends without an HTTP response, and what it says in the log."""

    status_details: str  # Google's statusDetails, or "" when Google has no word for it
    lab_details: str = ""  # the lab's word instead (only when status_details is "")
    lab_note: str = ""
    summary: str  # for the timeline


def refusal(verdict: Verdict | None, reason: str) -> Refusal:
    """A verdict that closed the connection logs Google's client_cert_* word; any other failed handshake
    (not TLS at all, a client that left, a failed proof of key possession) has no Google word: the lab's
    own ``tls_handshake_failed`` goes in the entry's separate ``lab`` object."""
    if verdict is not None and verdict.error:
        return Refusal(status_details=verdict.error, summary=verdict.detail)
    note = "Google documents no statusDetails for this handshake failure; the lab notes it here"
    if "signature" in reason.lower() or "decrypt" in reason.lower():
        note = "the client could not prove it holds the certificate's key; Google ends the handshake (not logged)"
    return Refusal(status_details="", lab_details=LAB_HANDSHAKE_FAILED, lab_note=note, summary=reason)


def route_for(routes: tuple[Route, ...], authority: str, target: str) -> Route | None:
    """The first URL-map rule whose host and path patterns match (shell-style); None: no rule matched."""
    host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    path = target.split("?", 1)[0]
    return next(
        (r for r in routes if fnmatch.fnmatch(host.lower(), r.host.lower()) and fnmatch.fnmatch(path, r.path)), None
    )


def backend_headers(
    client_headers: tuple[tuple[str, str], ...],
    custom: tuple[CustomHeader, ...],
    values: dict[str, str],
    *,
    authority: str,
    via: str,
) -> list[tuple[str, str]]:
    """The request headers a backend gets: Host, the custom headers (rendered), then the client's own minus
    any with a custom header's name - Google overwrites those, so a client cannot forge them."""
    replaced = {h.name for h in custom} | {"host", "connection", "x-lab-via"}
    return [
        ("host", authority),
        ("x-lab-via", via),  # the lab's: the backend's echo names the load balancer it came through
        *((h.name, h.render(values)) for h in custom),
        *((k, v) for k, v in client_headers if k.lower() not in replaced),
    ]


def answered_status_details(route: Route | None, reached: bool) -> str:
    """statusDetails for an answered request: the backend's answer, the load balancer's own, or no backend."""
    if route is None:
        return "direct_response"
    return "response_sent_by_backend" if reached else "failed_to_connect_to_backend"
