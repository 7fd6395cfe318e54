"""Step 3a of ``lab import``: the world the sessions need - hosts on the addresses curl used, behaving the way
each transcript shows, the client's hosts file and each proxy's own DNS. Pure.

Every address curl reached becomes a host; what happened there picks its behaviour (:mod:`._behave`). A
name curl resolved goes into the client's hosts file with the address the transcript shows; a name a
proxy resolved goes into that proxy's DNS. What the transcript does not show - an address curl never
printed, the address a proxy's DNS gave, a redacted value - gets a placeholder from 198.18.0.0/15 (a range
reserved for benchmarks, never routed) and a TODO that says so.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from lab.apps.importer._observe import Observation
from lab.apps.importer._redact import dns_name
from lab.protocols.netaddr import format_address, is_ip

_PLACEHOLDERS = ipaddress.ip_network("198.18.0.0/15")


@dataclass(slots=True)
class HostPlan:
    """A host being planned: its kind, address, settings (TOML values) and where each came from."""

    name: str
    kind: str
    ip: str
    port: int
    settings: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # proxies: one TOML inline table per rule
    dns: dict[str, str] = field(default_factory=dict)  # proxies: their own DNS table
    paths: dict[str, tuple[int, str]] = field(default_factory=dict)  # origins: path -> (status, Location)

    @property
    def address(self) -> str:
        return format_address(self.ip, self.port)

    def set(self, key: str, value: str, why: str, line: int, *, wins: bool = False) -> None:
        """Set a setting once; a second session wanting another value is noted, not obeyed (unless it
        ``wins``: it shows the setting that made a command work)."""
        old = self.settings.get(key)
        if old is None or (wins and old != value):
            self.settings[key] = value
            if why:
                self.notes.append(f"{key}: {why} (line {line})")
        elif old != value:
            self.notes.append(f"line {line} would want {key} = {value}; kept {old} from an earlier command")


@dataclass(slots=True)
class World:
    """Everything being planned, shared by all sessions of one transcript."""

    hosts: dict[tuple[str, int], HostPlan] = field(default_factory=dict)
    client: dict[str, str] = field(default_factory=dict)  # the client's hosts file
    unresolvable: dict[str, int] = field(default_factory=dict)  # names that must not resolve -> line
    proxy_dns: dict[tuple[str, str], str] = field(default_factory=dict)  # (proxy host name, name) -> address
    todos: list[str] = field(default_factory=list)
    used_ips: set[str] = field(default_factory=set)
    _next: int = 1

    def placeholder(self, why: str) -> str:
        """A fresh address nobody uses, with a TODO that says what it stands for."""
        while True:
            ip = str(_PLACEHOLDERS[self._next])
            self._next += 1
            if ip not in self.used_ips:
                self.used_ips.add(ip)
                self.todos.append(f"{ip} stands for {why}: the transcript does not show it")
                return ip

    def host(self, kind: str, ip: str, port: int, name: str, line: int) -> HostPlan:
        """The host at ``ip:port`` (made on first use; a later, different kind is noted)."""
        key = (ip, port)
        found = self.hosts.get(key)
        if found is None:
            found = self.hosts[key] = HostPlan(name=self._free_name(name), kind=kind, ip=ip, port=port)
        elif found.kind != kind:
            found.notes.append(f"line {line} looked like a {kind} host here; kept {found.kind}")
        if line not in found.lines:
            found.lines.append(line)
        return found

    def _free_name(self, wanted: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "-", wanted.lower()).strip("-") or "host"
        taken = {h.name for h in self.hosts.values()}
        name, n = base, 2
        while name in taken:
            name, n = f"{base}-{n}", n + 1
        return name

    def resolve(self, name: str, ip: str, line: int) -> None:
        """The client's DNS answered ``name`` with ``ip`` (a first answer wins; a different one is noted)."""
        if is_ip(name) or (name.lower() == "localhost" and ipaddress.ip_address(ip).is_loopback):
            return  # the hosts file has localhost already
        served = dns_name(name)
        if not served:
            self.todos.append(f"line {line}: {name!r} is no DNS name the lab can put in the hosts file")
            return
        name = served
        old = self.client.setdefault(name, ip)
        if old != ip:
            self.todos.append(f"line {line}: {name} resolved to {ip} there; the hosts file keeps {old}")


def usable_ip(text: str | None) -> str | None:
    """An address the lab can put on an interface, or None for a redacted one (``x.x.x.x``, ``1.2.3.xxx``)."""
    if not text or not is_ip(text.strip("[]")):
        return None
    address = ipaddress.ip_address(text.strip("[]"))
    if address.is_unspecified or address.is_multicast:
        return None
    return str(address)


def client_address(obs: Observation, name: str) -> str | None:
    """The address the transcript shows the client's resolver giving for ``name`` (None: not shown)."""
    facts = obs.facts
    for ip in facts.resolved.get(name, []):
        found = usable_ip(ip)
        if found:
            return found
    if facts.socks and facts.socks[3] is False:  # socks5://: curl resolved the name and sent the address
        return usable_ip(facts.socks[1])
    if obs.plan.proxy is None:
        for ip, _ in facts.trying:
            found = usable_ip(ip)
            if found:
                return found
    return None
