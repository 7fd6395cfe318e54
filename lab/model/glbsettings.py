"""The load balancer's settings (host kind ``glb``): read from ``[hosts.NAME]``, typed and checked. Pure.

Every setting mirrors a Google Cloud resource field, so a scenario reads like the customer's configuration:

- ``load_balancer``: which Application Load Balancer: ``global-external`` (also the classic one),
  ``regional-external`` or ``internal``;
- ``mtls.mode``: ServerTlsPolicy ``mtlsPolicy.clientValidationMode``;
- ``mtls.trust_anchors`` / ``mtls.allowlist``: TrustConfig ``trustStores[].trustAnchors`` /
  ``allowlistedCertificates``;
- ``mtls.simulate`` (the lab's own): a verdict Google reaches only under load, ``validation_timed_out`` or
  ``validation_search_limit_exceeded``, given to every certificate that is not allowlisted;
- ``logging``: backend service ``logConfig`` (``enable``, ``sampleRate``, ``optionalMode``,
  ``optionalFields``) and the project the entries are written to;
- ``url_map``: URL map host and path rules;
- ``custom_headers``: backend service ``customRequestHeaders`` (see :mod:`lab.model.glbheaders`).

``REJECT_INVALID`` needs a TrustConfig that is not empty (ServerTlsPolicy reference,
https://cloud.google.com/load-balancing/docs/reference/network-security/rest/v1/projects.locations.serverTlsPolicies),
so ``lab check`` refuses it with neither trust anchors nor an allowlist.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from lab.model import glbheaders
from lab.model.certspec import CertSpec
from lab.model.fields import Table

Mode = Literal["REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT"]
MODES: tuple[Mode, ...] = ("REJECT_INVALID", "ALLOW_INVALID_OR_MISSING_CLIENT_CERT")
LB_TYPES = ("global-external", "regional-external", "internal")
ANCHORS = ("client-ca", "rogue-ca", "lab-root-ca")
# Client certificates in certs/ (made by lab.runtime.pki), each for one lesson.
CLIENT_CERTS = (
    "client",  # valid: clientAuth, from the client CA
    "rogue-client",  # from a CA the load balancer does not trust
    "expired-client",  # expired a month ago
    "noeku-client",  # serverAuth only
    "rsa4608-client",  # RSA key larger than Google's 4096 bits
    "p521-client",  # ECDSA on P-521 (Google takes P-256 and P-384)
    "ed25519-client",  # neither RSA nor ECDSA
    "ca-leaf-client",  # a leaf with CA:TRUE
    "deep-chain-client",  # eleven intermediates: the path is longer than ten certificates
    "pki-too-large-client",  # eleven intermediates with the same subject and key
    "name-constraints-client",  # an intermediate with eleven name constraints
    "future-client",  # valid only from next month (OpenSSL's verdict: bad_certificate)
)
TLS_VERSIONS = ("1.2", "1.3")
# alert: OpenSSL's alert; silent: hold the connection; reset: TCP RST; empty-reply: finish the handshake,
# then close without an answer (what a real Google load balancer was seen to do; docs/scenarios.md).
FAILURE_STYLES = ("alert", "silent", "reset", "empty-reply")
SIMULATIONS = ("none", "validation_timed_out", "validation_search_limit_exceeded")
OPTIONAL_MODES = ("EXCLUDE_ALL_OPTIONAL", "INCLUDE_ALL_OPTIONAL", "CUSTOM")
# Optional log fields (logConfig.optionalFields); the mtls ones exist on regional and internal load balancers.
OPTIONAL_FIELDS = ("tls.protocol", "tls.cipher", "mtls")


@dataclass(frozen=True, slots=True)
class LogDecision:
    """Whether an entry is written, and if not, why (the learner sees the reason in the timeline)."""

    written: bool
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class LogPolicy:
    """``logConfig`` of the backend service, and the project the entries belong to."""

    enabled: bool = True
    sample_rate: float = 1.0
    optional_mode: str = "EXCLUDE_ALL_OPTIONAL"  # Google's default
    optional_fields: tuple[str, ...] = ()  # with CUSTOM
    project_id: str = "lab-project"
    project_number: str = ""  # "" writes no backendTargetProjectNumber

    def decide(self, rng: random.Random) -> LogDecision:
        if not self.enabled:
            return LogDecision(False, "logging is disabled on the backend service (logConfig.enable = false)")
        if rng.random() >= self.sample_rate:
            return LogDecision(False, f"sampled away (logConfig.sampleRate = {self.sample_rate:g})")
        return LogDecision(True)

    def includes(self, optional_field: str) -> bool:
        if self.optional_mode == "INCLUDE_ALL_OPTIONAL":
            return True
        return self.optional_mode == "CUSTOM" and optional_field in self.optional_fields


@dataclass(frozen=True, slots=True)
class Route:
    """One URL-map rule: requests whose host and path match go to ``backend``."""

    host: str
    path: str
    backend: str


@dataclass(frozen=True, slots=True, kw_only=True)
class GlbSettings:
    cert: CertSpec  # the primary certificate (the target proxy's first sslCertificates entry)
    mode: Mode | None  # None: no mTLS policy at all
    anchors: tuple[str, ...] = ("client-ca",)
    allowlist: tuple[str, ...] = ()
    simulate: str = "none"
    tls_min: str = "1.2"
    tls_max: str = "1.3"
    failure_style: str = "alert"
    load_balancer: str = "global-external"
    region: str = "europe-west2"
    log: LogPolicy = LogPolicy()
    routes: tuple[Route, ...] = ()
    custom_headers: tuple[glbheaders.CustomHeader, ...] = ()
    more_certs: tuple[CertSpec, ...] = ()  # the target proxy's other sslCertificates, chosen by SNI

    def certificate_for(self, sni: str | None) -> int:
        """Which certificate the load balancer presents for server name ``sni``: 0 for the primary one, else the
        1-based index into ``more_certs``. Google: a certificate whose CN or SAN matches the SNI hostname; the
        primary one when none does, or when the client sent no SNI (load-balancing/docs/ssl-certificates)."""
        if not sni:
            return 0
        for index, spec in enumerate((self.cert, *self.more_certs)):
            if any(name_matches(pattern, sni) for pattern in (*spec.names, *(v for k, v in spec.subject if k == "CN"))):
                return index
        return 0


KEYS = {
    "cert", "more_certs", "mtls", "tls", "failure_style", "logging", "url_map", "custom_headers", "load_balancer",
    "region",
}  # fmt: skip


def name_matches(pattern: str, name: str) -> bool:
    """A certificate name matches a host name: exactly (ignoring case), or ``*.example.com`` one label deep."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def read(table: Table, cert: CertSpec, more_certs: tuple[CertSpec, ...] = ()) -> GlbSettings:
    table.only(KEYS, "setting '{}' for a glb host")
    mtls = table.sub("mtls", 'mtls (like { mode = "REJECT_INVALID" })')
    mtls.only({"mode", "trust_anchors", "allowlist", "simulate"}, "mtls key '{}'")
    mode = mtls.choice("mode", "REJECT_INVALID", (*MODES, "none"), "mtls mode")
    anchors = _names(mtls, "trust_anchors", ["client-ca"], ANCHORS, "trust_anchors must list CAs among")
    allowlist = _names(mtls, "allowlist", [], CLIENT_CERTS, "allowlist must list lab client certificates among")
    if mode == "REJECT_INVALID" and "trust_anchors" in mtls and not anchors and not allowlist:
        mtls.fail(
            ("trust_anchors",),
            "REJECT_INVALID needs a trust config with trust anchors or an allowlist "
            '(or use mode = "ALLOW_INVALID_OR_MISSING_CLIENT_CERT" to see client_cert_validation_not_performed)',
        )
    tls = table.sub("tls", 'tls (like { min = "1.2", max = "1.3" })')
    tls.only({"min", "max"}, "tls key '{}'")
    versions = [tls.choice(k, d, TLS_VERSIONS, "TLS version") for k, d in (("min", "1.2"), ("max", "1.3"))]
    return GlbSettings(
        cert=cert,
        mode=None if mode == "none" else mode,  # type: ignore[arg-type]
        anchors=tuple(anchors),
        allowlist=tuple(allowlist),
        simulate=mtls.choice("simulate", "none", SIMULATIONS, "mtls.simulate"),
        tls_min=versions[0],
        tls_max=versions[1],
        failure_style=table.choice("failure_style", "alert", FAILURE_STYLES, "failure_style"),
        load_balancer=table.choice("load_balancer", "global-external", LB_TYPES, "load_balancer"),
        region=table.string("region", "europe-west2", "a region name like europe-west2"),
        log=_logging(table),
        routes=_routes(table),
        custom_headers=_headers(table),
        more_certs=more_certs,
    )


