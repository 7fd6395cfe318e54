"""Step 3b of ``lab import``: put one session into the world - its proxy, its server, each ``-L`` hop - and
give each host the behaviour the transcript shows (:mod:`._behave`). Pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from lab.apps.importer import _behave
from lab.apps.importer._observe import Observation
from lab.apps.importer._world import HostPlan, World, client_address, usable_ip
from lab.explain import curlplan
from lab.protocols.curlargs import CurlUsageError
from lab.protocols.netaddr import format_address, is_ip

# Situations that end before curl reaches the server behind a proxy: the proxy decided.
PROXY_ENDS = ("proxy-status", "proxy-drop", "proxy-timeout", "socks-reply", "socks-drop", "proxy-dns")
# Situations where no server answered at all at the address curl tried.
NO_SERVER = ("refused", "dns", "usage", "proxy-dns")


@dataclass(slots=True)
class Placed:
    """Where one session went in the planned world."""

    proxy: HostPlan | None = None
    origin: HostPlan | None = None  # the server the situation happened at (the last hop)
    reached: str | None = None  # the host whose answer reached curl last (on success; or a redirect's)
    tunnel: str | None = None  # what the proxy was asked for, as the lab's proxy will report it
    todos: list[str] = field(default_factory=list)


def _proxy(world: World, obs: Observation, placed: Placed) -> tuple[HostPlan | None, str]:
    """The proxy host (None when curl never reached one) and the name its DNS is kept under."""
    proxy = obs.plan.proxy
    assert proxy is not None
    situation = obs.situation
    name = proxy.host
    if situation.kind == "proxy-dns":
        world.unresolvable.setdefault(name, obs.line)
        return None, name
    ip = _pinned(obs, name, proxy.port) or usable_ip(name) or client_address(obs, name)
    if ip is None:
        ip = world.placeholder(f"the address of the proxy {name}")
    world.used_ips.add(ip)
    if not is_ip(name) and not _pinned(obs, name, proxy.port):
        world.resolve(name, ip, obs.line)
    if situation.kind in ("refused", "connect-timeout") and obs.facts.tunnel is None and obs.facts.socks is None:
        if situation.kind == "connect-timeout":  # the proxy's address took the connection and never answered
            _behave.silent(world.host("reset", ip, proxy.port, "proxy", obs.line), obs)
        return None, name  # nothing listens at the proxy's address: curl's connection is refused
    kind = "socks5" if proxy.scheme.startswith("socks") else "http-proxy"
    host = world.host(kind, ip, proxy.port, "socks" if kind == "socks5" else "proxy", obs.line)
    _behave.proxy(host, obs)
    if proxy.scheme.startswith("socks4"):
        placed.todos.append("curl spoke SOCKS4 to this proxy; the lab's SOCKS proxy speaks SOCKS5 only")
    return host, name


def _pinned(obs: Observation, name: str, port: int) -> str | None:
    """The address curl's DNS cache (``--resolve``) gives ``name``, as curl looks it up: the name's entry, then
    ``*``; for an address too (curl asks its cache first)."""
    try:
        found = curlplan.lookup(name, port, obs.options.resolve, {})
    except CurlUsageError:
        return None
    if found.how != "--resolve":
        return None
    listed = (found.address, *found.more)  # a list: curl went on to the next until one accepted
    reached = [c.ip for c in obs.facts.verbose.connections if c.ip in listed]
    return usable_ip(reached[-1] if reached else found.address)


def _target_address(world: World, obs: Observation, proxy_name: str | None) -> str | None:
    """Where the server is: an IP in the URL or --connect-to, --resolve, the client's DNS, or the proxy's."""
    plan = obs.plan
    host, port = plan.target_host, plan.target_port
    client_resolves = plan.proxy is None or not plan.proxy.resolves_names  # (socks5:// resolves on the client)
    pinned = _pinned(obs, host, port) if client_resolves else None
    if pinned:
        return pinned
    literal = usable_ip(host)
    if literal:
        return literal
    if plan.resolver == "proxy" and proxy_name is not None:
        key = (proxy_name, host.lower())
        if key not in world.proxy_dns:
            world.proxy_dns[key] = world.placeholder(f"what the proxy's own DNS answers for {host}")
        return world.proxy_dns[key]
    if obs.situation.kind == "dns":
        world.unresolvable.setdefault(host, obs.line)
        return None
    ip = client_address(obs, host) or next((a for n, a in world.client.items() if n == host.lower()), None)
    if ip is None:
        ip = world.placeholder(f"the address the client's DNS gives for {host}")
    world.resolve(host, ip, obs.line)
    return ip


def place(world: World, obs: Observation) -> Placed:
    """Put one session into ``world``."""
    placed = Placed()
    plan, situation = obs.plan, obs.situation
    if plan.url is None or situation.kind == "usage":
        return placed
    proxy_name: str | None = None
    if plan.proxy is not None:
        placed.proxy, proxy_name = _proxy(world, obs, placed)
        if placed.proxy is None or situation.kind in PROXY_ENDS or situation.where == "proxy":
            if plan.resolver == "client" and placed.proxy is not None and _asked(obs):
                _target_address(world, obs, proxy_name)  # socks5://: curl resolved the name before asking
            placed.tunnel = _tunnel(obs, world) if placed.proxy is not None and _asked(obs) else None
            return placed
        placed.tunnel = _tunnel(obs, world)
    ip = _target_address(world, obs, proxy_name)
    if ip is None or situation.kind == "refused":
        return placed
    world.used_ips.add(ip)
    if placed.proxy is not None and plan.resolver == "proxy":
        _behave.proxy_dns(placed.proxy, plan.target_host, ip, obs)
    if obs.facts.follows and plan.proxy is None:  # -L: the outcome happened at the last hop
        first = world.host("origin", ip, plan.target_port, plan.target_host, obs.line)
        _behave.plain_or_tls(first, plan.url.scheme == "https", obs)
        placed.origin, placed.reached = _follow(world, obs, first)
        return placed
    origin = _origin(world, obs, ip, plan.target_port, plan.target_host)
    placed.origin = origin
    _behave.answers(origin, obs.facts.hops[:1], obs)
    placed.reached = origin.name if situation.kind == "ok" else None
    return placed


def _asked(obs: Observation) -> bool:
    """The proxy got as far as being asked for a destination (a CONNECT, a SOCKS request, a GET)."""
    situation = obs.situation
    if situation.kind == "socks-drop" and situation.point == "greeting":
        return False
    return situation.where != "proxy" or situation.kind in PROXY_ENDS


def _tunnel(obs: Observation, world: World) -> str | None:
    """The target the lab's proxy will report being asked for."""
    plan = obs.plan
    if plan.proxy is None:
        return None
    if plan.resolver == "client" and not is_ip(plan.target_host):  # socks5://: curl sends the address
        address = _pinned(obs, plan.target_host, plan.target_port) or world.client.get(plan.target_host)
        if address is None:
            address = client_address(obs, plan.target_host)
        return format_address(address, plan.target_port) if address else None
    if plan.tunnel_kind == "GET (forwarded)":
        return format_address(plan.target_host, plan.target_port)
    return plan.tunnel


