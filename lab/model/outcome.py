"""What one curl command did, seen from both ends, and how it compares with a step's expectations. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lab.model.events import Event, TunnelRequested, answered, first
from lab.model.scenario import Expect
from lab.protocols import curlv
from lab.protocols.curlversion import CurlVersion

PROXY_ENV = re.compile(r"^\* Uses proxy env variable (\w+) == ", re.MULTILINE)  # curl -v, 7.x and 8.x


@dataclass(frozen=True, slots=True)
class CurlBuild:
    """The curl binary that ran: where it is, and what ``--version`` said (exit codes and wording depend on it)."""

    path: str
    version: CurlVersion

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "version": self.version.version, "tls": self.version.tls}

    def __str__(self) -> str:
        return f"{self.version} at {self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CurlResult:
    argv: tuple[str, ...]
    env: dict[str, str]
    exit_code: int
    stdout: str
    stderr: str
    verbose: curlv.CurlVerbose
    events: tuple[Event, ...]
    duration: float
    timed_out: bool = False
    curl: CurlBuild | None = None  # None: a command typed in `lab up`'s shell

    @property
    def error(self) -> str | None:
        return self.verbose.error

    @property
    def reached(self) -> str | None:
        """The host whose HTTP response reached the client (not a backend behind the load balancer)."""
        response = answered(self.events)
        return response.host if response else None

    @property
    def tunnel(self) -> str | None:
        """The target a proxy was asked for, exactly as the proxy received it."""
        asked = first(self.events, TunnelRequested)
        return asked.target if asked else None

    @property
    def proxy_env(self) -> tuple[str, ...]:
        """Proxy variables curl -v says it used (``https_proxy``, ``ALL_PROXY``, ``NO_PROXY``...); empty without -v."""
        return tuple(PROXY_ENV.findall(self.stderr))

    def to_json(self) -> dict[str, Any]:
        return {
            **({"curl": self.curl.to_json()} if self.curl else {}),
            "exit_code": self.exit_code,
            "error": self.error,
            "reached": self.reached,
            "tunnel": self.tunnel,
            "proxy_env": list(self.proxy_env),
            "events": [e.to_json() for e in self.events],
        }


@dataclass(frozen=True, slots=True)
class Mismatch:
    field: str
    expected: str
    actual: str

    def __str__(self) -> str:
        return f"expected {self.field} {self.expected}, got {self.actual}"


def _any_of(values: tuple[str, ...]) -> str:
    """``56``, ``55 or 56``, ``'a', 'b' or 'c'``: what an expectation accepts."""
    return values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"


def compare(expect: Expect, result: CurlResult) -> list[Mismatch]:
    problems: list[Mismatch] = []
    if expect.exits and result.exit_code not in expect.exits:
        problems.append(Mismatch("exit code", _any_of(tuple(map(str, expect.exits))), str(result.exit_code)))
    if expect.reached is not None and expect.reached != (result.reached or "none"):
        problems.append(Mismatch("reached host", expect.reached, result.reached or "none"))
    if expect.tunnel is not None and expect.tunnel != (result.tunnel or "none"):
        problems.append(Mismatch("tunnel", expect.tunnel, result.tunnel or "none"))
    if expect.errors and not any(text in (result.error or "") for text in expect.errors):
        problems.append(
            Mismatch("error containing", _any_of(tuple(map(repr, expect.errors))), repr(result.error or "none"))
        )
    return problems


def compare_decider(expect: Expect, decided: str) -> list[Mismatch]:
    """The step's ``decided_by`` against the verdict's decisive hop: a wrong explanation fails like a wrong exit."""
    if expect.decided_by is not None and expect.decided_by != decided:
        return [Mismatch("decisive hop", expect.decided_by, decided)]
    return []
