"""Names as customers paste them and as the lab serves them: what customers hide before pasting
(``x.x.x.x``, ``<redacted>``, ``***``, ``api.<company>.com``) and the stand-ins the lab uses for it, and
host names in the form a hosts file and a certificate take (IDNA). Pure."""

from __future__ import annotations

import re

from lab.protocols.netaddr import is_ip

REDACTED_NAME = "redacted.example"
_REDACTED_IP = re.compile(r"^(?:x{1,3}|\*{1,3}|#+|\d{1,3})(?:\.(?:x{1,3}|\*{1,3}|#+|\d{1,3})){3}$", re.IGNORECASE)
_TOKENS = re.compile(r"<[^>]*>|\*{3,}|\[redacted\]|redacted|x{4,}|\.\.\.", re.IGNORECASE)


def redacted(text: str) -> bool:
    """True for a value the customer hid: ``x.x.x.x``, ``<redacted>``, ``***``, ``[REDACTED]``, ``xxxx``."""
    return bool((_REDACTED_IP.match(text) and not is_ip(text)) or _TOKENS.search(text))


def clean_host(host: str) -> str:
    """A redacted host name or address -> a name the lab can serve (``api.<redacted>`` -> ``api.redacted.example``)."""
    if _REDACTED_IP.match(host) and not is_ip(host):
        return REDACTED_NAME
    if not _TOKENS.search(host):
        return host
    cleaned = _TOKENS.sub("redacted", host).strip(".").lower()
    cleaned = re.sub(r"[^a-z0-9.-]+", "-", cleaned).strip("-.")
    return cleaned if cleaned.endswith(".example") else f"{cleaned}.example"


def clean_word(word: str) -> str:
    """The host inside a URL or ``host:port`` word, cleaned by :func:`clean_host`; anything else unchanged."""
    if "://" in word:
        return re.sub(
            r"(?<=://)((?:[^/@]*@)?)([^/:?#\[\]]+|\[[^\]]+\])", lambda m: m.group(1) + clean_host(m.group(2)), word
        )
    return word


def dns_name(name: str) -> str:
    """``name`` as the lab can serve it: IDNA (punycode) for non-ASCII, "" for what is no DNS name at all."""
    bare = name.strip().rstrip(".").lower()
    if not bare.isascii():
        try:
            bare = bare.encode("idna").decode("ascii")
        except UnicodeError:
            return ""
    labels = bare.removeprefix("*.").split(".")
    ok = 0 < len(bare) <= 253 and all(
        label and len(label) <= 63 and all(c.isalnum() or c == "-" for c in label) for label in labels
    )
    return bare if ok else ""
