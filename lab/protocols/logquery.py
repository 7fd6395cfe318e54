"""The Cloud Logging query language, the subset people use on load balancer logs. Pure."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from lab.errors import LabError


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


def holds(term: Term, record: dict[str, Any]) -> bool:
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
    return all(holds(term, record) for term in parse_filter(expression))
