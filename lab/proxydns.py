"""How a lab proxy picks its upstream: its own DNS table, never the client's.

This is the seed's lesson in one function. The client may have pinned ``mydomain`` to 88.88.88.88 with
``--resolve``, but a proxy that receives ``CONNECT mydomain:443`` (or a SOCKS5 request with a domain)
looks the name up itself. Pure: unit-tested without sockets, shared by the HTTP and the SOCKS5 proxy.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from .scenario import Host, Scenario


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

    def event_data(self) -> dict[str, str]:
        """The ``resolved`` event's fields, the same for every proxy kind."""
        return {"name": self.name, "address": self.address, "table": self.source, "upstream": self.upstream}

    @property
    def summary(self) -> str:
        if self.source == "IP literal":
            return f"{self.name} is an IP literal: no lookup, connect to {self.upstream}"
        return f"{self.name} -> {self.address} (from the proxy's own DNS table) = {self.upstream}"


def validate_table(host: Host, key: str = "dns") -> dict[str, str]:
    """Check a proxy's ``dns`` table with file:line errors."""
    table: Any = host.settings.get(key, {})
    if not isinstance(table, dict):
        raise host.source.error((key,), f"'{key}' must be a table of name = \"address\"")
    for name, address in table.items():
        try:
            ipaddress.ip_address(address)
        except (ValueError, TypeError):
            raise host.source.error((key, name), f"'{name}' must map to an IP address, not {address!r}") from None
    return dict(table)


def validate_auth(host: Host) -> tuple[str, str] | None:
    """A proxy's optional ``auth = { user = "...", password = "..." }`` setting, as (user, password)."""
    auth = host.settings.get("auth")
    if auth is None:
        return None
    if not (
        isinstance(auth, dict) and set(auth) == {"user", "password"} and all(isinstance(v, str) for v in auth.values())
    ):
        raise host.source.error(("auth",), f'auth must be {{ user = "...", password = "..." }}, not {auth!r}')
    return auth["user"], auth["password"]


def resolve(name: str, port: int, table: dict[str, str], scenario: Scenario) -> Resolution:
    """Where the proxy connects for ``name:port``; raises a :class:`ProxyRefusal` subclass when it won't."""
    requested = f"[{name}]:{port}" if ":" in name else f"{name}:{port}"
    bare = name.strip("[]")
    try:
        ipaddress.ip_address(bare)
        address, source = bare, "IP literal"
    except ValueError:
        if bare.lower() not in {k.lower() for k in table}:
            known = ", ".join(table) or "nothing"
            raise UnknownName(f"the proxy's DNS has no entry for {bare!r} (it knows: {known})") from None
        address = next(v for k, v in table.items() if k.lower() == bare.lower())
        source = "proxy DNS"
    target = scenario.host_at(address, port)
    if target is None:
        if scenario.host_at(address) is None:
            raise OutsideLab(f"{address} is not a lab address: the lab's proxy is not an open relay")
        raise NothingListening(f"nothing listens on {address}:{port} (connection refused)")
    return Resolution(requested=requested, name=bare, address=address, port=port, source=source, upstream=target.name)
