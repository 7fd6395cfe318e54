"""Read SNI and ALPN out of a TLS ClientHello, without I/O.

Hosts that never finish a handshake (the dead public-DNS address, a proxy's tunnel) still want to tell the
learner *which name* the client asked for. No maintained library parses just this, so it is done here.

The contract is mitmproxy's (``proxy/layers/tls.py``): :func:`parse` returns ``None`` while the bytes are a
*beginning* of a ClientHello (feed it more), a :class:`ClientHello` once the whole message is there, and
raises :class:`NotClientHello` as soon as the bytes cannot be one. A ClientHello may arrive split across
TCP reads and even across TLS records; callers buffer until the answer is not ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass

HANDSHAKE_RECORD = 0x16
CLIENT_HELLO = 0x01
MAX_RECORD = 2**14 + 2048  # RFC 8446 5.2: the largest record a peer may send
MAX_HELLO = 2**16  # far above any real ClientHello; more is not one worth waiting for


class NotClientHello(ValueError):
    """The bytes are not (the start of) a TLS ClientHello; the message says what was found."""


@dataclass(frozen=True, slots=True)
class ClientHello:
    sni: str | None  # shown escaped (``\\xc3``) when the name is not ASCII
    alpn: tuple[str, ...]
    sni_is_ascii: bool = True  # False: a name no DNS has (RFC 6066 wants ASCII) and Python's ssl cannot read


def parse(data: bytes) -> ClientHello | None:
    """``None``: incomplete, send more. A :class:`ClientHello` when whole. :class:`NotClientHello`: invalid."""
    message = bytearray()
    pos = 0
    while pos < len(data):
        if data[pos] != HANDSHAKE_RECORD:
            raise NotClientHello(f"TLS record type {data[pos]:#04x} where a handshake record (0x16) must be")
        if len(data) > pos + 1 and data[pos + 1] != 3:
            raise NotClientHello(f"record version major {data[pos + 1]} is not TLS (3)")
        if len(data) < pos + 5:
            return None
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if not 0 < length <= MAX_RECORD:
            raise NotClientHello(f"a TLS record of {length} bytes")
        message += data[pos + 5 : pos + 5 + length]
        pos += 5 + length
        if message and message[0] != CLIENT_HELLO:
            raise NotClientHello(f"handshake message type {message[0]} is not ClientHello (1)")
        if len(message) >= 4:
            size = int.from_bytes(message[1:4], "big")
            if size > MAX_HELLO:
                raise NotClientHello(f"a ClientHello of {size} bytes")
            if len(message) >= 4 + size:
                return _body(bytes(message[4 : 4 + size]))
    return None


def _body(body: bytes) -> ClientHello:
    try:
        return _read(body)
    except (IndexError, ValueError) as exc:
        raise NotClientHello(f"a malformed ClientHello ({exc or type(exc).__name__})") from None


def _read(body: bytes) -> ClientHello:
    pos = 2 + 32  # legacy_version, random
    pos += 1 + body[pos]  # session id
    pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
    pos += 1 + body[pos]  # compression methods
    if pos == len(body):  # no extensions at all (an SSLv3-style hello)
        return ClientHello(sni=None, alpn=())
    end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
    if end > len(body):
        raise ValueError("extensions run past the message")
    pos += 2
    sni: str | None = None
    sni_is_ascii = True
    alpn: list[str] = []
    while pos + 4 <= end:
        ext_type = int.from_bytes(body[pos : pos + 2], "big")
        ext_len = int.from_bytes(body[pos + 2 : pos + 4], "big")
        ext = body[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        if ext_type == 0 and len(ext) >= 5 and ext[2] == 0:  # server_name, host_name
            name_len = int.from_bytes(ext[3:5], "big")
            # Names are bytes on the wire; a non-ASCII one is shown escaped, never an exception.
            sni = ext[5 : 5 + name_len].decode("ascii", "backslashreplace")
            sni_is_ascii = ext[5 : 5 + name_len].isascii()
        elif ext_type == 16:  # application_layer_protocol_negotiation
            i = 2
            while i < len(ext):
                n = ext[i]
                alpn.append(ext[i + 1 : i + 1 + n].decode("ascii", "backslashreplace"))
                i += 1 + n
    return ClientHello(sni=sni, alpn=tuple(alpn), sni_is_ascii=sni_is_ascii)


class HelloReader:
    """Buffers a connection's first bytes until they make a ClientHello (or prove not to be one)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.done = False

    def feed(self, data: bytes) -> ClientHello | NotClientHello | None:
        """The answer once known (a hello, or why not); ``None`` while more bytes are needed."""
        if self.done:
            return None
        self.buffer += data
        try:
            hello = parse(bytes(self.buffer))
        except NotClientHello as exc:
            self.done = True
            return exc
        if hello is not None:
            self.done = True
        elif len(self.buffer) > MAX_HELLO + 5 * 4:
            self.done = True
            return NotClientHello(f"no whole ClientHello in the first {len(self.buffer)} bytes")
        return hello
