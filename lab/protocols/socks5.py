"""SOCKS5 (RFC 1928, RFC 1929 user/password), server side, without I/O.

Feed bytes with :meth:`Socks5Server.receive_data`; it returns the bytes to send back and, once the client
has asked for a destination, a :class:`ConnectRequest`. After :meth:`reply` the connection is a plain
tunnel. A well-formed request this server does not serve gets RFC 1928's answer and the server closes
(:attr:`Socks5Server.refusal` says why, :attr:`Socks5Server.refusal_code` is the reply code): BIND, UDP
ASSOCIATE or an unknown command -> 0x07, an unknown address type -> 0x08. Malformed input raises
:class:`Socks5Error` with what was wrong; the server answers nothing more.
No maintained sans-io SOCKS5 library exists for trio, so this small state machine lives here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum, auto
from typing import NoReturn

from lab.protocols.netaddr import format_address

VERSION = 5
NO_AUTH, USER_PASSWORD, NO_ACCEPTABLE = 0x00, 0x02, 0xFF
CMD_CONNECT = 0x01
COMMANDS = {0x01: "CONNECT", 0x02: "BIND", 0x03: "UDP ASSOCIATE"}
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 0x01, 0x03, 0x04

# Reply codes (RFC 1928 section 6)
SUCCEEDED = 0x00
GENERAL_FAILURE = 0x01
NOT_ALLOWED = 0x02
HOST_UNREACHABLE = 0x04
CONNECTION_REFUSED = 0x05
COMMAND_NOT_SUPPORTED = 0x07
ADDRESS_TYPE_NOT_SUPPORTED = 0x08
REPLY_NAMES = {  # RFC 1928 section 6, the words curl users meet beside "(N)"
    0x01: "general SOCKS server failure",
    0x02: "connection not allowed by ruleset",
    0x03: "network unreachable",
    0x04: "host unreachable",
    0x05: "connection refused",
    0x06: "TTL expired",
    0x07: "command not supported",
    0x08: "address type not supported",
}


class Socks5Error(Exception):
    """The peer did not speak SOCKS5 (or broke its rules)."""


class _Unsupported(Exception):
    """A well-formed request this server does not serve: answer with ``code``, then close."""

    def __init__(self, code: int, why: str) -> None:
        super().__init__(why)
        self.code = code
        self.why = why


class _State(Enum):
    GREETING = auto()
    AUTH = auto()
    REQUEST = auto()
    WAIT_REPLY = auto()
    TUNNEL = auto()
    CLOSED = auto()


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    host: str  # a domain (socks5h: the proxy resolves) or an IP literal (socks5: the client resolved)
    port: int
    address_type: str  # "domain", "ipv4", "ipv6"

    @property
    def target(self) -> str:
        return format_address(self.host, self.port)


class Socks5Server:
    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.credentials = credentials
        self.state = _State.GREETING
        self._buffer = bytearray()
        self.user: str | None = None
        self.refusal: str | None = None  # why the server closed, once :attr:`closed`
        self.refusal_code: int | None = None  # the reply code it answered with, if it sent one

    @property
    def tunnel(self) -> bool:
        return self.state is _State.TUNNEL

    @property
    def closed(self) -> bool:
        """The server refused (no acceptable method, bad credentials, a failed reply): close the connection."""
        return self.state is _State.CLOSED

    def receive_data(self, data: bytes) -> tuple[bytes, ConnectRequest | None]:
        """Consume ``data``; return (bytes to send, a request once one is complete)."""
        self._buffer += data
        out = bytearray()
        while True:
            if self.state is _State.GREETING:
                if len(self._buffer) < 2:
                    break
                if self._buffer[0] != VERSION:
                    self._fail(f"not SOCKS5: first byte is {self._buffer[0]:#04x}, expected 0x05")
                count = self._buffer[1]
                if len(self._buffer) < 2 + count:
                    break
                methods = set(self._buffer[2 : 2 + count])
                del self._buffer[: 2 + count]
                wanted = USER_PASSWORD if self.credentials else NO_AUTH
                if wanted not in methods:
                    self.state = _State.CLOSED
                    offered = ", ".join(f"{m:#04x}" for m in sorted(methods)) or "none"
                    needs = "user/password (0x02)" if self.credentials else "no authentication (0x00)"
                    self.refusal = f"the client offers methods {offered}; this proxy needs {needs}"
                    return bytes(out + bytes([VERSION, NO_ACCEPTABLE])), None
                out += bytes([VERSION, wanted])
                self.state = _State.AUTH if self.credentials else _State.REQUEST
            elif self.state is _State.AUTH:
                parsed = self._parse_auth()
                if parsed is None:
                    break
                user, password = parsed
                ok = (user, password) == self.credentials
                out += bytes([0x01, 0x00 if ok else 0x01])
                if not ok:
                    self.state = _State.CLOSED
                    self.refusal = f"wrong user or password for user {user!r}"
                    return bytes(out), None
                self.user = user
                self.state = _State.REQUEST
            elif self.state is _State.REQUEST:
                try:
                    request = self._parse_request()
                except _Unsupported as exc:
                    self.state = _State.WAIT_REPLY
                    out += self.reply(exc.code)
                    self.refusal, self.refusal_code = exc.why, exc.code
                    return bytes(out), None
                if request is None:
                    break
                self.state = _State.WAIT_REPLY
                return bytes(out), request
            else:
                break
        return bytes(out), None

    def reply(self, code: int) -> bytes:
        """The reply to the request; on success the connection becomes a tunnel."""
        if self.state is not _State.WAIT_REPLY:
            raise RuntimeError(f"reply() is for a received request; the server is in state {self.state.name}")
        self.state = _State.TUNNEL if code == SUCCEEDED else _State.CLOSED
        return bytes([VERSION, code, 0x00, ATYP_IPV4, 0, 0, 0, 0, 0, 0])

    def take_buffered(self) -> bytes:
        """Bytes the client sent after its request (the start of the tunnel)."""
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def _fail(self, message: str) -> NoReturn:
        self.state = _State.CLOSED
        raise Socks5Error(message)

    def _parse_auth(self) -> tuple[str, str] | None:
        buf = self._buffer
        if len(buf) < 2:
            return None
        if buf[0] != 0x01:
            self._fail(f"bad user/password sub-negotiation version {buf[0]:#04x}")
        ulen = buf[1]
        if len(buf) < 2 + ulen + 1:
            return None
        plen = buf[2 + ulen]
        if len(buf) < 3 + ulen + plen:
            return None
        user = bytes(buf[2 : 2 + ulen]).decode("utf-8", "replace")
        password = bytes(buf[3 + ulen : 3 + ulen + plen]).decode("utf-8", "replace")
        del buf[: 3 + ulen + plen]
        return user, password

    def _parse_request(self) -> ConnectRequest | None:
        """A whole request from the buffer, None until there is one; raises :class:`_Unsupported` for a
        request this server answers with a refusal (the reply comes once the request is whole, so the
        client is not reset mid-send)."""
        buf = self._buffer
        if len(buf) < 4:
            return None
        if buf[0] != VERSION:
            self._fail(f"bad request version {buf[0]:#04x}")
        command = COMMANDS.get(buf[1], f"command {buf[1]:#04x}")
        if buf[3] not in (ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6):  # its length is unknown: answer at once
            if buf[1] != CMD_CONNECT:
                raise _Unsupported(COMMAND_NOT_SUPPORTED, f"{command} is not supported: this proxy only CONNECTs")
            raise _Unsupported(ADDRESS_TYPE_NOT_SUPPORTED, f"unknown address type {buf[3]:#04x}")
        address = self._parse_address(buf[3])
        if address is None:
            return None
        host, kind, end = address
        port = int.from_bytes(buf[end : end + 2], "big")
        del buf[: end + 2]
        if command != "CONNECT":
            raise _Unsupported(COMMAND_NOT_SUPPORTED, f"{command} is not supported: this proxy only CONNECTs")
        return ConnectRequest(host=host, port=port, address_type=kind)

    def _parse_address(self, atyp: int) -> tuple[str, str, int] | None:
        """(host, address type, where the port starts) once the address and port are in the buffer."""
        buf = self._buffer
        if atyp == ATYP_IPV4:
            end = 4 + 4
            if len(buf) < end + 2:
                return None
            return str(ipaddress.IPv4Address(bytes(buf[4:end]))), "ipv4", end
        if atyp == ATYP_IPV6:
            end = 4 + 16
            if len(buf) < end + 2:
                return None
            return str(ipaddress.IPv6Address(bytes(buf[4:end]))), "ipv6", end
        if len(buf) < 5:
            return None
        if buf[4] == 0:
            self._fail("the domain name is empty")
        end = 5 + buf[4]
        if len(buf) < end + 2:
            return None
        try:
            return bytes(buf[5:end]).decode("ascii"), "domain", end
        except UnicodeDecodeError:
            self._fail("the domain name is not ASCII")
