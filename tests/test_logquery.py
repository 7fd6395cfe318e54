"""The Logging query language (no sockets): every rule the lab implements, one table row each.

Rules from https://cloud.google.com/logging/docs/view/logging-query-language (see lab/protocols/logquery.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from lab.protocols import logmatch, logquery

# A closed mTLS connection as the global load balancer logs it (no status key: 0 is not serialised).
CLOSED: dict[str, Any] = {
    "insertId": "k3v9q2f1a8zz0",
    "logName": "projects/lab-project/logs/requests",
    "resource": {
        "type": "http_load_balancer",
        "labels": {"forwarding_rule_name": "glb", "project_id": "lab-project", "zone": "global"},
    },
    "severity": "INFO",
    "timestamp": "2024-05-01T10:00:00.250000Z",
    "httpRequest": {"remoteIp": "10.0.0.1", "latency": "0s"},
    "jsonPayload": {
        "@type": "type.googleapis.com/google.cloud.loadbalancing.type.LoadBalancerLogEntry",
        "statusDetails": "client_cert_not_provided",
    },
}
# A request the backend answered with 503.
SERVED: dict[str, Any] = {
    "logName": "projects/lab-project/logs/requests",
    "resource": {"type": "http_load_balancer", "labels": {"forwarding_rule_name": "glb-allow"}},
    "severity": "WARNING",
    "timestamp": "2024-05-01T11:30:00Z",
    "httpRequest": {
        "status": 503,
        "requestSize": "120",
        "requestUrl": "https://mydomain/api/v1",
        "remoteIp": "10.0.0.2",
    },
    "jsonPayload": {"statusDetails": "response_sent_by_backend", "cacheDecision": ["A", "B"]},
    "labels": {"compute.googleapis.com/resource_id": "12345"},
}

# (filter, matches CLOSED, matches SERVED)
ROWS = [
    ("", True, True),
    # = and != ignore case; a missing field fails both, NOT flips that
    ('jsonPayload.statusDetails="client_cert_not_provided"', True, False),
    ('jsonPayload.statusDetails="CLIENT_CERT_NOT_PROVIDED"', True, False),
    ('jsonPayload.statusDetails!="client_cert_not_provided"', False, True),
    ('jsonPayload.nothing="x"', False, False),
    ('jsonPayload.nothing!="x"', False, False),
    ('NOT jsonPayload.nothing="x"', True, True),
    ('-jsonPayload.nothing="x"', True, True),
    # : is a case-insensitive substring ("has"); :* asks whether the field is there
    ("jsonPayload.statusDetails:CERT_NOT", True, False),
    ("httpRequest.requestUrl:*", False, True),
    ("NOT httpRequest.requestUrl:*", True, False),
    # regular expressions: unanchored search, case-sensitive
    ('jsonPayload.statusDetails=~"client_cert"', True, False),
    ('jsonPayload.statusDetails=~"^client_cert_(not|chain)"', True, False),
    ('jsonPayload.statusDetails=~"CLIENT"', False, False),
    ('jsonPayload.statusDetails!~"client_cert"', False, True),
    # numbers, and the defaulted httpRequest.status of a closed connection (0)
    ("httpRequest.status=0", True, False),
    ("httpRequest.status>=500", False, True),
    ("httpRequest.status<500", True, False),
    ("httpRequest.status<=503 httpRequest.status>502", False, True),
    ("httpRequest.requestSize>100", False, True),  # int64 fields are JSON strings, still numbers
    # severity by rank, not alphabetically
    ("severity>=WARNING", False, True),
    ("severity<WARNING", True, False),
    ("severity=info", True, False),
    ("severity>=400", False, True),
    # timestamps as instants; a bare date is midnight UTC
    ('timestamp>="2024-05-01T11:00:00Z"', False, True),
    ('timestamp<"2024-05-01T12:00:00+01:00"', True, False),
    ('timestamp>="2024-05-01"', True, True),
    ('timestamp>="2024-05-02"', False, False),
    # AND, implicit AND (space or new line), OR, and Google's precedence: NOT > OR > AND
    ('resource.type="http_load_balancer" AND httpRequest.status=0', True, False),
    ('resource.type="http_load_balancer" httpRequest.status=0', True, False),
    ('resource.type="http_load_balancer"\nseverity>=WARNING', False, True),
    ("httpRequest.status=0 OR httpRequest.status=503", True, True),
    ("httpRequest.status=0 OR httpRequest.status=503 AND severity=INFO", True, False),
    ("httpRequest.status=1 OR NOT severity=INFO AND severity=WARNING", False, True),
    ("NOT (httpRequest.status=0 OR httpRequest.status=503)", False, False),
    (
        '(jsonPayload.statusDetails=~"client" OR severity=WARNING) resource.labels.forwarding_rule_name="glb"',
        True,
        False,
    ),
    # lists of values
    ('resource.labels.forwarding_rule_name=("glb" OR "glb-allow")', True, True),
    ('jsonPayload.statusDetails:("client" AND "provided")', True, False),
    # arrays: any element
    ('jsonPayload.cacheDecision="b"', False, True),
    # quoted path segments, comments, global search
    ('labels."compute.googleapis.com/resource_id"="12345"', False, True),
    ("severity=INFO -- only the closed one\n", True, False),
    ('"client_cert_not_provided"', True, False),
    ("api/v1", False, True),
    # lower-case keywords are search words, as in Logging
    ("httpRequest.status=0 or httpRequest.status=503", False, False),
]


@pytest.mark.parametrize(("expression", "closed", "served"), ROWS)
def test_filter_rows(expression: str, closed: bool, served: bool) -> None:
    query = logquery.parse_filter(expression)
    assert (logmatch.holds(query, CLOSED), logmatch.holds(query, SERVED)) == (closed, served)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ('jsonPayload.statusDetails="x', "column 27: the string is not closed"),
        ("httpRequest.status>=", "column 21: expected a value after '>='"),
        ("(severity=INFO", "the '(' at column 1 is not closed"),
        ("severity=INFO)", "unbalanced ')'"),
        ("severity=INFO OR", "OR needs a term after it"),
        ("severity=INFO AND", "AND needs a term after it"),
        ('jsonPayload.x=~"("', "bad regular expression"),
        ('jsonPayload.x=~"(?=a)"', "RE2 has no look-around"),
        ('jsonpayload.x="a"', "unknown LogEntry field 'jsonpayload'"),
        ('"x"="y"', "needs a field path on its left"),
        ("=5", "expected a field comparison or a value"),
    ],
)
def test_errors_name_the_column_and_what_to_write(expression: str, message: str) -> None:
    with pytest.raises(logquery.FilterError) as caught:
        logquery.parse_filter(expression)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_lowercase_keywords_are_noticed() -> None:
    assert logquery.lowercase_keywords("a=1 or b=2 and c=3") == ["and", "or"]
    assert logquery.lowercase_keywords("a=1 OR b=2") == []
