"""A command for output pasted without its command line: rebuilt from what the ``-v`` lines show. Pure.

The URL comes from the request (``> GET /path`` and ``> Host:``) or from where curl connected, the proxy
from the connection before ``Establish HTTP proxy tunnel to`` / ``> CONNECT`` or from the SOCKS lines,
``--resolve`` from ``Added ... to DNS cache``, ``-k`` from ``continuing anyway``, ``-L`` from ``Issue
another request``, a client certificate from the client's own ``Certificate`` handshake message. What the
output does not show becomes a placeholder, and every part says where it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lab.apps.importer._facts import Facts
from lab.protocols.netaddr import bracket

PLACEHOLDER_HOST = "host-not-in-paste.example"
PLACEHOLDER_PROXY = "proxy-not-in-paste.example"


@dataclass(slots=True)
class Rebuilt:
    argv: list[str]
    notes: list[str] = field(default_factory=list)  # how each part was found, and what was guessed


def _target(facts: Facts) -> tuple[str, int | None, str]:
    """(host, port, where it was seen) of the server the transfer was for."""
    error = facts.verbose.error or ""
    if facts.tunnel:
        host, _, port = facts.tunnel.rpartition(":")
        return host.strip("[]"), int(port) if port.isdigit() else None, "the CONNECT request"
    if facts.socks:
        return facts.socks[1], facts.socks[2], "the SOCKS request"
    if facts.hops and facts.hops[0].host:
        authority = re.match(r"^(\[[^\]]+\]|[^:]+)(?::(\d+))?$", facts.hops[0].host)
        if authority:
            given = authority.group(2)
            return authority.group(1).strip("[]"), int(given) if given else None, "the Host header"
    for entry in facts.verbose.pinned:  # "Added mydomain:443:88.88.88.88 to DNS cache": the name curl looked up
        name, _, rest = entry.partition(":")
        pinned_port = rest.partition(":")[0]
        return name, int(pinned_port) if pinned_port.isdigit() else None, "the --resolve entry curl added"
    if facts.ports and not facts.env:  # "Host x:443 was resolved." / "About to connect() to x port 443"
        name, named_port = next(iter(facts.ports.items()))
        return name, named_port, "the name curl resolved"
    for pattern in (
        r"resolve host:? '?([^'\s]+?)'?$",
        r"in connection to ([^\s:]+):(\d+)",
        r"matches target host ?name '([^']+)'",
        r"target (?:hostname|ipv[46] address) '([^']+)'",
        r"SOCKS\d connection to ([^\s]+?)\.? \(",
        r"Failed to connect to (\S+) port (\d+)",
    ):
        found = re.search(pattern, error)
        if found:
            number = found.group(2) if found.lastindex and found.lastindex > 1 else None
            return str(found.group(1)), int(number) if number else None, "curl's error line"
    if facts.verbose.connections and not facts.env:
        last = facts.verbose.connections[-1]
        return last.name or last.ip or PLACEHOLDER_HOST, last.port, "the Connected line"
    if facts.trying:
        ip, tried = facts.trying[-1]
        return ip, tried, "the Trying line"
    return PLACEHOLDER_HOST, None, ""


def _scheme(facts: Facts, port: int | None) -> str:
    tls = bool(facts.handshake or facts.server_cert or facts.verbose.tls_version) or any(
        word in (facts.verbose.error or "") for word in ("SSL", "TLS", "certificate")
    )
    if port == 80 or (not tls and facts.hops and port != 443):
        return "http"
    return "https"


def _proxy(facts: Facts) -> tuple[str, str] | None:
    """(-x URL, where it was seen) when the output shows a proxy."""
    first = facts.verbose.connections[0] if facts.verbose.connections else None
    named = next(iter(facts.ports.items()), None)  # curl resolves the proxy's name first
    address: tuple[str, int | None] | None = None
    if named is not None:
        address = named
    elif first is not None:
        address = (first.name or first.ip or PLACEHOLDER_PROXY, first.port)
    elif facts.trying:
        address = facts.trying[0]
    if facts.socks:
        scheme = "socks5h" if facts.socks[3] else "socks5" if facts.socks[0] == "5" else "socks4"
        host, port = address if address else (PLACEHOLDER_PROXY, 1080)
        return f"{scheme}://{bracket(str(host))}:{port or 1080}", "the SOCKS lines"
    if "socks" in (facts.verbose.error or "").lower() or "connection to proxy closed" in (facts.verbose.error or ""):
        return f"socks5h://{PLACEHOLDER_PROXY}:1080", "curl's error line (a SOCKS proxy; its address is not shown)"
    if facts.tunnel or facts.proxy_status or (facts.hops and "://" in facts.hops[0].target):
        scheme = "https" if facts.proxy_cert else "http"
        if address is None:
            return f"{scheme}://{PLACEHOLDER_PROXY}:3128", "the CONNECT lines (the proxy's address is not shown)"
        host, port = address
        return f"{scheme}://{bracket(str(host))}:{port}", "the connection before the CONNECT request"
    return None


def rebuild(facts: Facts) -> Rebuilt:
    """curl's command line as far as the output shows it."""
    host, port, seen = _target(facts)
    scheme = _scheme(facts, port)
    path = facts.hops[0].target if facts.hops and facts.hops[0].target.startswith("/") else "/"
    if facts.hops and "://" in facts.hops[0].target:
        url = facts.hops[0].target
    else:
        default = {"https": 443, "http": 80}[scheme]
        url = f"{scheme}://{bracket(host)}" + (f":{port}" if port and port != default else "") + path
    rebuilt = Rebuilt(argv=["curl", "-v"])
    notes = rebuilt.notes
    notes.append(f"URL {url} from {seen}" if seen else f"URL {url}: the paste shows no host (a placeholder)")
    proxy = _proxy(facts)
    if proxy and not facts.env:
        rebuilt.argv += ["-x", proxy[0]]
        notes.append(f"-x {proxy[0]} from {proxy[1]}")
    for entry in facts.verbose.pinned:
        rebuilt.argv += ["--resolve", entry]
        notes.append(f"--resolve {entry} from 'Added {entry} to DNS cache'")
    if facts.saw("continuing anyway") and not facts.proxy_cert:
        rebuilt.argv.append("-k")
        notes.append("-k: curl went on after a failed certificate check ('continuing anyway')")
    if facts.follows:
        rebuilt.argv.append("-L")
        notes.append("-L: curl followed a redirect ('Issue another request to this URL')")
    if facts.shook("CERT verify", "OUT"):  # an empty Certificate message goes out without one, too
        rebuilt.argv += ["--cert", "client.crt", "--key", "client.key"]
        notes.append("--cert/--key: curl sent a client certificate (its Certificate and CERT verify messages)")
    if "Authentication problem" in " ".join(facts.lines) or facts.saw("Proxy auth using"):
        user = re.search(r"Proxy auth using \w+ with user '([^']*)'", " ".join(facts.lines))
        rebuilt.argv += ["-U", f"{user.group(1) if user else 'user'}:password-not-in-paste"]
        notes.append("-U: curl sent proxy credentials (the password is not in the paste)")
    rebuilt.argv.append(url)
    return rebuilt
