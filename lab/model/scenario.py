"""Scenario files: the model and the loader.

A scenario is a *world* (hosts on real addresses, the client's hosts file and trust store) plus *steps*
(a curl command line, what to tell the learner, what should happen). Worlds are shared: a scenario names
a topology from ``scenarios/topologies/`` and overrides any of its settings, table by table.

Validation happens here, once, on one guarded path (:mod:`lab.model.fields`): every value is type-checked
before use, every error carries ``file:line``, and a load reports all the errors of a file at once.
Later code can trust the model. Pure: no trio, no OpenSSL.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lab.errors import LabError, ScenarioError
from lab.model import client as clientmodel
from lab.model import hostsettings, limits
from lab.model.client import Client
from lab.model.command import split_command
from lab.model.deciders import DECIDERS, Decider, disagreement
from lab.model.fields import Problems, Source, Table, canonical_ip, describe, ip_problem
from lab.model.hostsettings import HOST_KINDS, HostSettings
from lab.model.limits import Limits
from lab.model.tomlines import LineIndex
from lab.paths import SCENARIO_DIR, TOPOLOGY_DIR
from lab.protocols.netaddr import format_address as format_address  # Host.address; re-exported for callers

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    name: str
    kind: str
    ip: str
    port: int
    settings: HostSettings
    source: Source
    limits: Limits = field(default_factory=Limits)  # what every host kind puts up with (lab.model.limits)

    @property
    def address(self) -> str:
        return format_address(self.ip, self.port)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    # ``exit`` and ``error`` may list alternatives (a tuple): any one is accepted. A list is for results that
    # differ between curl builds (error wording) or between runs (a racy exit code); the scenario file says
    # in a comment which curl gives which.
    exit: int | tuple[int, ...] | None = None
    reached: str | None = None  # host name, or "none"
    tunnel: str | None = None  # "host:port" a proxy was asked for, or "none"
    error: str | tuple[str, ...] | None = None  # substring of curl's error line
    decided_by: Decider | None = None  # the decisive hop (lab.model.deciders), checked like the exit code

    @property
    def exits(self) -> tuple[int, ...]:
        """The accepted exit codes (empty: any)."""
        return _alternatives(self.exit)

    @property
    def errors(self) -> tuple[str, ...]:
        """The accepted error-line substrings (empty: any)."""
        return _alternatives(self.error)


def _alternatives(value: T | tuple[T, ...] | None) -> tuple[T, ...]:
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    number: int
    run: str
    argv: tuple[str, ...]
    say: str = ""
    lesson: str = ""
    expect: Expect = field(default_factory=Expect)
    source: Source | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    name: str
    title: str
    story: str
    topology: str
    hosts: dict[str, Host]
    client: Client
    steps: tuple[Step, ...]
    path: str

    def host_at(self, ip: str, port: int | None = None) -> Host | None:
        for host in self.hosts.values():
            if host.ip == ip and (port is None or host.port == port):
                return host
        return None


def parse_address(text: str) -> tuple[str, int]:
    """``"88.88.88.88:443"`` or ``"[::1]:443"`` -> (ip, port); ValueError says what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f'address {text!r} must be ip:port, like "88.88.88.88:443"')
    host = host.strip("[]")
    ipaddress.ip_address(host)  # raises ValueError with the bad value
    problem = ip_problem(host)
    if problem:
        raise ValueError(problem)
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1-65535")
    return canonical_ip(host), port


