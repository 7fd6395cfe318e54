"""Log entries shaped like Google Cloud Logging's ``LoadBalancerLogEntry``, and the filter to read them.

One entry per HTTP request and one per connection closed by a failed mTLS handshake
(``httpRequest.status`` 0, ``jsonPayload.statusDetails`` ``client_cert_…``). Whether an entry is written
at all depends on two settings that are the real reasons teams "see no logs": logging enabled on the
backend service, and the sample rate. Pure functions; the load balancer decides when to call them.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LabError
from .events import Event
from .mtls import Verdict
from .scenario import ROOT

LOG_TYPE = "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry"


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


class FilterError(LabError, ValueError):
    """A ``--filter`` expression the lab does not understand."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Term:
    path: tuple[str, ...]
    op: str  # = != =~ !~ :
    value: str


_TOKEN = re.compile(r'\s*(?:(AND|OR|NOT)(?=\s|$)|([A-Za-z0-9_.@]+)\s*(=~|!~|!=|=|:)\s*("(?:[^"\\]|\\.)*"|\S+))')


def parse_filter(expression: str) -> tuple[Term, ...]:
    """Terms of a Logging-query subset: ``a.b="x"``, ``!=``, ``=~"re"``, ``!~``, ``a.b:"x"`` (substring),
    joined by ``AND`` or by whitespace (Logging's implicit AND). Enough for
    ``resource.type="http_load_balancer" jsonPayload.statusDetails=~"client_cert"``."""
    terms: list[Term] = []
    pos, text = 0, expression.strip()
    while pos < len(text):
        found = _TOKEN.match(text, pos)
        if not found:
            raise FilterError(
                f"cannot read the filter at {text[pos:]!r} "
                '(expected terms like jsonPayload.statusDetails=~"client_cert", joined by AND)'
            )
        pos = found.end()
        keyword, path, op, raw = found.groups()
        if keyword == "AND":
            continue
        if keyword:
            raise FilterError(f"{keyword} is not supported by the lab's filter (only AND); run two queries instead")
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') else raw
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as exc:
                raise FilterError(f"bad regular expression {value!r}: {exc}") from None
        terms.append(Term(tuple(path.split(".")), op, value))
    return tuple(terms)


def _field(record: dict[str, Any], path: tuple[str, ...]) -> str | None:
    value: Any = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    if isinstance(value, bool):
        return str(value).lower()
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _holds(term: Term, record: dict[str, Any]) -> bool:
    text = _field(record, term.path)
    if term.op == "=":
        return text == term.value
    if term.op == "!=":
        return text != term.value
    if term.op == ":":
        return text is not None and term.value.lower() in text.lower()
    found = text is not None and re.search(term.value, text) is not None
    return found if term.op == "=~" else not found


def matches(record: dict[str, Any], expression: str) -> bool:
    """Does ``record`` satisfy every term of ``expression`` (see :func:`parse_filter`)?"""
    return all(_holds(term, record) for term in parse_filter(expression))


# -- what `lab logs` reads: the entries of the last `lab run NAME` ---------------------------------

LOG_DIR = ROOT / "reports" / "logs"


@dataclass(frozen=True, slots=True)
class StoredLogs:
    scenario: str
    entries: tuple[dict[str, Any], ...]
    unwritten: tuple[tuple[str, str], ...]  # (load balancer, why no entry) per connection or request


def save(scenario: str, events: list[Event], directory: Path | None = None) -> Path:
    """Keep the load balancers' entries (and the reasons entries were not written) for ``lab logs``."""
    logs = [e for e in events if e.kind == "log"]
    record = {
        "scenario": scenario,
        "entries": [e.data["entry"] for e in logs if e.data.get("written", True) and "entry" in e.data],
        "unwritten": [[e.host, e.data.get("reason", "")] for e in logs if not e.data.get("written", True)],
    }
    directory = directory or LOG_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}.json"
    path.write_text(json.dumps(record, indent=1))
    return path


def load(scenario: str, directory: Path | None = None) -> StoredLogs:
    path = (directory or LOG_DIR) / f"{scenario}.json"
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoLogsYet(
            f"no logs for {scenario!r} yet: run `lab run {scenario}` first, then `lab logs {scenario}`"
        ) from None
    except (OSError, ValueError) as exc:
        raise NoLogsYet(f"cannot read {path}: {exc}; run `lab run {scenario}` again") from None
    return StoredLogs(
        scenario=record["scenario"],
        entries=tuple(record["entries"]),
        unwritten=tuple((str(h), str(r)) for h, r in record["unwritten"]),
    )


class NoLogsYet(LabError):
    """``lab logs`` was asked about a scenario that has not been run."""

    exit_code = 2


def one_line(record: dict[str, Any]) -> str:
    """How an entry reads in a list: time, load balancer, status, statusDetails, request, client cert."""
    req = record.get("httpRequest", {})
    payload = record.get("jsonPayload", {})
    lb = record.get("resource", {}).get("labels", {}).get("forwarding_rule_name", "?")
    what = f"{req.get('requestMethod')} {req.get('requestUrl')}" if req.get("requestMethod") else "(no HTTP request)"
    mtls = payload.get("mtls", {})
    cert = (
        f" clientCertPresent={str(mtls.get('clientCertPresent')).lower()}"
        f" clientCertChainVerified={str(mtls.get('clientCertChainVerified')).lower()}"
        if mtls
        else ""
    )
    tls = payload.get("tls", {}).get("protocol") or "-"
    return (
        f"{record.get('timestamp', '')}  {lb:<10} status={req.get('status')} "
        f"statusDetails={payload.get('statusDetails')} {tls} {what} from {req.get('remoteIp')}{cert}"
    )


def show(scenario: str, expression: str, *, as_json: bool = False) -> int:
    """``lab logs``: print the matching entries; with none, say why (not logged, sampled, filtered)."""
    stored = load(scenario)
    terms = parse_filter(expression)
    chosen = [r for r in stored.entries if all(_holds(t, r) for t in terms)]
    for record in chosen:
        print(json.dumps(record) if as_json else one_line(record))
    if not as_json:
        print(f"{len(chosen)} of {len(stored.entries)} entries match" + (f" {expression}" if expression else ""))
        reasons: dict[tuple[str, str], int] = {}
        for key in stored.unwritten:
            reasons[key] = reasons.get(key, 0) + 1
        for (lb, why), count in sorted(reasons.items()):
            print(f"not logged: {count} from {lb}: {why}")
    return 0
