"""Step 2b of ``lab import``: what went wrong in a session, whichever curl and TLS library printed it. Pure.

A :class:`Situation` is the failure in the lab's own terms - a TLS alert at a point of the handshake, a
close, a certificate curl refused, a proxy's answer, a SOCKS reply code - read from curl's exit line and
``-v`` lines in the forms OpenSSL (1.x and 3), LibreSSL, NSS, Schannel, SecureTransport and GnuTLS builds
print them (their documented forms, see tests/data/import-forms/README.md: patterns, not copied text).
:mod:`._today` says what today's curl prints for it, and :mod:`._behave` which host behaviour reproduces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lab.apps.importer._facts import Facts
from lab.model.behaviours import ALERT_NAMES, ALERTS

Kind = str  # one of KINDS
KINDS = (
    "ok", "usage", "dns", "proxy-dns", "refused", "connect-timeout", "silent", "hang", "empty-reply",
    "reset-after-request", "eof-after-request", "tls-alert", "tls-close", "plain-on-tls", "cert-name",
    "cert-untrusted", "cert-self-signed", "cert-expired", "client-cert-file", "ca-file", "proxy-status",
    "proxy-drop", "proxy-timeout", "socks-reply", "socks-drop", "socks-auth", "http-error", "unknown",
)  # fmt: skip

# NSS's names for received alerts (SSL_ERROR_<NAME>_ALERT) and the prose NSS curls print for them.
_NSS_ALERTS = {
    "HANDSHAKE_FAILURE": "handshake_failure", "BAD_CERT": "bad_certificate", "UNSUPPORTED_CERT":
    "unsupported_certificate", "REVOKED_CERT": "certificate_revoked", "EXPIRED_CERT": "certificate_expired",
    "CERTIFICATE_UNKNOWN": "certificate_unknown", "ILLEGAL_PARAMETER": "illegal_parameter", "UNKNOWN_CA":
    "unknown_ca", "ACCESS_DENIED": "access_denied", "DECODE_ERROR": "decode_error", "DECRYPT_ERROR":
    "decrypt_error", "PROTOCOL_VERSION": "protocol_version", "INSUFFICIENT_SECURITY": "insufficient_security",
    "INTERNAL_ERROR": "internal_error", "UNRECOGNIZED_NAME": "unrecognized_name",
    "RX_CERTIFICATE_REQUIRED": "certificate_required", "CERTIFICATE_REQUIRED": "certificate_required",
}  # fmt: skip
_PROSE_ALERTS = (
    ("peer cannot verify your certificate", "bad_certificate"),
    ("does not recognize and trust the ca", "unknown_ca"),
    ("rejected your certificate as expired", "certificate_expired"),
    ("rejected your certificate as revoked", "certificate_revoked"),
    ("unable to negotiate an acceptable set of security parameters", "handshake_failure"),
    ("incompatible or unsupported protocol version", "protocol_version"),
    ("requires a client certificate", "handshake_failure"),  # SecureTransport: a TLS 1.2 server wanting one
    ("gnutls_handshake() failed: handshake failed", "handshake_failure"),
    ("fatal ssl/tls alert is received", "handshake_failure"),  # Schannel SEC_E_ILLEGAL_MESSAGE
)
# Alerts that a server sends about the client's certificate: without handshake lines they place the failure.
CLIENT_CERT_ALERTS = {
    "certificate_required", "bad_certificate", "unsupported_certificate", "certificate_revoked",
    "certificate_expired", "certificate_unknown", "unknown_ca", "access_denied",
}  # fmt: skip
_CLOSED = ("ssl_error_syscall", "unexpected eof", "unknown ssl protocol error", "end of file", "not closed cleanly",
           "non-properly terminated", "failed to receive handshake", "connection was reset", "connection reset",
           "reset by peer", "error in the push function", "error in the pull function")  # fmt: skip
_PLAIN = ("wrong version number", "unknown protocol", "packet length too long", "record_too_long",
          "exceeded the maximum permissible length", "unexpected tls packet")  # fmt: skip
_NAME = ("no alternative certificate subject name", "does not match target host", "subjectaltname does not match",
         "bad_cert_domain", "requested domain name does not match", "principal name is incorrect",
         "does not match target hostname", "certificate subject name")  # fmt: skip
_SELF = ("self signed certificate", "self-signed certificate")
_UNTRUSTED = ("unable to get local issuer", "unable to get issuer", "certificate verify failed", "verify that the ca",
              "issuer is not recognized", "unknown_issuer", "not trusted", "invalid certificate chain",
              "certificate verification failed (result", "server certificate verification failed",
              "unable to verify the first certificate", "untrusted_root", "in certificate chain",
              "issuer certificate is invalid")  # fmt: skip
_LOCAL_FILES = ("private key file", "load pem client certificate", "unable to use client certificate",
                "client certificate not found", "load the certificate", "import cert file", "find the certificate",
                "could not load client key")  # fmt: skip
_EXPIRED = ("certificate has expired", "certificate has expired", "expired_certificate", "certificate is expired",
            "cert_expired", "certificate expired")  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class Situation:
    """The failure (or success) of one session, in the lab's terms."""

    kind: Kind
    where: str = "origin"  # "origin", "proxy", or "client" (curl refused something of its own)
    alert: str | None = None  # tls-alert: the alert's name ("handshake_failure")
    point: str = ""  # tls-alert/tls-close: "client-hello", "server-hello", "client-cert"; dns: "socks" (curl's
    # own lookup); proxy-drop: "forwarded" (an http:// request sent to the proxy as it is)
    close: str = "fin"  # tls-close, reset: "fin" or "rst"
    code: int | None = None  # proxy-status: HTTP status; socks-reply: reply code; http-error: status
    evidence: str = ""  # the line that decided it


