"""Log entries in the shape Cloud Logging stores for each kind of Application Load Balancer. Pure.

One entry per HTTP request and one per connection the load balancer closed over a client certificate
(``httpRequest.status`` 0, ``jsonPayload.statusDetails`` ``client_cert_...``); whether it is written at all is
:class:`lab.model.glbsettings.LogPolicy`'s call. The shape, per load balancer (in our words; sources and
confidence in docs/gcp-facts.md):

- global external (``http_load_balancer``, log ``requests``): resource labels backend_service_name,
  forwarding_rule_name, project_id, target_proxy_name, url_map_name, zone=global; ``statusDetails``;
  ``httpRequest.remoteIp`` without a port, ``serverIp`` the backend's address, no ``protocol``; no ``mtls``
  block (https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring);
- regional external (``http_external_regional_lb_rule``, log
  ``loadbalancing.googleapis.com%2Fexternal_regional_requests``) and internal (``internal_http_lb_rule``, log
  ``loadbalancing.googleapis.com%2Frequests``): labels backend_name ... url_map_name with region, addresses
  with ports, ``httpRequest.protocol``, the optional ``mtls`` block
  (https://cloud.google.com/load-balancing/docs/https/https-reg-logging-monitoring,
  https://cloud.google.com/load-balancing/docs/l7-internal/monitoring);
- a closed mTLS connection on the global one, as Google's own sample shows it: ``httpRequest`` holds only
  remoteIp and latency ``0s``, the backend labels are empty strings, severity INFO (apigee-samples
  mtls-northbound);
- booleans "typically only appear if they have a value of true", empty strings and a zero status are not
  serialised (the proto3 JSON rule), int64 sizes are strings;
- ``tls.protocol`` / ``tls.cipher`` and the ``mtls`` fields are optional fields: written only when
  ``logging.optional_mode`` includes them (Google's default excludes them).

What the lab must say and Google has no word for (a TLS handshake that failed for a reason other than the
client certificate) goes into a top-level ``lab`` object that no real entry has, never into ``jsonPayload``.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import string
from dataclasses import dataclass
from typing import Any

from lab.hosts.glb.mtls import Verdict
from lab.hosts.glb.variables import certificate_values
from lab.model.glbsettings import GlbSettings
from lab.protocols.netaddr import format_address

LOG_TYPE = "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry"
RESOURCE = {
    "global-external": ("http_load_balancer", "requests"),
    "regional-external": (
        "http_external_regional_lb_rule",
        "loadbalancing.googleapis.com%2Fexternal_regional_requests",
    ),
    "internal": ("internal_http_lb_rule", "loadbalancing.googleapis.com%2Frequests"),
}
# The mtls block's fields and the variable each mirrors (OpenTelemetry's parser of these entries lists them).
MTLS_FIELDS = {
    "clientCertPresent": "client_cert_present",
    "clientCertChainVerified": "client_cert_chain_verified",
    "clientCertError": "client_cert_error",
    "clientCertSha256Fingerprint": "client_cert_sha256_fingerprint",
    "clientCertSerialNumber": "client_cert_serial_number",
    "clientCertValidStartTime": "client_cert_valid_not_before",
    "clientCertValidEndTime": "client_cert_valid_not_after",
    "clientCertSpiffeId": "client_cert_spiffe_id",
    "clientCertUriSans": "client_cert_uri_sans",
    "clientCertDnsnameSans": "client_cert_dnsname_sans",
    "clientCertIssuerDn": "client_cert_issuer_dn",
    "clientCertSubjectDn": "client_cert_subject_dn",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    """What the load balancer saw, for one entry. ``status`` 0 is a connection closed without a response."""

    lb: str  # the forwarding rule: the host's name
    client_ip: str
    client_port: int
    started: dt.datetime  # when the request (or the connection) arrived
    status: int = 0
    status_details: str = ""  # Google's word; "" when Google has none
    lab_details: str = ""  # the lab's word when Google has none, e.g. tls_handshake_failed
    lab_note: str = ""
    tls_protocol: str = ""
    tls_cipher: str = ""  # IANA name
    verdict: Verdict | None = None
    method: str = ""
    url: str = ""
    protocol: str = ""  # HTTP/1.1, HTTP/2
    user_agent: str = ""
    request_size: int = 0
    response_size: int = 0
    latency_s: float = 0.0
    backend: str = ""  # the backend service that answered ("" if none)
    backend_ip: str = ""
    backend_port: int = 0
    matched_rule: str = ""  # the URL-map path rule, "UNMATCHED", or "" for no request
    proxy_status: str = ""  # RFC 9209 Proxy-Status, when the load balancer answered with an error


def timestamp(when: dt.datetime, nanos: bool = False) -> str:
    """RFC 3339 in UTC with ``Z``: microseconds for ``timestamp``, nanoseconds for ``receiveTimestamp``."""
    text = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text + ("000Z" if nanos else "Z")


def duration(seconds: float) -> str:
    """A protobuf Duration in JSON: ``0s``, or seconds with 6 fractional digits."""
    return "0s" if seconds <= 0 else f"{seconds:.6f}s"


def insert_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(14))


def severity(status: int) -> str:
    """Observed: INFO for answers and closed connections, WARNING from 400 (Google documents no mapping)."""
    return "WARNING" if status >= 400 else "INFO"


def entry(settings: GlbSettings, seen: Seen, rng: random.Random, now: dt.datetime | None = None) -> dict[str, Any]:
    """The whole entry, as ``gcloud logging read --format=json`` would print it."""
    kind = settings.load_balancer
    resource_type, log = RESOURCE[kind]
    record: dict[str, Any] = {
        "insertId": insert_id(rng),
        "logName": f"projects/{settings.log.project_id}/logs/{log}",
        "resource": {"type": resource_type, "labels": _labels(settings, seen)},
        "severity": severity(seen.status),
        "timestamp": timestamp(seen.started),
        "receiveTimestamp": timestamp(now or dt.datetime.now(dt.UTC), nanos=True),
        "httpRequest": _http_request(kind, seen),
        "jsonPayload": _payload(settings, seen),
    }
    if seen.method:  # requests carry a trace; closed connections did not in Google's samples
        record["trace"] = f"projects/{settings.log.project_id}/traces/{rng.getrandbits(128):032x}"
        record["spanId"] = f"{rng.getrandbits(64):016x}"
    if seen.lab_details:
        record["lab"] = {"statusDetails": seen.lab_details, "note": seen.lab_note}
    return record


def _labels(settings: GlbSettings, seen: Seen) -> dict[str, str]:
    served = bool(seen.method)  # a closed connection never met the URL map
    names = {
        "forwarding_rule_name": seen.lb,
        "project_id": settings.log.project_id,
        "target_proxy_name": f"{seen.lb}-target-proxy" if served else "",
        "url_map_name": f"{seen.lb}-url-map" if served else "",
    }
    if settings.load_balancer == "global-external":
        return {**names, "backend_service_name": seen.backend, "zone": "global"}
    return {
        **names,
        "backend_name": f"{seen.backend}-group" if seen.backend else "",
        "backend_scope": f"{settings.region}-a" if seen.backend else "",
        "backend_scope_type": "ZONE" if seen.backend else "",
        "backend_target_name": seen.backend,
        "backend_target_type": "BACKEND_SERVICE" if seen.backend else "",
        "backend_type": "INSTANCE_GROUP" if seen.backend else "",
        "matched_url_path_rule": seen.matched_rule,
        "network_name": "lab-network",
        "region": settings.region,
    }


def _http_request(kind: str, seen: Seen) -> dict[str, Any]:
    ported = kind != "global-external"  # regional and internal entries carry ports
    request: dict[str, Any] = {
        "remoteIp": format_address(seen.client_ip, seen.client_port) if ported else seen.client_ip,
        "latency": duration(seen.latency_s if seen.method else 0.0),
    }
    if not seen.method:
        return request
    request |= {
        "requestMethod": seen.method,
        "requestUrl": seen.url,
        "requestSize": str(seen.request_size),
        "responseSize": str(seen.response_size),
        "userAgent": seen.user_agent,
        "status": seen.status,
    }
    if seen.backend_ip:
        request["serverIp"] = format_address(seen.backend_ip, seen.backend_port) if ported else seen.backend_ip
    if ported and seen.protocol:  # "isn't populated" for http_load_balancer
        request["protocol"] = seen.protocol
    return {k: v for k, v in request.items() if v != ""}


def _payload(settings: GlbSettings, seen: Seen) -> dict[str, Any]:
    payload: dict[str, Any] = {"@type": LOG_TYPE}
    if seen.status_details:
        payload["statusDetails"] = seen.status_details
    if seen.proxy_status and settings.load_balancer != "global-external":
        payload["proxyStatus"] = seen.proxy_status
    if settings.log.project_number:
        payload["backendTargetProjectNumber"] = f"projects/{settings.log.project_number}"
    if settings.load_balancer == "global-external":
        payload["remoteIp"] = seen.client_ip  # in every real global entry, though not in the field list
    tls = {
        "protocol": seen.tls_protocol if settings.log.includes("tls.protocol") else "",
        "cipher": seen.tls_cipher if settings.log.includes("tls.cipher") else "",
    }
    if seen.method and any(tls.values()):
        payload["tls"] = {k: v for k, v in tls.items() if v}
    if seen.verdict is not None and settings.load_balancer != "global-external" and settings.log.includes("mtls"):
        payload["mtls"] = mtls_block(seen.verdict)
    return payload


def mtls_block(verdict: Verdict) -> dict[str, Any]:
    """The optional ``mtls`` fields: the header variables' values, booleans only when true, no empty strings."""
    values = certificate_values(verdict)
    block: dict[str, Any] = {}
    for name, variable in MTLS_FIELDS.items():
        value = values.get(variable, "")
        if value in ("true", "false"):
            if value == "true":
                block[name] = True
        elif value:
            block[name] = value
    return block


_AEAD = re.compile(r"(ECDHE|DHE)-(RSA|ECDSA)-(AES128|AES256)-GCM-(SHA256|SHA384)")


def iana_cipher(openssl_name: str) -> str:
    """The IANA name Google logs (``TLS_AES_128_GCM_SHA256``) for OpenSSL's name of a cipher suite."""
    if openssl_name.startswith("TLS_") or not openssl_name:
        return openssl_name  # TLS 1.3 suites have one name
    if found := _AEAD.fullmatch(openssl_name):
        kex, auth, aes, mac = found.groups()
        return f"TLS_{kex}_{auth}_WITH_AES_{aes[3:]}_GCM_{mac}"
    if openssl_name.endswith("-CHACHA20-POLY1305") and openssl_name.count("-") == 3:
        kex, auth = openssl_name.split("-")[:2]
        return f"TLS_{kex}_{auth}_WITH_CHACHA20_POLY1305_SHA256"
    return openssl_name
