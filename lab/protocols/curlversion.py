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


@dataclass(frozen=True, slots=True)
class TranscriptCurl:
    """What a transcript says about the curl that printed it; each with the line that shows it."""

    version: str | None  # "8.7.1"
    version_evidence: str | None  # "line 120: > User-Agent: curl/8.7.1"
    tls: str | None  # "LibreSSL", "LibreSSL/3.3.6", "OpenSSL/3.0.19"
    tls_evidence: str | None


def from_transcript(text: str) -> TranscriptCurl:
    """The curl version (``User-Agent: curl/8.7.1``) and TLS library (``LibreSSL SSL_connect``, ``OpenSSL/3.0.19:``
    in an error line, LibreSSL's ``* (304) (IN)`` handshake lines) in ``curl -v`` output; the most specific wins."""
    version = tls = version_line = tls_line = None
    rank = 0  # how specific the TLS evidence is: 1 a (304) line, 2 the library named, 3 named with its version
    for number, raw in enumerate(text.split("\n"), 1):  # numbered as an editor does (a \r is not a new line)
        line = raw.strip()
        agent = _USER_AGENT.match(line)
        if agent and version is None:
            version, version_line = agent.group(1), f"line {number}: {line}"
        if not line.startswith(("*", "curl: (")):
            continue
        found = max(_LIBRARY_IN_LINE.finditer(line), key=lambda m: bool(m.group(2)), default=None)
        if found and rank < 2 + bool(found.group(2)):
            name = "Schannel" if found.group(1) == "schannel" else found.group(1)
            tls = f"{name}/{found.group(2)}" if found.group(2) else name
            tls_line, rank = f"line {number}: {line}", 2 + bool(found.group(2))
        elif rank == 0 and _LIBRESSL_HANDSHAKE.match(line):
            tls, tls_line, rank = "LibreSSL", f"line {number}: {line}", 1
    return TranscriptCurl(version=version, version_evidence=version_line, tls=tls, tls_evidence=tls_line)