def _origin(world: World, obs: Observation, ip: str, port: int, name: str) -> HostPlan:
    kind = _behave.kind_for(obs)
    label = f"{name} behind the proxy" if obs.plan.resolver == "proxy" else name  # what the proxy's DNS chose
    host = world.host(kind, ip, port, label, obs.line)
    _behave.origin(host, obs, name)
    return host


def _follow(world: World, obs: Observation, first: HostPlan) -> tuple[HostPlan, str | None]:
    """``-L``: every hop's answer on its host, and the outcome at the last one. Returns (the host the outcome
    happened at, the host whose answer reached curl on success)."""
    facts = obs.facts
    reached = first
    for number, hop in enumerate(facts.hops):
        host = reached
        followed = urlsplit(facts.follows[number - 1]) if 0 < number <= len(facts.follows) else None
        if hop.connected is not None and hop.connected.ip:
            ip = usable_ip(hop.connected.ip) or reached.ip
            name = (followed.hostname if followed else None) or hop.connected.name or hop.host
            world.resolve(name, ip, obs.line)
            host = world.host("origin", ip, hop.connected.port, name, obs.line)
            https = followed.scheme == "https" if followed else hop.connected.port == 443
            _behave.plain_or_tls(host, https, obs)
            if https and host is not first:
                _behave.hop_certificate(host, name, obs)
        _behave.answers(host, [hop], obs)
        reached = host
    if obs.situation.kind == "ok" or len(facts.hops) > len(facts.follows):
        return reached, reached.name if obs.situation.kind == "ok" else None
    last = urlsplit(facts.follows[-1])  # the redirect curl followed and failed at: no answer came from it
    name = last.hostname or reached.name
    port = last.port or (443 if last.scheme == "https" else 80)
    seen = next((usable_ip(c.ip) for c in reversed(facts.verbose.connections) if c.name == name and c.ip), None)
    ip = seen or client_address(obs, name) or world.client.get(name) or world.placeholder(f"the address of {name}")
    world.resolve(name, ip, obs.line)
    host = world.host(_behave.kind_for(obs), ip, port, name, obs.line)
    _behave.origin(host, obs, name, followed=(last.scheme, name))
    return host, reached.name  # the redirect's answer is the last that reached curl


def _target_for_follow(world: World, obs: Observation, name: str) -> None:
    ip = client_address(obs, name)
    if ip is not None:
        world.resolve(name, ip, obs.line)
