"""Host and address spelling shared by every layer: ``host:port`` with IPv6 in brackets, and "is it an IP?". Pure."""

from __future__ import annotations

import ipaddress


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 literal, with or without ``[]`` (``"88.88.88.88"``, ``"[::1]"``); not a name."""
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def bracket(host: str) -> str:
    """``::1`` -> ``[::1]`` (an IPv6 literal in a URL authority or ``host:port``); names and IPv4 unchanged."""
    return f"[{host}]" if ":" in host else host


def format_address(host: str, port: int) -> str:
    """``88.88.88.88:443``, ``mydomain:443`` or ``[::1]:443``."""
    return f"{bracket(host)}:{port}"
