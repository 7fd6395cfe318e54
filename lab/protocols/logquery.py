"""The Cloud Logging query language, as far as people use it on load balancer logs in Logs Explorer. Pure.

:func:`parse_filter` turns a filter into a small tree; :func:`lab.protocols.logmatch.holds` evaluates the
tree on one entry. The rules, from Google's reference
https://cloud.google.com/logging/docs/view/logging-query-language (in our own words):

- comparisons: ``path OP value`` with ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, ``:`` (has: a substring),
  ``=~`` / ``!~`` (regular expression search: RE2 syntax, unanchored), ``path:*`` (the field is present);
- precedence: ``NOT`` binds tightest, then ``OR``, then ``AND``: ``a OR NOT b AND c`` is
  ``(a OR (NOT b)) AND c``;
- implicit AND: terms side by side (space or new line) are joined by AND; ``-term`` is ``NOT term``;
- only upper-case ``AND`` ``OR`` ``NOT`` are operators; lower-case ones are search words;
- parentheses group terms, and list values: ``resource.type = ("a" OR "b")``;
- a bare value (``"client_cert"``) matches if any field has it;
- a path component with dots or slashes is quoted: ``labels."compute.googleapis.com/resource_id"``;
- ``--`` starts a comment that runs to the end of the line.

How values compare (case, defaults, severity, timestamps, numbers) is :mod:`lab.protocols.logmatch`'s part.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from lab.errors import LabError


class FilterError(LabError, ValueError):
    """A ``--filter`` expression the lab cannot read; the message names the column and what was expected."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Compare:
    path: tuple[str, ...]
    op: str  # = != < <= > >= : =~ !~ :*
    value: str = ""


@dataclass(frozen=True, slots=True)
class Search:
    """A bare value: does any field of the entry have it?"""

    text: str


@dataclass(frozen=True, slots=True)
class Not:
    term: Node


@dataclass(frozen=True, slots=True)
class All:
    terms: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Node, ...]


Node = Compare | Search | Not | All | AnyOf

# Top-level fields of a LogEntry (https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry),
# and ``lab``: the lab's own notes, which no real entry has (see lab.hosts.glb.logentry).
LOG_ENTRY_FIELDS = frozenset(
    {"logName", "resource", "timestamp", "receiveTimestamp", "severity", "insertId", "httpRequest", "labels"}
    | {"metadata", "operation", "trace", "spanId", "traceSampled", "sourceLocation", "split", "textPayload"}
    | {"jsonPayload", "protoPayload", "errorGroups", "lab"}
)
OPERATORS = ("=~", "!~", "!=", "<=", ">=", ":*", "=", "<", ">", ":")
KEYWORDS = ("AND", "OR", "NOT")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # word, string, op, (, ), not, end
    text: str
    column: int
    path: tuple[str, ...] = ()  # a word read as a field path


_WORD_STOP = frozenset(' \t\r\n()"=!<>:~')


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif c in "()":
            out.append(_Token(c, c, i + 1))
            i += 1
        elif c == "-":
            out.append(_Token("not", "-", i + 1))
            i += 1
        elif c == '"':
            value, end = _string(text, i)
            out.append(_Token("string", value, i + 1))
            i = end
        elif op := next((o for o in OPERATORS if text.startswith(o, i)), None):
            out.append(_Token("op", op, i + 1))
            i += len(op)
        else:
            token, i = _word(text, i)
            out.append(token)
    out.append(_Token("end", "", len(text) + 1))
    return out


def _word(text: str, start: int) -> tuple[_Token, int]:
    """A bare word, also read as a dotted path whose components may be quoted."""
    i, segments = start, []
    while i < len(text) and text[i] not in _WORD_STOP:
        j = i
        while j < len(text) and text[j] not in _WORD_STOP and text[j] != ".":
            j += 1
        segments.append(text[i:j])
        i = j
        if i < len(text) and text[i] == ".":
            i += 1
            if i < len(text) and text[i] == '"':
                quoted, i = _string(text, i)
                segments.append(quoted)
    word = text[start:i]
    if not word:
        raise FilterError(f"filter, column {start + 1}: unexpected {text[start]!r}")
    kind = "not" if word == "NOT" else "word"
    return _Token(kind, word, start + 1, tuple(s for s in segments if s)), i


def _string(text: str, start: int) -> tuple[str, int]:
    out, i = [], start + 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise FilterError(f'filter, column {start + 1}: the string is not closed (add a ")')


MAX_DEPTH = 64


