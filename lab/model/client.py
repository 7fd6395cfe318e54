"""The client of a scenario: the learner's laptop - its hosts file, its trust store and its own address.

The address is what every host sees as its peer when curl connects directly (a proxy sees the laptop, the
load balancer logs it as ``remoteIp``). One per IP family, so hosts on IPv6 addresses see a real peer too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lab.model.fields import Source, Table, describe, ip_problem

TRUST_STORES = ("lab-root", "empty")
# A laptop on an office network.
CLIENT_ADDRESS = "192.168.1.23"
CLIENT_ADDRESS6 = "fd00:1ab::23"


@dataclass(frozen=True, slots=True, kw_only=True)
class Client:
    hosts: dict[str, str]  # the client's /etc/hosts: name -> address
    trust: str = "lab-root"
    address: str = CLIENT_ADDRESS  # the client's own IPv4 address: the peer a host sees when curl connects
    address6: str = CLIENT_ADDRESS6  # ... and its IPv6 address, for hosts on IPv6 addresses

    def address_for(self, ip: str) -> str:
        """The client's own address in ``ip``'s family: where curl's connections to ``ip`` come from."""
        return self.address6 if ":" in ip else self.address

    def hosts_file(self) -> str:
        lines = ["127.0.0.1 localhost", "::1 localhost"]
        lines += [f"{addr} {name}" for name, addr in self.hosts.items()]
        return "\n".join(lines) + "\n"


class Placed(Protocol):
    """A host as far as the client's address is concerned: where it is and where it was defined."""

    @property
    def name(self) -> str: ...
    @property
    def ip(self) -> str: ...
    @property
    def source(self) -> Source: ...


def read(table: Table, hosts: Sequence[Placed]) -> Client:
    """The ``[client]`` table; problems are recorded in ``table.problems`` (file:line), defaults used."""
    table.only({"hosts", "trust", "address"})
    names = table.table_of_strings("hosts", 'hosts must be a table of name = "address"')
    for name, addr in list(names.items()):
        if ip_problem(addr):
            table.fail(("hosts", name), f"'{name}' must map to an IP address, not {describe(addr)}")
            del names[name]
    trust = table.choice("trust", "lab-root", TRUST_STORES, "trust store")
    own = _addresses(table, hosts)
    for version, default in ((4, CLIENT_ADDRESS), (6, CLIENT_ADDRESS6)):
        taken = next((h for h in hosts if version not in own and h.ip == default), None)
        if taken is not None:
            table.problems.add(
                taken.source.error(
                    ("address",),
                    f"{default} is the client's own address: move host '{taken.name}', or give the client "
                    f'another one ([client] address = "...")',
                )
            )
    return Client(hosts=names, trust=trust, address=own.get(4, CLIENT_ADDRESS), address6=own.get(6, CLIENT_ADDRESS6))


def _addresses(table: Table, hosts: Sequence[Placed]) -> dict[int, str]:
    """The client's own addresses by IP family: ``address = "192.168.1.23"``, or a list with one per family."""
    raw = table.data.get("address", [])
    what = 'address must be an IP address or a list of them (one per IP family), like "192.168.1.23"'
    own: dict[int, str] = {}
    for text in [raw] if isinstance(raw, str) else table.strings("address", [], what):
        problem = _problem(text, own, hosts)
        if problem:
            table.fail(("address",), f"client address {problem}")
            continue
        address = ipaddress.ip_address(text)
        own[address.version] = str(address)
    return own


def _problem(text: str, own: dict[int, str], hosts: Sequence[Placed]) -> str | None:
    problem = ip_problem(text)
    if problem:
        return problem
    address = ipaddress.ip_address(text)
    if address.is_loopback:
        return f"{text} is loopback: give the client's network address, like {CLIENT_ADDRESS!r}"
    if address.version in own:
        return (
            f"{text}: the client already has an IPv{address.version} address ({own[address.version]}); one per family"
        )
    taken = next((h.name for h in hosts if h.ip == str(address)), None)
    if taken:
        return f"{text} is host '{taken}''s address: the client needs an address of its own"
    return None