def find(name_or_path: str) -> Path:
    """A scenario by name (``proxy-resolve``) or by file path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    for directory in (SCENARIO_DIR, TOPOLOGY_DIR):
        named = directory / f"{name_or_path}.toml"
        if named.exists():
            return named
    known = sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))
    close = [k for k in known if _similar(name_or_path, k)]
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ScenarioError(
        name_or_path, None, f"no such scenario ({hint}known: {', '.join(known)}; or give a path to a .toml file)"
    )


def _similar(a: str, b: str) -> bool:
    import difflib

    return difflib.SequenceMatcher(None, a, b).ratio() >= 0.8


def catalog() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.toml"))


def _read(path: Path) -> tuple[dict[str, Any], Source]:
    display = _display(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(display, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(
            display, line, f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        position = re.search(r"\(at line (\d+)", str(exc))
        line = int(position.group(1)) if position else max(1, text.count("\n") + (not text.endswith("\n")))
        message = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise ScenarioError(display, line, f"not valid TOML: {message}") from None
    except RecursionError:
        raise ScenarioError(display, None, "not valid TOML: values nested too deeply") from None
    return data, Source(display, LineIndex(text))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_TOP_KEYS = frozenset({"title", "story", "topology", "hosts", "client", "steps", "name", "description"})
_STEP_KEYS = frozenset({"run", "say", "lesson", "expect"})
_EXPECT_KEYS = frozenset({"exit", "reached", "tunnel", "error", "decided_by"})


def load(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario (or a bare topology, which is a scenario without steps)."""
    path = find(str(name_or_path))
    data, source = _read(path)
    problems = Problems()
    top = Table(data, source, problems)
    top.only(_TOP_KEYS)
    own_hosts = top.sub("hosts", "hosts (one [hosts.NAME] table per host)")
    own_client = top.sub("client", "[client]")
    hosts_data: dict[str, Any] = own_hosts.data
    client_data, client_source = own_client.data, source
    host_sources = {name: source.sub("hosts", name) for name in hosts_data}
    topology_name = top.string("topology", "", "a topology name")
    world_known = True
    if "topology" in data:
        base, topo_source = _topology(topology_name, top) if topology_name else (None, source)
        if base is None:  # no usable topology: the overrides mean nothing without it, so say only that
            if topology_name == "" and data["topology"] == "":
                top.fail(("topology",), "'topology' is empty: name one from scenarios/topologies/, or remove it")
            hosts_data, client_data, world_known = {}, {}, False
        else:
            base_top = Table(base, topo_source, problems)
            base_top.only(_TOP_KEYS)
            base_hosts = base_top.sub("hosts", "hosts").data
            host_sources = {name: topo_source.sub("hosts", name) for name in base_hosts} | host_sources
            hosts_data = _merge(base_hosts, hosts_data)
            if "client" not in data:
                client_source = topo_source
            client_data = _merge(base_top.sub("client", "[client]").data, client_data)
    else:
        topology_name = path.stem

    hosts: dict[str, Host] = {}
    for name, spec in hosts_data.items():
        host = _host(name, spec, host_sources[name], problems)
        if host is not None:
            hosts[name] = host
    _check_hosts(hosts, problems)
    client = clientmodel.read(Table(client_data, client_source.sub("client"), problems), list(hosts.values()))
    steps = _steps(top, hosts if world_known else None, problems)
    problems.raise_if_any()
    return Scenario(
        name=path.stem,
        title=top.string("title", "") or top.string("description", "") or path.stem,
        story=top.string("story", "").strip(),
        topology=topology_name,
        hosts=hosts,
        client=client,
        steps=steps,
        path=source.path,
    )


def _topology(name: str, top: Table) -> tuple[dict[str, Any] | None, Source]:
    topo_path = TOPOLOGY_DIR / f"{name}.toml"
    if not topo_path.exists():
        known = ", ".join(sorted(p.stem for p in TOPOLOGY_DIR.glob("*.toml")))
        top.fail(("topology",), f"unknown topology {describe(name)} (expected one of: {known})")
        return None, top.source
    try:
        return _read(topo_path)
    except ScenarioError as exc:
        top.problems.add(exc)
        return None, top.source


def _host(name: str, spec: Any, source: Source, problems: Problems) -> Host | None:
    kinds = ", ".join(HOST_KINDS)
    if not isinstance(spec, dict):
        problems.add(source.error((), f"host '{name}' must be a table with kind and address"))
        return None
    table = Table(spec, source, problems)
    if "kind" not in spec:
        table.fail((), f"host '{name}' has no kind (expected one of: {kinds})")
        return None
    kind = spec["kind"]
    if kind not in HOST_KINDS:
        table.fail(("kind",), f"unknown host kind {describe(kind)} (expected one of: {kinds})")
        return None
    if "address" not in spec:
        table.fail((), f"host '{name}' has no address (expected ip:port, like \"10.1.1.1:443\")")
        return None
    address = table.string("address", "", 'a string "ip:port"')
    try:
        ip, port = parse_address(address)
    except ValueError as exc:
        if address:
            table.fail(("address",), str(exc))
        return None
    rest = Table({k: v for k, v in spec.items() if k not in ("kind", "address", "limits")}, source, problems)
    settings = hostsettings.read(kind, name, rest)
    return Host(name=name, kind=kind, ip=ip, port=port, settings=settings, source=source, limits=limits.read(table))


