"""How a lab proxy picks its upstream: its own DNS table, never the client's.

This is the seed's lesson in one function. The client may have pinned ``mydomain`` to 88.88.88.88 with
``--resolve``, but a proxy that receives ``CONNECT mydomain:443`` (or a SOCKS5 request with a domain)
looks the name up itself. Pure: unit-tested without sockets, shared by the HTTP and the SOCKS5 proxy.

No tunnel loops: a proxy refuses itself as a destination, always, and another lab proxy unless its scenario
sets ``chain = true``; even then a request that already came through a lab proxy cannot be sent to a third,
so a chain is at most two proxies long (a tunnel into itself once went 100 levels deep on one connection).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.model.events import Resolved
from lab.model.hostsettings import ProxySettings
from lab.model.scenario import Host, Scenario
from lab.protocols.netaddr import format_address


class ProxyRefusal(Exception):
    """The proxy will not open this tunnel. ``status`` is what an HTTP proxy answers."""

    status = 502
    reason = "Bad Gateway"


class UnknownName(ProxyRefusal):
    """The proxy's DNS does not know the name (a real proxy answers 502 or 503)."""


class OutsideLab(ProxyRefusal):
    """The destination is not a lab host: the proxy is never an open relay."""

    status = 403
    reason = "Forbidden"


class Loop(ProxyRefusal):
    """The destination is a lab proxy (this one, or another without ``chain = true``): no tunnel loops."""

    status = 403
    reason = "Forbidden"


class NothingListening(ProxyRefusal):
    """A lab address, but no lab host on that port: the upstream connection would be refused."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolution:
    requested: str  # "mydomain:443", exactly as asked
    name: str  # the host part as asked
    address: str  # the IP the proxy connects to
    port: int
    source: str  # "proxy DNS" or "IP literal"
    upstream: str  # the lab host's name

    def event(self) -> Resolved:
        """The ``resolved`` event, the same for every proxy kind."""
        if self.source == "IP literal":
            summary = f"{self.name} is an IP literal: no lookup, connect to {self.upstream}"
        else:
            summary = f"{self.name} -> {self.address} (from the proxy's own DNS table) = {self.upstream}"
        return Resolved(
            summary=summary, name=self.name, address=self.address, table=self.source, upstream=self.upstream
        )


def is_proxy(host: Host) -> bool:
    return isinstance(host.settings, ProxySettings)


def _loop(asker: Host, target: Host, peer_ip: str, settings: ProxySettings, scenario: Scenario) -> str | None:
    """Why going from proxy ``asker`` to ``target`` for a client at ``peer_ip`` would make a loop (or None)."""
    if target.name == asker.name:
        return f"{target.address} is this proxy itself: a tunnel into itself would loop"
    if not is_proxy(target):
        return None
    if not settings.chain:
        return (
            f"{target.address} is the lab proxy {target.name!r}: this proxy forwards to another proxy only "
            f"with chain = true in [hosts.{asker.name}]"
        )
    # The client's address is a proxy's: proxies connect onwards from their own address (two may share one).
    came_through = [h.name for h in scenario.hosts.values() if h.ip == peer_ip and is_proxy(h)]
    others = [name for name in came_through if name != asker.name] or came_through
    if others:
        return f"this request came through the lab proxy {others[0]!r} already: a chain is two proxies at most"
    return None


def resolve(
    name: str, port: int, settings: ProxySettings, scenario: Scenario, *, asker: Host, peer_ip: str
) -> Resolution:
    """Where proxy ``asker`` connects for ``name:port``, asked by a client at ``peer_ip``; raises a
    :class:`ProxyRefusal` subclass when it won't."""
    requested = format_address(name.strip("[]"), port)
    bare = name.strip("[]")
    try:
        address, source = str(ipaddress.ip_address(bare)), "IP literal"
    except ValueError:
        found = settings.lookup(bare)
        if found is None:
            known = ", ".join(k for k, _ in settings.dns) or "nothing"
            raise UnknownName(f"the proxy's DNS has no entry for {bare!r} (it knows: {known})") from None
        address, source = found, "proxy DNS"
    target = scenario.host_at(address, port)
    if target is None:
        if scenario.host_at(address) is None:
            raise OutsideLab(f"{address} is not a lab address: the lab's proxy is not an open relay")
        raise NothingListening(f"nothing listens on {address}:{port} (connection refused)")
    loop = _loop(asker, target, peer_ip, settings, scenario)
    if loop:
        raise Loop(loop)
    return Resolution(requested=requested, name=bare, address=address, port=port, source=source, upstream=target.name)
