"""Evaluating a Logging query (:mod:`lab.protocols.logquery`) on one log entry. Pure.

An entry is a dict in the REST/JSON shape ``gcloud logging read --format=json`` prints. How values compare,
from https://cloud.google.com/logging/docs/view/logging-query-language (in our words):

- ``=`` ``:`` ``<``... ignore case (Unicode case folding); regular expressions do not, and search anywhere
  in the value (unanchored);
- a comparison on a field the entry lacks is false (``!=`` too), so ``NOT missing="x"`` is true; fields the
  LogEntry type defines (``httpRequest.status``, ``severity``) compare with their default (0, DEFAULT), which
  is how ``httpRequest.status=0`` finds closed connections whose entries have no status at all;
- severity compares by rank: DEFAULT < DEBUG < INFO < NOTICE < WARNING < ERROR < CRITICAL < ALERT < EMERGENCY
  (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#logseverity);
- ``timestamp>="2024-05-01T10:00:00Z"`` compares instants; a bare date means midnight UTC;
- numbers compare as numbers when both sides are numbers (int64 fields such as ``requestSize`` are strings);
- on an array a comparison holds if it holds for any element.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from lab.protocols.logquery import All, AnyOf, Compare, Node, Not, Search, parse_filter, regex

DEFAULTS: dict[tuple[str, ...], Any] = {
    ("severity",): "DEFAULT",
    ("httpRequest", "status"): 0,
    ("httpRequest", "requestSize"): 0,
    ("httpRequest", "responseSize"): 0,
    ("httpRequest", "cacheHit"): False,
    ("httpRequest", "cacheLookup"): False,
    ("traceSampled",): False,
}
SEVERITIES = {
    name: 100 * rank
    for rank, name in enumerate(("DEFAULT", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT"))
} | {"EMERGENCY": 800}
TIME_FIELDS = {("timestamp",), ("receiveTimestamp",)}


def _lookup(record: Any, path: tuple[str, ...]) -> list[Any]:
    """The values at ``path`` (arrays fan out); empty when the entry has no such field."""
    values = [record]
    for key in path:
        found = []
        for value in values:
            items = value if isinstance(value, list) else [value]
            found += [item[key] for item in items if isinstance(item, dict) and key in item]
        values = found
    return [x for v in values for x in (v if isinstance(v, list) else [v])]


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _instant(value: Any) -> dt.datetime | None:
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _order(path: tuple[str, ...], actual: Any, wanted: str) -> tuple[Any, Any]:
    """Both sides in the form they compare in: rank, instant, number, or folded text."""
    if path == ("severity",):
        named = SEVERITIES.get(wanted.upper())
        rank = float(named) if named is not None else _number(wanted)
        return float(SEVERITIES.get(str(actual).upper(), 0)), rank
    if path in TIME_FIELDS:
        return _instant(actual), _instant(wanted)
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left, right
    return _fold(_text(actual)), _fold(wanted)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _compare(path: tuple[str, ...], op: str, actual: Any, wanted: str) -> bool:
    if op in ("=~", "!~"):
        found = regex(wanted).search(_text(actual)) is not None
        return found if op == "=~" else not found
    if op == ":":
        return any(_fold(wanted) in _fold(_text(leaf)) for leaf in _leaves(actual))
    left, right = _order(path, actual, wanted)
    if left is None or right is None or type(left) is not type(right):
        return op == "!="
    outcome: bool = {
        "=": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]
    return outcome


def holds(node: Node, record: dict[str, Any]) -> bool:
    """Does ``record`` satisfy the query ``node``?"""
    if isinstance(node, All):
        return all(holds(t, record) for t in node.terms)
    if isinstance(node, AnyOf):
        return any(holds(t, record) for t in node.terms)
    if isinstance(node, Not):
        return not holds(node.term, record)
    if isinstance(node, Search):
        return any(_fold(node.text) in _fold(_text(leaf)) for leaf in _leaves(record))
    return _holds_compare(node, record)


def _holds_compare(node: Compare, record: dict[str, Any]) -> bool:
    values = _lookup(record, node.path)
    if node.op == ":*":
        return bool(values)
    if not values and node.path in DEFAULTS:
        values = [DEFAULTS[node.path]]
    if node.op in ("!=", "!~"):  # a missing field satisfies neither; an array must differ everywhere
        return bool(values) and all(_compare(node.path, node.op, v, node.value) for v in values)
    return any(_compare(node.path, node.op, v, node.value) for v in values)


def matches(record: dict[str, Any], expression: str) -> bool:
    """Does ``record`` satisfy the filter ``expression``?"""
    return holds(parse_filter(expression), record)
