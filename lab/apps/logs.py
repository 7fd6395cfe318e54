"""``lab logs NAME``: the load balancer's log entries from the last ``lab run NAME``, filtered like Logs Explorer,
printed as a list or exactly as ``gcloud logging read --format=json`` would print them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.model.events import Event, LogEntry
from lab.paths import REPORT_DIR
from lab.protocols.logmatch import holds
from lab.protocols.logquery import lowercase_keywords, parse_filter

LOG_DIR = REPORT_DIR / "logs"


@dataclass(frozen=True, slots=True)
class StoredLogs:
    scenario: str
    entries: tuple[dict[str, Any], ...]
    unwritten: tuple[tuple[str, str], ...]  # (load balancer, why no entry) per connection or request


def save(scenario: str, events: list[Event], directory: Path | None = None) -> Path:
    """Keep the load balancers' entries (and the reasons entries were not written) for ``lab logs``."""
    logs = [e for e in events if isinstance(e, LogEntry)]
    record = {
        "scenario": scenario,
        "entries": [e.entry for e in logs if e.written and e.entry is not None],
        "unwritten": [[e.host, e.reason] for e in logs if not e.written],
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
    """How an entry reads in a list: time, load balancer, status, statusDetails, TLS, request, client."""
    req = record.get("httpRequest", {})
    payload = record.get("jsonPayload", {})
    lb = record.get("resource", {}).get("labels", {}).get("forwarding_rule_name", "?")
    what = f"{req.get('requestMethod')} {req.get('requestUrl')}" if req.get("requestMethod") else "(no HTTP request)"
    details = payload.get("statusDetails") or payload.get("proxyStatus")
    if not details and "lab" in record:  # the lab's own word, never Google's: say so
        details = f"(lab: {record['lab'].get('statusDetails', '')})"
    mtls = payload.get("mtls", {})
    cert = f" clientCertError={mtls['clientCertError']}" if mtls.get("clientCertError") else ""
    tls = payload.get("tls", {}).get("protocol") or "-"
    return (
        f"{record.get('timestamp', '')}  {lb:<10} status={req.get('status', 0)} "
        f"statusDetails={details} {tls} {what} from {req.get('remoteIp')} {record.get('severity', '')}{cert}"
    )


def gcloud_json(entries: list[dict[str, Any]]) -> str:
    """What ``gcloud logging read --format=json`` prints: one JSON array, keys sorted, two-space indents
    (gcloud's JSON printer, googlecloudsdk/core/resource/json_printer.py), ``[]`` when nothing matched."""
    return json.dumps(entries, indent=2, sort_keys=True, ensure_ascii=False, separators=(",", ": "))


def show(scenario: str, expression: str, *, fmt: str = "text", order: str = "desc", limit: int | None = None) -> int:
    """``lab logs``: the matching entries, newest first like gcloud; with none, say why (not logged, sampled,
    filtered)."""
    stored = load(scenario)
    query = parse_filter(expression)
    chosen = [r for r in stored.entries if holds(query, r)]
    chosen.sort(key=lambda r: str(r.get("timestamp", "")), reverse=order == "desc")
    chosen = chosen[:limit] if limit is not None else chosen
    if fmt == "json":
        print(gcloud_json(chosen))
        return 0
    for record in chosen:
        print(one_line(record))
    print(f"{len(chosen)} of {len(stored.entries)} entries match" + (f" {expression}" if expression else ""))
    for word in lowercase_keywords(expression):
        print(
            f"note: lower-case {word!r} is a search word in Logging's language; write {word.upper()} to combine terms"
        )
    reasons: dict[tuple[str, str], int] = {}
    for key in stored.unwritten:
        reasons[key] = reasons.get(key, 0) + 1
    for (lb, why), count in sorted(reasons.items()):
        print(f"not logged: {count} from {lb}: {why}")
    return 0
