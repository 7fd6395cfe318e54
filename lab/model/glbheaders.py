"""Custom request headers of the load balancer's backend service: names, value templates, limits. Pure.

``lab check`` reads them here, so a template the load balancer could not fill is refused with ``file:line``
before anything starts; :mod:`lab.hosts.glb` only renders what passed. Google's rules, in our words, from
https://cloud.google.com/load-balancing/docs/https/custom-headers (the mTLS variables are on the same page):

- a value may use ``{variable}``; ``{{`` and ``}}`` stand for literal braces;
- at most 16 custom request headers per backend service, and 8 KB of names and values together (counted
  before variables are filled);
- a name is an HTTP token; not ``X-User-IP`` or ``CDN-Loop``; not hop-by-hop (``Connection``,
  ``Keep-Alive``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``); not starting ``X-Google``,
  ``X-Goog-``, ``X-GFE`` or ``X-Amz-``; no name twice;
- leading and trailing whitespace of a value is not passed on;
- the header the load balancer adds replaces a client-sent header of the same name.

Google does not say what it does with an unknown ``{variable}``; the lab refuses it (a typo would otherwise
reach the backend as literal text). Variables Google documents but the lab cannot fill (geography, RTT,
JA3/JA4) are refused with a message that says so.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

# The mTLS variables (Google's order), filled from the client certificate verdict.
MTLS_VARIABLES = (
    "client_cert_present",
    "client_cert_chain_verified",
    "client_cert_error",
    "client_cert_sha256_fingerprint",
    "client_cert_serial_number",
    "client_cert_spiffe_id",
    "client_cert_uri_sans",
    "client_cert_dnsname_sans",
    "client_cert_valid_not_before",
    "client_cert_valid_not_after",
    "client_cert_issuer_dn",
    "client_cert_subject_dn",
    "client_cert_leaf",
    "client_cert_chain",
)
# Connection variables the lab fills too.
CONNECTION_VARIABLES = (
    "client_ip_address",
    "client_port",
    "client_encrypted",
    "client_protocol",
    "server_ip_address",
    "server_port",
    "tls_sni_hostname",
    "tls_version",
    "tls_cipher_suite",
)
VARIABLES = MTLS_VARIABLES + CONNECTION_VARIABLES
# Documented by Google, not computed by the lab (no geography, no RTT, no fingerprinting of ClientHellos).
NOT_FILLED = (
    "client_region",
    "client_region_subdivision",
    "client_city",
    "client_city_lat_long",
    "client_rtt_msec",
    "origin_request_header",
    "tls_ja3_fingerprint",
    "tls_ja4_fingerprint",
    "user_agent_family",
    "device_request_type",
    "cdn_cache_id",
    "cdn_cache_status",
)
MAX_HEADERS = 16
MAX_BYTES = 8 * 1024
FORBIDDEN = {"x-user-ip", "cdn-loop", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade"}
FORBIDDEN_PREFIXES = ("x-google", "x-goog-", "x-gfe", "x-amz-")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class TemplateError(ValueError):
    """A header value the load balancer cannot fill; the message says what to write instead."""


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a header value: literal text, or the name of a variable to fill."""

    text: str
    variable: bool = False


@dataclass(frozen=True, slots=True)
class CustomHeader:
    name: str  # lower-case, as HTTP/2 sends it
    template: str
    parts: tuple[Part, ...]

    def render(self, values: dict[str, str]) -> str:
        """The value sent to the backend: variables filled (empty when unknown to this request), trimmed."""
        return "".join(values.get(p.text, "") if p.variable else p.text for p in self.parts).strip()


def parse_template(template: str) -> tuple[Part, ...]:
    """``"v={client_cert_present} {{x}}"`` -> literal ``v=``, variable, literal `` {x}``."""
    parts: list[Part] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        c = template[i]
        if template.startswith("{{", i) or template.startswith("}}", i):
            literal.append(c)
            i += 2
        elif c == "{":
            end = template.find("}", i)
            if end < 0:
                raise TemplateError(f"'{{' at position {i + 1} is not closed (write {{{{ for a literal brace)")
            name = template[i + 1 : end]
            _check_variable(name)
            if literal:
                parts.append(Part("".join(literal)))
                literal = []
            parts.append(Part(name, variable=True))
            i = end + 1
        elif c == "}":
            raise TemplateError(f"lone '}}' at position {i + 1} (write }}}} for a literal brace)")
        else:
            literal.append(c)
            i += 1
    if literal:
        parts.append(Part("".join(literal)))
    return tuple(parts)


def _check_variable(name: str) -> None:
    if name in VARIABLES:
        return
    if name in NOT_FILLED:
        raise TemplateError(f"{{{name}}} is a Google variable the lab cannot fill (no geography, RTT or JA3/JA4 here)")
    close = difflib.get_close_matches(name, VARIABLES, n=1)
    if close:
        raise TemplateError(f"unknown variable {{{name}}} (did you mean {{{close[0]}}}?)")
    raise TemplateError(f"unknown variable {{{name}}}; known: " + ", ".join("{" + v + "}" for v in VARIABLES))


def name_problem(name: str) -> str | None:
    """Why Google would refuse ``name`` as a custom header name (``None`` when it is fine)."""
    lowered = name.lower()
    if not _TOKEN.fullmatch(name):
        return f"{name!r} is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    if lowered in FORBIDDEN:
        return f"{name} cannot be a custom header (Google reserves it, or it is hop-by-hop)"
    prefix = next((p for p in FORBIDDEN_PREFIXES if lowered.startswith(p)), None)
    if prefix:
        return f"{name} cannot be a custom header: names starting {prefix!r} are reserved"
    return None


def limit_problem(headers: list[tuple[str, str]]) -> str | None:
    """Google's per-backend-service limits: 16 headers, 8 KB of names and values before filling."""
    if len(headers) > MAX_HEADERS:
        return f"{len(headers)} custom headers; a backend service takes at most {MAX_HEADERS}"
    size = sum(len(n.encode()) + len(v.encode()) for n, v in headers)
    if size > MAX_BYTES:
        return f"custom headers add up to {size} bytes of names and values; the limit is {MAX_BYTES} (8 KB)"
    return None