class _Parser:
    """Recursive descent, loosest first: AND (written or implied), then OR, then NOT."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0  # parentheses and NOTs open: bounded, so a hostile filter cannot exhaust the stack

    @property
    def tok(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def fail(self, what: str, token: _Token | None = None) -> FilterError:
        token = token or self.tok
        found = "the end of the filter" if token.kind == "end" else repr(token.text)
        return FilterError(f"filter, column {token.column}: {what}, found {found}")

    def keyword(self, word: str) -> bool:
        return self.tok.kind == "word" and self.tok.text == word

    def starts_term(self) -> bool:
        token = self.tok
        return token.kind in ("string", "(", "not") or (token.kind == "word" and token.text not in ("AND", "OR"))

    def query(self) -> Node:
        if self.tok.kind == "end":
            return All(())
        node = self.conjunction(self.term)
        if self.tok.kind != "end":
            raise self.fail("unbalanced ')'" if self.tok.kind == ")" else "expected AND, OR or another term")
        return node

    def conjunction(self, unit: Callable[[], Node]) -> Node:
        terms = [self.disjunction(unit)]
        while True:
            if self.keyword("AND"):
                self.take()
                if not self.starts_term():
                    raise self.fail("AND needs a term after it")
            elif not self.starts_term():
                break
            terms.append(self.disjunction(unit))
        return terms[0] if len(terms) == 1 else All(tuple(terms))

    def disjunction(self, unit: Callable[[], Node]) -> Node:
        terms = [self.negation(unit)]
        while self.keyword("OR"):
            self.take()
            if not self.starts_term():
                raise self.fail("OR needs a term after it")
            terms.append(self.negation(unit))
        return terms[0] if len(terms) == 1 else AnyOf(tuple(terms))

    def negation(self, unit: Callable[[], Node]) -> Node:
        if self.tok.kind in ("not", "(") and self.depth >= MAX_DEPTH:
            raise self.fail(f"more than {MAX_DEPTH} parentheses and NOTs inside each other")
        if self.tok.kind == "not":
            self.take()
            self.depth += 1
            node: Node = Not(self.negation(unit))
            self.depth -= 1
            return node
        if self.tok.kind == "(":
            opening = self.take()
            self.depth += 1
            node = self.conjunction(unit)
            self.depth -= 1
            if self.tok.kind != ")":
                raise self.fail(f"the '(' at column {opening.column} is not closed")
            self.take()
            return node
        return unit()

    def term(self) -> Node:
        first = self.take()
        if first.kind not in ("word", "string"):
            raise self.fail("expected a field comparison or a value", first)
        if self.tok.kind != "op":
            return Search(first.text)
        if first.kind != "word" or not first.path:
            raise self.fail("a comparison needs a field path on its left, like jsonPayload.statusDetails", first)
        path = first.path
        if path[0] not in LOG_ENTRY_FIELDS:
            raise FilterError(
                f"filter, column {first.column}: unknown LogEntry field {path[0]!r} "
                "(like jsonPayload, httpRequest, resource, severity, timestamp, labels)"
            )
        op = self.take().text
        if op == ":*":
            return Compare(path, op)
        if self.tok.kind == "(":  # a list of values: field = ("a" OR "b")
            return self.negation(lambda: self.value(path, op))
        return self.value(path, op)

    def value(self, path: tuple[str, ...], op: str) -> Node:
        token = self.take()
        if token.kind not in ("word", "string") or (token.kind == "word" and token.text in KEYWORDS):
            raise self.fail(f'expected a value after {op!r} (like 500 or "text")', token)
        if op in ("=~", "!~"):
            _check_regex(token.text, token.column)
        return Compare(path, op, token.text)


_NOT_RE2 = re.compile(r"\(\?<?[=!]|\\[1-9]")


def _check_regex(pattern: str, column: int) -> None:
    if _NOT_RE2.search(pattern):
        raise FilterError(f"filter, column {column}: RE2 has no look-around or back-references: {pattern!r}")
    try:
        regex(pattern)
    except (re.error, RecursionError, OverflowError) as exc:
        shown = pattern if len(pattern) <= 60 else pattern[:57] + "..."
        raise FilterError(f"filter, column {column}: bad regular expression {shown!r}: {exc}") from None


@functools.lru_cache(maxsize=256)
def regex(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, without the FutureWarnings Python prints for what may change meaning later
    (``[[``): the learner's filter is checked for RE2 here, and stderr is no place for Python's notes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(pattern)


def parse_filter(expression: str) -> Node:
    """The tree of a Logging query; raises :class:`FilterError` with the column of the first problem."""
    return _Parser(expression).query()


def lowercase_keywords(expression: str) -> list[str]:
    """Lower-case and/or/not used like operators: Logging reads them as search words (a common slip)."""
    words = {t.text for t in _tokens(expression) if t.kind == "word"}
    return [w for w in ("and", "or", "not") if w in words]
