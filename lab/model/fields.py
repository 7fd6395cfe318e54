"""Typed reads of TOML values, each failure recorded as ``file:line: what is expected`` and reading goes on.

Theory of operation. A scenario file is untrusted input: any key can hold any TOML type. Every value the
loader uses goes through a :class:`Table` getter that checks its type (and range, or choice) *before* use.
A bad value is recorded in the shared :class:`Problems` with the line it sits on, and the getter returns
the default, so one pass over a file finds every error in it; :meth:`Problems.raise_if_any` then raises one
:class:`~lab.errors.ScenarioError` that lists them all. Nothing here raises anything else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from lab.errors import ScenarioError
from lab.model.tomlines import KeyPath, LineIndex

T = TypeVar("T")


@dataclass(slots=True)
class Problems:
    """Every error found in one load, in the order found (duplicates dropped)."""

    errors: list[ScenarioError] = field(default_factory=list)

    def add(self, error: ScenarioError) -> None:
        if all(str(e) != str(error) for e in self.errors):
            self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            ordered = sorted(self.errors, key=lambda e: (e.path, e.line or 0))  # stable: same line keeps order
            first = ordered[0]
            raise ScenarioError(first.path, first.line, first.message, others=tuple(ordered[1:]))


@dataclass(frozen=True, slots=True)
class Source:
    """Where a piece of a scenario came from: file, its line index, and the key path to this table."""

    path: str
    index: LineIndex
    prefix: KeyPath = ()

    def error(self, key: KeyPath, message: str) -> ScenarioError:
        return ScenarioError(self.path, self.index.line((*self.prefix, *key)), message)

    def sub(self, *key: str | int) -> Source:
        return Source(self.path, self.index, (*self.prefix, *key))


def describe(value: Any) -> str:
    """A value as an error message shows it: short, and never the whole of a huge nested value."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(slots=True)
class Table:
    """One TOML table being read. Getters return a checked value, or ``default`` after recording why not."""

    data: dict[str, Any]
    source: Source
    problems: Problems

    @classmethod
    def of(cls, value: Any, source: Source, problems: Problems, what: str) -> Table:
        """``value`` as a table; anything else is recorded (``what`` says what the table is for)."""
        if isinstance(value, dict):
            return cls(value, source, problems)
        problems.add(source.error((), f"{what} must be a table, not {describe(value)}"))
        return cls({}, source, problems)

    def fail(self, key: KeyPath, message: str) -> None:
        self.problems.add(self.source.error(key, message))

    def __contains__(self, key: str) -> bool:
        return key in self.data

    def keys(self) -> Iterator[str]:
        return iter(self.data)

    def only(self, allowed: set[str] | frozenset[str], what: str = "key '{}'") -> None:
        """Record every key not in ``allowed`` (a typo, usually), naming the ones that are.

        ``what`` names the key in the message, with ``{}`` where the key goes: ``"setting '{}' for a glb host"``.
        """
        expected = ", ".join(sorted(allowed)) or "none"
        for name in self.data:
            if name not in allowed:
                self.fail((name,), f"unknown {what.format(name)} (expected one of: {expected})")

    def sub(self, key: str, what: str) -> Table:
        value = self.data.get(key, {})
        return Table.of(value, self.source.sub(key), self.problems, what)

    def _typed(self, key: str, default: T, kind: type | tuple[type, ...], what: str) -> T:
        value = self.data.get(key, default)
        if value is default:
            return default
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.fail((key,), f"'{key}' must be {what}, not {describe(value)}")
            return default
        return cast(T, value)

    def string(self, key: str, default: str = "", what: str = "a string") -> str:
        return self._typed(key, default, str, what)

    def boolean(self, key: str, default: bool) -> bool:
        return self._typed(key, default, bool, "true or false")

    def integer(self, key: str, default: int, low: int, high: int, what: str) -> int:
        value = self._typed(key, default, int, what)
        if value is not default and not low <= value <= high:
            self.fail((key,), f"'{key}' must be {what}, not {value}")
            return default
        return value

    def number(self, key: str, default: float, low: float, high: float, what: str) -> float:
        value = self._typed(key, default, (int, float), what)
        if value is not default and not low <= value <= high:
            self.fail((key,), f"{key} must be {what}, not {value!r}")
            return default
        return float(value)

    def choice(self, key: str, default: str, choices: tuple[str, ...], what: str) -> str:
        value = self.data.get(key, default)
        if value not in choices:
            self.fail((key,), f"unknown {what} {describe(value)} (expected one of: {', '.join(choices)})")
            return default
        return str(value)

    def one_or_list(self, key: str, kind: type[T], what: str) -> T | tuple[T, ...] | None:
        """One ``kind`` value, or a non-empty list of them (accepted alternatives); ``None`` when absent or bad.

        A list comes back as a tuple, so callers can tell ``exit = 56`` from ``exit = [55, 56]``.
        """
        value = self.data.get(key)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(v, kind) and not isinstance(v, bool) for v in items):
            self.fail((key,), f"'{key}' must be {what}, or a list of them, not {describe(value)}")
            return None
        return tuple(cast(list[T], items)) if isinstance(value, list) else cast(T, value)

    def entries(self, key: str, what: str, example: str) -> list[tuple[int, Table]]:
        """``key`` as a list of tables (``what`` names one), each with its index; anything else is recorded."""
        raw = self.data.get(key, [])
        if not isinstance(raw, list):
            self.fail((key,), f"{key} must be a list of entries; {example}")
            return []
        return [(i, Table.of(item, self.source.sub(key, i), self.problems, what)) for i, item in enumerate(raw)]

    def strings(self, key: str, default: list[str], what: str) -> list[str]:
        value = self.data.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail((key,), f"{what}, not {describe(value)}")
            return list(default)
        return list(value)

    def table_of_strings(self, key: str, what: str) -> dict[str, str]:
        value = self.data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            self.fail((key,), f"{what}, not {describe(value)}")
            return {}
        return dict(value)


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def ip_problem(text: str) -> str | None:
    """Why ``text`` is not an IP address the lab can put on an interface (``None`` when it is)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return f"{describe(text)} is not an IP address"
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        return f"{text!r} has a zone (%{address.scope_id}): give a plain address; the lab has no interfaces to name"
    if address.is_multicast or address.is_unspecified:
        return f"{text} cannot be a host's address (multicast or unspecified)"
    return None


def canonical_ip(text: str) -> str:
    """One spelling per address (``::0001`` and ``::1`` are the same host)."""
    return str(ipaddress.ip_address(text))
