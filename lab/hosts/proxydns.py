"""How a lab proxy picks its upstream: its own DNS table, never the client's.

This is the seed's lesson in one function. The client may have pinned ``mydomain`` to 88.88.88.88 with
``--resolve``, but a proxy that receives ``CONNECT mydomain:443`` (or a SOCKS5 request with a domain)
looks the name up itself. Pure: unit-tested without sockets, shared by the HTTP and the SOCKS5 proxy.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from lab.model.events import Resolved
from lab.model.hostsettings import ProxySettings
from lab.model.scenario import Scenario
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


def resolve(name: str, port: int, settings: ProxySettings, scenario: Scenario) -> Resolution:
    """Where the proxy connects for ``name:port``; raises a :class:`ProxyRefusal` subclass when it won't."""
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
    return Resolution(requested=requested, name=bare, address=address, port=port, source=source, upstream=target.name)
