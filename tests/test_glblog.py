"""Log entries per load balancer type, the logging policy, and ``lab logs`` (no sockets)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from lab.apps import cli, logs
from lab.hosts.glb import logentry, mtls
from lab.model.certspec import CertSpec
from lab.model.events import LogEntry
from lab.model.glbsettings import GlbSettings, LogDecision, LogPolicy
from lab.runtime.timeline import Timeline
from tests import certs

LOG = "https://cloud.google.com/load-balancing/docs/https/https-logging-monitoring"
REGLOG = "https://cloud.google.com/load-balancing/docs/https/https-reg-logging-monitoring"
SAMPLE = "https://github.com/GoogleCloudPlatform/apigee-samples/blob/main/mtls-northbound/README.md"
WHEN = dt.datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=dt.UTC)


def settings(kind: str = "global-external", **log: Any) -> GlbSettings:
    return GlbSettings(
        cert=CertSpec(names=("mydomain",)), mode="REJECT_INVALID", load_balancer=kind, log=LogPolicy(**log)
    )


CLOSED = logentry.Seen(
    lb="glb", client_ip="10.0.0.1", client_port=40000, started=WHEN, status_details="client_cert_not_provided"
)
ANSWERED = dataclasses.replace(
    CLOSED,
    status=200,
    status_details="response_sent_by_backend",
    method="GET",
    url="https://mydomain/api",
    protocol="HTTP/2",
    user_agent="curl/7.88.1",
    response_size=120,
    latency_s=0.0052,
    backend="app",
    backend_ip="10.2.2.2",
    backend_port=443,
    matched_rule="/api*",
    tls_protocol="TLSv1.3",
    tls_cipher="TLS_AES_256_GCM_SHA384",
)


def make(kind: str, seen: logentry.Seen, **log: Any) -> dict[str, Any]:
    return logentry.entry(settings(kind, **log), seen, random.Random(1), now=WHEN + dt.timedelta(seconds=2))


def test_closed_connection_on_the_global_load_balancer_looks_like_googles_sample() -> None:
    record = make("global-external", CLOSED)
    assert record["httpRequest"] == {"remoteIp": "10.0.0.1", "latency": "0s"}  # no status: 0 is not serialised
    assert record["jsonPayload"] == {
        "@type": logentry.LOG_TYPE,
        "statusDetails": "client_cert_not_provided",
        "remoteIp": "10.0.0.1",
    }, SAMPLE
    assert record["severity"] == "INFO"
    assert record["logName"] == "projects/lab-project/logs/requests"
    assert record["resource"] == {
        "type": "http_load_balancer",
        "labels": {
            "backend_service_name": "",
            "forwarding_rule_name": "glb",
            "project_id": "lab-project",
            "target_proxy_name": "",
            "url_map_name": "",
            "zone": "global",
        },
    }, LOG
    assert "trace" not in record
    assert "lab" not in record
    assert re.fullmatch(r"[a-z0-9]{14}", record["insertId"])
    assert record["timestamp"] == "2024-05-01T10:00:00.250000Z"
    assert record["receiveTimestamp"] == "2024-05-01T10:00:02.250000000Z"


def test_answered_request_on_the_global_load_balancer() -> None:
    record = make("global-external", ANSWERED)
    request = record["httpRequest"]
    assert request["status"] == 200
    assert (request["requestSize"], request["responseSize"]) == ("0", "120")  # int64: strings
    assert request["serverIp"] == "10.2.2.2"  # the backend's address, no port
    assert request["latency"] == "0.005200s"
    assert "protocol" not in request, LOG  # "isn't populated" for http_load_balancer
    assert record["resource"]["labels"]["backend_service_name"] == "app"
    assert record["resource"]["labels"]["url_map_name"] == "glb-url-map"
    assert "tls" not in record["jsonPayload"]  # optional fields: excluded by default
    assert "mtls" not in record["jsonPayload"]  # no mtls block on the global load balancer
    assert "backendTargetProjectNumber" not in record["jsonPayload"]  # not made up
    assert re.fullmatch(r"projects/lab-project/traces/[0-9a-f]{32}", record["trace"])


def test_optional_tls_fields_and_project_number() -> None:
    record = make("global-external", ANSWERED, optional_mode="CUSTOM", optional_fields=("tls.protocol",))
    assert record["jsonPayload"]["tls"] == {"protocol": "TLSv1.3"}
    record = make("global-external", ANSWERED, optional_mode="INCLUDE_ALL_OPTIONAL", project_number="123456789012")
    assert record["jsonPayload"]["tls"] == {"protocol": "TLSv1.3", "cipher": "TLS_AES_256_GCM_SHA384"}
    assert record["jsonPayload"]["backendTargetProjectNumber"] == "projects/123456789012"


@pytest.mark.parametrize(
    ("kind", "resource_type", "log"),
    [
        (
            "regional-external",
            "http_external_regional_lb_rule",
            "loadbalancing.googleapis.com%2Fexternal_regional_requests",
        ),
        ("internal", "internal_http_lb_rule", "loadbalancing.googleapis.com%2Frequests"),
    ],
)
def test_regional_and_internal_entries(kind: str, resource_type: str, log: str) -> None:
    record = make(kind, ANSWERED)
    assert record["resource"]["type"] == resource_type, REGLOG
    assert record["logName"] == f"projects/lab-project/logs/{log}"
    labels = record["resource"]["labels"]
    assert set(labels) == {
        "backend_name",
        "backend_scope",
        "backend_scope_type",
        "backend_target_name",
        "backend_target_type",
        "backend_type",
        "forwarding_rule_name",
        "matched_url_path_rule",
        "network_name",
        "project_id",
        "region",
        "target_proxy_name",
        "url_map_name",
    }
    assert (labels["region"], labels["matched_url_path_rule"], labels["backend_target_name"]) == (
        "europe-west2",
        "/api*",
        "app",
    )
    request = record["httpRequest"]
    assert (request["remoteIp"], request["serverIp"], request["protocol"]) == (
        "10.0.0.1:40000",
        "10.2.2.2:443",
        "HTTP/2",
    )
    assert "remoteIp" not in record["jsonPayload"]


def test_the_mtls_block_writes_booleans_only_when_true() -> None:
    ca = certs.issue(None, subject=certs.name("log test CA"), ca=True)
    leaf, _ = certs.issue(ca)
    failed = mtls.evaluate([leaf], mtls.TrustConfig(anchors=()))  # no trust config
    record = make(
        "regional-external", dataclasses.replace(ANSWERED, verdict=failed), optional_mode="INCLUDE_ALL_OPTIONAL"
    )
    block = record["jsonPayload"]["mtls"]
    assert block["clientCertPresent"] is True
    assert "clientCertChainVerified" not in block  # false: left out
    assert block["clientCertError"] == "client_cert_validation_not_performed"
    assert set(block) == {"clientCertPresent", "clientCertError", "clientCertSha256Fingerprint"}
    assert "mtls" not in make("regional-external", dataclasses.replace(ANSWERED, verdict=failed))["jsonPayload"]


def test_the_labs_own_word_is_kept_apart() -> None:
    garbage = dataclasses.replace(CLOSED, status_details="", lab_details="tls_handshake_failed", lab_note="not TLS")
    record = make("global-external", garbage)
    assert "statusDetails" not in record["jsonPayload"]
    assert record["lab"] == {"statusDetails": "tls_handshake_failed", "note": "not TLS"}


@pytest.mark.parametrize(
    ("status", "severity"), [(0, "INFO"), (200, "INFO"), (302, "INFO"), (403, "WARNING"), (503, "WARNING")]
)
def test_severity(status: int, severity: str) -> None:
    assert logentry.severity(status) == severity


@pytest.mark.parametrize(
    ("openssl", "iana"),
    [
        ("TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"),
        ("ECDHE-RSA-AES128-GCM-SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
        ("ECDHE-ECDSA-CHACHA20-POLY1305", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"),
    ],
)
def test_cipher_names_are_ianas(openssl: str, iana: str) -> None:
    assert logentry.iana_cipher(openssl) == iana


def test_policy_disabled_sampled_and_kept() -> None:
    rng = random.Random(1)
    assert LogPolicy(enabled=False).decide(rng) == LogDecision(
        False, "logging is disabled on the backend service (logConfig.enable = false)"
    )
    assert not LogPolicy(sample_rate=0.0).decide(rng).written
    assert LogPolicy(sample_rate=1.0).decide(rng).written
    kept = sum(LogPolicy(sample_rate=0.25).decide(rng).written for _ in range(4000))
    assert 800 < kept < 1200


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    timeline = Timeline()
    first = make("global-external", CLOSED)
    second = make("global-external", dataclasses.replace(ANSWERED, started=WHEN + dt.timedelta(seconds=5)))
    timeline.emit(LogEntry(host="glb-logged", summary="log entry", written=True, entry=first))
    timeline.emit(LogEntry(host="glb-logged", summary="log entry", written=True, entry=second))
    timeline.emit(LogEntry(host="glb", summary="no log entry", written=False, reason="logging is disabled"))
    monkeypatch.setattr(logs, "LOG_DIR", tmp_path)
    logs.save("demo", timeline.since(0))
    return [first, second]


def test_lab_logs_lists_newest_first_and_says_what_was_not_logged(
    stored: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["logs", "demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "statusDetails=response_sent_by_backend" in out[0]
    assert "status=0 statusDetails=client_cert_not_provided" in out[1]
    assert out[2] == "2 of 2 entries match"
    assert out[3] == "not logged: 1 from glb: logging is disabled"
    assert cli.main(["logs", "demo", "--filter", "httpRequest.status=0 or severity=INFO"]) == 0
    assert "note: lower-case 'or' is a search word" in capsys.readouterr().out


def test_lab_logs_json_is_what_gcloud_prints(stored: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    """gcloud's JSON printer: one array, two-space indents, keys sorted, newest first (--order=desc)."""
    assert cli.main(["logs", "demo", "--format", "json"]) == 0
    out = capsys.readouterr().out
    expected = json.dumps(list(reversed(stored)), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert out == expected
    assert out.startswith('[\n  {\n    "httpRequest": {')
    assert json.loads(out)[1]["jsonPayload"]["statusDetails"] == "client_cert_not_provided"
    assert cli.main(["logs", "demo", "--format", "json", "--filter", "httpRequest.status>=500"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert cli.main(["logs", "demo", "--json", "--order", "asc", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == stored[:1]


def test_lab_logs_errors_are_one_line(stored: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["logs", "never-run"]) == 2
    assert "run `lab run never-run` first" in capsys.readouterr().err
    assert cli.main(["logs", "demo", "--filter", "severity>= OR"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lab: filter, column ")
    assert err.count("\n") == 1
