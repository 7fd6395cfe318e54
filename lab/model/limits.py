"""What any host puts up with before it hangs up: deadlines, request-body size, open connections. Pure.

Every host kind has the same ``limits`` table (``[hosts.NAME] limits = { idle_timeout = 60 }``), typed and
checked here like the kinds' own settings. The defaults change nothing a lesson shows: curl's own timeouts
(``-m``, and its 300 s connect timeout) end a silent host's story before ``idle_timeout`` would, a catalog
upload is a few MB, and a learner opens a handful of connections. They bound what a hostile or forgotten
client can hold: a connection that never finishes its handshake, one left open for a day, a request body
without an end, thousands of connections at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from lab.model.fields import Table

KEYS = frozenset({"handshake_timeout", "idle_timeout", "max_body", "max_connections"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    # Seconds from the accepted connection until the host has something to report (a finished TLS handshake,
    # a request head, a SOCKS request, a ClientHello): a client that stalls before that is cut off.
    handshake_timeout: float = 10.0
    # Seconds without a byte either way, afterwards. Longer than curl's 300 s connect timeout, so a host that
    # holds a connection silently on purpose still lets curl give up first (exit 28), as at the customer.
    idle_timeout: float = 600.0
    # Bytes of request body a host holds per connection; a request over it is answered 413.
    max_body: int = 8 * 2**20
    # Connections a host holds open at once; one more is closed at once, with an event saying so.
    max_connections: int = 256


def read(table: Table) -> Limits:
    """The host's ``limits`` table (every key optional; errors recorded with their line)."""
    limits = table.sub("limits", "limits (like { idle_timeout = 60, max_connections = 100 })")
    limits.only(KEYS, "limits key '{}'")
    default = Limits()
    return Limits(
        handshake_timeout=limits.number(
            "handshake_timeout", default.handshake_timeout, 0.1, 3600, "seconds, from 0.1 to 3600"
        ),
        idle_timeout=limits.number("idle_timeout", default.idle_timeout, 0.1, 86400, "seconds, from 0.1 to 86400"),
        max_body=limits.integer("max_body", default.max_body, 0, 2**30, "a number of bytes up to 1 GiB"),
        max_connections=limits.integer(
            "max_connections", default.max_connections, 1, 65536, "a number of connections from 1 to 65536"
        ),
    )
