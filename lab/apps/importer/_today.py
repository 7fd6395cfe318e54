"""What today's curl prints for a situation: the exit code and the words of the error line. Pure.

A transcript may come from curl 7.19 with NSS or from curl 8.12 with LibreSSL; the lab replays it with
today's curl on OpenSSL 3 (curl 7.88.1 here). For each :class:`~._classify.Situation` this module gives
the exit code(s) and the error-line pieces that curl prints, in words that curl 7.88 and 8.x share where
they can, and says why that differs from the transcript (curl 7.62 merged exit 51 into 60, SOCKS failures
are 97 since 7.73, a TLS 1.3 server's verdict on a client certificate arrives after the handshake...).
Sources: ``/work/shared/reference/curl-versions.md`` and the real runs of ``tests/test_behaviours.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.apps.importer._classify import Situation

# The curl release that changed an exit code, for the note that says why the expectation differs.
_CHANGED = {
    (51, 60): "curl 7.62 merged exit 51 (name mismatch) into 60",
    (7, 97): "SOCKS failures exit 97 since curl 7.73 (7 before)",
    (77, 60): "older Schannel builds reported an untrusted root as 77; today's curl exits 60",
    (35, 56): "in TLS 1.3 the server's verdict on the client certificate reaches curl after the handshake",
    (56, 35): "in TLS 1.2 the server's verdict on the client certificate arrives during the handshake",
    (7, 28): "the customer's curl waited for the system's TCP timeout; the lab stops curl with -m",
    (35, 60): "a TLS 1.2 'certificate expired' alert makes curl report a verification failure (60)",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Expected:
    exits: tuple[int, ...]  # the exit codes today's curl gives (two for a racy close)
    errors: tuple[str, ...] = ()  # pieces of the error line, any one of them (curl versions word it differently)
    note: str = ""  # why this differs from the transcript
    wording: str = ""  # which curl (or TLS library) prints which of several ``errors``


def alert_words(alert: str) -> str:
    """How OpenSSL's error string names a received alert: "alert handshake failure", "unrecognized name"."""
    words = alert.replace("_", " ")
    return words if alert == "unrecognized_name" else f"alert {words}"


def _tls_alert(situation: Situation, tls13: bool) -> Expected:
    assert situation.alert is not None
    words = alert_words(situation.alert)
    if situation.point != "client-cert":
        return Expected(exits=(35,), errors=(words,))
    if tls13:
        return Expected(exits=(56,), errors=(words,))
    if situation.alert == "certificate_expired":  # curl (OpenSSL) reports it as a failed verification: its words
        # are "SSL certificate problem: <its own check's result>" when that failed (always with -k), else these
        return Expected(
            exits=(60,),
            errors=("SSL certificate verification failed", "SSL certificate problem"),
            wording="'SSL certificate problem: ...' when curl's own check of the server also failed (e.g. with -k)",
        )
    return Expected(exits=(35,), errors=(words,))


def _closed(situation: Situation, tls13: bool) -> Expected:
    if situation.point == "client-cert" and tls13:  # the server hangs up on a refused certificate: curl races
        return Expected(exits=(55, 56), errors=())
    if situation.close == "rst":
        return Expected(exits=(35,), errors=("Connection reset by peer",))
    return Expected(
        exits=(35,),
        errors=("SSL_ERROR_SYSCALL", "unexpected eof while reading"),
        wording="SSL_ERROR_SYSCALL: curl before 8.11, or LibreSSL; unexpected eof: curl 8.11+ with OpenSSL",
    )


def expected(
    situation: Situation, customer: int | None, *, target: str, tls13: bool, error: str, h2_hangup: bool = False
) -> Expected:
    """Today's exit code and error words for ``situation``; ``target`` names the host as curl writes it.
    ``h2_hangup``: a load balancer hangs up on an HTTP/2 request (its quiet client-certificate refusal), which
    curl reports from whichever layer sees it first - a race."""
    if h2_hangup and situation.kind in ("reset-after-request", "eof-after-request"):
        return Expected(
            exits=(16, 18, 56),
            errors=("Connection reset by peer", "not closed cleanly", "unexpected eof"),
            wording="16: HTTP/2 send failure; 18: the HTTP/2 stream was not closed cleanly; 56: recv failure",
        )
    found = _expected(situation, customer, target=target, tls13=tls13, error=error)
    if customer is None or customer in found.exits:
        return found
    why = _CHANGED.get((customer, found.exits[0]), "another curl or TLS library reports this situation so")
    return Expected(
        exits=found.exits,
        errors=found.errors,
        wording=found.wording,
        note=f"the transcript shows exit {customer}; {why}",
    )


