"""Which curl this is: its version and TLS library, from ``curl --version`` or from a pasted transcript. Pure.

Exit codes and error wording depend on the curl build (curl 8.11 says ``TLS connect error`` where 7.88 says
``OpenSSL/3.0.19:``; LibreSSL never gives exit 98), so every outcome the lab records names the curl that
produced it, and ``lab import`` says which curl a customer ran.

``curl --version``'s first line is ``curl 8.14.1 (x86_64-pc-linux-gnu) libcurl/8.14.1 OpenSSL/3.0.19 zlib/…``.
A build with several TLS back-ends lists the ones not in use in parentheses (macOS: ``(SecureTransport)
LibreSSL/3.3.6``); the unbracketed one is in use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIRST_LINE = re.compile(r"^curl (\d+\.\d+(?:\.\d+)?)(?:[-\w.]*)? \(([^)]*)\)(.*)$")
# TLS back-ends as curl names them in --version (lib/vtls/*.c), case as printed.
_TLS_NAMES = (
    "OpenSSL",
    "LibreSSL",
    "BoringSSL",
    "AWS-LC",
    "quictls",
    "GnuTLS",
    "wolfSSL",
    "mbedTLS",
    "rustls-ffi",
    "BearSSL",
    "Schannel",
    "SecureTransport",
    "NSS",
)
_TLS_TOKEN = re.compile(r"^(?:" + "|".join(re.escape(n) for n in _TLS_NAMES) + r")(?:/\S+)?$")


class NotCurlVersion(ValueError):
    """The text is not what ``curl --version`` prints."""


@dataclass(frozen=True, slots=True)
class CurlVersion:
    version: str  # "8.14.1"
    tls: str | None  # "OpenSSL/3.0.19"; None: built without TLS
    platform: str = ""  # "x86_64-pc-linux-gnu"

    @property
    def major_minor(self) -> tuple[int, int]:
        parts = self.version.split(".")
        return int(parts[0]), int(parts[1])

    def __str__(self) -> str:
        return f"curl {self.version}" + (f" ({self.tls})" if self.tls else "")


def parse(text: str) -> CurlVersion:
    """``curl --version`` output -> :class:`CurlVersion`; :class:`NotCurlVersion` says what was there instead."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    match = _FIRST_LINE.match(first)
    if not match:
        shown = first[:80] or "nothing"
        raise NotCurlVersion(f"expected 'curl X.Y.Z (platform) libcurl/…' from --version, got {shown!r}")
    version, platform, rest = match.groups()
    tls = next((token for token in rest.split() if _TLS_TOKEN.match(token)), None)
    return CurlVersion(version=version, tls=tls, platform=platform)


# -- from a pasted curl -v transcript (lab import) --------------------------------------------------------

_USER_AGENT = re.compile(r"^> User-Agent: curl/(\d+\.\d+(?:\.\d+)?)", re.IGNORECASE)
_LIBRARY_IN_LINE = re.compile(r"\b(OpenSSL|LibreSSL|BoringSSL|GnuTLS|wolfSSL|mbedTLS|schannel)(?:/(\d[\w.]*))?\b")
_LIBRESSL_HANDSHAKE = re.compile(r"^\* \(304\) \((?:IN|OUT)\)")  # LibreSSL has no name for TLS 1.3's version
_TRACE = re.compile(r"^\d\d:\d\d:\d\d\.\d+ \[[^\]]*\] (?:== Info: )?")  # curl 8's timestamped -vvv / --trace-time

# Wording that dates a curl build when the paste shows no User-Agent: (pattern, "since" or "before", release).
# From curl's sources at the release tags (lib/vtls/openssl.c, lib/socks.c, lib/http.c, lib/url.c).
MARKERS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^\* Connected to .* \(#\d+\)$"), "before", "8.2.0"),
    (re.compile(r"^\* ALPN: offers "), "before", "8.3.0"),
    (re.compile(r"^\* ALPN: curl offers "), "since", "8.3.0"),
    (re.compile(r"^\* Request completely sent off"), "since", "8.7.0"),
    (re.compile(r"matches target ipv[46] address '"), "since", "8.7.0"),
    (re.compile(r"matches target host name '"), "before", "8.9.0"),
    (re.compile(r"matches target hostname '"), "since", "8.9.0"),
    (re.compile(r"Can't complete SOCKS5"), "before", "8.9.0"),
    (re.compile(r"cannot complete SOCKS5"), "since", "8.9.0"),
    (re.compile(r"^\* closing connection #\d+"), "since", "8.9.0"),
    (re.compile(r"^curl: \(\d+\) OpenSSL SSL_connect: SSL_ERROR_SYSCALL"), "before", "8.11.0"),
    (re.compile(r"^curl: \(\d+\) TLS connect error: "), "since", "8.11.0"),
)


