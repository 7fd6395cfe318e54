"""Each host kind's settings, read from a scenario's ``[hosts.NAME]`` table into a typed, checked value.

Pure (no trio, no OpenSSL), so ``lab check`` validates a scenario without starting anything, and the hosts
in :mod:`lab.hosts` can trust what they get. Every getter records a ``file:line`` error and goes on (see
:mod:`lab.model.fields`), so one ``lab check`` lists every bad setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from lab.model import behaviours, glbsettings
from lab.model.behaviours import ClientCertPolicy, OriginSettings, ProxyRule
from lab.model.certspec import CertSpec
from lab.model.fields import Table, canonical_ip, describe, ip_problem
from lab.model.glbsettings import GlbSettings

__all__ = [
    "HOST_KINDS",
    "BackendSettings",
    "CertSpec",
    "GlbSettings",
    "HostSettings",
    "OriginSettings",
    "ProxySettings",
    "ResetSettings",
]

HostKind = Literal["glb", "backend", "reset", "http-proxy", "socks5", "origin"]
HOST_KINDS: tuple[HostKind, ...] = get_args(HostKind)  # the one list of host kinds (lab.hosts has a module each)

# ``cert.subject`` fields, as curl -v prints them (the PKI maps each to its X.509 attribute).
SUBJECT_KEYS = ("jurisdictionCountryName", "businessCategory", "serialNumber", "C", "ST", "L", "O", "OU", "CN")
ISSUERS = ("ev", "root", "rogue", "rogue-chain", "self")  # rogue-chain: sent with its untrusted root

RESET_MODES = ("fin", "rst", "silent")
DEFAULT_PROXY_TIMEOUT = 30  # seconds an idle tunnel stays open (proxy.py's own default is 10)


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
    """An HTTP proxy or a SOCKS5 proxy: its own DNS table, optional user/password, rules per destination;
    an HTTP proxy may speak TLS to the client (``-x https://``), with its own certificate and, optionally,
    a client-certificate check (``--proxy-cert``)."""

    dns: tuple[tuple[str, str], ...] = ()  # name -> address, the proxy's own DNS
    auth: tuple[str, str] | None = None
    timeout: int = DEFAULT_PROXY_TIMEOUT  # HTTP proxy only
    rules: tuple[ProxyRule, ...] = ()
    cert: CertSpec | None = None  # HTTP proxy only: an HTTPS proxy's certificate (None: plain HTTP proxy)
    client_cert: ClientCertPolicy | None = None  # HTTPS proxy only
    greeting: str = "answer"  # SOCKS5 only: "drop" closes after the client's greeting, before any reply
    chain: bool = False  # may forward to another lab proxy (never to itself; see lab.hosts.proxydns)

    def lookup(self, name: str) -> str | None:
        wanted = name.lower()
        return next((address for key, address in self.dns if key.lower() == wanted), None)


HostSettings = GlbSettings | BackendSettings | ResetSettings | ProxySettings | OriginSettings


def read(kind: str, name: str, table: Table) -> HostSettings:
    """The settings of a host of ``kind`` (its table without ``kind`` and ``address``)."""
    if kind == "glb":
        more = tuple(cert_spec(name, entry) for _, entry in table.entries("more_certs", "a certificate", _MORE))
        return glbsettings.read(table, read_cert(name, table), more)
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
    if kind == "origin":
        return behaviours.read_origin(name, table, read_cert(name, table))
    return _proxy(kind, name, table)


def _proxy(kind: str, name: str, table: Table) -> ProxySettings:
    own = {"timeout", "tls", "cert", "client_cert"} if kind == "http-proxy" else {"greeting"}
    allowed = {"dns", "auth", "rules", "chain"} | own
    table.only(allowed, "setting '{}' for a " + kind + " host")
    tls = table.boolean("tls", False)
    if "cert" in table and not tls:
        table.fail(("cert",), "'cert' is the certificate of an HTTPS proxy: add tls = true (curl -x https://...)")
    if "client_cert" in table and not tls:
        table.fail(("client_cert",), "'client_cert' needs tls = true (curl --proxy-cert talks TLS to the proxy)")
    return ProxySettings(
        dns=_dns(table),
        auth=_auth(table),
        timeout=table.integer("timeout", DEFAULT_PROXY_TIMEOUT, 1, 86400, "a positive number of seconds"),
        rules=behaviours.read_rules(table, kind),
        cert=read_cert(name, table) if tls else None,
        client_cert=behaviours.read_client_cert(table) if tls and "client_cert" in table else None,
        greeting=table.choice("greeting", "answer", ("answer", "drop"), "greeting"),
        chain=table.boolean("chain", False),
    )


_MORE = 'a certificate looks like { names = ["api.mydomain"] }'


def read_cert(name: str, table: Table) -> CertSpec:
    return cert_spec(name, table.sub("cert", "'cert'"))


def cert_spec(name: str, cert: Table) -> CertSpec:
    """A certificate's settings (``names``, ``ips``, ``subject``, ``issuer``, ``expired``, ``intermediate``)."""
    cert.only({"names", "ips", "subject", "issuer", "expired", "intermediate"}, "cert key '{}'")
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
        intermediate=cert.boolean("intermediate", True),
    )


def _dns_name_ok(name: str) -> bool:
    labels = name.removeprefix("*.").split(".")
    return 0 < len(name) <= 253 and all(
        label and len(label) <= 63 and label.isascii() and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


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
