"""Let the load balancer's own policy decide a client certificate chain *during* the TLS handshake.

Why not pyOpenSSL's ``Context.set_verify``: its callback can say yes or no but cannot name the X.509 error,
so a "no" for a reason OpenSSL does not check itself (a key size Google refuses, too many name constraints)
makes OpenSSL send alert ``internal_error``. Here the verify callback is installed through pyOpenSSL's own
cffi binding (the same ``SSL_CTX_set_verify`` call pyOpenSSL makes) and sets the error the policy chose, so
OpenSSL sends the alert it sends for that error (``X509_V_ERR_CERT_HAS_EXPIRED`` -> certificate_expired,
``X509_V_ERR_APPLICATION_VERIFICATION`` -> handshake_failure). A message callback keeps the client's
Certificate message, so the policy sees every certificate the client sent, not only the path OpenSSL built.

The policy runs once per connection, at the first verify callback; its answer holds for every later call.
Anything it raises rejects the chain (never an exception into OpenSSL) and is kept for the host to report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from OpenSSL import SSL
from OpenSSL._util import ffi, lib  # pyOpenSSL's binding of libssl: see the module docstring

from lab.protocols.tlscert import CERTIFICATE, MalformedCertificateMessage, certificate_list

HANDSHAKE = 22  # TLS content type
TLS1_3 = 0x0304
X509_V_OK = 0
APPLICATION_VERIFICATION = 50  # X509_V_ERR_APPLICATION_VERIFICATION

Decide = Callable[[list[bytes]], int]  # the client's DER chain -> 0 to accept, else an X509_V_ERR_* code


@dataclass(slots=True)
class Watch:
    """One connection's handshake, as the callbacks saw it."""

    chain: list[bytes] | None = None  # the Certificate message's certificates (None: none seen)
    decision: int | None = None  # what the policy answered
    problem: str = ""  # why the policy could not judge, if it could not
    openssl_errors: list[int] = field(default_factory=list)


def _key(ssl: Any) -> int:
    return int(ffi.cast("uintptr_t", ssl))


class ClientChainPolicy:
    """Install on a server context: ``decide`` judges each client's chain in the handshake."""

    def __init__(self, context: SSL.Context, *, require_certificate: bool, decide: Decide) -> None:
        self._decide = decide
        self._watches: dict[int, Watch] = {}
        flags = lib.SSL_VERIFY_PEER | (lib.SSL_VERIFY_FAIL_IF_NO_PEER_CERT if require_certificate else 0)
        self._verify_cb = ffi.callback("int(int, X509_STORE_CTX *)", self._verify)
        self._message_cb = ffi.callback("void(int, int, int, void *, size_t, SSL *, void *)", self._message)
        raw = context._context  # the SSL_CTX pyOpenSSL wraps
        lib.SSL_CTX_set_verify(raw, flags, self._verify_cb)
        lib.SSL_CTX_set_msg_callback(raw, self._message_cb)
        context._lab_chain_policy = self  # type: ignore[attr-defined]  # the callbacks live as long as the context

    def watch(self, conn: SSL.Connection) -> Watch:
        watch = self._watches[_key(conn._ssl)] = Watch()
        return watch

    def forget(self, conn: SSL.Connection) -> None:
        self._watches.pop(_key(conn._ssl), None)

    def _message(self, write_p: int, version: int, content_type: int, buf: Any, size: int, ssl: Any, _: Any) -> None:
        watch = self._watches.get(_key(ssl))
        if watch is None or write_p or content_type != HANDSHAKE or size < 4:
            return
        data = bytes(ffi.buffer(buf, size))
        if data[0] != CERTIFICATE:
            return
        try:
            watch.chain = certificate_list(data, tls13=version == TLS1_3)
        except MalformedCertificateMessage as exc:
            watch.problem = f"unreadable Certificate message: {exc}"

    def _verify(self, ok: int, store: Any) -> int:
        ssl = lib.X509_STORE_CTX_get_ex_data(store, lib.SSL_get_ex_data_X509_STORE_CTX_idx())
        watch = self._watches.get(_key(ssl))
        if watch is None:
            return ok
        if not ok:
            watch.openssl_errors.append(lib.X509_STORE_CTX_get_error(store))
        if watch.decision is None:
            watch.decision = self._judge(watch)
        lib.X509_STORE_CTX_set_error(store, watch.decision)
        return 1 if watch.decision == X509_V_OK else 0

    def _judge(self, watch: Watch) -> int:
        if watch.chain is None:
            watch.problem = watch.problem or "the client's Certificate message was not seen"
            return APPLICATION_VERIFICATION
        try:
            return self._decide(watch.chain)
        except Exception as exc:  # never into OpenSSL: reject, and let the host report why
            watch.problem = f"{type(exc).__name__}: {exc}"
            return APPLICATION_VERIFICATION
