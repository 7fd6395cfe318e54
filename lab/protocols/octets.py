"""Bytes a peer sent, as text the lab can show and log: never an exception, whatever the bytes. Pure.

Header values and names are bytes on the wire (RFC 9110 allows obs-text; HTTP/2 carries any octets).
Valid UTF-8 reads as itself; every other byte is shown escaped (``\\xff``), so a hostile User-Agent
reaches the timeline, the load balancer's log entry and the explanation as visible text.
"""

from __future__ import annotations


def readable(raw: bytes | bytearray | memoryview) -> str:
    """``b"curl/8.1"`` -> ``"curl/8.1"``; ``b"\\xff"`` -> ``"\\\\xff"`` (four characters)."""
    return bytes(raw).decode("utf-8", "backslashreplace")


def wire(text: str) -> bytes:
    """The bytes to send for a header the lab read with :func:`readable` (UTF-8; escapes stay escaped)."""
    return text.encode("utf-8", "backslashreplace")
