"""Scenario files: the model and the loader.

A scenario is a *world* (hosts on real addresses, the client's hosts file and trust store) plus *steps*
(a curl command line, what to tell the learner, what should happen). Worlds are shared: a scenario names
a topology from ``scenarios/topologies/`` and overrides any of its settings, table by table.

Validation happens here, once, with ``file:line`` in every message; later code can trust the model.
Kind-specific host settings are checked by the host kind itself (see :mod:`lab.hosts`).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ScenarioError
from .tomlines import LineIndex
from .tomlines import Path as KeyPath

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
TOPOLOGY_DIR = SCENARIO_DIR / "topologies"

HOST_KINDS = ("glb", "backend", "reset", "http-proxy", "socks5")
TRUST_STORES = ("lab-root", "empty")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a piece of a scenario came from, for error messages."""

    path: str
    index: LineIndex
    prefix: KeyPath = ()

    def error(self, key: KeyPath, message: str) -> ScenarioError:
        return ScenarioError(self.path, self.index.line((*self.prefix, *key)), message)

    def sub(self, *key: str | int) -> Source:
        return Source(self.path, self.index, (*self.prefix, *key))


@dataclass(frozen=True, slots=True, kw_only=True)
class Host:
    name: str
    kind: str
    ip: str
    port: int
    settings: dict[str, Any]
    source: Source

    @property
    def address(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    hosts: dict[str, str]  # the client's /etc/hosts: name -> address
    trust: str = "lab-root"

    def hosts_file(self) -> str:
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{addr} {name}" for name, addr in self.hosts.items()]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    exit: int | None = None
    reached: str | None = None  # host name, or "none"
    tunnel: str | None = None  # "host:port" a proxy was asked for, or "none"
    error: str | None = None  # substring of curl's error line


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


def find(name_or_path: str) -> Path:
    """A scenario by name (``proxy-resolve``) or by file path."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    named = SCENARIO_DIR / f"{name_or_path}.toml"
    if named.exists():
        return named
    topology = TOPOLOGY_DIR / f"{name_or_path}.toml"
    if topology.exists():
        return topology
    known = ", ".join(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))
    raise ScenarioError(name_or_path, None, f"no such scenario (known: {known}; or give a path to a .toml file)")


def catalog() -> list[Path]:
    return sorted(SCENARIO_DIR.glob("*.toml"))


def _read(path: Path) -> tuple[dict[str, Any], Source]:
    display = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(display, None, f"cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        position = re.search(r"\(at line (\d+)", str(exc))
        line = int(position.group(1)) if position else max(1, text.count("\n") + (not text.endswith("\n")))
        message = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise ScenarioError(display, line, f"not valid TOML: {message}") from None
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


def _expect_type(source: Source, key: KeyPath, value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise source.error(key, f"'{key[-1]}' must be {what}, not {value!r}")
    return value


def parse_address(text: str) -> tuple[str, int]:
    """``"88.88.88.88:443"`` or ``"[::1]:443"`` -> (ip, port); ValueError says what is wrong."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f'address {text!r} must be ip:port, like "88.88.88.88:443"')
    host = host.strip("[]")
    ipaddress.ip_address(host)  # raises ValueError with the bad value
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range 1-65535")
    return host, port


_HOST_KEYS = {"kind", "address"}
_STEP_KEYS = {"run", "say", "lesson", "expect"}
_EXPECT_KEYS = {"exit", "reached", "tunnel", "error"}
_TOP_KEYS = {"title", "story", "topology", "hosts", "client", "steps", "name", "description"}


def _unknown(source: Source, key: KeyPath, table: dict[str, Any], allowed: set[str]) -> None:
    for name in table:
        if name not in allowed:
            expected = ", ".join(sorted(allowed))
            raise source.error((*key, name), f"unknown key '{name}' (expected one of: {expected})")


def load(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario (or a bare topology, which is a scenario without steps)."""
    path = find(str(name_or_path))
    data, source = _read(path)
    _unknown(source, (), data, _TOP_KEYS)
    host_sources: dict[str, Source] = {}
    client_source = source
    topology_name = data.get("topology", "")
    if topology_name:
        _expect_type(source, ("topology",), topology_name, str, "a topology name")
        topo_path = TOPOLOGY_DIR / f"{topology_name}.toml"
        if not topo_path.exists():
            known = ", ".join(sorted(p.stem for p in TOPOLOGY_DIR.glob("*.toml")))
            raise source.error(("topology",), f"unknown topology '{topology_name}' (expected one of: {known})")
        base, topo_source = _read(topo_path)
        _unknown(topo_source, (), base, _TOP_KEYS)
        for name in base.get("hosts", {}):
            host_sources[name] = topo_source.sub("hosts", name)
        client_source = topo_source
        hosts_data = _merge(base.get("hosts", {}), data.get("hosts", {}))
        client_data = _merge(base.get("client", {}), data.get("client", {}))
    else:
        hosts_data = data.get("hosts", {})
        client_data = data.get("client", {})
        topology_name = path.stem
    for name in data.get("hosts", {}):
        host_sources[name] = source.sub("hosts", name)
    if "client" in data:
        client_source = source

    hosts = {name: _host(name, spec, host_sources[name]) for name, spec in hosts_data.items()}
    _check_unique_addresses(hosts)
    client = _client(client_data, client_source)
    steps = tuple(_step(i, spec, source.sub("steps", i)) for i, spec in enumerate(data.get("steps", [])))
    scenario = Scenario(
        name=path.stem,
        title=str(data.get("title") or data.get("description") or path.stem),
        story=str(data.get("story", "")).strip(),
        topology=str(topology_name),
        hosts=hosts,
        client=client,
        steps=steps,
        path=source.path,
    )
    from .hosts import validate_settings

    for host in hosts.values():
        validate_settings(host, scenario)
    for step in steps:
        _check_expect_hosts(step, scenario)
    return scenario


def _host(name: str, spec: Any, source: Source) -> Host:
    if not isinstance(spec, dict):
        raise source.error((), f"host '{name}' must be a table with kind and address")
    if "kind" not in spec:
        raise source.error((), f"host '{name}' has no kind (expected one of: {', '.join(HOST_KINDS)})")
    kind = spec["kind"]
    if kind not in HOST_KINDS:
        raise source.error(("kind",), f"unknown host kind {kind!r} (expected one of: {', '.join(HOST_KINDS)})")
    if "address" not in spec:
        raise source.error((), f"host '{name}' has no address (expected ip:port, like \"10.1.1.1:443\")")
    address = _expect_type(source, ("address",), spec["address"], str, 'a string "ip:port"')
    try:
        ip, port = parse_address(address)
    except ValueError as exc:
        raise source.error(("address",), str(exc)) from None
    settings = {k: v for k, v in spec.items() if k not in _HOST_KEYS}
    return Host(name=name, kind=kind, ip=ip, port=port, settings=settings, source=source)


def _check_unique_addresses(hosts: dict[str, Host]) -> None:
    seen: dict[tuple[str, int], str] = {}
    for host in hosts.values():
        other = seen.setdefault((host.ip, host.port), host.name)
        if other != host.name:
            raise host.source.error(("address",), f"address {host.address} is already used by host '{other}'")


def _client(spec: dict[str, Any], source: Source) -> Client:
    _unknown(source, ("client",), spec, {"hosts", "trust"})
    hosts = spec.get("hosts", {})
    _expect_type(source, ("client", "hosts"), hosts, dict, 'a table of name = "address"')
    for name, addr in hosts.items():
        try:
            ipaddress.ip_address(addr)
        except (ValueError, TypeError):
            raise source.error(("client", "hosts", name), f"'{name}' must map to an IP address, not {addr!r}") from None
    trust = spec.get("trust", "lab-root")
    if trust not in TRUST_STORES:
        raise source.error(
            ("client", "trust"), f"unknown trust store {trust!r} (expected one of: {', '.join(TRUST_STORES)})"
        )
    return Client(hosts=dict(hosts), trust=trust)


def _step(number: int, spec: Any, source: Source) -> Step:
    if not isinstance(spec, dict):
        raise source.error((), "a step must be a table with at least 'run'")
    _unknown(source, (), spec, _STEP_KEYS)
    if "run" not in spec:
        raise source.error((), "step has no 'run' (the command line, like \"curl -v https://mydomain\")")
    run = _expect_type(source, ("run",), spec["run"], str, "a command line string")
    try:
        argv = tuple(shlex.split(run))
    except ValueError as exc:
        raise source.error(("run",), f"cannot split the command line: {exc}") from None
    from .runner import check_command

    try:
        check_command(argv)
    except Exception as exc:  # CommandError, reported with the step's line
        raise source.error(("run",), str(exc)) from None
    expect_spec = spec.get("expect", {})
    _expect_type(source, ("expect",), expect_spec, dict, "a table")
    _unknown(source, ("expect",), expect_spec, _EXPECT_KEYS)
    if "exit" in expect_spec:
        _expect_type(source, ("expect", "exit"), expect_spec["exit"], int, "curl's exit code (an integer)")
    for key in ("reached", "tunnel", "error"):
        if key in expect_spec:
            _expect_type(source, ("expect", key), expect_spec[key], str, "a string")
    return Step(
        number=number + 1,
        run=run,
        argv=argv,
        say=str(spec.get("say", "")).strip(),
        lesson=str(spec.get("lesson", "")).strip(),
        expect=Expect(**expect_spec),
        source=source,
    )


def _check_expect_hosts(step: Step, scenario: Scenario) -> None:
    reached = step.expect.reached
    if reached is not None and reached != "none" and reached not in scenario.hosts and step.source:
        known = ", ".join([*scenario.hosts, "none"])
        raise step.source.error(("expect", "reached"), f"unknown host {reached!r} (expected one of: {known})")
