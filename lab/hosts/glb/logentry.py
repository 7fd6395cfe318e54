"""Log entries shaped like Google Cloud Logging's ``LoadBalancerLogEntry``.

One entry per HTTP request and one per connection closed by a failed mTLS handshake
(``httpRequest.status`` 0, ``jsonPayload.statusDetails`` ``client_cert_…``). Whether an entry is written
at all is :class:`lab.model.hostsettings.LogPolicy`'s call (logging enabled, sample rate: the real reasons
teams "see no logs"). Pure functions; the load balancer decides when to call them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lab.hosts.glb.mtls import Verdict

LOG_TYPE = "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _mtls_block(verdict: Verdict | None) -> dict[str, Any]:
    if verdict is None:
        return {}
    v = verdict.variables
    return {
        "clientCertPresent": verdict.present,
        "clientCertChainVerified": verdict.chain_verified,
        "clientCertError": verdict.error,
        "clientCertSha256Fingerprint": v.get("client_cert_sha256_fingerprint", ""),
        "clientCertSerialNumber": v.get("client_cert_serial_number", ""),
        "clientCertValidStartTime": v.get("client_cert_valid_not_before", ""),
        "clientCertValidEndTime": v.get("client_cert_valid_not_after", ""),
        "clientCertSpiffeId": v.get("client_cert_spiffe_id", ""),
    }


def entry(
    *,
    lb: str,
    remote_ip: str,
    server_ip: str,
    status: int,
    status_details: str,
    tls: dict[str, str],
    verdict: Verdict | None,
    method: str = "",
    url: str = "",
    protocol: str = "",
    user_agent: str = "",
    response_size: int = 0,
    latency_s: float = 0.0,
    backend: str = "",
) -> dict[str, Any]:
    http_request: dict[str, Any] = {
        "remoteIp": remote_ip,
        "serverIp": server_ip,
        "status": status,
        "latency": f"{latency_s:.6f}s",
    }
    if method:
        http_request |= {
            "requestMethod": method,
            "requestUrl": url,
            "protocol": protocol,
            "userAgent": user_agent,
            "responseSize": str(response_size),
        }
    payload: dict[str, Any] = {"@type": LOG_TYPE, "statusDetails": status_details, "tls": tls}
    if backend:
        payload["backendTargetProjectNumber"] = "lab"
    mtls = _mtls_block(verdict)
    if mtls:
        payload["mtls"] = mtls
    return {
        "logName": "projects/lab/logs/requests",
        "resource": {
            "type": "http_load_balancer",
            "labels": {"forwarding_rule_name": lb, "backend_service_name": backend},
        },
        "severity": "INFO" if status and status < 400 else "WARNING",
        "timestamp": _now(),
        "httpRequest": http_request,
        "jsonPayload": payload,
    }
