"""Log entries, the logging policy and the ``lab logs`` filter language (no sockets)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from lab.apps import cli, logs
from lab.hosts.glb import logentry as glblog
from lab.model.events import LogEntry
from lab.model.hostsettings import LogDecision, LogPolicy
from lab.protocols import logquery
from lab.runtime.timeline import Timeline


def _entry(status: int = 0, details: str = "client_cert_not_provided", **kw: Any) -> dict[str, Any]:
    return glblog.entry(
        lb="glb",
        remote_ip="10.0.0.1",
        server_ip="88.88.88.88",
        status=status,
        status_details=details,
        tls={"protocol": "TLSv1.3", "cipher": ""},
        verdict=None,
        **kw,
    )


def test_entry_has_the_cloud_logging_shape() -> None:
    record = _entry(200, "response_sent_by_backend", method="GET", url="https://mydomain/", protocol="HTTP/2")
    assert record["resource"]["type"] == "http_load_balancer"
    assert record["jsonPayload"]["@type"] == glblog.LOG_TYPE
    assert record["httpRequest"]["requestUrl"] == "https://mydomain/"
    assert record["severity"] == "INFO"
    failed = _entry()
    assert failed["httpRequest"]["status"] == 0
    assert "requestMethod" not in failed["httpRequest"]
    assert failed["severity"] == "WARNING"


@pytest.mark.parametrize(
    ("expression", "hit"),
    [
        ("", True),
        ('jsonPayload.statusDetails=~"client_cert"', True),
        ('jsonPayload.statusDetails="client_cert"', False),
        ('jsonPayload.statusDetails="client_cert_not_provided"', True),
        ('jsonPayload.statusDetails!="client_cert_not_provided"', False),
        ('jsonPayload.statusDetails!~"^client"', False),
        ("jsonPayload.statusDetails:CERT_NOT", True),  # ':' is a case-insensitive substring
        ('resource.type="http_load_balancer" AND httpRequest.status=0', True),
        ('resource.type="http_load_balancer" httpRequest.status=200', False),  # whitespace is AND
        ('jsonPayload.nothing="x"', False),
        ('jsonPayload.nothing!="x"', True),
        ('jsonPayload.tls.protocol="TLSv1.3"', True),
        ('jsonPayload.statusDetails=~"with \\"quotes\\""', False),
    ],
)
def test_filter_terms(expression: str, hit: bool) -> None:
    assert logquery.matches(_entry(), expression) is hit


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("a OR b", "cannot read the filter"),
        ('a="x" OR b="y"', "OR is not supported"),
        ('a=~"("', "bad regular expression"),
        ("just words", "cannot read the filter"),
    ],
)
def test_filter_errors_say_what_to_do(expression: str, message: str) -> None:
    with pytest.raises(logquery.FilterError, match=message.replace("(", r"\(")):
        logquery.parse_filter(expression)


def test_policy_disabled_sampled_and_kept() -> None:
    rng = random.Random(1)
    assert LogPolicy(enabled=False).decide(rng) == LogDecision(
        False, "logging is disabled on the backend service (logConfig.enable = false)"
    )
    assert not LogPolicy(sample_rate=0.0).decide(rng).written
    assert LogPolicy(sample_rate=1.0).decide(rng).written
    kept = sum(LogPolicy(sample_rate=0.25).decide(rng).written for _ in range(4000))
    assert 800 < kept < 1200


def test_lab_logs_reads_what_a_run_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    timeline = Timeline()
    timeline.emit(LogEntry(host="glb-logged", summary="log entry", written=True, entry=_entry()))
    timeline.emit(
        LogEntry(host="glb-logged", summary="log entry", written=True, entry=_entry(200, "response_sent_by_backend"))
    )
    timeline.emit(LogEntry(host="glb", summary="no log entry", written=False, reason="logging is disabled"))
    monkeypatch.setattr(logs, "LOG_DIR", tmp_path)
    logs.save("demo", timeline.since(0))
    assert cli.main(["logs", "demo", "--filter", 'jsonPayload.statusDetails=~"client_cert"']) == 0
    out = capsys.readouterr().out.splitlines()
    assert "statusDetails=client_cert_not_provided" in out[0]
    assert out[1].startswith("1 of 2 entries match")
    assert out[2] == "not logged: 1 from glb: logging is disabled"
    assert cli.main(["logs", "demo", "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert cli.main(["logs", "never-run"]) == 2
    assert "run `lab run never-run` first" in capsys.readouterr().err
    assert cli.main(["logs", "demo", "--filter", "x OR"]) == 2
