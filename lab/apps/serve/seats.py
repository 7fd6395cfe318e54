"""Who may use which lab: one secret token per learner, the server's options, and the URLs to hand out.

Pure (no I/O): the token is the learner's only credential, as in Jupyter. It is made with
:func:`secrets.token_urlsafe` (32 bytes, 256 bits), travels in the URL's query, and is compared with
:func:`hmac.compare_digest` against every learner's token, the whole list every time, so neither a match nor
its position shows in the time an answer takes.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from lab.errors import LabError

TOKEN_BYTES = 32
DEFAULT_PORT = 7681  # ttyd's port, and the one deploy/kubernetes/ opens
MAX_LEARNERS = 500


class ServeOptionError(LabError):
    """An option of ``lab serve`` that cannot work; the message says which value would."""

    exit_code = 2


@dataclass(frozen=True, slots=True)
class Learner:
    number: int  # 1-based, as the trainer hands out the URLs
    token: str

    def __repr__(self) -> str:  # never print a token by accident (logs, tracebacks)
        return f"Learner({self.number})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    scenario: str
    learners: int = 1
    bind: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    max_labs: int | None = None  # labs running at once; None: one per learner
    idle_timeout: float = 600.0  # seconds a lab lives on with no browser attached
    in_place: bool = False  # the container's own namespace is the lab's (one learner per container)
    curl: str | None = None  # LAB_CURL for the learners' labs

    @property
    def lab_cap(self) -> int:
        return self.max_labs if self.max_labs is not None else self.learners


def check(options: Options) -> Options:
    """The options as given, or :class:`ServeOptionError` naming the one that cannot work."""
    if not 1 <= options.learners <= MAX_LEARNERS:
        raise ServeOptionError(f"--learners {options.learners}: give 1 to {MAX_LEARNERS}")
    if options.in_place and options.learners != 1:
        raise ServeOptionError(
            f"--learners {options.learners}: in-place mode (LAB_IN_PLACE=1, a container) serves one learner, "
            "because a container holds one lab: run one container or pod per learner (deploy/kubernetes/)"
        )
    if options.max_labs is not None and not 1 <= options.max_labs <= options.learners:
        raise ServeOptionError(f"--max-labs {options.max_labs}: give 1 to --learners ({options.learners})")
    if options.idle_timeout <= 0:
        raise ServeOptionError(f"--idle-timeout {options.idle_timeout:g}: give a number of seconds above 0")
    if not 0 <= options.port <= 65535:
        raise ServeOptionError(f"--port {options.port}: give 1 to 65535 (0: any free port)")
    try:
        ipaddress.ip_address(options.bind)
    except ValueError:
        raise ServeOptionError(
            f"--bind {options.bind!r}: give an IP address (127.0.0.1, the default, keeps the terminals on this "
            "machine; 0.0.0.0 serves every interface)"
        ) from None
    return options


def make_learners(count: int) -> tuple[Learner, ...]:
    return tuple(Learner(number, secrets.token_urlsafe(TOKEN_BYTES)) for number in range(1, count + 1))


def token_of(query_string: bytes) -> str:
    """The ``token`` parameter of a URL query ('' if absent or given twice)."""
    values = parse_qs(query_string.decode("latin-1"), keep_blank_values=True).get("token", [])
    return values[0] if len(values) == 1 else ""


def find(learners: tuple[Learner, ...], token: str) -> Learner | None:
    """The learner whose token this is, in time independent of which one (or none) matches."""
    given = token.encode("utf-8", "replace")
    found = None
    for learner in learners:
        if hmac.compare_digest(given, learner.token.encode()):
            found = learner
    return found if token else None


def url(host: str, port: int, learner: Learner) -> str:
    """The address a learner opens; ``host`` is what the trainer's machine is called from the learners'."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={learner.token}"


def public_host(bind: str, hostname: str) -> str:
    """The host part of the printed URLs: the bound address, or this machine's name for a wildcard bind."""
    return hostname if ipaddress.ip_address(bind).is_unspecified else bind
