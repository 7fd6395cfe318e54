"""Read SNI and ALPN out of a TLS ClientHello, without I/O.

Hosts that never finish a handshake (the dead public-DNS address, a proxy tunnel) still want to tell the
learner *which name* the client asked for. No maintained library parses just this, so it is done here,
defensively: anything malformed yields ``None`` rather than an exception.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClientHello:
    sni: str | None
    alpn: tuple[str, ...]


def parse(data: bytes) -> ClientHello | None:
    """Parse the first TLS record if it holds a ClientHello; ``None`` when it is not one (or not whole)."""
    try:
        return _parse(data)
    except (IndexError, ValueError, UnicodeDecodeError):
        return None


def _parse(data: bytes) -> ClientHello | None:
    if len(data) < 5 or data[0] != 0x16:  # handshake record
        return None
    body = data[5 : 5 + int.from_bytes(data[3:5], "big")]
    if not body or body[0] != 0x01:  # ClientHello
        return None
    pos = 4 + 2 + 32  # handshake header, legacy_version, random
    pos += 1 + body[pos]  # session id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
    pos += 1 + body[pos]  # compression methods
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    pos += 2
    sni: str | None = None
    alpn: list[str] = []
    while pos + 4 <= min(end, len(body)):
        ext_type = int.from_bytes(body[pos : pos + 2], "big")
        ext_len = int.from_bytes(body[pos + 2 : pos + 4], "big")
        ext = body[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        if ext_type == 0 and len(ext) >= 5 and ext[2] == 0:  # server_name, host_name
            name_len = int.from_bytes(ext[3:5], "big")
            sni = ext[5 : 5 + name_len].decode("ascii")
        elif ext_type == 16:  # application_layer_protocol_negotiation
            i = 2
            while i < len(ext):
                n = ext[i]
                alpn.append(ext[i + 1 : i + 1 + n].decode("ascii"))
                i += 1 + n
    return ClientHello(sni=sni, alpn=tuple(alpn))
