"""Which hop decided: the words a step's ``expect.decided_by``, its lesson and the lab's verdict share.

A request meets its decisions in order: curl reads its command line, picks a proxy (or none), resolves a
name (its DNS cache from ``--resolve``, the hosts file, or nothing for an IP literal) or lets the proxy
resolve it, maybe swaps the target with ``--connect-to``, sends SNI, agrees a TLS version with the server,
checks the server's certificate and offers its own. The *decisive* hop is the check that stopped the
request, or - when nothing stopped it, or it went to a host that could not answer - the routing decision
that chose where it went (docs/scenarios.md, "decided_by", says it with examples). A check of an HTTPS proxy
(its certificate, its check of curl's) is the same check, on the proxy's hop, and is said with a name of its
own ("curl's check of the proxy's certificate decided"). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

Decider = Literal[
    "command line",
    "client DNS",
    "--resolve",
    "--connect-to",
    "proxy",
    "proxy DNS",
    "SNI",
    "TLS version",
    "cert check",
    "client-cert check",
]
DECIDERS: tuple[Decider, ...] = get_args(Decider)

# How prose names each decider when it says "<name> decided" (matched case-insensitively, whole words).
NAMES: dict[Decider, tuple[str, ...]] = {  # the first name is how the lab itself says it
    "command line": ("the command line", "curl's command line", "curl itself"),
    "client DNS": ("client DNS", "the client's DNS", "the client's hosts file"),
    "--resolve": ("--resolve",),
    "--connect-to": ("--connect-to",),
    "proxy": ("the proxy", "the proxy setting", "the proxy itself"),
    "proxy DNS": ("proxy DNS", "the proxy's DNS", "the proxy's own DNS"),
    "SNI": ("the SNI", "SNI"),
    "TLS version": ("the TLS version", "TLS version", "the TLS versions"),
    "cert check": (
        "curl's server-certificate check",
        "the server-certificate check",
        "the certificate check",
        "the cert check",
        "curl's name check",
        "curl's own name check",
        "curl's check of the proxy's certificate",  # an HTTPS proxy's (-x https://): the hop is the proxy
    ),
    "client-cert check": (
        "the client-certificate check",
        "the client-cert check",
        "the load balancer's client-certificate check",
        "the proxy's client-certificate check",  # an HTTPS proxy's (--proxy-cert): the hop is the proxy
    ),
}


def lead(decider: Decider, name: str | None = None) -> str:
    """How a sentence starts that names ``decider`` (by its first name, or ``name``, one of its names):
    "Proxy DNS", "The client-certificate check", "curl's check of the proxy's certificate"."""
    name = name if name in NAMES[decider] else NAMES[decider][0]
    assert name is not None
    return name if name.startswith(("curl", "-")) else name[0].upper() + name[1:]


_BY_NAME = {name.lower(): decider for decider, names in NAMES.items() for name in names}
# Longest names first, so "the client-certificate check" wins over "certificate check" inside it.
_CLAIM = re.compile(
    r"(?<![\w-])(" + "|".join(re.escape(n) for n in sorted(_BY_NAME, key=len, reverse=True)) + r")\s+decided\b",
    re.IGNORECASE,
)


def claims(text: str) -> dict[Decider, str]:
    """The deciders ``text`` says decided, each with the words it used ("Proxy DNS decided")."""
    found: dict[Decider, str] = {}
    for match in _CLAIM.finditer(" ".join(text.split())):
        found.setdefault(_BY_NAME[match.group(1).lower()], match.group(0))
    return found


def disagreement(text: str, decided_by: Decider) -> str | None:
    """Why ``text`` (a step's lesson) contradicts ``decided_by``, or ``None`` when it does not."""
    others = {d: words for d, words in claims(text).items() if d != decided_by}
    if not others:
        return None
    said = "; ".join(f"'{words}'" for words in others.values())
    return (
        f"the lesson says {said}, but decided_by is {decided_by!r}: one step has one decisive hop "
        f"(write '{lead(decided_by)} decided', or change decided_by)"
    )