def _names(table: Table, key: str, default: list[str], allowed: tuple[str, ...], what: str) -> list[str]:
    message = f"{what}: {', '.join(allowed)}"
    names = table.strings(key, default, message)
    if any(n not in allowed for n in names):
        table.fail((key,), message)
    return [n for n in names if n in allowed]


def _logging(table: Table) -> LogPolicy:
    logging = table.sub("logging", "logging (like { enabled = true, sample_rate = 1.0 })")
    logging.only(
        {"enabled", "sample_rate", "optional_mode", "optional_fields", "project_id", "project_number"},
        "logging key '{}'",
    )
    fields = logging.strings("optional_fields", [], f"optional_fields must list fields among: {OPTIONAL_FIELDS}")
    for i, name in enumerate(fields):
        if name not in OPTIONAL_FIELDS:
            logging.fail(("optional_fields", i), f"unknown optional field {name!r} (expected: {OPTIONAL_FIELDS})")
    number = logging.string("project_number", "", 'a project number in quotes, like "123456789012"')
    if number and not number.isdigit():
        logging.fail(("project_number",), f"project_number must be digits, not {number!r}")
    return LogPolicy(
        enabled=logging.boolean("enabled", True),
        sample_rate=logging.number("sample_rate", 1.0, 0.0, 1.0, "between 0.0 and 1.0"),
        optional_mode=logging.choice("optional_mode", "EXCLUDE_ALL_OPTIONAL", OPTIONAL_MODES, "optional_mode"),
        optional_fields=tuple(f for f in fields if f in OPTIONAL_FIELDS),
        project_id=logging.string("project_id", "lab-project", "a project id"),
        project_number=number if number.isdigit() else "",
    )