def version_key(text: str) -> tuple[int, ...]:
    """``"8.11.0"`` -> ``(8, 11, 0)``, for comparing releases."""
    return tuple(int(part) for part in text.split(".") if part.isdigit())


@dataclass(frozen=True, slots=True)
class TranscriptCurl:
    """What a transcript says about the curl that printed it; each with the line that shows it."""

    version: str | None  # "8.7.1", from a User-Agent line
    version_evidence: str | None  # "line 120: > User-Agent: curl/8.7.1"
    tls: str | None  # "LibreSSL", "LibreSSL/3.3.6", "OpenSSL/3.0.19"
    tls_evidence: str | None
    since: tuple[str, str] | None = None  # without a version: ("8.11.0", evidence) - at least this release
    before: tuple[str, str] | None = None  # ("8.7.0", evidence) - older than this release

    def is_before(self, release: str) -> bool:
        """Certainly older than ``release``."""
        if self.version:
            return version_key(self.version) < version_key(release)
        return self.before is not None and version_key(self.before[0]) <= version_key(release)

    def is_since(self, release: str) -> bool:
        """Certainly ``release`` or newer."""
        if self.version:
            return version_key(self.version) >= version_key(release)
        return self.since is not None and version_key(self.since[0]) >= version_key(release)

    def describe(self) -> str:
        """``8.7.1 (line 120: …)`` or ``8.11.0 or later (line 9: …)``; empty when nothing dates it."""
        if self.version:
            return f"{self.version} ({self.version_evidence})"
        parts = [f"{self.since[0]} or later ({self.since[1]})"] if self.since else []
        parts += [f"older than {self.before[0]} ({self.before[1]})"] if self.before else []
        return ", ".join(parts)


def from_transcript(text: str) -> TranscriptCurl:
    """The curl version (``User-Agent: curl/8.7.1``, else a range from wording that changed between releases)
    and TLS library (``LibreSSL SSL_connect``, ``OpenSSL/3.0.19:`` in an error line, LibreSSL's ``* (304)``
    handshake lines) in ``curl -v`` output; the most specific evidence wins."""
    version = tls = version_line = tls_line = None
    since: tuple[str, str] | None = None
    before: tuple[str, str] | None = None
    rank = 0  # how specific the TLS evidence is: 1 a (304) line, 2 the library named, 3 named with its version
    for number, raw in enumerate(text.split("\n"), 1):  # numbered as an editor does (a \r is not a new line)
        line = raw.strip()
        traced = _TRACE.match(line)
        if traced:
            line = (
                line[traced.end() :] if line[traced.end() :].startswith(("=>", "<=")) else "* " + line[traced.end() :]
            )
        where = f"line {number}: {raw.strip()}"
        agent = _USER_AGENT.match(line)
        if agent and version is None:
            version, version_line = agent.group(1), where
        for pattern, bound, release in MARKERS:
            if not pattern.search(line):
                continue
            if bound == "since" and (since is None or version_key(release) > version_key(since[0])):
                since = (release, where)
            if bound == "before" and (before is None or version_key(release) < version_key(before[0])):
                before = (release, where)
        if not line.startswith(("*", "curl: (")):
            continue
        found = max(_LIBRARY_IN_LINE.finditer(line), key=lambda m: bool(m.group(2)), default=None)
        if found and rank < 2 + bool(found.group(2)):
            name = "Schannel" if found.group(1) == "schannel" else found.group(1)
            tls = f"{name}/{found.group(2)}" if found.group(2) else name
            tls_line, rank = where, 2 + bool(found.group(2))
        elif rank == 0 and _LIBRESSL_HANDSHAKE.match(line):
            tls, tls_line, rank = "LibreSSL", where, 1
    return TranscriptCurl(
        version=version, version_evidence=version_line, tls=tls, tls_evidence=tls_line, since=since, before=before
    )
