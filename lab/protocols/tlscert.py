"""The certificate list in a TLS Certificate handshake message (sans-io).

The load balancer judges the chain exactly as the client sent it - including intermediates that no path
uses, which is how Google counts a PKI that is too large - so it reads the message itself: OpenSSL reports
only the certificates of the path it built. Layouts from RFC 8446 section 4.4.2 (TLS 1.3: a request context,
then entries of certificate and extensions) and RFC 5246 section 7.4.2 (TLS 1.2: certificates only).
"""

from __future__ import annotations

CERTIFICATE = 11  # HandshakeType certificate


class MalformedCertificateMessage(ValueError):
    """The bytes are not a Certificate handshake message."""


def _length(data: bytes, at: int, size: int) -> tuple[int, int]:
    if at + size > len(data):
        raise MalformedCertificateMessage(f"cut short at byte {at} (wanted a {size}-byte length)")
    return int.from_bytes(data[at : at + size], "big"), at + size


def certificate_list(message: bytes, *, tls13: bool) -> list[bytes]:
    """The DER certificates of ``message`` (handshake header included), in the order sent: leaf first."""
    if not message or message[0] != CERTIFICATE:
        raise MalformedCertificateMessage("not a Certificate handshake message")
    body_length, at = _length(message, 1, 3)
    if at + body_length != len(message):
        raise MalformedCertificateMessage(f"the header says {body_length} bytes, the message has {len(message) - at}")
    if tls13:
        context_length, at = _length(message, at, 1)
        at += context_length
    list_length, at = _length(message, at, 3)
    end = at + list_length
    if end != len(message):
        raise MalformedCertificateMessage("the certificate list does not fill the message")
    certificates = []
    while at < end:
        size, at = _length(message, at, 3)
        if size == 0 or at + size > end:
            raise MalformedCertificateMessage(f"a certificate of {size} bytes does not fit")
        certificates.append(message[at : at + size])
        at += size
        if tls13:
            extensions, at = _length(message, at, 2)
            at += extensions
    if at != end:
        raise MalformedCertificateMessage("an entry runs past the end of the list")
    return certificates