def alert_in(text: str, facts: Facts) -> str | None:
    """The TLS alert the server sent, as the error text or an ``(IN), TLS alert`` line names it."""
    lowered = text.lower()
    named = re.search(r"(?:sslv3|tlsv1\d?) alert ([a-z ]+?)(?:,|\.|$| \(|\))", lowered)
    if named:
        name = named.group(1).strip().replace(" ", "_")
        name = {"certificate_unobtainable": "certificate_unknown"}.get(name, name)
        if name in ALERTS:
            return name
    if "unrecognized name" in lowered:
        return "unrecognized_name"
    for code in re.findall(r"error:([0-9a-f]{8})", lowered) + re.findall(r"reason\((\d+)\)", lowered):
        reason = int(code, 16) & 0xFFF if len(code) == 8 else int(code)
        if 1000 <= reason < 1256 and (reason - 1000) in ALERT_NAMES:
            return ALERT_NAMES[reason - 1000]
    nss = re.search(r"ssl_error_(\w+?)_alert", lowered)
    if nss and nss.group(1).upper() in _NSS_ALERTS:
        return _NSS_ALERTS[nss.group(1).upper()]
    for prose, name in _PROSE_ALERTS:
        if prose in lowered:
            return name
    received = [number for direction, _, number in facts.alerts if direction == "IN" and number >= 512]
    if received and (received[-1] - 512) in ALERT_NAMES and (received[-1] - 512) != 0:
        return ALERT_NAMES[received[-1] - 512]
    return None


def _failure_lines(facts: Facts) -> list[str]:
    """``* `` lines that report a failure (curl's own words before its exit line, any library's); a failed
    certificate check curl went past (``-k``: "..., continuing anyway.") is none."""
    pattern = re.compile(r"(?i)fail|error|reset|refused|alert|timed out|unable|could not|couldn't|closed|abort")
    lines = facts.lines
    return [
        line[2:]
        for at, line in enumerate(lines)
        if line.startswith("* ")
        and pattern.search(line)
        and not any(quiet in line for quiet in (", TLS ", "Uses proxy", "continuing anyway"))
        and not (_ATTEMPT.match(line) and any(_NEXT_TRY.match(later) for later in lines[at + 1 :]))
    ]


# One address of several failing ("connect to A port P failed: ..."), then curl trying the next: not the outcome
_ATTEMPT = re.compile(r"^\* +(?:connect to \S+ port \d+ failed|Immediate connect fail)")
_NEXT_TRY = re.compile(r"^\* +(?:Trying \S|Connected to )")


def _any(text: str, needles: tuple[str, ...]) -> str | None:
    return next((n for n in needles if n in text), None)


def classify(facts: Facts, exit_code: int | None, *, proxied: str | None, hung: bool) -> Situation:
    """The situation a session shows. ``proxied``: "http", "https" or "socks" when a proxy was in the way."""
    v = facts.verbose
    text = " ".join(filter(None, [v.error or "", *facts.info_errors, *_failure_lines(facts)]))
    lowered = text.lower()
    if hung:
        return Situation(kind="hang", evidence="the request went out and nothing came back")
    if exit_code in (None, 0):
        status = next((h.status for h in reversed(facts.hops) if h.status), None)
        return Situation(kind="ok" if exit_code == 0 or status else "unknown", code=status)
    if exit_code == 2 or (v.error and v.error_code is None):
        return Situation(kind="usage", where="client", evidence=v.error or "")
    found = (
        _proxy(facts, exit_code, lowered, proxied)
        or _connection(facts, exit_code, lowered)
        or _certificate(facts, exit_code, lowered)
        or _tls(facts, exit_code, lowered, text)
        or _http(facts, exit_code, lowered)
    )
    return found or Situation(kind="unknown", evidence=v.error or "")