def _expected(situation: Situation, customer: int | None, *, target: str, tls13: bool, error: str) -> Expected:
    # Long on purpose: one table of situations, then one short branch per situation that needs its details;
    # split up, the answer for one situation would be spread over several functions.
    kind = situation.kind
    if kind == "cert-untrusted" and situation.point == "first":  # OpenSSL 1.0's words; 1.1+ say "local issuer"
        words = ("unable to get local issuer certificate", "unable to verify the first certificate")
        return Expected(exits=(60,), errors=words, wording="local issuer: OpenSSL 1.1 and later; first: OpenSSL 1.0")
    if kind == "cert-untrusted" and situation.point == "chain":
        words = ("self-signed certificate in certificate chain", "self signed certificate in certificate chain")
        return Expected(
            exits=(60,), errors=words, wording="self-signed: OpenSSL 3; self signed: OpenSSL 1.1 and LibreSSL"
        )
    fixed: dict[str, Expected] = {
        "ok": Expected(exits=(0,)),
        "refused": Expected(exits=(7,), errors=("Failed to connect to",)),
        "connect-timeout": Expected(exits=(28,), errors=("timed out",)),
        "silent": Expected(exits=(28,), errors=("timed out",)),
        "hang": Expected(exits=(28,), errors=("Operation timed out",)),
        "empty-reply": Expected(exits=(52,), errors=("Empty reply from server",)),
        "reset-after-request": Expected(exits=(56,), errors=("Connection reset by peer",)),
        "eof-after-request": Expected(exits=(56,), errors=("unexpected eof while reading",)),
        "plain-on-tls": Expected(exits=(35,), errors=("wrong version number",)),
        "cert-untrusted": Expected(exits=(60,), errors=("unable to get local issuer certificate",)),
        "cert-self-signed": Expected(
            exits=(60,),
            errors=("self-signed certificate", "self signed certificate"),
            wording="self-signed: OpenSSL 3; self signed: OpenSSL 1.1 and LibreSSL",
        ),
        "cert-expired": Expected(exits=(60,), errors=("certificate has expired",)),
        "proxy-drop": Expected(
            exits=(56,),
            errors=("Connection reset by peer",) if situation.close == "rst" else ("Proxy CONNECT aborted",),
        )
        if situation.point != "forwarded" or situation.close == "rst"
        else Expected(exits=(52,), errors=("Empty reply from server",)),  # a forwarded GET the proxy closed on
        "socks-auth": Expected(
            exits=(97,),
            errors=("User was rejected",) if "rejected" in situation.evidence else ("No authentication method",),
        ),
        "proxy-timeout": Expected(exits=(28,), errors=("timed out",)),
        "socks-drop": Expected(exits=(97,), errors=("connection to proxy closed",)),
        "ca-file": Expected(exits=(77,), errors=("error setting certificate",)),
    }
    if kind in fixed:
        return fixed[kind]
    if kind == "dns":
        name = re.search(r"resolve host:? '?([^'\s]+?)'?$", error)
        host = f"Could not resolve host: {name.group(1) if name else target}"
        if situation.point == "socks":  # socks5://: the proxy was reached, curl's own lookup of the target failed
            wording = "curl 7 names the host; curl 8 says 'Could not resolve proxy' (the proxy's address)"
            return Expected(exits=(97,), errors=(host, "Could not resolve proxy"), wording=wording)
        return Expected(exits=(6,), errors=(host,))
    if kind == "proxy-dns":
        return Expected(exits=(5,), errors=("Could not resolve proxy",))
    if kind == "tls-alert":
        return _tls_alert(situation, tls13)
    if kind == "tls-close":
        found = _closed(situation, tls13)
        if situation.evidence.endswith("(the wording says no more)"):
            return Expected(exits=found.exits, note="the transcript's error names no cause; any wording is accepted")
        return found
    if kind == "cert-name":
        if situation.point == "cn":
            return Expected(exits=(60,), errors=("certificate subject name",))
        return Expected(exits=(60,), errors=("no alternative certificate subject name matches target",))
    if kind == "client-cert-file":
        if "private key" in error.lower():
            return Expected(exits=(58,), errors=("unable to set private key file",))
        return Expected(exits=(58,), errors=("could not load PEM client certificate",))
    if kind == "proxy-status":
        return Expected(exits=(56,), errors=(f"CONNECT tunnel failed, response {situation.code}",))
    if kind == "socks-reply":
        return Expected(exits=(97,), errors=(f"SOCKS5 connection to {target}. ({situation.code})",))
    if kind == "http-error":
        return Expected(exits=(22,), errors=(f"returned error: {situation.code}",) if situation.code else ())
    if kind == "usage":
        usage = error.removeprefix("curl: ").strip()
        return Expected(exits=(2,), errors=(usage,) if usage else ())
    stable = re.sub(r"^curl: \(\d+\) ", "", error).strip()  # unknown: the customer's own words, trimmed
    stable = re.split(r" after \d+ ms| in \d+ ms|, errno \d+", stable)[0]
    return Expected(exits=(customer,) if customer is not None else (), errors=(stable,) if stable else ())
