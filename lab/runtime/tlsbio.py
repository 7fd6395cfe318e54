"""A server-side TLS stream for trio on pyOpenSSL, through memory BIOs.

Why not ``trio.SSLStream``: the load balancer must choose certificates by SNI, verify client chains with
its own policy, and - for teaching - decide whether the alert OpenSSL produced is sent (``alert``),
withheld while the connection is held open (``silent``) or replaced by a TCP reset (``reset``). The
standard library hides the alert bytes; with memory BIOs every byte OpenSSL wants to send passes
through :meth:`OpenSSLStream._flush`, so the choice is ours.
"""

from __future__ import annotations

import re
import ssl
from typing import Literal

import trio
from OpenSSL import SSL

from lab.protocols import tlsalert
from lab.runtime.tlsserver import plaintext_alert

FailureStyle = Literal["alert", "silent", "reset"]
READ_SIZE = 65536


class TLSHandshakeFailed(Exception):
    """The handshake failed; ``reason`` is OpenSSL's, ``alert`` the alert it chose (if one)."""

    def __init__(self, reason: str, alert: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.alert = alert


def _alert_from(reason: str) -> str | None:
    """OpenSSL names the alert it sent in the error string (e.g. 'tlsv13 alert certificate required')."""
    lowered = reason.lower()
    for name in (
        "certificate required",
        "handshake failure",
        "unknown ca",
        "certificate expired",
        "unsupported certificate",
        "bad certificate",
        "protocol version",
        "no application protocol",
    ):
        if name in lowered or name.replace(" ", "_") in lowered:
            return name.replace(" ", "_")
    if "bad signature" in lowered:  # a CertificateVerify that does not verify: OpenSSL sends decrypt_error
        return "decrypt_error"
    return None


class OpenSSLStream(trio.abc.Stream):
    def __init__(self, transport: trio.abc.Stream, context: SSL.Context, *, failure_style: FailureStyle = "alert"):
        self.transport = transport
        self.conn = SSL.Connection(context, None)
        self.conn.set_accept_state()
        self.failure_style = failure_style
        self._send_lock = trio.Lock()

    def _pending(self) -> bytes:
        """The bytes OpenSSL wants to send."""
        out = b""
        while True:
            try:
                chunk = self.conn.bio_read(READ_SIZE)
            except SSL.WantReadError:
                break
            if not chunk:
                break
            out += chunk
        return out

    async def _flush(self) -> None:
        if out := self._pending():
            await self.transport.send_all(out)

    async def _feed(self) -> bool:
        data = await self.transport.receive_some(READ_SIZE)
        if not data:
            self.conn.bio_shutdown()
            return False
        self.conn.bio_write(bytes(data))
        return True

    async def do_handshake(self) -> None:
        """Run the handshake; on failure the alert goes out (or not) per ``failure_style``."""
        while True:
            try:
                self.conn.do_handshake()
            except SSL.WantReadError:
                await self._flush()
                if not await self._feed():
                    raise TLSHandshakeFailed("the client closed the connection during the handshake", None) from None
                continue
            except SSL.Error as exc:
                reason = _describe(exc)
                out = self._pending()
                # what went out unencrypted (a refused ClientHello, protocol_version) says which alert it was
                sent = plaintext_alert(out)
                alert = tlsalert.name(sent) if sent is not None else _alert_from(reason)
                if self.failure_style == "alert" and out:
                    await self.transport.send_all(out)
                raise TLSHandshakeFailed(reason, alert) from None
            await self._flush()
            return

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        while True:
            try:
                return bytes(self.conn.recv(max_bytes or READ_SIZE))
            except SSL.WantReadError:
                await self._flush()
                if not await self._feed():
                    return b""
            except SSL.ZeroReturnError:
                return b""
            except SSL.SysCallError:
                return b""
            except SSL.Error as exc:
                raise trio.BrokenResourceError(_describe(exc)) from None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        async with self._send_lock:
            view = memoryview(data)
            while view:
                sent = self.conn.send(bytes(view[:16384]))
                view = view[sent:]
                await self._flush()

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        try:
            self.conn.shutdown()
            await self._flush()
        except (SSL.Error, trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            await self.transport.aclose()

    # -- what the handshake produced -------------------------------------------------------------
    @property
    def version(self) -> str:
        return self.conn.get_protocol_version_name()

    @property
    def cipher(self) -> str:
        return self.conn.get_cipher_name() or ""

    @property
    def alpn(self) -> str | None:
        chosen = self.conn.get_alpn_proto_negotiated()
        return chosen.decode() if chosen else None

    @property
    def sni(self) -> str | None:
        name = self.conn.get_servername()  # bytes as sent: shown escaped if not ASCII, as the ClientHello reader does
        return name.decode("ascii", "backslashreplace") if name else None


def _describe(exc: SSL.Error) -> str:
    parts = []
    for item in exc.args[0] if exc.args and isinstance(exc.args[0], list) else []:
        parts.append(str(item[-1]) if isinstance(item, tuple) else str(item))
    return "; ".join(parts) or str(exc) or type(exc).__name__


_SSL_WORDS = re.compile(r"^\[SSL(?:: [A-Z0-9_]+)?\]\s*|\s*\(_ssl\.c:\d+\)$")
_PEER_CERT_ALERTS = ("certificate_expired", "unknown_ca", "bad_certificate", "certificate_unknown",
                     "unsupported_certificate", "certificate_revoked")  # fmt: skip


def plain_reason(exc: BaseException) -> str:
    """An error from the TLS stack (or a peer), in words: no "[SSL: ...] (_ssl.c:1006)", no class names.

    The standard library names OpenSSL's reason (``SSLV3_ALERT_CERTIFICATE_EXPIRED``): an alert the
    client sent says it refused this host's certificate; an early EOF says it hung up.
    """
    error = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLError) else exc
    reason = getattr(error, "reason", None)
    if isinstance(error, ssl.SSLError) and isinstance(reason, str):
        if "_ALERT_" in reason:
            alert = reason.split("_ALERT_", 1)[1].lower()
            refused = ": it refused this host's certificate" if alert in _PEER_CERT_ALERTS else ""
            return f"the client sent alert {alert}{refused}"
        if "EOF" in reason:
            return "the client closed the connection during the handshake"
        if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL"):
            return "the client did not speak TLS"
        return reason.lower().replace("_", " ")
    text = _SSL_WORDS.sub("", str(error)).strip()
    return text or "the connection ended unexpectedly"
