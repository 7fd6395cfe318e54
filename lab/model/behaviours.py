"""Host behaviours that customers' transcripts show: a TLS origin that fails at a chosen point, answers per
path, and proxy rules per destination. Typed and checked like every host setting (``file:line`` errors,
all of them at once, see :mod:`lab.model.fields`); :mod:`lab.model.hostsettings` calls the readers here.

Pure: no trio, no TLS stack. The hosts that act on these settings are :mod:`lab.hosts.origin`,
:mod:`lab.hosts.proxyrules` (HTTP and SOCKS5 proxies) and :mod:`lab.runtime.tlsserver`.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

from lab.model.certspec import CertSpec
from lab.model.fields import Table, describe

# TLS alert descriptions (RFC 8446 section 6 and RFC 5246), named as OpenSSL's error strings name them.
ALERTS: dict[str, int] = {
    "close_notify": 0, "unexpected_message": 10, "bad_record_mac": 20, "record_overflow": 22,
    "handshake_failure": 40, "bad_certificate": 42, "unsupported_certificate": 43, "certificate_revoked": 44,
    "certificate_expired": 45, "certificate_unknown": 46, "illegal_parameter": 47, "unknown_ca": 48,
    "access_denied": 49, "decode_error": 50, "decrypt_error": 51, "protocol_version": 70,
    "insufficient_security": 71, "internal_error": 80, "inappropriate_fallback": 86, "user_canceled": 90,
    "missing_extension": 109, "unsupported_extension": 110, "unrecognized_name": 112,
    "bad_certificate_status_response": 113, "unknown_psk_identity": 115, "certificate_required": 116,
    "no_application_protocol": 120,
}  # fmt: skip
ALERT_NAMES = {number: name for name, number in ALERTS.items()}

FailPoint = Literal["client-hello", "server-hello"]
FAIL_POINTS: tuple[FailPoint, ...] = ("client-hello", "server-hello")
# Which ClientHellos a client-hello failure refuses: every one, those without a server name (SNI), or those
# naming a host its certificate does not carry (a server with several names chooses by SNI).
FAIL_WHEN = ("always", "no-sni", "other-name")
CLOSES = ("fin", "rst")
ANSWERS = ("respond", "hang", "close", "eof", "reset")
CLIENT_CA_NAMES = ("client-ca", "rogue-ca", "lab-root-ca")
TLS_VERSIONS = ("1.2", "1.3")
SOCKS_REPLIES = range(1, 9)  # RFC 1928: 1 general failure ... 8 address type not supported


@dataclass(frozen=True, slots=True, kw_only=True)
class Fail:
    """Where a TLS origin cuts the handshake short, and how.

    ``client-hello``: read the ClientHello, then send ``alert`` (a fatal alert OpenSSL sends from its
    ServerName callback) or close (``fin``/``rst``). ``server-hello``: send only the ServerHello, then close.
    """

    at: FailPoint
    alert: str | None = None
    close: str = "fin"
    when: str = "always"  # client-hello only: "always", "no-sni", "other-name" (FAIL_WHEN)

    def refuses(self, sni: str | None, names: tuple[str, ...]) -> bool:
        """Whether a ClientHello with server name ``sni`` is refused (``names``: what the certificate carries)."""
        if self.when == "no-sni":
            return not sni
        if self.when == "other-name":
            return not sni or sni.lower() not in {n.lower() for n in names}
        return True


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCertPolicy:
    """An origin that asks for a client certificate; OpenSSL verifies it, so the alert is OpenSSL's own
    (certificate_required or handshake_failure without one, unknown_ca, certificate_expired,
    unsupported_certificate for the lab's rogue, expired and no-clientAuth certificates)."""

    require: bool = True
    trust: tuple[str, ...] = ("client-ca",)
    linger: bool = True  # False: close the moment the handshake fails (curl then races: exit 55 or 56)


@dataclass(frozen=True, slots=True, kw_only=True)
class PathAnswer:
    """The answer for one request path: a status and, for a redirect, its ``Location``."""

    status: int = 200
    location: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginSettings:
    """A web server as customers meet them: HTTPS or plain HTTP, with the failures their transcripts show."""

    cert: CertSpec
    tls: bool = True
    tls_min: str = "1.2"
    tls_max: str = "1.3"
    http2: bool = True  # offered in ALPN; false: HTTP/1.1 only (curl then says "using HTTP/1.1")
    fail: Fail | None = None
    client_cert: ClientCertPolicy | None = None
    answer: str = "respond"  # after the request: respond, hang (never answer), close (TLS close_notify, no
    # reply), eof (TCP close without close_notify), reset
    default: PathAnswer = PathAnswer()
    paths: tuple[tuple[str, PathAnswer], ...] = ()
    label: str = ""

    def answer_for(self, path: str) -> PathAnswer:
        bare = path.split("?", 1)[0] or "/"
        return next((a for p, a in self.paths if p == bare), self.default)


ProxyReply = int | Literal["allow", "drop", "reset", "slow"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxyRule:
    """What a proxy does for destinations matching ``to`` (``host:port``, ``*`` wildcards, ``*`` alone = all).

    ``reply``: an HTTP status (HTTP proxy) or RFC 1928 reply code (SOCKS5) sent instead of opening the
    tunnel; ``drop``: close without a reply; ``reset``: reset the connection (TCP RST); ``slow``: wait
    ``delay`` seconds (0: until the client gives up) before going on as usual; ``allow``: go on as usual (to
    except a destination from a later rule).
    """

    to: str
    reply: ProxyReply
    delay: float = 0.0

    def matches(self, host: str, port: int) -> bool:
        pattern = self.to.lower()
        if pattern == "*":
            return True
        if ":" not in pattern:  # "dead.internal" means every port of it
            pattern += ":*"
        return fnmatch.fnmatchcase(f"{host.lower()}:{port}", pattern)


def first_rule(rules: tuple[ProxyRule, ...], host: str, port: int) -> ProxyRule | None:
    """The rule a proxy applies to ``host:port``: the first that matches. Pure."""
    return next((r for r in rules if r.matches(host.strip("[]"), port)), None)


# -- readers ---------------------------------------------------------------------------------------------

ORIGIN_KEYS = {
    "tls",
    "cert",
    "versions",
    "http2",
    "fail",
    "client_cert",
    "answer",
    "status",
    "location",
    "paths",
    "label",
}


def read_origin(name: str, table: Table, cert: CertSpec) -> OriginSettings:
    table.only(ORIGIN_KEYS, "setting '{}' for an origin host")
    versions = table.sub("versions", 'versions (like { min = "1.2", max = "1.3" })')
    versions.only({"min", "max"}, "versions key '{}'")
    low, high = (versions.choice(k, d, TLS_VERSIONS, "TLS version") for k, d in (("min", "1.2"), ("max", "1.3")))
    if low > high:
        versions.fail(("min",), f"versions: min {low} is above max {high}")
    return OriginSettings(
        cert=cert,
        tls=table.boolean("tls", True),
        tls_min=low,
        tls_max=high,
        http2=table.boolean("http2", True),
        fail=_fail(table) if "fail" in table else None,
        client_cert=read_client_cert(table) if "client_cert" in table else None,
        answer=table.choice("answer", "respond", ANSWERS, "answer"),
        default=_path_answer(table),
        paths=_paths(table),
        label=table.string("label", name),
    )


def _fail(table: Table) -> Fail | None:
    fail = table.sub("fail", 'fail (like { at = "client-hello", alert = "handshake_failure" })')
    fail.only({"at", "alert", "close", "when"}, "fail key '{}'")
    at = fail.choice("at", "client-hello", FAIL_POINTS, "fail point")
    when = fail.choice("when", "always", FAIL_WHEN, "which ClientHellos to refuse")
    if when != "always" and (at != "client-hello" or "alert" not in fail):
        fail.fail(
            ("when",), "'when' chooses which ClientHellos get the alert: it needs at = \"client-hello\" and an alert"
        )
    alert = fail.string("alert", "", "an alert name") or None
    if alert is not None and alert not in ALERTS:
        fail.fail(("alert",), f"unknown TLS alert {describe(alert)} (expected one of: {', '.join(ALERTS)})")
        alert = None
    if alert is not None and at != "client-hello":
        fail.fail(("alert",), "an alert is sent at client-hello only (server-hello closes after the ServerHello)")
    close = fail.choice("close", "fin", CLOSES, "close style")
    return Fail(at=at, alert=alert, close=close, when=when)  # type: ignore[arg-type]


def read_client_cert(table: Table) -> ClientCertPolicy:
    policy = table.sub("client_cert", 'client_cert (like { require = true, trust = ["client-ca"] })')
    policy.only({"require", "trust", "linger"}, "client_cert key '{}'")
    trust = policy.strings("trust", ["client-ca"], f"trust must list CAs among: {', '.join(CLIENT_CA_NAMES)}")
    if any(t not in CLIENT_CA_NAMES for t in trust):
        policy.fail(("trust",), f"trust must list CAs among: {', '.join(CLIENT_CA_NAMES)}")
        trust = [t for t in trust if t in CLIENT_CA_NAMES]
    return ClientCertPolicy(
        require=policy.boolean("require", True), trust=tuple(trust), linger=policy.boolean("linger", True)
    )


def _path_answer(table: Table) -> PathAnswer:
    status = table.integer("status", 200, 100, 599, "an HTTP status code")
    location = table.string("location", "", "a URL or path for the Location header")
    if location and not 300 <= status < 400:
        table.fail(("location",), f"'location' needs a redirect status (3xx), not {status}")
    return PathAnswer(status=status, location=location)


def _paths(table: Table) -> tuple[tuple[str, PathAnswer], ...]:
    raw = table.data.get("paths", {})
    example = 'paths must be a table like { "/" = { status = 302, location = "/en/" } }'
    if not isinstance(raw, dict):
        table.fail(("paths",), f"{example}, not {describe(raw)}")
        return ()
    answers = []
    for path, spec in raw.items():
        entry = Table.of(spec, table.source.sub("paths", path), table.problems, f"paths.{path!r}")
        entry.only({"status", "location"}, "paths key '{}'")
        if not path.startswith("/"):
            table.fail(("paths", path), f"a path starts with '/', not {describe(path)}")
            continue
        answers.append((path, _path_answer(entry)))
    return tuple(answers)


def read_rules(table: Table, kind: str) -> tuple[ProxyRule, ...]:
    """``rules = [{ to = "*:8443", reply = 403 }, ...]`` for an ``http-proxy`` or a ``socks5`` host."""
    example = 'a rule looks like { to = "*:8443", reply = 403 }'
    rules = []
    for i, entry in table.entries("rules", "a rule", example):
        entry.only({"to", "reply", "delay"}, "rule key '{}'")
        to = entry.string("to", "", 'a destination pattern like "*:8443"')
        if not to:
            table.fail(("rules", i), f"a rule needs 'to': {example}")
            continue
        reply = _reply(entry, kind)
        if reply is None:
            continue
        delay = entry.number("delay", 0.0, 0.0, 3600.0, "a number of seconds (0: until the client gives up)")
        rules.append(ProxyRule(to=to, reply=reply, delay=delay))
    return tuple(rules)


def _reply(entry: Table, kind: str) -> ProxyReply | None:
    value = entry.data.get("reply")
    words = ("allow", "drop", "reset", "slow")
    if kind == "socks5":
        what, ok = "a SOCKS5 reply code 1-8", isinstance(value, int) and value in SOCKS_REPLIES
    else:
        what, ok = "an HTTP status 300-599", isinstance(value, int) and 300 <= value <= 599
    if isinstance(value, bool) or not (ok or value in words):
        entry.fail(("reply",) if "reply" in entry else (), f"'reply' must be {what} or one of: {', '.join(words)}")
        return None
    return value