def _routes(table: Table) -> tuple[Route, ...]:
    example = 'a url_map entry needs a backend: { path = "/api/*", backend = "api" }'
    routes = []
    for i, entry in table.entries("url_map", "a url_map entry", example):
        entry.only({"host", "path", "backend"}, "url_map key '{}'")
        backend = entry.string("backend", "", "a backend host's name")
        if not backend:
            table.fail(("url_map", i), example)
            continue
        routes.append(Route(host=entry.string("host", "*"), path=entry.string("path", "*"), backend=backend))
    return tuple(routes)


def _headers(table: Table) -> tuple[glbheaders.CustomHeader, ...]:
    raw = table.table_of_strings(
        "custom_headers", 'custom_headers must be a table like { "X-Client-Cert-Present" = "{client_cert_present}" }'
    )
    headers, seen = [], set()
    for name, template in raw.items():
        problem = glbheaders.name_problem(name)
        if not problem and name.lower() in seen:
            problem = f"custom header {name} is configured twice (names ignore case)"
        try:
            parts = glbheaders.parse_template(template)
        except glbheaders.TemplateError as exc:
            problem = problem or f"custom header {name}: {exc}"
            parts = ()
        if problem:
            table.fail(("custom_headers", name), problem)
            continue
        seen.add(name.lower())
        headers.append(glbheaders.CustomHeader(name=name.lower(), template=template, parts=parts))
    limit = glbheaders.limit_problem(list(raw.items()))
    if limit:
        table.fail(("custom_headers",), limit)
    return tuple(headers)
