"""Each host kind's settings, read from a scenario's ``[hosts.NAME]`` table into a typed, checked value.

Pure (no trio, no OpenSSL), so ``lab check`` validates a scenario without starting anything, and the hosts
in :mod:`lab.hosts` can trust what they get. Every getter records a ``file:line`` error and goes on (see
:mod:`lab.model.fields`), so one ``lab check`` lists every bad setting.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal, get_args

from lab.model.fields import Table, canonical_ip, describe, ip_problem

HostKind = Literal["glb", "backend", "reset", "http-proxy", "socks5"]
HOST_KINDS: tuple[HostKind, ...] = get_args(HostKind)  # the one list of host kinds (lab.hosts has a module each)

# ``cert.subject`` fields, as curl -v prints them (the PKI maps each to its X.509 attribute).
SUBJECT_KEYS = ("jurisdictionCountryName", "businessCategory", "serialNumber", "C", "ST", "L", "O", "OU", "CN")
ISSUERS = ("ev", "root", "rogue")

Mode = Literal["REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"]
MODES: tuple[Mode, ...] = ("REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT")
ANCHORS = ("client-ca", "rogue-ca", "lab-root-ca")
CLIENT_CERTS = ("client", "rogue-client", "expired-client", "noeku-client")
TLS_VERSIONS = ("1.2", "1.3")
FAILURE_STYLES = ("alert", "silent", "reset")
RESET_MODES = ("fin", "rst", "silent")
DEFAULT_PROXY_TIMEOUT = 30  # seconds an idle tunnel stays open (proxy.py's own default is 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertSpec:
    """The certificate a TLS host presents (the PKI makes it from this)."""

    names: tuple[str, ...]
    ips: tuple[str, ...] = ()
    subject: tuple[tuple[str, str], ...] = ()
    issuer: str = "ev"
    expired: bool = False


@dataclass(frozen=True, slots=True)
class LogDecision:
    """Whether an entry is written, and if not, why (the learner sees the reason in the timeline)."""

    written: bool
    reason: str = ""


@dataclass(frozen=True, slots=True)
class LogPolicy:
    """``logConfig`` of the backend service: ``enable`` and ``sampleRate``."""

    enabled: bool = True
    sample_rate: float = 1.0

    def decide(self, rng: random.Random) -> LogDecision:
        if not self.enabled:
            return LogDecision(False, "logging is disabled on the backend service (logConfig.enable = false)")
        if rng.random() >= self.sample_rate:
            return LogDecision(False, f"sampled away (logConfig.sampleRate = {self.sample_rate:g})")
        return LogDecision(True)


@dataclass(frozen=True, slots=True)
class Route:
    """One URL-map rule: requests whose host and path match go to ``backend``."""

    host: str
    path: str
    backend: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GlbSettings:
    cert: CertSpec
    mode: Mode | None  # None: no mTLS policy at all
    anchors: tuple[str, ...] = ("client-ca",)
    allowlist: tuple[str, ...] = ()
    tls_min: str = "1.2"
    tls_max: str = "1.3"
    failure_style: str = "alert"
    log: LogPolicy = LogPolicy()
    routes: tuple[Route, ...] = ()
    custom_headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class BackendSettings:
    cert: CertSpec
    tls: bool = True
    label: str = ""
    status: int = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetSettings:
    mode: str = "fin"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxySettings:
    """An HTTP proxy or a SOCKS5 proxy: its own DNS table and optional user/password."""

    dns: tuple[tuple[str, str], ...] = ()  # name -> address, the proxy's own DNS
    auth: tuple[str, str] | None = None
    timeout: int = DEFAULT_PROXY_TIMEOUT  # HTTP proxy only

    def lookup(self, name: str) -> str | None:
        wanted = name.lower()
        return next((address for key, address in self.dns if key.lower() == wanted), None)


HostSettings = GlbSettings | BackendSettings | ResetSettings | ProxySettings


def read(kind: str, name: str, table: Table) -> HostSettings:
    """The settings of a host of ``kind`` (its table without ``kind`` and ``address``)."""
    if kind == "glb":
        return _glb(name, table)
    if kind == "backend":
        table.only({"tls", "cert", "label", "status"}, "setting '{}' for a backend host")
        return BackendSettings(
            cert=read_cert(name, table),
            tls=table.boolean("tls", True),
            label=table.string("label", name),
            status=table.integer("status", 200, 100, 599, "an HTTP status code"),
        )
    if kind == "reset":
        table.only({"mode"}, "setting '{}' for a reset host")
        return ResetSettings(mode=table.choice("mode", "fin", RESET_MODES, "reset mode"))
    allowed = {"dns", "auth", "timeout"} if kind == "http-proxy" else {"dns", "auth"}
    table.only(allowed, "setting '{}' for a " + kind + " host")
    return ProxySettings(
        dns=_dns(table),
        auth=_auth(table),
        timeout=table.integer("timeout", DEFAULT_PROXY_TIMEOUT, 1, 86400, "a positive number of seconds"),
    )


def read_cert(name: str, table: Table) -> CertSpec:
    cert = table.sub("cert", "'cert'")
    cert.only({"names", "ips", "subject", "issuer", "expired"}, "cert key '{}'")
    names = cert.strings("names", [name], "cert.names must be a list of DNS names")
    for i, dns_name in enumerate(names):
        if not _dns_name_ok(dns_name):
            cert.fail(("names", i), f"cert.names: {describe(dns_name)} is not a DNS name (letters, digits, - and .)")
    ips = cert.strings("ips", [], "cert.ips must be a list of IP addresses")
    for i, ip in enumerate(ips):
        problem = ip_problem(ip)
        if problem:
            cert.fail(("ips", i), f"cert.ips: {problem}")
    subject = cert.table_of_strings("subject", 'cert.subject must be a table like { CN = "mydomain" }')
    for key in subject:
        if key not in SUBJECT_KEYS:
            cert.fail(("subject", key), f"unknown subject field '{key}' (expected one of: {', '.join(SUBJECT_KEYS)})")
    default_cn = names[0] if names else name
    return CertSpec(
        names=tuple(names),
        ips=tuple(canonical_ip(ip) for ip in ips if not ip_problem(ip)),
        subject=tuple((subject or {"CN": default_cn}).items()),
        issuer=cert.choice("issuer", "ev", ISSUERS, "issuer"),
        expired=cert.boolean("expired", False),
    )


def _dns_name_ok(name: str) -> bool:
    labels = name.removeprefix("*.").split(".")
    return 0 < len(name) <= 253 and all(
        label and len(label) <= 63 and label.isascii() and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


def _glb(name: str, table: Table) -> GlbSettings:
    table.only(
        {"cert", "mtls", "tls", "failure_style", "logging", "url_map", "custom_headers"}, "setting '{}' for a glb host"
    )
    mtls = table.sub("mtls", 'mtls (like { mode = "REJECT_INVALID" })')
    mtls.only({"mode", "trust_anchors", "allowlist"}, "mtls key '{}'")
    mode = mtls.choice("mode", "REJECT_INVALID", (*MODES, "none"), "mtls mode")
    anchors = mtls.strings("trust_anchors", ["client-ca"], f"trust_anchors must list CAs among: {', '.join(ANCHORS)}")
    if any(a not in ANCHORS for a in anchors):
        mtls.fail(("trust_anchors",), f"trust_anchors must list CAs among: {', '.join(ANCHORS)}")
        anchors = [a for a in anchors if a in ANCHORS]
    allowlist = mtls.strings(
        "allowlist", [], f"allowlist must list lab client certificates among: {', '.join(CLIENT_CERTS)}"
    )
    if any(a not in CLIENT_CERTS for a in allowlist):
        mtls.fail(("allowlist",), f"allowlist must list lab client certificates among: {', '.join(CLIENT_CERTS)}")
        allowlist = [a for a in allowlist if a in CLIENT_CERTS]
    tls = table.sub("tls", 'tls (like { min = "1.2", max = "1.3" })')
    tls.only({"min", "max"}, "tls key '{}'")
    versions = [tls.choice(k, d, TLS_VERSIONS, "TLS version") for k, d in (("min", "1.2"), ("max", "1.3"))]
    logging = table.sub("logging", "logging (like { enabled = true, sample_rate = 1.0 })")
    logging.only({"enabled", "sample_rate"}, "logging key '{}'")
    headers = table.table_of_strings(
        "custom_headers", 'custom_headers must be a table like { "X-Client-Cert-Present" = "{client_cert_present}" }'
    )
    return GlbSettings(
        cert=read_cert(name, table),
        mode=None if mode == "none" else mode,  # type: ignore[arg-type]
        anchors=tuple(anchors),
        allowlist=tuple(allowlist),
        tls_min=versions[0],
        tls_max=versions[1],
        failure_style=table.choice("failure_style", "alert", FAILURE_STYLES, "failure_style"),
        log=LogPolicy(
            enabled=logging.boolean("enabled", True),
            sample_rate=logging.number("sample_rate", 1.0, 0.0, 1.0, "between 0.0 and 1.0"),
        ),
        routes=_routes(table),
        custom_headers=tuple(headers.items()),
    )


def _routes(table: Table) -> tuple[Route, ...]:
    raw = table.data.get("url_map", [])
    example = 'a url_map entry needs a backend: { path = "/api/*", backend = "api" }'
    if not isinstance(raw, list):
        table.fail(("url_map",), f"url_map must be a list of entries; {example}")
        return ()
    routes = []
    for i, item in enumerate(raw):
        entry = Table.of(item, table.source.sub("url_map", i), table.problems, "a url_map entry")
        entry.only({"host", "path", "backend"}, "url_map key '{}'")
        backend = entry.string("backend", "", "a backend host's name")
        if not backend:
            table.fail(("url_map", i), example)
            continue
        routes.append(Route(host=entry.string("host", "*"), path=entry.string("path", "*"), backend=backend))
    return tuple(routes)


def _dns(table: Table) -> tuple[tuple[str, str], ...]:
    raw = table.data.get("dns", {})
    if not isinstance(raw, dict):
        table.fail(("dns",), "'dns' must be a table of name = \"address\"")
        return ()
    entries = []
    for name, address in raw.items():
        problem = ip_problem(address) if isinstance(address, str) else "not a string"
        if problem:
            table.fail(("dns", name), f"'{name}' must map to an IP address, not {describe(address)}")
        else:
            entries.append((name, canonical_ip(address)))
    return tuple(entries)


def _auth(table: Table) -> tuple[str, str] | None:
    auth = table.data.get("auth")
    if auth is None:
        return None
    if not (
        isinstance(auth, dict) and set(auth) == {"user", "password"} and all(isinstance(v, str) for v in auth.values())
    ):
        table.fail(("auth",), f'auth must be {{ user = "...", password = "..." }}, not {describe(auth)}')
        return None
    return auth["user"], auth["password"]