def _proxy(facts: Facts, exit_code: int, lowered: str, proxied: str | None) -> Situation | None:
    if not proxied:
        return None
    # socks5://: curl reached the proxy, then could not resolve the target itself (curl 8 words it
    # "Could not resolve proxy: <the proxy's address>")
    socks_target = proxied == "socks" and exit_code == 97 and bool(facts.verbose.connections)
    if socks_target and ("could not resolve host" in lowered or "could not resolve proxy" in lowered):
        return Situation(kind="dns", where="client", point="socks", evidence=lowered)
    if "resolve proxy" in lowered:
        return Situation(kind="proxy-dns", where="proxy", evidence=lowered)
    if proxied == "socks":
        return _socks(facts, exit_code, lowered)
    connected = facts.proxy_status is not None and 200 <= facts.proxy_status < 300
    if facts.proxy_status is not None and not connected:
        return Situation(kind="proxy-status", where="proxy", code=facts.proxy_status)
    tunneling = facts.tunnel is not None and not connected
    if tunneling and exit_code == 28:
        return Situation(kind="proxy-timeout", where="proxy")
    if tunneling and ("connect aborted" in lowered or _any(lowered, _CLOSED) or exit_code in (52, 56)):
        rst = "rst" if "reset" in lowered and "connect aborted" not in lowered else "fin"
        return Situation(kind="proxy-drop", where="proxy", close=rst, evidence=lowered)
    # An http:// URL through a plain proxy: curl's only connection is to the proxy, so a request that got no
    # answer at all (closed, or reset) was dropped by the proxy
    forwarded = proxied == "http" and facts.tunnel is None and bool(facts.hops) and facts.hops[-1].status is None
    if forwarded and (exit_code == 52 or (exit_code == 56 and _any(lowered, _CLOSED))):
        rst = "rst" if "reset" in lowered else "fin"
        return Situation(kind="proxy-drop", where="proxy", point="forwarded", close=rst, evidence=lowered)
    # No CONNECT (yet, or ever: an http:// URL is sent to the proxy as it is): every TLS is the proxy's
    before_tunnel = facts.tunnel is None and proxied == "https"
    if before_tunnel and (facts.proxy_cert is not None or exit_code in (35, 56, 60)):
        inner = _certificate(facts, exit_code, lowered) or _tls(facts, exit_code, lowered, lowered)
        if inner is not None:
            return Situation(
                kind=inner.kind, where="proxy", alert=inner.alert, point=inner.point, close=inner.close,
                evidence=inner.evidence,
            )  # fmt: skip
    return None


def _socks(facts: Facts, exit_code: int, lowered: str) -> Situation | None:
    reply = re.search(r"socks\d connection to .*\((\d)\)", lowered) or re.search(r"socks5.*reply.*?(\d)\b", lowered)
    if reply:
        return Situation(kind="socks-reply", where="proxy", code=int(reply.group(1)))
    if "initial socks5 response" in lowered or ("connection to proxy closed" in lowered and facts.socks is None):
        return Situation(kind="socks-drop", where="proxy", point="greeting")
    if _any(lowered, ("authentication method was acceptable", "rejected by the socks5 server", "socks5 auth")):
        return Situation(kind="socks-auth", where="proxy", evidence=lowered)
    if _any(lowered, ("connection to proxy closed", "connect request ack", "socks4 connect")):
        return Situation(kind="socks-drop", where="proxy", point="request")
    if exit_code == 28 and facts.socks is not None and not facts.handshake:
        return Situation(kind="proxy-timeout", where="proxy")
    return None


def _connection(facts: Facts, exit_code: int, lowered: str) -> Situation | None:
    if exit_code == 6 or "resolve host" in lowered:
        return Situation(kind="dns", where="client", evidence=lowered)
    if exit_code == 28 or "timed out" in lowered:
        if facts.hops or "request completely sent" in " ".join(facts.lines).lower():
            return Situation(kind="hang")
        if facts.shook("Client hello") or facts.verbose.connected:
            return Situation(kind="silent", evidence=lowered)
        return Situation(kind="connect-timeout", evidence=lowered)
    if exit_code == 7 or _any(lowered, ("connection refused", "couldn't connect", "could not connect",
                                         "no route to host", "network is unreachable")):  # fmt: skip
        return Situation(kind="refused", evidence=lowered)
    return None