def _check_hosts(hosts: dict[str, Host], problems: Problems) -> None:
    """What involves two hosts: one host per address, URL-map rules that name a backend host."""
    seen: dict[tuple[str, int], str] = {}
    for host in hosts.values():
        other = seen.setdefault((host.ip, host.port), host.name)
        if other != host.name:
            problems.add(host.source.error(("address",), f"address {host.address} is already used by host '{other}'"))
        settings = host.settings
        if isinstance(settings, hostsettings.GlbSettings):
            backends = [h.name for h in hosts.values() if h.kind == "backend"]
            for i, route in enumerate(settings.routes):
                if route.backend not in backends:
                    problems.add(
                        host.source.error(
                            ("url_map", i),
                            f"unknown backend {route.backend!r} (backend hosts here: {', '.join(backends) or 'none'})",
                        )
                    )


def _steps(top: Table, hosts: dict[str, Host] | None, problems: Problems) -> tuple[Step, ...]:
    """The steps; ``hosts`` is None when the world could not be read (host names are then not checked)."""
    raw = top.data.get("steps", [])
    if not isinstance(raw, list):
        top.fail(("steps",), "steps must be [[steps]] tables, each with at least 'run'")
        return ()
    steps = []
    for i, spec in enumerate(raw):
        source = top.source.sub("steps", i)
        if not isinstance(spec, dict):
            problems.add(source.error((), "a step must be a table with at least 'run'"))
            continue
        step = _step(i, Table(spec, source, problems), hosts)
        if step is not None:
            steps.append(step)
    return tuple(steps)


def _step(number: int, table: Table, hosts: dict[str, Host] | None) -> Step | None:
    table.only(_STEP_KEYS)
    if "run" not in table:
        table.fail((), "step has no 'run' (the command line, like \"curl -v https://mydomain\")")
        return None
    run = table.string("run", "", "a command line string")
    try:
        argv = tuple(shlex.split(run))
        split_command(argv)
    except ValueError as exc:
        table.fail(("run",), f"cannot split the command line: {exc}")
        return None
    except LabError as exc:  # CommandError: not a curl command
        table.fail(("run",), str(exc))
        return None
    expect = table.sub("expect", "'expect'")
    expect.only(_EXPECT_KEYS)
    exit_code = expect.one_or_list("exit", int, "curl's exit code (an integer)")
    for code in _alternatives(exit_code):
        if not 0 <= code <= 255:
            expect.fail(("exit",), f"'exit' must be curl's exit code (0-255), not {code}")
    error = expect.one_or_list("error", str, "a piece of curl's error line (a string)")
    if any(not text for text in _alternatives(error)):
        expect.fail(("error",), "'error' must not be empty (leave it out to accept any error line)")
    reached = expect.string("reached", "") or None
    if hosts is not None and reached is not None and reached != "none" and reached not in hosts:
        known = ", ".join([*hosts, "none"])
        expect.fail(("reached",), f"unknown host {reached!r} (expected one of: {known})")
    lesson = table.string("lesson", "").strip()
    decided_by = _decided_by(expect, lesson, table)
    return Step(
        number=number + 1,
        run=run,
        argv=argv,
        say=table.string("say", "").strip(),
        lesson=lesson,
        expect=Expect(
            exit=exit_code,
            reached=reached,
            tunnel=expect.string("tunnel", "") or None,
            error=error or None,
            decided_by=decided_by,
        ),
        source=table.source,
    )


def _decided_by(expect: Table, lesson: str, step: Table) -> Decider | None:
    """``expect.decided_by``: one word of the vocabulary, and the step's lesson may not name another."""
    if "decided_by" not in expect:
        return None
    value = expect.choice("decided_by", "", DECIDERS, "decisive hop")
    decided = next((d for d in DECIDERS if d == value), None)
    if decided is not None and (problem := disagreement(lesson, decided)):
        step.fail(("lesson",), problem)
    return decided
