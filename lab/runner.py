"""Run one real curl command inside the lab's world and collect what happened, on both sides.

The command runs with a clean environment (the machine's own ``https_proxy`` and ``~/.curlrc`` must not
leak in), from the project root so ``certs/client.crt`` works, and with a time limit. After curl exits,
the runner waits (briefly) for the hosts to close their side, so the events of a step are complete.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import trio

from . import curlv
from .errors import CommandError
from .events import Event
from .scenario import ROOT, Expect
from .world import World

ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PROXY_ENV = re.compile(r"^\* Uses proxy env variable (\w+) == ", re.MULTILINE)  # curl -v, 7.x and 8.x
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_TIMEOUT = 20.0


def check_command(argv: tuple[str, ...] | list[str]) -> tuple[dict[str, str], list[str]]:
    """Split ``env VAR=VALUE… curl …`` into (environment, curl argv); refuse anything else."""
    args = list(argv)
    env: dict[str, str] = {}
    if args and args[0] == "env":
        args.pop(0)
    while args and ENV_ASSIGNMENT.match(args[0]):
        name, _, value = args.pop(0).partition("=")
        env[name] = value
    if not args:
        raise CommandError("no command given (expected: curl …, optionally after env VAR=VALUE …)")
    if os.path.basename(args[0]) != "curl":
        raise CommandError(
            f"only curl runs in the lab, not {args[0]!r} (expected: curl …, optionally after env VAR=VALUE …)"
        )
    return env, args


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

    @property
    def error(self) -> str | None:
        return self.verbose.error

    @property
    def reached(self) -> str | None:
        """The host whose HTTP response reached the client (not a backend behind the load balancer)."""
        answered = [e for e in self.events if e.kind == "response" and not e.data.get("via")]
        return answered[-1].host if answered else None

    @property
    def tunnel(self) -> str | None:
        """The target a proxy was asked for, exactly as the proxy received it."""
        for event in self.events:
            if event.kind == "tunnel-requested":
                return str(event.data.get("target"))
        return None

    @property
    def proxy_env(self) -> tuple[str, ...]:
        """Proxy variables curl -v says it used (``https_proxy``, ``ALL_PROXY``, ``NO_PROXY``...); empty without -v."""
        return tuple(PROXY_ENV.findall(self.stderr))

    def to_json(self) -> dict[str, Any]:
        return {
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


def compare(expect: Expect, result: CurlResult) -> list[Mismatch]:
    problems: list[Mismatch] = []
    if expect.exit is not None and expect.exit != result.exit_code:
        problems.append(Mismatch("exit code", str(expect.exit), str(result.exit_code)))
    if expect.reached is not None and expect.reached != (result.reached or "none"):
        problems.append(Mismatch("reached host", expect.reached, result.reached or "none"))
    if expect.tunnel is not None and expect.tunnel != (result.tunnel or "none"):
        problems.append(Mismatch("tunnel", expect.tunnel, result.tunnel or "none"))
    if expect.error is not None and expect.error not in (result.error or ""):
        problems.append(Mismatch("error containing", repr(expect.error), repr(result.error or "none")))
    return problems


@dataclass(slots=True)
class Runner:
    world: World
    timeout: float = DEFAULT_TIMEOUT
    home: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="lab-home-"))

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        return {"PATH": BASE_PATH, "HOME": self.home, "LANG": "C.UTF-8", "TERM": "dumb", **extra}

    async def run(self, argv: tuple[str, ...] | list[str]) -> CurlResult:
        env, args = check_command(argv)
        timeline = self.world.timeline
        start_index = len(timeline)
        started = time.monotonic()
        timed_out = False
        with trio.move_on_after(self.timeout) as scope:
            done = await trio.run_process(
                args,
                env=self.environment(env),
                cwd=str(ROOT),
                capture_stdout=True,
                capture_stderr=True,
                check=False,
                stdin=b"",
            )
        if scope.cancelled_caught:
            timed_out = True
            exit_code, stdout, stderr = (
                28,
                b"",
                f"curl: (28) the lab stopped curl after {self.timeout:g} s\n".encode(),
            )
        else:
            exit_code, stdout, stderr = done.returncode, done.stdout, done.stderr
        duration = time.monotonic() - started
        await trio.to_thread.run_sync(timeline.wait_idle, 2.0)
        text = stderr.decode("utf-8", "replace")
        return CurlResult(
            argv=tuple(args),
            env=env,
            exit_code=exit_code,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=text,
            verbose=curlv.parse(text),
            events=tuple(timeline.since(start_index)),
            duration=duration,
            timed_out=timed_out,
        )

    def cleanup(self) -> None:
        with contextlib.suppress(OSError):  # curl may have left files there; leave them
            os.rmdir(self.home)
