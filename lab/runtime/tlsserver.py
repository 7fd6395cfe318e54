"""Server-side TLS for trio on the standard library's ``ssl`` (OpenSSL), through memory BIOs.

Why not ``trio.SSLStream``: when a handshake fails it drops what OpenSSL wanted to send, and a host that
teaches handshake failures must send exactly that - the alert. With :class:`ssl.MemoryBIO` every byte
OpenSSL writes passes through :meth:`ServerTLS._flush`, so the host decides what leaves: all of it (an
alert OpenSSL chose), or only the ServerHello (a server that hangs up after it). A chosen alert right after
the ClientHello is OpenSSL's own too: the ServerName callback returns it (``ssl.SSLContext.sni_callback``).
(:mod:`lab.runtime.tlsbio` does the same on pyOpenSSL for the load balancer, which needs pyOpenSSL's verify
callback; this module needs only the standard library.)
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable
from dataclasses import dataclass

import trio

from lab.protocols import clienthello

READ_SIZE = 65536
RECORD_HEADER = 5
HANDSHAKE = 22
ALERT = 21


class HandshakeFailed(Exception):
    """The handshake did not finish: ``reason`` is OpenSSL's (or the host's), ``sent`` what went out;
    ``verify_code`` is OpenSSL's X509_V_ERR_* when the client's certificate failed verification."""

    def __init__(self, reason: str, sent: str, verify_code: int | None = None, verify_message: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.sent = sent
        self.verify_code = verify_code
        self.verify_message = verify_message


@dataclass(slots=True)
class HelloInfo:
    """What the ServerName callback saw of the ClientHello."""

    sni: str | None = None


def first_handshake_message(data: bytes) -> bytes:
    """The first TLS record of ``data`` cut to its first handshake message (a ServerHello on its own). Pure."""
    if len(data) < RECORD_HEADER + 4 or data[0] != HANDSHAKE:
        return data[: RECORD_HEADER + int.from_bytes(data[3:5], "big")]
    length = 4 + int.from_bytes(data[RECORD_HEADER + 1 : RECORD_HEADER + 4], "big")
    body = data[RECORD_HEADER : RECORD_HEADER + length]
    return data[:3] + len(body).to_bytes(2, "big") + body


def plaintext_alert(data: bytes) -> int | None:
    """The description of the first unencrypted alert record in ``data`` (what a failed handshake sent). Pure."""
    pos = 0
    while pos + RECORD_HEADER + 2 <= len(data):
        if data[pos] == ALERT:
            return data[pos + RECORD_HEADER + 1]
        pos += RECORD_HEADER + int.from_bytes(data[pos + 3 : pos + 5], "big")
    return None


def sni_callback(
    info_for: Callable[[ssl.SSLObject], HelloInfo],
    alert: int | None,
    refuses: Callable[[str | None], bool] = lambda name: True,
) -> Callable[..., int | None]:
    """A ServerName callback that records the SNI and, when ``alert`` is given, fails the handshake with it
    (for the server names ``refuses`` says, every one by default)."""

    def callback(obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> int | None:
        if isinstance(obj, ssl.SSLObject):
            info_for(obj).sni = name
        return alert if alert is not None and refuses(name) else None

    return callback


class ServerTLS(trio.abc.Stream):
    """The server end of a TLS connection over ``transport``; ``info`` holds what the callbacks saw."""

    def __init__(self, transport: trio.abc.Stream, context: ssl.SSLContext, info: HelloInfo) -> None:
        self.transport = transport
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self._in, self._out, server_side=True)
        self.info = info
        self._send_lock = trio.Lock()
        self.first_flight: bytes = b""  # what the server answered the ClientHello with
        self._hello = clienthello.HelloReader()
        self.last_flight: bytes = b""  # the last bytes it sent (a failed handshake's alert, if unencrypted)

    @property
    def negotiated(self) -> str:
        """ "TLSv1.3" or "TLSv1.2" as agreed, also when the handshake failed later (OpenSSL then says None):
        a TLS 1.3 server's first flight carries encrypted records (type 23) after its ServerHello."""
        if self.obj.version():
            return self.obj.version() or ""
        if not self.first_flight:
            return ""
        types, pos = set(), 0
        while pos + RECORD_HEADER <= len(self.first_flight):
            types.add(self.first_flight[pos])
            pos += RECORD_HEADER + int.from_bytes(self.first_flight[pos + 3 : pos + 5], "big")
        return "TLSv1.3" if 23 in types else "TLSv1.2"

    async def _flush(self, *, only_server_hello: bool = False) -> bytes:
        data = self._out.read()
        if data and not self.first_flight:
            self.first_flight = data
        if data:
            self.last_flight = data
        if only_server_hello:
            data = first_handshake_message(data)
        if data:
            await self.transport.send_all(data)
        return data

    async def _feed(self) -> bool:
        data = await self.transport.receive_some(READ_SIZE)
        if not data:
            self._in.write_eof()
            return False
        if not self._hello.done:
            self._read_hello(bytes(data))
        self._in.write(bytes(data))
        return True

    def _read_hello(self, data: bytes) -> None:
        """The ClientHello as sent. A server name that is not ASCII never reaches a ServerName callback: the
        standard library would fail to decode it there and print a traceback; the host refuses it instead."""
        hello = self._hello.feed(data)
        if isinstance(hello, clienthello.ClientHello) and not hello.sni_is_ascii:
            self.info.sni = hello.sni
            if self.obj.context.sni_callback is not None:
                raise HandshakeFailed(f"the ClientHello's server name {hello.sni} is not ASCII: refused", "")

    async def do_handshake(self, *, stop_after_server_hello: bool = False) -> None:
        """Run the handshake. On failure, whatever OpenSSL produced (its alert) is sent, then it raises.

        ``stop_after_server_hello``: send the ServerHello alone and raise (the caller then closes)."""
        while True:
            try:
                self.obj.do_handshake()
            except ssl.SSLWantReadError:
                sent = await self._flush(only_server_hello=stop_after_server_hello)
                if stop_after_server_hello and sent:
                    raise HandshakeFailed("stopped after the ServerHello, as configured", "ServerHello") from None
                if not await self._feed():
                    raise HandshakeFailed("the client closed the connection during the handshake", "") from None
                continue
            except ssl.SSLCertVerificationError as exc:  # the client's certificate, checked by OpenSSL
                sent = await self._flush()
                raise HandshakeFailed(
                    exc.reason or str(exc), "an alert" if sent else "", exc.verify_code, exc.verify_message
                ) from None
            except ssl.SSLError as exc:
                sent = await self._flush()
                raise HandshakeFailed(exc.reason or str(exc), "an alert" if sent else "") from None
            await self._flush()
            return

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while True:
            try:
                return self.obj.read(max_bytes or READ_SIZE)
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._feed():
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            except ssl.SSLError as exc:
                await self._flush()  # a post-handshake failure (TLS 1.3 client certificate): send the alert
                raise trio.BrokenResourceError(exc.reason or str(exc)) from None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._send_lock:
            self.obj.write(bytes(data))
            await self._flush()

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        with contextlib.suppress(ssl.SSLError):
            self.obj.unwrap()
        try:
            await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await self.transport.aclose()
