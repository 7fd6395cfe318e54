"""The lab's addresses on ``lo``: every host's address, the client's own address, and the routes that make
the client's connections come from the client.

Theory of operation. The whole lab shares one interface, ``lo``. A connection to an address on ``lo``
takes its source address from the destination's ``local`` route, whose ``src`` is normally the destination
itself - so every host saw itself as its client. :func:`commands` re-adds each host address's local route
with ``src`` set to the client's address (per IP family): anything that does not choose its source - curl,
the learner's shell - connects as the laptop. A host that connects onwards (proxy, SOCKS proxy, load
balancer) binds its own address (:meth:`lab.runtime.world.World.connect_upstream`), so the next host sees
it, as a real network would. Loopback hosts keep loopback: a laptop reaching its own 127.0.0.1 is itself.

Why not one namespace per host joined by a bridge: it would cost a namespace, a veth pair and a subprocess
per host at every start (``make bench`` measures both), would put curl and every listening socket in a
different namespace, and would not work where the lab cannot make namespaces (a container, run in place).
:func:`assign` is all either kind of lab needs: a fresh namespace (:func:`lab.runtime.netns.configure`) or
an existing one.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time

from lab.errors import NamespaceUnavailable
from lab.model.scenario import Scenario

PROTO = "76"  # marks the lab's source routes ("L"), so the next world removes exactly these and no others
# ip -batch cannot choose an address family, and a family-less flush flushes IPv4 only: IPv6 is its own call.
FLUSH_IPV6 = ["ip", "-6", "route", "flush", "table", "local", "proto", PROTO]


def _is_loopback(ip: str) -> bool:
    return ipaddress.ip_address(ip).is_loopback


def _prefix(ip: str) -> str:
    return f"{ip}/{128 if ':' in ip else 32}"


def _hosts(scenario: Scenario) -> list[str]:
    return sorted({host.ip for host in scenario.hosts.values() if not _is_loopback(host.ip)})


def commands(scenario: Scenario) -> list[str]:
    """``ip -batch`` lines: this scenario's addresses on ``lo`` and the IPv4 source routes. Pure.

    Run after :data:`FLUSH_IPV6`; together they replace whatever an earlier world put there."""
    hosts = _hosts(scenario)
    client = scenario.client
    own = sorted({client.address_for(ip) for ip in hosts})
    lines = [f"route flush table local proto {PROTO}", "addr flush dev lo scope global"]
    lines += [f"addr add {_prefix(ip)} dev lo" for ip in [*own, *hosts]]
    for ip in hosts:
        if ":" not in ip:
            route = f"table local local {_prefix(ip)} dev lo"
            lines.append(f"route replace {route} proto {PROTO} scope host src {client.address}")
    return lines


def ipv6_commands(scenario: Scenario) -> list[str]:
    """``ip -batch`` lines for the IPv6 source routes. Pure.

    IPv6 cannot replace the kernel's local route in place (theirs has metric 0, which a new route cannot
    have), so each is deleted and added again - once the kernel has added it: unlike IPv4's, IPv6 local
    routes appear asynchronously after ``addr add`` (:func:`_wait_for_kernel_routes`)."""
    lines = []
    for ip in (ip for ip in _hosts(scenario) if ":" in ip):
        route = f"table local local {_prefix(ip)} dev lo"
        lines += [f"route del {route}", f"route add {route} proto {PROTO} src {scenario.client.address6}"]
    return lines


def assign(scenario: Scenario) -> None:
    """Apply :func:`commands` and :func:`ipv6_commands` (needs CAP_NET_ADMIN in the current network namespace)."""
    subprocess.run(FLUSH_IPV6, capture_output=True, check=False)  # fails harmlessly where IPv6 is off
    _batch(commands(scenario))
    ipv6 = [ip for ip in _hosts(scenario) if ":" in ip]
    if ipv6:
        _wait_for_kernel_routes(ipv6)
        _batch(ipv6_commands(scenario))


def _batch(lines: list[str]) -> None:
    batch = "".join(f"{line}\n" for line in lines)
    result = subprocess.run(["ip", "-batch", "-"], input=batch, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NamespaceUnavailable(f"adding the lab's addresses and routes: {result.stderr.strip()}")


def _wait_for_kernel_routes(ips: list[str], timeout: float = 2.0) -> None:
    """Until the kernel has added the local route of every IPv6 address in ``ips`` (its work queue does that
    a moment after ``addr add``)."""
    deadline = time.monotonic() + timeout
    while True:
        shown = subprocess.run(
            ["ip", "-6", "-json", "route", "show", "table", "local", "proto", "kernel"],
            capture_output=True,
            text=True,
            check=False,
        )
        present = {route.get("dst") for route in json.loads(shown.stdout or "[]")}
        if present >= set(ips):
            return
        if time.monotonic() > deadline:
            raise NamespaceUnavailable(f"the kernel did not add local routes for {sorted(set(ips) - present)}")
        time.sleep(0.002)  # a work queue, not a server: there is nothing to wait on but the route table