def _certificate(facts: Facts, exit_code: int, lowered: str) -> Situation | None:
    if "client certificate not found (nickname not specified)" in lowered:  # no --cert was given
        # old NSS curls gave up when a server asked for a certificate and none was configured; today's curl
        # sends none, and a server that requires one refuses the handshake (TLS 1.2 in that era)
        return Situation(kind="tls-alert", alert="handshake_failure", point="client-cert", evidence=lowered)
    if (exit_code == 58 or _any(lowered, _LOCAL_FILES)) and "alert" not in lowered:
        return Situation(kind="client-cert-file", where="client", evidence=lowered)
    if exit_code == 77 or "certificate verify locations" in lowered or "trust anchors from file" in lowered:
        return Situation(kind="ca-file", where="client", evidence=lowered)
    if "ssl certificate verification failed" in lowered and alert_in(lowered, facts):
        return None  # a received alert (certificate_expired in a TLS 1.2 handshake): see _tls
    received = [n for direction, _, n in facts.alerts if direction == "IN" and n >= 512]
    refused_mine = received and ALERT_NAMES.get(received[-1] - 512) in CLIENT_CERT_ALERTS
    # exit 60 over the server's alert about *our* certificate during the handshake (curl 7.88 words it as its own
    # check, e.g. "unable to get local issuer" with -k); once the handshake is done curl's own check came first
    if refused_mine and facts.shook("Request CERT") and not facts.saw("SSL connection using"):
        return None  # see _tls
    if exit_code not in (51, 60, 35, 77) and "certificate" not in lowered:
        return None
    if _any(lowered, _NAME):
        cn_only = ("certificate subject name" in lowered and "no alternative" not in lowered) or bool(
            facts.server_cert and facts.server_cert.common_name and not facts.server_cert.san
        )
        return Situation(kind="cert-name", where="client", point="cn" if cn_only else "san", evidence=lowered)
    if _any(lowered, _EXPIRED) and "alert" not in lowered:
        return Situation(kind="cert-expired", where="client", evidence=lowered)
    if _any(lowered, _SELF) and "in certificate chain" not in lowered:
        return Situation(kind="cert-self-signed", where="client", evidence=lowered)
    if _any(lowered, _UNTRUSTED) and "alert" not in lowered:
        point = ""
        if "in certificate chain" in lowered:  # the untrusted root came along (a TLS-inspecting proxy)
            point = "chain"
        elif "verify the first certificate" in lowered:  # the server left out its intermediate
            point = "first"
        return Situation(kind="cert-untrusted", where="client", point=point, evidence=lowered)
    return None


def _tls(facts: Facts, exit_code: int, lowered: str, text: str) -> Situation | None:
    alert = alert_in(text, facts)
    requested = facts.shook("Request CERT")
    if alert is not None:
        if facts.shook("Server hello") or requested:
            point = "client-cert" if requested or alert in CLIENT_CERT_ALERTS else "server-hello"
        elif facts.handshake:
            point = "client-hello"
        else:  # no handshake lines (NSS, Schannel, SecureTransport): the alert says where it was
            wanted = alert in CLIENT_CERT_ALERTS or exit_code == 56 or "requires a client certificate" in lowered
            point = "client-cert" if wanted else "client-hello"
        return Situation(kind="tls-alert", alert=alert, point=point, evidence=text)
    if _any(lowered, _PLAIN):
        return Situation(kind="plain-on-tls", evidence=text)
    closed = _any(lowered, _CLOSED) or re.search(r"errno (?:104|54|10054)\b", lowered)
    rst = "rst" if ("reset" in lowered or re.search(r"errno (104|54|10054)\b", lowered)) else "fin"
    if closed and exit_code == 35:
        point = "server-hello" if facts.shook("Server hello") else "client-hello"
        if requested:
            point = "client-cert"
        return Situation(kind="tls-close", point=point, close=rst, evidence=text)
    if exit_code == 35 and not closed and not facts.shook("Server hello"):
        # "SSL connect error" and nothing else (NSS, Schannel): the handshake died before the server answered
        return Situation(kind="tls-close", point="client-hello", evidence=text + " (the wording says no more)")
    if closed and exit_code in (16, 18, 55, 56):  # (16, 18: the same hang-up seen by curl's HTTP/2 layer)
        if requested and not facts.hops:
            return Situation(kind="tls-close", point="client-cert", close=rst, evidence=text)
        kind = "reset-after-request" if rst == "rst" else "eof-after-request"
        return Situation(kind=kind, close=rst, evidence=text)
    return None


def _http(facts: Facts, exit_code: int, lowered: str) -> Situation | None:
    if exit_code == 52 or "empty reply" in lowered:
        return Situation(kind="empty-reply")
    returned = re.search(r"returned error: (\d{3})", lowered)
    if exit_code == 22 or returned:
        status = int(returned.group(1)) if returned else next((h.status for h in facts.hops if h.status), None)
        return Situation(kind="http-error", code=status)
    return None
